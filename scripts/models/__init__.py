"""The demo models of scripts/make_models.py, one module per model or family.
A new demo model is a new module here whose MODELS list is added below."""

from . import (
    accumulator, churn, classifiers, digits_images, fraud, identity, kjv_lm, minilm_kjv, mlp, pipelines, resnet18, tabular
)
from .spec import DemoModel

# In the order they are made.
MODELS: dict[str, DemoModel] = {
    model.name: model
    for module in (
        classifiers, tabular, churn, fraud, mlp, resnet18, identity, accumulator, pipelines, kjv_lm, digits_images,
        minilm_kjv,
    )
    for model in module.MODELS
}
