"""accumulator: a stateful demo: OUTPUT is the running sum of INPUT over a
sequence (Triton's sequence batcher)."""

from pathlib import Path

from . import common
from .common import write_text
from .spec import DemoModel

# Written as text: config_pbtxt() renders no sequence_batching.
CONFIG = """\
name: "accumulator"
backend: "accumulator"
max_batch_size: 8
input [ { name: "INPUT" data_type: TYPE_INT32 dims: [ 1 ] } ]
output [ { name: "OUTPUT" data_type: TYPE_INT32 dims: [ 1 ] } ]
instance_group [ { count: 1 kind: KIND_CPU } ]
sequence_batching {
  max_sequence_idle_microseconds: 1000000
  oldest { max_candidate_sequences: 64 }
}
"""


def make_accumulator(repo: Path) -> str:
    # The accumulator backend reads no file, but the repository layout still
    # needs a version directory.
    (repo / "accumulator" / "1").mkdir(parents=True, exist_ok=True)
    write_text(repo / "accumulator" / "config.pbtxt", CONFIG)
    return "no weights"


MODELS = [
    DemoModel("accumulator", ["config.pbtxt", "1"], make_accumulator, [Path(__file__), Path(common.__file__)]),
]
