"""The container image recipe and the Kubernetes manifests of workbench/deploy/."""

from __future__ import annotations

import json
import shlex
from pathlib import Path

import pytest
import yaml

from workbench._cli import build_parser

DEPLOY = Path(__file__).resolve().parents[1] / "workbench" / "deploy"
MANIFESTS = sorted((DEPLOY / "k8s").glob("*.yaml"))
KUBERNETES = "1.30.0"


def _documents() -> list[dict]:  # type: ignore[type-arg]
    return [d for path in MANIFESTS for d in yaml.safe_load_all(path.read_text()) if d]


def _containers() -> list[dict]:  # type: ignore[type-arg]
    return [
        c
        for d in _documents()
        if d["kind"] == "Deployment"
        for c in d["spec"]["template"]["spec"]["containers"]
    ]


@pytest.mark.parametrize(
    "document", _documents(), ids=lambda d: f"{d['kind']}/{d['metadata']['name']}"
)
def test_every_manifest_is_valid_against_the_kubernetes_schema(document: dict) -> None:  # type: ignore[type-arg]
    import kubernetes_validate

    kubernetes_validate.validate(document, KUBERNETES, strict=True)


def test_a_wrong_manifest_is_caught_by_the_same_check() -> None:
    import kubernetes_validate

    broken = json.loads(
        json.dumps(
            _documents()[0]
            if _documents()[0]["kind"] == "Deployment"
            else next(d for d in _documents() if d["kind"] == "Deployment")
        )
    )
    broken["spec"]["replicas"] = "two"
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(broken, KUBERNETES, strict=True)


def test_containers_run_real_commands_and_keep_secrets_out_of_the_files() -> None:
    parser = build_parser()
    kinds = set()
    for container in _containers():
        args = parser.parse_args(container["args"])  # the CLI accepts them as written
        kinds.add(container["args"][0])
        assert args.host == "0.0.0.0"  # in a pod the Service reaches it on the pod's address
        probes = [
            container.get(p, {}).get("httpGet", {}).get("path")
            for p in ("readinessProbe", "livenessProbe")
        ]
        assert probes[0] in ("/ping", "/api/status")
        for variable in container.get("env", []):
            assert "value" not in variable or "TOKEN" not in variable["name"]
    assert kinds == {"serve", "dashboard"}
    token = next(
        v for c in _containers() for v in c.get("env", []) if v["name"] == "WORKBENCH_SERVE_TOKEN"
    )
    assert token["valueFrom"]["secretKeyRef"]["name"] == "workbench-secrets"
    secret = next(d for d in _documents() if d["kind"] == "Secret")
    assert not secret.get("stringData") and not secret.get("data")  # no value is committed


def test_the_dockerfile_builds_the_package_and_runs_it_unprivileged() -> None:
    lines = [
        line.strip()
        for line in (DEPLOY / "Dockerfile").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]
    instructions = [line.split()[0] for line in lines]
    assert instructions[0] == "FROM" and "python:3.11" in lines[0]
    copied = {line.split()[1] for line in lines if line.startswith("COPY")}
    assert {"workbench", "apps", "pyproject.toml"} <= copied
    user = next(line.split()[1] for line in lines if line.startswith("USER"))
    assert user not in ("root", "0")
    entry = json.loads(next(line for line in lines if line.startswith("ENTRYPOINT"))[10:])
    command = json.loads(next(line for line in lines if line.startswith("CMD"))[3:])
    assert entry == ["workbench"]
    build_parser().parse_args(command)
    exposed = {int(p) for line in lines if line.startswith("EXPOSE") for p in shlex.split(line)[1:]}
    ports = {p["containerPort"] for c in _containers() for p in c["ports"]}
    assert ports <= exposed
