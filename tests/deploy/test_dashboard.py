"""The Grafana dashboard: well-formed, every query valid PromQL (promtool
parses each one as a recording rule), and provisioned by the monitoring
kustomization. tests/e2e/test_monitoring_metrics.py checks its metric names
against a running surge."""

from __future__ import annotations

import json
import re
import subprocess

import yaml

from deploy_support import DEPLOY, promtool

DASHBOARD = DEPLOY / "monitoring" / "grafana" / "surge-overview.json"


def panels() -> list[dict]:
    return [p for p in json.loads(DASHBOARD.read_text())["panels"] if p["type"] != "row"]


def as_prometheus(expr: str) -> str:
    """Grafana's variables replaced by values Prometheus would receive."""
    expr = expr.replace("$__rate_interval", "5m").replace("$__interval", "1m")
    return re.sub(r"\$\{?(\w+)\}?", ".*", expr)


def test_panels_are_well_formed():
    dashboard = json.loads(DASHBOARD.read_text())
    ids = [p["id"] for p in dashboard["panels"]]
    assert len(ids) == len(set(ids))
    variables = {v["name"] for v in dashboard["templating"]["list"]}
    assert {"datasource", "model"} <= variables
    for panel in panels():
        assert panel["title"] and panel["targets"], panel["id"]
        assert panel["datasource"]["uid"] == "${datasource}"
        for target in panel["targets"]:
            assert target["expr"].strip() and target["refId"], panel["title"]
        grid = panel["gridPos"]
        assert 0 <= grid["x"] and grid["x"] + grid["w"] <= 24


def test_every_query_is_valid_promql(tmp_path):
    rules = []
    for panel in panels():
        for target in panel["targets"]:
            record = f"dashboard:panel_{panel['id']}_{target['refId']}"
            rules.append({"record": record, "expr": as_prometheus(target["expr"])})
    (tmp_path / "dashboard.rules.yaml").write_text(yaml.safe_dump({"groups": [{"name": "dashboard", "rules": rules}]}))
    result = subprocess.run([promtool(), "check", "rules", "dashboard.rules.yaml"], cwd=tmp_path,
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"{len(rules)} rules found" in result.stdout


def test_a_broken_query_is_caught(tmp_path):
    broken = as_prometheus("sum by (model (rate(x[$__rate_interval]))")
    (tmp_path / "broken.rules.yaml").write_text(
        yaml.safe_dump({"groups": [{"name": "x", "rules": [{"record": "x:y", "expr": broken}]}]}))
    result = subprocess.run([promtool(), "check", "rules", "broken.rules.yaml"], cwd=tmp_path,
                            capture_output=True, text=True, timeout=60)
    assert result.returncode != 0
