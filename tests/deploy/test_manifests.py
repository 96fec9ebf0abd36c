"""deploy/: every kustomization renders, every resource validates against its
schema (Kubernetes' own through kubernetes-validate, strict; KEDA's and
prometheus-operator's CRD schemas from their npm model packages), and the
pieces agree with each other and with how surge behaves."""

from __future__ import annotations

import json
import re
import subprocess

import kubernetes_validate
import pytest
import yaml

from deploy_support import DEPLOY, KUBERNETES_VERSION, REPO_ROOT, RENDERED, npm_modules, render

CUSTOM_GROUPS = ("keda.sh/", "monitoring.coreos.com/")
# The redis-streams scaler's settings (KEDA's scaler documentation).
REDIS_STREAMS_KEYS = {
    "address", "addressFromEnv", "host", "hostFromEnv", "port", "portFromEnv", "stream", "consumerGroup",
    "pendingEntriesCount", "streamLength", "lagCount", "activationLagCount", "databaseIndex", "enableTLS",
    "unsafeSsl", "usernameFromEnv", "passwordFromEnv",
}


def is_custom(resource: dict) -> bool:
    return resource["apiVersion"].startswith(CUSTOM_GROUPS)


def validate_core(resource: dict) -> str | None:
    try:
        kubernetes_validate.validate(resource, KUBERNETES_VERSION, strict=True)
    except kubernetes_validate.ValidationError as e:
        return f"{e.message} at {'/'.join(str(p) for p in e.path)}"
    except kubernetes_validate.SchemaNotFoundError as e:
        return f"no schema: {e}"
    return None


