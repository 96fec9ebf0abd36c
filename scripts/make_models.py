#!/usr/bin/python3
"""Writes the demo model repository (Triton layout) used by tests and benchmarks.

    /usr/bin/python3 scripts/make_models.py --output model_repository [--force] [--only MODEL ...]

Run it with Debian's /usr/bin/python3 so the TorchScript files come from the
same torch (1.13) as the libtorch the server's backend links. Seeds are fixed,
so every run writes the same weights (kjv_lm, trained for a time budget, comes
close but not bit for bit). Each model is made by its module in
scripts/models/; a model whose files all exist and whose inputs (its modules'
source, its data, the library versions) are unchanged since it was made is
left alone unless --force is given, so kjv_lm trains again only when
something it is made from changed. Every file is written to a temporary name
and renamed, so an interrupted run never leaves a half-written model behind.
"""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
# skl2onnx and its converter library, which Debian lacks, are installed by
# scripts/install-deps into .deps/python (without dependencies: Debian's
# scikit-learn, onnx and protobuf serve them).
sys.path.insert(1, str(Path(__file__).resolve().parent.parent / ".deps" / "python"))

from models.cli import main  # noqa: E402  (needs the path above)

if __name__ == "__main__":
    sys.exit(main(__doc__))
