"""The Feast side's scoring service: FastAPI + uvicorn, Feast's online
features for the user, the request's amount, and XGBoost on the same model
file surge's fraud_xgboost serves (model_repository/fraud_xgboost/1/model.json).

    .bench-venvs/feast/bin/python bench/features/feast_server.py --port 8000 \
        --feature-repository REPO --repository model_repository [--workers 1]

It answers surge's route and body: POST /v2/models/fraud/infer, KServe v2
JSON with `user_id` (BYTES) and `amount` (FP32), [n, 1] each, and the
`probabilities` output, [n, 1]; with the request parameter
`return_features: true` it adds `FEATURES`, FP32 [n, 8], the vector each
row was scored with (NaN as null). `event_time_ms` is accepted and
ignored: Feast serves the values last pushed, which the consumer keeps at
the latest event time (feast_consumer.py).

Per request: store.get_online_features_async for the rows' users (as Feast's
own feature server reads the Redis online store), the vector assembled in
the fraud model's `vector` order (a missing value is NaN, which XGBoost
reads as missing, as surge does), then Booster.inplace_predict with one
thread (fraud_xgboost's config says threads: 1) on the event loop: one
row's 100 trees take tens of microseconds, less than a hand-off to a
thread would. One uvicorn worker by default, as the text classifier peer
(bench/peers/text_fastapi) runs; --workers N runs N processes on the one
port (uvicorn's own supervisor). Access log off.
"""

from __future__ import annotations

import argparse
import math
import os
import sys
from contextlib import asynccontextmanager
from pathlib import Path

import numpy as np
import uvicorn
import xgboost
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from feast import FeatureStore

sys.path.insert(0, str(Path(__file__).resolve().parent))
from fraud_spec import FEATURE_REFS, FRAUD, MODEL, REQUEST_FIELD, SCORING_MODEL  # noqa: E402

ENTITY = FRAUD.entity_input
# How uvicorn's worker processes learn the paths (they build the app from this module).
FEATURE_REPOSITORY_VARIABLE = "FRAUD_BENCH_FEATURE_REPOSITORY"
REPOSITORY_VARIABLE = "FRAUD_BENCH_MODEL_REPOSITORY"


class BadRequest(ValueError):
    pass


def parse(body: dict) -> tuple[list[str], np.ndarray, bool]:
    """(users, amounts as float32, return_features) of one request."""
    inputs = {entry.get("name"): entry for entry in body.get("inputs", [])}
    if ENTITY not in inputs or REQUEST_FIELD not in inputs:
        raise BadRequest(f"inputs {ENTITY!r} and {REQUEST_FIELD!r} are required")
    users = inputs[ENTITY]["data"]
    amounts = np.asarray(inputs[REQUEST_FIELD]["data"], dtype=np.float32).reshape(-1)
    if not users or len(users) != len(amounts) or not all(isinstance(u, str) for u in users):
        raise BadRequest(f"one string {ENTITY} and one {REQUEST_FIELD} per row")
    parameters = body.get("parameters") or {}
    return users, amounts, bool(parameters.get("return_features", False))


def vectors(online: dict[str, list], amounts: np.ndarray) -> np.ndarray:
    """[n, len(vector)] float32 in the fraud model's vector order; None (no value) is NaN."""
    rows = np.empty((len(amounts), len(FRAUD.vector)), dtype=np.float32)
    for column, name in enumerate(FRAUD.vector):
        if name == REQUEST_FIELD:
            rows[:, column] = amounts
        else:
            rows[:, column] = [math.nan if v is None else v for v in online[name]]
    return rows


def make_app(feature_repository: Path, repository: Path) -> FastAPI:
    state: dict = {}

    @asynccontextmanager
    async def lifespan(app):
        store = FeatureStore(repo_path=str(feature_repository))
        booster = xgboost.Booster(params={"nthread": 1},
                                  model_file=str(repository / SCORING_MODEL / "1" / "model.json"))
        # The first read loads the registry and opens the connection: not on a request's time.
        await store.get_online_features_async(features=list(FEATURE_REFS), entity_rows=[{ENTITY: "warm-up"}])
        state.update(store=store, booster=booster)
        yield

    app = FastAPI(lifespan=lifespan)

    @app.post(f"/v2/models/{MODEL}/infer")
    async def infer(request: Request):
        try:
            users, amounts, return_features = parse(await request.json())
        except (BadRequest, KeyError, TypeError, ValueError) as e:
            return JSONResponse({"error": str(e)}, status_code=400)
        response = await state["store"].get_online_features_async(
            features=list(FEATURE_REFS), entity_rows=[{ENTITY: u} for u in users])
        rows = vectors(response.to_dict(), amounts)
        scores = state["booster"].inplace_predict(rows)
        n = len(users)
        outputs = [{"name": "probabilities", "datatype": "FP32", "shape": [n, 1],
                    "data": scores.astype(np.float32).tolist()}]
        if return_features:
            flat = [None if math.isnan(v) else v for v in rows.reshape(-1).tolist()]
            outputs.append({"name": "FEATURES", "datatype": "FP32", "shape": [n, len(FRAUD.vector)], "data": flat})
        # A JSONResponse as is: FastAPI would run a returned dict through jsonable_encoder first.
        return JSONResponse({"model_name": MODEL, "outputs": outputs})

    @app.get("/v2/health/ready")
    async def ready():
        return {}

    return app


def app_from_environment() -> FastAPI:
    return make_app(Path(os.environ[FEATURE_REPOSITORY_VARIABLE]), Path(os.environ[REPOSITORY_VARIABLE]))


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--feature-repository", type=Path, required=True, help="the Feast feature repository")
    parser.add_argument("--repository", type=Path, default=Path("model_repository"))
    parser.add_argument("--workers", type=int, default=1)
    args = parser.parse_args()
    os.environ[FEATURE_REPOSITORY_VARIABLE] = str(args.feature_repository.resolve())
    os.environ[REPOSITORY_VARIABLE] = str(args.repository.resolve())
    uvicorn.run("feast_server:app_from_environment", factory=True, app_dir=str(Path(__file__).resolve().parent),
                host=args.host, port=args.port, workers=args.workers, log_level="warning", access_log=False)


if __name__ == "__main__":
    main()
