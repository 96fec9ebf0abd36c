"""Dynamic batching along dimension 0: which requests can run together, and
how their inputs are joined and their outputs split again."""

from __future__ import annotations

from typing import Dict, Hashable, List, Mapping, Sequence, Tuple, TypeVar

import numpy as np

T = TypeVar("T")


class BatchError(ValueError):
    """Inputs or outputs that do not fit the batching rules; the message names the tensor."""


def batch_rows(inputs: Mapping[str, np.ndarray]) -> int:
    """The batch size of one request: the common first dimension of its inputs."""
    rows = None
    for name, array in inputs.items():
        if array.ndim == 0:
            raise BatchError(f"input '{name}' is a scalar; with batching every input needs a batch dimension")
        if rows is None:
            rows = array.shape[0]
        elif array.shape[0] != rows:
            raise BatchError(f"input '{name}' has {array.shape[0]} rows, the request's other inputs have {rows}")
    if rows is None:
        raise BatchError("the request has no inputs")
    return rows


def signature(inputs: Mapping[str, np.ndarray], datatypes: Mapping[str, str]) -> Hashable:
    """Requests with equal signatures can be concatenated along dimension 0."""
    return tuple(sorted((name, datatypes.get(name, ""), array.dtype.str, array.shape[1:]) for name, array in inputs.items()))


def plan(items: Sequence[T], keys: Sequence[Hashable], rows: Sequence[int], max_rows: int) -> List[List[T]]:
    """Groups items into batches of equal key and at most `max_rows` rows in
    all, keeping their order within a key; an item over `max_rows` by itself
    is the caller's to reject before."""
    open_batches: Dict[Hashable, Tuple[List[T], List[int]]] = {}
    done: List[List[T]] = []
    for item, key, count in zip(items, keys, rows):
        batch = open_batches.get(key)
        if batch is not None and batch[1][0] + count > max_rows:
            done.append(batch[0])
            batch = None
        if batch is None:
            batch = ([], [0])
            open_batches[key] = batch
        batch[0].append(item)
        batch[1][0] += count
    done.extend(batch for batch, _ in open_batches.values())
    return done


def concatenate(requests: Sequence[Mapping[str, np.ndarray]]) -> Dict[str, np.ndarray]:
    """The inputs of requests with equal signatures, joined along dimension 0."""
    if len(requests) == 1:
        return dict(requests[0])
    return {name: np.concatenate([request[name] for request in requests], axis=0) for name in requests[0]}


def split(outputs: Mapping[str, np.ndarray], rows: Sequence[int]) -> List[Dict[str, np.ndarray]]:
    """A batch's outputs cut back into one dict per request of `rows` rows each."""
    total = sum(rows)
    for name, array in outputs.items():
        if array.ndim == 0 or array.shape[0] != total:
            got = "is a scalar" if array.ndim == 0 else f"has {array.shape[0]} rows"
            raise BatchError(f"output '{name}' {got} for a batch of {total} rows")
    bounds = np.cumsum(rows)[:-1]
    parts: List[Dict[str, np.ndarray]] = [{} for _ in rows]
    for name, array in outputs.items():
        for part, piece in zip(parts, np.split(array, bounds, axis=0)):
            part[name] = piece
    return parts
