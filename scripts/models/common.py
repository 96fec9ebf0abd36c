"""What every demo model's module shares: the seed, atomic file writes, the
TorchScript export and the config.pbtxt renderer."""

import os
import tempfile
from pathlib import Path

import torch
from torch import nn

SEED = 0
UMASK = os.umask(0)
os.umask(UMASK)


def write_atomically(path: Path, write) -> None:
    """Calls write(temp_path), then renames the temporary file onto path."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, temp = tempfile.mkstemp(dir=path.parent, prefix="." + path.name + ".", suffix=".tmp")
    os.close(fd)
    try:
        write(temp)
        # mkstemp creates the file 0600; give it the mode a plain open() would.
        os.chmod(temp, 0o666 & ~UMASK)
        os.replace(temp, path)
    except BaseException:
        os.unlink(temp)
        raise


def write_text(path: Path, text: str) -> None:
    def write(temp):
        with open(temp, "w") as f:
            f.write(text)

    write_atomically(path, write)


def save_module(module: nn.Module, path: Path) -> None:
    scripted = torch.jit.script(module.eval())
    write_atomically(path, lambda temp: torch.jit.save(scripted, temp))


def tensor_block(kind: str, tensors) -> str:
    """tensors: (name, data_type, dims) tuples; data_type as in Triton (TYPE_FP32)."""
    entries = []
    for name, data_type, dims in tensors:
        entries.append(
            "  {\n"
            f'    name: "{name}"\n'
            f"    data_type: {data_type}\n"
            f"    dims: [ {', '.join(str(d) for d in dims)} ]\n"
            "  }"
        )
    return f"{kind} [\n" + ",\n".join(entries) + "\n]\n"


def config_pbtxt(
    name: str,
    backend: str,
    max_batch_size: int,
    inputs,
    outputs,
    instance_count: int = 1,
    dynamic_batching: dict | None = None,
    parameters: dict | None = None,
) -> str:
    """Renders a config.pbtxt with Triton's field names.

    dynamic_batching: None for no dynamic batching, else a dict with optional
    preferred_batch_size (list), max_queue_delay_microseconds and
    max_queue_size (placed in default_queue_policy, where Triton has it).
    """
    text = f'name: "{name}"\nbackend: "{backend}"\nmax_batch_size: {max_batch_size}\n'
    text += tensor_block("input", inputs)
    text += tensor_block("output", outputs)
    text += f"instance_group [\n  {{\n    count: {instance_count}\n    kind: KIND_CPU\n  }}\n]\n"
    if dynamic_batching is not None:
        lines = []
        if "preferred_batch_size" in dynamic_batching:
            sizes = ", ".join(str(s) for s in dynamic_batching["preferred_batch_size"])
            lines.append(f"  preferred_batch_size: [ {sizes} ]")
        if "max_queue_delay_microseconds" in dynamic_batching:
            lines.append(f"  max_queue_delay_microseconds: {dynamic_batching['max_queue_delay_microseconds']}")
        if "max_queue_size" in dynamic_batching:
            lines.append(f"  default_queue_policy {{\n    max_queue_size: {dynamic_batching['max_queue_size']}\n  }}")
        text += "dynamic_batching {\n" + "".join(line + "\n" for line in lines) + "}\n"
    for key, value in (parameters or {}).items():
        text += f'parameters {{\n  key: "{key}"\n  value {{\n    string_value: "{value}"\n  }}\n}}\n'
    return text


def xgboost_versions():
    """The libraries an XGBoost demo model is trained with: a change retrains it."""
    import numpy
    import sklearn
    import xgboost

    return [f"numpy {numpy.__version__} sklearn {sklearn.__version__} xgboost {xgboost.__version__}".encode()]
