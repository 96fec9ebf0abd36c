"""identity_fp32: served by the identity backend, for tests and overhead benchmarks."""

from pathlib import Path

from . import common
from .common import config_pbtxt, write_text
from .spec import DemoModel


def make_identity_fp32(repo: Path) -> str:
    # The identity backend reads no file, but the repository layout still
    # needs a version directory.
    (repo / "identity_fp32" / "1").mkdir(parents=True, exist_ok=True)
    write_text(
        repo / "identity_fp32" / "config.pbtxt",
        config_pbtxt(
            "identity_fp32",
            "identity",
            64,
            [("INPUT0", "TYPE_FP32", [-1])],
            [("OUTPUT0", "TYPE_FP32", [-1])],
            instance_count=2,
            dynamic_batching={},
        ),
    )
    return "no weights"


MODELS = [
    DemoModel("identity_fp32", ["config.pbtxt", "1"], make_identity_fp32, [Path(__file__), Path(common.__file__)]),
]
