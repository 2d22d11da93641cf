"""The scheduled monitor's Kubernetes manifest (deploy/k8s/monitor.yaml), checked offline
as tests/test_deploy.py checks the others: valid against the Kubernetes 1.30 schemas
(strict), a real `workbench monitor` command line, real settings, no secret written in it,
unprivileged, and its state on a volume that outlives each run."""

from __future__ import annotations

import copy
import dataclasses
from importlib.metadata import version as installed_version
from pathlib import Path
from typing import Any

import pytest
import yaml

from workbench._cli import build_parser
from workbench._settings import Settings

ROOT = Path(__file__).resolve().parents[2]
MANIFEST = ROOT / "deploy" / "k8s" / "monitor.yaml"
DOCUMENTS = [d for d in yaml.safe_load_all(MANIFEST.read_text()) if d]


def _one(kind: str) -> dict[str, Any]:
    (found,) = [d for d in DOCUMENTS if d["kind"] == kind]
    return found


def _pod() -> dict[str, Any]:
    spec: dict[str, Any] = _one("CronJob")["spec"]["jobTemplate"]["spec"]["template"]["spec"]
    return spec


@pytest.mark.parametrize("document", DOCUMENTS, ids=lambda d: d["kind"])
def test_the_manifest_is_valid_against_the_kubernetes_schemas(document: dict[str, Any]) -> None:
    import kubernetes_validate

    kubernetes_validate.validate(document, "1.30.0", strict=True)


def test_a_wrong_cronjob_is_caught_by_the_same_check() -> None:
    import kubernetes_validate

    broken = copy.deepcopy(_one("CronJob"))
    broken["spec"]["concurrencyPolicy"] = ["Forbid"]
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(broken, "1.30.0", strict=True)


def test_it_runs_the_monitor_once_at_a_time_on_a_volume_kept_between_runs() -> None:
    cron = _one("CronJob")
    assert cron["spec"]["concurrencyPolicy"] == "Forbid"
    pod = _pod()
    assert pod["restartPolicy"] in ("Never", "OnFailure")
    (container,) = pod["containers"]
    assert container["image"] == f"workbench:{installed_version('mlops-workbench')}"
    args = build_parser().parse_args([str(a) for a in container["args"]])
    assert args.command == "monitor" and args.webhook_env == ["WORKBENCH_ALERT_WEBHOOK_URL"]
    assert args.threshold == [("mae", ("max", 150.0))] and args.period == "1D"
    env = {v["name"]: v for v in container["env"]}
    state = env["WORKBENCH_MONITORING_DIR"]["value"]
    (mount,) = [m for m in container["volumeMounts"] if state.startswith(m["mountPath"] + "/")]
    (volume,) = [v for v in pod["volumes"] if v["name"] == mount["name"]]
    claim = _one("PersistentVolumeClaim")
    assert volume["persistentVolumeClaim"]["claimName"] == claim["metadata"]["name"]
    assert env["WORKBENCH_HOME"]["value"].startswith(mount["mountPath"] + "/")


def test_its_environment_is_settings_or_secrets_and_it_runs_unprivileged() -> None:
    settings = {f"WORKBENCH_{f.name.upper()}" for f in dataclasses.fields(Settings)}
    read_by_workbench = {"WORKBENCH_PSEUDONYM_KEY", "WORKBENCH_ALERT_WEBHOOK_URL"}
    pod = _pod()
    (container,) = pod["containers"]
    assert container["envFrom"] == [{"configMapRef": {"name": "workbench-config"}}]
    for variable in container["env"]:
        name = variable["name"]
        if name.startswith("WORKBENCH_"):
            assert name in settings or name in read_by_workbench, name
        if "value" not in variable:  # a secret: from the Secret, never written here
            assert variable["valueFrom"]["secretKeyRef"]["name"] == "workbench-secrets", name
        else:
            assert "://" not in variable["value"], name
    context = {**pod["securityContext"], **container["securityContext"]}
    assert context["runAsNonRoot"] is True and context["runAsUser"] == 10001
    assert context["allowPrivilegeEscalation"] is False and context["capabilities"]["drop"] == [
        "ALL"
    ]
    assert {"cpu", "memory"} <= set(container["resources"]["requests"])
    assert "memory" in container["resources"]["limits"]
