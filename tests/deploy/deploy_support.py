"""What the deploy/ tests share: rendering the kustomizations with the
project's pinned kustomize, and the tools scripts/install-deps puts in .tools/."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import yaml

REPO_ROOT = Path(__file__).resolve().parents[2]
DEPLOY = REPO_ROOT / "deploy"
TOOLS = REPO_ROOT / ".tools"
KUBERNETES_VERSION = "1.30"  # the oldest minor the manifests promise to apply to
RENDERED = ("overlays/dev", "overlays/production", "monitoring")


def kustomize_command() -> list[str]:
    """The pinned kustomize (scripts/install-deps), else kubectl's built-in one."""
    pinned = os.environ.get("KUSTOMIZE") or str(TOOLS / "bin" / "kustomize")
    if os.access(pinned, os.X_OK):
        return [pinned, "build"]
    kubectl = shutil.which("kubectl")
    if kubectl:
        return [kubectl, "kustomize"]
    raise AssertionError("kustomize not found: scripts/install-deps builds it into .tools/bin")


def render_text(path: Path | str) -> str:
    result = subprocess.run([*kustomize_command(), str(DEPLOY / path)], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, f"kustomize build {path} failed:\n{result.stderr}"
    return result.stdout


def render(path: Path | str) -> list[dict]:
    return [doc for doc in yaml.safe_load_all(render_text(path)) if doc]


def npm_modules() -> Path:
    modules = TOOLS / "npm" / "node_modules"
    assert (modules / "@kubernetes-models" / "keda").is_dir(), (
        f"{modules}/@kubernetes-models missing: scripts/install-deps installs the CRD schema packages")
    return modules


def promtool() -> str:
    path = os.environ.get("PROMTOOL") or shutil.which("promtool") or "/usr/bin/promtool"
    assert os.path.exists(path), "promtool not found (scripts/install-deps installs the prometheus package)"
    return path


def prometheus_rule() -> dict:
    return yaml.safe_load((DEPLOY / "base" / "prometheusrule.yaml").read_text())
