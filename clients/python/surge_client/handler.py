"""What a worker serves: a predict callable, the inputs it expects, and how it
is warmed up; and loading one from `package.module:factory`."""

from __future__ import annotations

import importlib
from dataclasses import dataclass, field
from typing import Callable, Dict, Mapping, Optional, Sequence

import numpy as np

from surge_client import kserve

Predict = Callable[[Dict[str, np.ndarray]], Mapping[str, np.ndarray]]


@dataclass(frozen=True)
class TensorSpec:
    """One input the model expects. `dims` excludes the batch dimension when
    the worker batches (max_batch > 0), as in a model config; -1 is any size."""

    name: str
    datatype: str
    dims: Sequence[int]

    def __post_init__(self) -> None:
        if self.datatype not in kserve.DATATYPES:
            raise ValueError(f"input '{self.name}': unknown datatype '{self.datatype}'")

    def zeros(self, batched: bool) -> np.ndarray:
        """A zero-filled tensor of this spec (one row when batched; -1 dims as 1)."""
        shape = ([1] if batched else []) + [1 if d < 0 else int(d) for d in self.dims]
        if self.datatype == "BYTES":
            out = np.empty(shape, dtype=object)
            out.fill(b"")
            return out
        return np.zeros(shape, dtype=kserve.numpy_dtype(self.datatype))

    def check(self, array: np.ndarray, datatype: str, batched: bool) -> Optional[str]:
        """What is wrong with `array` (received as `datatype`) for this spec; None if nothing."""
        if datatype != self.datatype:
            return f"input '{self.name}' has datatype {datatype}, the model expects {self.datatype}"
        shape = list(array.shape[1:] if batched else array.shape)
        dims = list(self.dims)
        if len(shape) != len(dims) or any(d >= 0 and d != s for d, s in zip(dims, shape)):
            full = (["-1"] if batched else []) + [str(d) for d in dims]
            return f"input '{self.name}' has shape {list(array.shape)}, the model expects [{','.join(full)}]"
        return None


@dataclass
class Handler:
    """A model as a worker serves it.

    predict: inputs by name -> outputs by name. With batching, every input
      and output has the batch as dimension 0.
    inputs: the inputs it expects; requests are checked against them (400 on
      a mismatch) and the default warm-up feeds them zeros.
    warmup: called once before the worker joins, instead of the default
      warm-up; it should run one inference.
    output_datatypes: KServe datatypes for outputs whose numpy dtype alone
      does not say (uint16 holding BF16 bits).
    """

    predict: Predict
    inputs: Sequence[TensorSpec] = ()
    warmup: Optional[Callable[[], None]] = None
    output_datatypes: Mapping[str, str] = field(default_factory=dict)


def as_handler(value: object) -> Handler:
    if isinstance(value, Handler):
        return value
    if callable(value):
        return Handler(predict=value)  # type: ignore[arg-type]
    raise TypeError(f"a handler factory must return a surge_client.Handler or a callable, got {type(value).__name__}")


def load_handler(reference: str, arguments: Optional[Mapping[str, str]] = None) -> Handler:
    """Imports `package.module:factory` and calls factory(**arguments)."""
    module_name, sep, attribute = reference.partition(":")
    if not sep or not module_name or not attribute:
        raise ValueError(f"--handler must look like package.module:factory, got '{reference}'")
    module = importlib.import_module(module_name)
    try:
        factory = getattr(module, attribute)
    except AttributeError:
        raise ValueError(f"module '{module_name}' has no '{attribute}'") from None
    return as_handler(factory(**dict(arguments or {})))