def validate_custom(resources: list[dict]) -> list[dict]:
    script = REPO_ROOT / "tests" / "deploy" / "validate_crds.mjs"
    result = subprocess.run(["node", str(script), str(npm_modules())], input=json.dumps(resources),
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    return [json.loads(line) for line in result.stdout.splitlines()]


def problems_of(resources: list[dict]) -> list[str]:
    problems = []
    for r in resources:
        if not is_custom(r):
            why = validate_core(r)
            if why:
                problems.append(f"{r['kind']}/{r['metadata'].get('name')}: {why}")
    custom = [r for r in resources if is_custom(r)]
    for verdict in validate_custom(custom) if custom else []:
        if verdict["error"]:
            problems.append(f"{verdict['kind']}/{verdict['name']}: {verdict['error']}")
    return problems


@pytest.fixture(scope="module", params=RENDERED)
def rendered(request) -> tuple[str, list[dict]]:
    return request.param, render(request.param)


def by_kind(resources: list[dict], kind: str) -> list[dict]:
    return [r for r in resources if r["kind"] == kind]


def one(resources: list[dict], kind: str, name: str) -> dict:
    found = [r for r in resources if r["kind"] == kind and r["metadata"]["name"] == name]
    assert len(found) == 1, f"{kind}/{name}: {len(found)} found"
    return found[0]


def matches(selector: dict, labels: dict) -> bool:
    return bool(selector) and all(labels.get(k) == v for k, v in selector.items())


def pod_templates(resources: list[dict]) -> list[tuple[str, dict]]:
    return [(r["metadata"]["name"], r["spec"]["template"]["metadata"]["labels"])
            for r in resources if r["kind"] in ("Deployment", "StatefulSet")]


# ---------------------------------------------------------------------------


def test_every_resource_validates_against_its_schema(rendered):
    path, resources = rendered
    assert resources, f"{path} rendered nothing"
    assert problems_of(resources) == [], path


@pytest.mark.parametrize("broken,expected", [
    ("/spec/replicas", "two"),
    ("/spec/template/spec/containers/0/imagePullPolicee", "Always"),
])
def test_a_broken_core_resource_is_rejected(broken, expected):
    deployment = one(render("overlays/dev"), "Deployment", "surge-gateway")
    target = deployment
    parts = broken.strip("/").split("/")
    for part in parts[:-1]:
        target = target[int(part)] if part.isdigit() else target[part]
    target[parts[-1]] = expected
    assert validate_core(deployment) is not None


def test_a_broken_custom_resource_is_rejected():
    scaled = one(render("overlays/dev"), "ScaledObject", "surge-worker-iris")
    scaled["spec"]["minReplicaCount"] = "none"
    del scaled["spec"]["scaleTargetRef"]
    (verdict,) = validate_custom([scaled])
    assert verdict["error"] and "minReplicaCount" in verdict["error"] and "scaleTargetRef" in verdict["error"]


def test_every_selector_selects_pods_that_exist(rendered):
    path, resources = rendered
    templates = pod_templates(resources)
    services = {r["metadata"]["name"]: r["metadata"].get("labels", {}) for r in by_kind(resources, "Service")}
    for r in resources:
        name = f"{path}: {r['kind']}/{r['metadata']['name']}"
        if r["kind"] == "Service":
            assert any(matches(r["spec"]["selector"], labels) for _, labels in templates), name
        elif r["kind"] in ("PodDisruptionBudget",):
            assert any(matches(r["spec"]["selector"]["matchLabels"], labels) for _, labels in templates), name
        elif r["kind"] == "NetworkPolicy":
            assert any(matches(r["spec"]["podSelector"]["matchLabels"], labels) for _, labels in templates), name
        elif r["kind"] == "ServiceMonitor":
            assert any(matches(r["spec"]["selector"]["matchLabels"], labels) for labels in services.values()), name
        elif r["kind"] in ("Deployment", "StatefulSet"):
            assert matches(r["spec"]["selector"]["matchLabels"], r["spec"]["template"]["metadata"]["labels"]), name


def test_scalers_target_workloads_that_exist(rendered):
    path, resources = rendered
    deployments = {r["metadata"]["name"] for r in by_kind(resources, "Deployment")}
    for r in by_kind(resources, "HorizontalPodAutoscaler") + by_kind(resources, "ScaledObject"):
        assert r["spec"]["scaleTargetRef"]["name"] in deployments, f"{path}: {r['metadata']['name']}"
    # KEDA makes an HPA of its own for its target: never both on one Deployment.
    hpa_targets = {r["spec"]["scaleTargetRef"]["name"] for r in by_kind(resources, "HorizontalPodAutoscaler")}
    keda_targets = {r["spec"]["scaleTargetRef"]["name"] for r in by_kind(resources, "ScaledObject")}
    assert not hpa_targets & keda_targets


def app_overlays():
    return [p for p in RENDERED if p.startswith("overlays/")]


@pytest.mark.parametrize("path", app_overlays())
def test_gateway_probes_and_drain_follow_surge_serve(path):
    resources = render(path)
    gateway = one(resources, "Deployment", "surge-gateway")
    config = one(resources, "ConfigMap", "surge-config")["data"]
    pod = gateway["spec"]["template"]["spec"]
    container = pod["containers"][0]
    assert container["args"][0] == "serve"
    ports = {p["name"]: p["containerPort"] for p in container["ports"]}
    env = {e["name"]: e.get("value") for e in container.get("env", [])}
    assert int(env["SURGE_HTTP_PORT"]) == ports["http"]
    assert int(env["SURGE_METRICS_PORT"]) == ports["metrics"]
    # /v2/health/ready is true only while every model is ready and turns
    # false at SIGTERM; /v2/health/live while the process serves.
    assert container["readinessProbe"]["httpGet"]["path"] == "/v2/health/ready"
    assert container["livenessProbe"]["httpGet"]["path"] == "/v2/health/live"
    pre_stop = container["lifecycle"]["preStop"]["exec"]["command"]
    assert pre_stop[0] == "sleep"
    drain = int(config["SURGE_DRAIN_TIMEOUT"])
    assert pod["terminationGracePeriodSeconds"] >= int(pre_stop[1]) + drain + 5, (
        "the grace period must cover the preStop sleep, surge's drain timeout and the models' stop")


@pytest.mark.parametrize("path", app_overlays())
def test_workers_read_the_stream_keda_watches(path):
    resources = render(path)
    (namespace_resource,) = by_kind(resources, "Namespace")
    namespace = namespace_resource["metadata"]["name"]
    doc = (REPO_ROOT / "docs" / "redis-streams.md").read_text()
    contract = re.search(r"`surge:M:requests` group `([a-z-]+)`", doc)
    assert contract, "docs/redis-streams.md no longer names the request stream's consumer group"
    group = contract.group(1)
    for scaled in by_kind(resources, "ScaledObject"):
        target = one(resources, "Deployment", scaled["spec"]["scaleTargetRef"]["name"])
        container = target["spec"]["template"]["spec"]["containers"][0]
        assert container["args"][0] == "worker"
        env = {e["name"]: e for e in container["env"]}
        model = env["SURGE_WORKER_MODEL"]["value"]
        assert env["SURGE_WORKER_NAME"]["valueFrom"]["fieldRef"]["fieldPath"] == "metadata.name"
        (trigger,) = scaled["spec"]["triggers"]
        assert trigger["type"] == "redis-streams"
        metadata = trigger["metadata"]
        assert set(metadata) <= REDIS_STREAMS_KEYS, set(metadata) - REDIS_STREAMS_KEYS
        assert metadata["stream"] == f"surge:{model}:requests"
        assert metadata["consumerGroup"] == group
        assert "lagCount" in metadata and "pendingEntriesCount" not in metadata
        # At zero workers the gateway refuses requests before they reach the
        # stream, so the lag could never bring a worker back.
        assert scaled["spec"]["minReplicaCount"] >= 1
        # KEDA's operator resolves the address from its own namespace.
        host, port = metadata["address"].rsplit(":", 1)
        service = one(resources, "Service", host.split(".")[0])
        assert host == f"{service['metadata']['name']}.{namespace}.svc.cluster.local", host
        assert int(port) in {p["port"] for p in service["spec"]["ports"]}


@pytest.mark.parametrize("path", app_overlays())
def test_redis_persists_its_streams(path):
    resources = render(path)
    redis = one(resources, "StatefulSet", "surge-redis")
    container = next(c for c in redis["spec"]["template"]["spec"]["containers"] if c["name"] == "redis")
    conf_path = container["args"][1]
    mount = next(m for m in container["volumeMounts"] if conf_path.startswith(m["mountPath"] + "/"))
    volume = next(v for v in redis["spec"]["template"]["spec"]["volumes"] if v["name"] == mount["name"])
    conf = one(resources, "ConfigMap", volume["configMap"]["name"])["data"][conf_path.rsplit("/", 1)[1]]
    settings = dict(line.split(None, 1) for line in conf.splitlines() if line.strip() and not line.startswith("#"))
    assert settings["appendonly"] == "yes"
    assert settings["maxmemory-policy"] == "noeviction"
    data_mount = next(m for m in container["volumeMounts"] if m["mountPath"] == settings["dir"])
    assert data_mount["name"] in {t["metadata"]["name"] for t in redis["spec"]["volumeClaimTemplates"]}


def test_hpa_metrics_are_served_by_the_adapter_rules():
    adapter = yaml.safe_load((DEPLOY / "monitoring" / "prometheus-adapter" / "config.yaml").read_text())
    served = {rule["name"]["as"] for rule in adapter["rules"]}
    for path in app_overlays():
        for hpa in by_kind(render(path), "HorizontalPodAutoscaler"):
            for metric in hpa["spec"]["metrics"]:
                if metric["type"] == "Pods":
                    assert metric["pods"]["metric"]["name"] in served, (path, metric)


def test_monitoring_configmaps_carry_the_files():
    resources = render("monitoring")
    adapter = one(resources, "ConfigMap", "surge-prometheus-adapter")
    assert yaml.safe_load(adapter["data"]["config.yaml"])["rules"]
    dashboards = one(resources, "ConfigMap", "surge-grafana-dashboards")
    assert dashboards["metadata"]["labels"]["grafana_dashboard"] == "1"
    assert json.loads(dashboards["data"]["surge-overview.json"])["uid"] == "surge-overview"
