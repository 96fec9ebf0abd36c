"""The PrometheusRule's alerts: valid rules (promtool check rules) that fire,
and stay quiet, as deploy/monitoring/alerts_test.yaml says (promtool test rules)."""

from __future__ import annotations

import shutil
import subprocess

import yaml

from deploy_support import DEPLOY, prometheus_rule, promtool

REQUIRED_ALERTS = {
    "SurgeErrorBudgetBurnFast", "SurgeErrorBudgetBurnSlow", "SurgeLatencyBudgetBurnFast", "SurgeQueueGrowing",
    "SurgeWorkerPoolNoLiveWorkers", "SurgeWorkerPoolBreakerOpen", "SurgeDeadLetterStreamGrowing",
    "SurgeVersionFailingMoreThanItsModel",
}


def write_rule_file(directory) -> None:
    (directory / "surge.rules.yaml").write_text(yaml.safe_dump({"groups": prometheus_rule()["spec"]["groups"]}))
    shutil.copy(DEPLOY / "monitoring" / "alerts_test.yaml", directory / "alerts_test.yaml")


def test_rules_are_valid(tmp_path):
    write_rule_file(tmp_path)
    result = subprocess.run([promtool(), "check", "rules", "surge.rules.yaml"], cwd=tmp_path,
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr


def test_alerts_fire_as_the_unit_tests_say(tmp_path):
    write_rule_file(tmp_path)
    result = subprocess.run([promtool(), "test", "rules", "alerts_test.yaml"], cwd=tmp_path,
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr


def test_every_alert_is_routed_and_unit_tested():
    alerts = [rule for group in prometheus_rule()["spec"]["groups"] for rule in group["rules"] if "alert" in rule]
    names = {rule["alert"] for rule in alerts}
    assert REQUIRED_ALERTS <= names
    tests = yaml.safe_load((DEPLOY / "monitoring" / "alerts_test.yaml").read_text())["tests"]
    tested_firing = {case["alertname"] for test in tests for case in test["alert_rule_test"] if case["exp_alerts"]}
    assert names <= tested_firing, f"alerts no test sees fire: {names - tested_firing}"
    for rule in alerts:
        assert rule["labels"]["severity"] in {"page", "ticket"}, rule["alert"]
        assert rule["annotations"]["summary"], rule["alert"]
