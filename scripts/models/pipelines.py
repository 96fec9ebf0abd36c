"""iris_pipeline: an ensemble (Triton's platform "ensemble") that runs
identity_fp32 then iris, so the demo repository has a pipeline of two models
whose tensors pass from one step to the next. It has no weights of its own;
its output's labels are iris's, for the classification extension."""

from pathlib import Path

from .common import write_text
from .spec import DemoModel

IRIS_LABELS = ["setosa", "versicolor", "virginica"]  # load_iris().target_names, in class order

CONFIG = """name: "iris_pipeline"
platform: "ensemble"
max_batch_size: 64
input [
  {
    name: "features"
    data_type: TYPE_FP32
    dims: [ 4 ]
  }
]
output [
  {
    name: "probabilities"
    data_type: TYPE_FP32
    dims: [ 3 ]
    label_filename: "labels.txt"
  }
]
ensemble_scheduling {
  step [
    {
      model_name: "identity_fp32"
      model_version: -1
      input_map { key: "INPUT0" value: "features" }
      output_map { key: "OUTPUT0" value: "copied_features" }
    },
    {
      model_name: "iris"
      model_version: -1
      input_map { key: "features" value: "copied_features" }
      output_map { key: "probabilities" value: "probabilities" }
    }
  ]
}
"""


def make_iris_pipeline(repo: Path) -> str:
    # An ensemble reads no file, but the repository layout still needs a version directory.
    (repo / "iris_pipeline" / "1").mkdir(parents=True, exist_ok=True)
    write_text(repo / "iris_pipeline" / "labels.txt", "".join(f"{name}\n" for name in IRIS_LABELS))
    write_text(repo / "iris_pipeline" / "config.pbtxt", CONFIG)
    return "ensemble identity_fp32 -> iris"


MODELS = [
    DemoModel("iris_pipeline", ["config.pbtxt", "labels.txt", "1"], make_iris_pipeline, [Path(__file__)]),
]
