"""The command line of scripts/make_models.py."""

import argparse
import os
import time
from pathlib import Path

import torch

from . import MODELS, spec


def main(description: str) -> int:
    parser = argparse.ArgumentParser(description=description, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--output", required=True, type=Path, help="model repository directory to write")
    parser.add_argument("--force", action="store_true", help="rewrite models that are up to date")
    parser.add_argument("--only", nargs="+", choices=sorted(MODELS), help="write only these models")
    args = parser.parse_args()

    torch.set_num_threads(min(2, os.cpu_count() or 1))
    start = time.monotonic()
    for name in args.only or MODELS:
        model = MODELS[name]
        model_dir = args.output / name
        inputs = spec.inputs_hash(model)
        if not args.force and spec.is_current(model, model_dir, inputs):
            print(f"{name}: up to date, skipped (--force rewrites it)")
            continue
        began = time.monotonic()
        spec.forget(model_dir)
        summary = model.make(args.output)
        spec.record(model_dir, inputs)
        print(f"{name}: {summary} ({time.monotonic() - began:.1f} s)")
    print(f"done in {time.monotonic() - start:.1f} s")
    return 0
