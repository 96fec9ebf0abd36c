"""Every metric the Grafana dashboard, the alert rules and prometheus-adapter's
rules read is one a running surge exports (or, for the few that are not
surge's, one of the named exporters'), checked against /metrics of a server
that serves a plain model, a generative one and a worker-pool one."""

from __future__ import annotations

import json

import pytest
import yaml

from promql_names import metric_names
from redis_e2e import environment_has_redis, pool_identity_config
from surge_e2e import (
    REPO_ROOT,
    echo_lm_config,
    identity_config,
    launch_surge,
    metric_types,
    wait_until,
    write_model,
)

DEPLOY = REPO_ROOT / "deploy"
# Read where surge has nothing to say: Redis' own view of the streams and
# Kubernetes' of the worker pods.
EXTERNAL = {
    "redis_stream_length": "redis_exporter (sidecar of deploy/base/redis-statefulset.yaml)",
    "redis_stream_group_lag": "redis_exporter (sidecar of deploy/base/redis-statefulset.yaml)",
    "kube_deployment_status_replicas": "kube-state-metrics",
}
HISTOGRAM_SERIES = ("_bucket", "_sum", "_count")


def dashboard_queries() -> dict[str, str]:
    dashboard = json.loads((DEPLOY / "monitoring" / "grafana" / "surge-overview.json").read_text())
    queries = {}
    for panel in dashboard["panels"]:
        for target in panel.get("targets", []):
            queries[f"panel '{panel['title']}' {target['refId']}"] = target["expr"]
    for variable in dashboard["templating"]["list"]:
        if variable["type"] == "query":
            # label_values(metric, label): the metric is the first argument.
            queries[f"variable {variable['name']}"] = variable["definition"].split("(", 1)[1].split(",", 1)[0]
    return queries


def rule_queries() -> tuple[dict[str, str], set[str]]:
    rule = yaml.safe_load((DEPLOY / "base" / "prometheusrule.yaml").read_text())
    queries, recorded = {}, set()
    for group in rule["spec"]["groups"]:
        for r in group["rules"]:
            queries[f"rule {r.get('alert') or r.get('record')}"] = r["expr"]
            if "record" in r:
                recorded.add(r["record"])
    return queries, recorded


def adapter_queries() -> dict[str, str]:
    adapter = yaml.safe_load((DEPLOY / "monitoring" / "prometheus-adapter" / "config.yaml").read_text())
    return {f"adapter {r['name']['as']}": r["seriesQuery"] for r in adapter["rules"]}


def exported_names(types: dict[str, str]) -> set[str]:
    names = set()
    for family, kind in types.items():
        names.add(family)
        if kind == "histogram":
            names.update(family + suffix for suffix in HISTOGRAM_SERIES)
    return names


def test_promql_names_are_read_as_prometheus_does():
    expr = ('sum by (model, le) (rate(surge_x_bucket{model=~"$model",le="0.25"}[$__rate_interval])) '
            '/ on (model) group_left max(label_replace(kube_y, "model", "$1", "deployment", "w-(.+)")) > 0.5 * 14.4')
    assert metric_names(expr) == {"surge_x_bucket", "kube_y"}


@pytest.fixture(scope="module")
def exported(tmp_path_factory) -> tuple[set[str], str]:
    """Families (and histogram series) of a server with each kind of model."""
    if not environment_has_redis():
        pytest.fail("redis-server not found (scripts/install-deps installs it)", pytrace=False)
    repository = tmp_path_factory.mktemp("monitoring-models")
    write_model(repository, "plain", identity_config("plain"))
    write_model(repository, "lm", echo_lm_config("lm"))
    write_model(repository, "pool", pool_identity_config("pool", local_workers=1))
    server = launch_surge(repository, tmp_path_factory.mktemp("monitoring-surge"))
    try:
        server.wait_ready()
        wait_until(lambda: 'surge_worker_pool_live_workers{model="pool"} 1' in server.metrics_text(),
                   "the local worker to join", 30)
        text = server.metrics_text()
    finally:
        assert server.stop() == 0, server.describe()
    return exported_names(metric_types(text)), text


def test_every_metric_the_monitoring_reads_is_exported(exported):
    names, _ = exported
    rules, recorded = rule_queries()
    queries = {**dashboard_queries(), **rules, **adapter_queries()}
    unknown = {}
    for where, expr in queries.items():
        read = metric_names(expr)
        assert read, f"{where}: no metric found in {expr!r}"
        missing = {n for n in read if n not in names and n not in recorded and n not in EXTERNAL}
        if missing:
            unknown[where] = sorted(missing)
    assert unknown == {}, f"metrics surge does not export: {unknown}\nexported: {sorted(names)}"


def test_the_dashboard_covers_what_operators_look_for(exported):
    names, _ = exported
    read = set().union(*(metric_names(e) for e in dashboard_queries().values()))
    wanted = {
        "surge_requests_total",                        # request rate
        "surge_request_duration_seconds_bucket",       # p50 / p99 per model
        "surge_queue_depth",
        "surge_batch_size_bucket",                     # batch size histogram
        "surge_worker_pool_live_workers",              # workers live / warming
        "surge_time_to_first_token_seconds_bucket",
        "surge_inter_token_latency_seconds_bucket",
        "surge_worker_pool_breaker_open",
    }
    assert wanted <= read, wanted - read
    assert wanted <= names


def test_the_latency_slo_bucket_exists(exported):
    # The latency SLO reads the 250 ms bucket by its exact le label.
    _, text = exported
    assert 'surge_request_duration_seconds_bucket{model="plain",version="1",le="0.25"}' in text
