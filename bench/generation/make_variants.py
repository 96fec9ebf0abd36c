#!/usr/bin/python3
"""Copies of one generative model that differ only in `generation { batching }`.

    make_variants.py MODEL_DIR OUT_REPOSITORY NAME=CONTINUOUS NAME=STATIC ...

Each NAME becomes OUT_REPOSITORY/NAME/ holding the model's config.pbtxt with
its top-level `name` removed (the directory names the model) and `batching`
inside `generation { }` set as asked; every other entry of MODEL_DIR (version
directories, tokenizer files) is a symlink to the original, so the variants
load the same weights. The config is edited as text, keeping everything else
byte for byte, so the comparison changes nothing but the batching mode.
"""

from __future__ import annotations

import os
import re
import sys
from pathlib import Path

BATCHING_MODES = ("CONTINUOUS", "STATIC")


_TOKEN = re.compile(r"""\s+|\#[^\n]*|"(?:\\.|[^"\\])*"|'(?:\\.|[^'\\])*'|[A-Za-z_][A-Za-z0-9_.]*|[-+0-9.eE]+|.""")


def _tokens(text: str) -> list[tuple[str, int, int, int]]:
    """(token, start, end, depth) of config.pbtxt's tokens, comments and blanks left out."""
    out, depth = [], 0
    for match in _TOKEN.finditer(text):
        token = match.group()
        if token.isspace() or token.startswith("#"):
            continue
        if token in "}]":
            depth -= 1
        out.append((token, match.start(), match.end(), depth))
        if token in "{[":
            depth += 1
    return out


def with_batching(config: str, mode: str) -> str:
    """config.pbtxt text without its top-level name and with generation.batching = mode."""
    if mode not in BATCHING_MODES:
        raise ValueError(f"batching {mode!r} is not one of {', '.join(BATCHING_MODES)}")
    tokens = _tokens(config)
    cuts: list[tuple[int, int, str]] = []  # [start, end) replaced by text
    generation_open = None
    for i, (token, start, _end, depth) in enumerate(tokens):
        if depth != 0 or i + 2 >= len(tokens):
            continue
        following = [t[0] for t in tokens[i + 1 : i + 3]]
        if token == "name" and following[0] == ":" and following[1][:1] in "\"'":
            cuts.append((start, tokens[i + 2][2], ""))
        elif token == "generation" and generation_open is None:
            at = i + 2 if following[0] == ":" else i + 1
            if tokens[at][0] == "{":
                generation_open = at
    if generation_open is None:
        raise ValueError("config.pbtxt has no generation { } section: not a generative model")
    close = next(j for j in range(generation_open + 1, len(tokens)) if tokens[j][0] == "}" and tokens[j][3] == 0)
    for j in range(generation_open + 1, close - 2):
        token, start, _end, depth = tokens[j]
        if token == "batching" and depth == 1 and tokens[j + 1][0] == ":":
            cuts.append((start, tokens[j + 2][2], ""))
    brace_end = tokens[generation_open][2]
    cuts.append((brace_end, brace_end, f" batching: {mode}"))
    for start, end, text in sorted(cuts, reverse=True):
        config = config[:start] + text + config[end:]
    return config


def main() -> int:
    if len(sys.argv) < 4:
        print(__doc__, file=sys.stderr)
        return 2
    model_dir, out = Path(sys.argv[1]).resolve(), Path(sys.argv[2])
    config = (model_dir / "config.pbtxt").read_text()
    for item in sys.argv[3:]:
        name, _, mode = item.partition("=")
        variant = out / name
        variant.mkdir(parents=True)
        try:
            (variant / "config.pbtxt").write_text(with_batching(config, mode))
        except ValueError as e:
            print(f"make_variants: {model_dir / 'config.pbtxt'}: {e}", file=sys.stderr)
            return 1
        for entry in model_dir.iterdir():
            if entry.name != "config.pbtxt":
                os.symlink(entry, variant / entry.name)
    return 0


if __name__ == "__main__":
    sys.exit(main())
