"""A demo model as make_models.py sees it: the files that make it complete,
how it is made, and what it is made from.

A model's directory holds a stamp (STAMP_FILE) with the hash of everything
it was made from: the source of the modules that make it (its seed is in
them), its data, and the versions of the libraries that shape its files. A
model whose files all exist and whose stamp matches is not made again, so
slow training runs only when something it depends on changed.
"""

import hashlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterable, Sequence

from .common import write_text

STAMP_FILE = ".inputs.sha256"


@dataclass(frozen=True)
class DemoModel:
    name: str
    # Paths inside the model's directory that must exist for it to be complete.
    files: Sequence[str]
    # make(repository) writes repository/<name>/ and returns a one-line summary.
    make: Callable[[Path], str]
    # The Python files whose code makes it.
    sources: Sequence[Path]
    # Everything else it is made from, as byte strings: data, library versions.
    data: Callable[[], Iterable[bytes]] = lambda: ()
    # A model-specific check that its files are current (besides the stamp).
    current: Callable[[Path], bool] = field(default=lambda _: True)


def inputs_hash(model: DemoModel) -> str:
    digest = hashlib.sha256()

    def add(part: bytes) -> None:
        # Length-prefixed, so moving bytes from one part to the next changes the hash.
        digest.update(len(part).to_bytes(8, "little"))
        digest.update(part)

    add(model.name.encode())
    for source in model.sources:
        add(Path(source).name.encode())
        add(Path(source).read_bytes())
    for part in model.data():
        add(part)
    return digest.hexdigest()


def is_current(model: DemoModel, model_dir: Path, inputs: str) -> bool:
    """True when model_dir is complete and was made from `inputs`."""
    stamp = model_dir / STAMP_FILE
    if not all((model_dir / f).exists() for f in model.files) or not stamp.is_file():
        return False
    return stamp.read_text().strip() == inputs and model.current(model_dir)


def forget(model_dir: Path) -> None:
    """Before making a model again: until the new stamp is written, its files are not current."""
    (model_dir / STAMP_FILE).unlink(missing_ok=True)


def record(model_dir: Path, inputs: str) -> None:
    """After every file of the model is written."""
    write_text(model_dir / STAMP_FILE, inputs + "\n")
