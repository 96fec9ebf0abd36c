"""Python SDK for surge's Redis Streams request bus (docs/redis-streams.md).

- surge_client.kserve: KServe v2 request/response bodies with binary tensors
- surge_client.worker: Worker, serving a Python predict function
  (`python -m surge_client.worker --handler pkg.module:factory ...`)
- surge_client.producer: StreamClient / AsyncStreamClient, sending requests
"""

from __future__ import annotations

from typing import Any

__version__ = "0.1.0"

# Resolved on first use: importing the package stays cheap, and
# `python -m surge_client.worker` does not find the module already imported.
_EXPORTS = {
    "Handler": "surge_client.handler",
    "TensorSpec": "surge_client.handler",
    "Worker": "surge_client.worker",
    "StreamClient": "surge_client.producer",
    "AsyncStreamClient": "surge_client.producer",
    "InferenceError": "surge_client.producer",
    "InferenceTimeout": "surge_client.producer",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    module_name = _EXPORTS.get(name)
    if module_name is None:
        raise AttributeError(f"module 'surge_client' has no attribute '{name}'")
    import importlib

    return getattr(importlib.import_module(module_name), name)
