"""kjv_lm: a language model trained for a few minutes (scripts/train_lm.py)."""

from pathlib import Path

import train_lm

from .spec import DemoModel


def make_kjv_lm(repo: Path) -> str:
    return train_lm.build(repo / "kjv_lm")


def corpus_and_versions():
    # Training takes minutes, so the corpus is hashed as train_lm reads it.
    import sentencepiece
    import torch

    yield f"torch {torch.__version__} sentencepiece {sentencepiece.__version__}".encode()
    yield "\n".join(train_lm.load_verses()).encode()


MODELS = [
    DemoModel(
        "kjv_lm",
        ["config.pbtxt", "1/model.pt", "1/tokenizer.model", "1/greedy_reference.json"],
        make_kjv_lm,
        [Path(__file__), Path(train_lm.__file__)],
        corpus_and_versions,
        # train_lm's own stamp, written last by train_lm.build.
        current=train_lm.is_current,
    ),
]
