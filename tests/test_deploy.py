"""The container image recipe and the Kubernetes manifests of deploy/.

Core kinds are validated against the Kubernetes 1.30 schemas (kubernetes-validate, strict).
The dask-kubernetes operator's kinds (DaskCluster, DaskAutoscaler) are validated against its
CustomResourceDefinitions, vendored in tests/k8s_crds/, with jsonschema: unknown fields are
rejected, as `kubectl apply` (strict field validation) rejects them; the pod and Service
specs inside a DaskCluster are also validated as the core objects the operator makes of
them.
"""

from __future__ import annotations

import copy
import dataclasses
import fnmatch
import functools
import hashlib
import json
import re
import shlex
from collections.abc import Callable, Iterator
from importlib.metadata import entry_points
from importlib.metadata import version as installed_version
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import yaml

from workbench._cli import build_parser
from workbench._settings import Settings, resolve_settings

Doc = dict[str, Any]

ROOT = Path(__file__).resolve().parents[1]
DEPLOY = ROOT / "deploy"
MANIFESTS = sorted((DEPLOY / "k8s").glob("*.yaml"))
CRDS = Path(__file__).resolve().parent / "k8s_crds"
KUBERNETES = "1.30.0"
CONFIG = "workbench-config"

# Environment variables the manifests may set besides the workbench's settings: what the
# workbench reads itself, and what boto3/s3fs read for object storage.
WORKBENCH_READS = {
    "WORKBENCH_SERVE_TOKEN": "workbench/_settings.py",  # a secret: never a setting
    "WORKBENCH_PSEUDONYM_KEY": "workbench/_settings.py",  # a secret: never a setting
}
# what the single sign-on proxy beside the dashboard reads (its OpenID Connect client)
OAUTH2_PROXY = {
    "OAUTH2_PROXY_CLIENT_ID",
    "OAUTH2_PROXY_CLIENT_SECRET",
    "OAUTH2_PROXY_COOKIE_SECRET",
}
PROXY_IMAGE = "quay.io/oauth2-proxy/oauth2-proxy:"
AWS = {
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN",
    "AWS_DEFAULT_REGION",
    "AWS_REGION",
    "AWS_ENDPOINT_URL",
}
SECRET_NAME = re.compile(r"TOKEN|SECRET|PASSWORD|ACCESS_KEY|CREDENTIAL|STORE_URI|STORAGE")
URL_PASSWORD = re.compile(r"://[^/\s:@]+:[^/\s@]+@")


# ---------------------------------------------------------------- where the recipes live

#: A path into deploy/ as the README, the docs, the Makefile, the Dockerfile and notes write it.
DEPLOY_PATH = re.compile(r"(?<![\w/.-])((?:workbench/)?deploy/[\w./-]*[\w/])")


def test_the_recipes_live_beside_the_package_and_every_path_to_them_is_right() -> None:
    """The image recipe and the manifests are not Python: they sit in deploy/ at the top of
    the repository, not inside the ``workbench`` package (nor its wheel), and every path
    into deploy/ that the README, the docs, the Makefile, the Dockerfile or a vendored CRD's
    notes name exists."""
    assert (DEPLOY / "Dockerfile").is_file() and len(MANIFESTS) >= 5
    package = ROOT / "workbench"
    assert not (package / "deploy").exists()
    assert not [p for p in package.rglob("*") if p.name == "Dockerfile" or p.name == "k8s"]
    texts = [
        ROOT / "README.md",
        *sorted((ROOT / "docs").rglob("*.md")),  # the runbook: docs/deployment.md
        ROOT / "Makefile",
        DEPLOY / "Dockerfile",
        *CRDS.glob("*.yaml"),
    ]
    named = {
        (text.name, found)
        for text in texts
        for found in DEPLOY_PATH.findall(text.read_text(encoding="utf-8"))
    }
    assert {found for _, found in named} >= {"deploy/Dockerfile", "deploy/k8s/config.yaml"}
    assert [(where, found) for where, found in sorted(named) if not (ROOT / found).exists()] == []


# ---------------------------------------------------------------- reading the manifests


def _documents() -> list[Doc]:
    return [d for path in MANIFESTS for d in yaml.safe_load_all(path.read_text()) if d]


def _all(kind: str) -> list[Doc]:
    return [d for d in _documents() if d["kind"] == kind]


def _one(kind: str, name: str | None = None) -> Doc:
    (found,) = [d for d in _all(kind) if name is None or d["metadata"]["name"] == name]
    return found


def _config() -> dict[str, str]:
    data: dict[str, str] = _one("ConfigMap", CONFIG)["data"]
    return data


def _pods() -> list[tuple[str, Doc]]:
    """Every pod spec: the Deployments' templates and the DaskCluster's scheduler and workers."""
    pods = [
        (f"Deployment/{d['metadata']['name']}", d["spec"]["template"]) for d in _all("Deployment")
    ]
    for cluster in _all("DaskCluster"):
        for role in ("scheduler", "worker"):
            pods.append(
                (f"DaskCluster/{cluster['metadata']['name']}/{role}", cluster["spec"][role])
            )
    return [(name, template["spec"]) for name, template in pods]


def _containers() -> Iterator[tuple[str, Doc]]:
    for pod, spec in _pods():
        for container in spec["containers"]:
            yield f"{pod}/{container['name']}", container


def _deployment_containers(name: str) -> list[Doc]:
    containers: list[Doc] = _one("Deployment", name)["spec"]["template"]["spec"]["containers"]
    return containers


# ---------------------------------------------------------------- the operator's CRDs


def _strict(schema: Doc) -> Doc:
    """The schema with unknown fields rejected wherever the CRD lists the known ones."""
    out = dict(schema)
    if "properties" in out:
        out["properties"] = {k: _strict(v) for k, v in out["properties"].items()}
        if "additionalProperties" not in out and not out.get(
            "x-kubernetes-preserve-unknown-fields"
        ):
            out["additionalProperties"] = False
    if isinstance(out.get("additionalProperties"), dict):
        out["additionalProperties"] = _strict(out["additionalProperties"])
    if isinstance(out.get("items"), dict):
        out["items"] = _strict(out["items"])
    return out


@functools.cache
def _crd_schemas() -> dict[tuple[str, str], Doc]:
    """(apiVersion, kind) -> the JSON schema of each served version of each vendored CRD."""
    schemas = {}
    for path in sorted(CRDS.glob("*.yaml")):
        crd = yaml.safe_load(path.read_text())
        assert crd["kind"] == "CustomResourceDefinition", path
        spec = crd["spec"]
        for version in spec["versions"]:
            if not version.get("served", True):
                continue
            api, kind = f"{spec['group']}/{version['name']}", spec["names"]["kind"]
            root = copy.deepcopy(version["schema"]["openAPIV3Schema"])
            # the API server adds these to every custom resource; metadata is checked as
            # a core ObjectMeta in _validate_custom
            root["properties"] = {
                **root.get("properties", {}),
                "apiVersion": {"type": "string", "enum": [api]},
                "kind": {"type": "string", "enum": [kind]},
                "metadata": {"type": "object"},
            }
            root["required"] = sorted({*root.get("required", []), "apiVersion", "kind", "metadata"})
            schemas[(api, kind)] = _strict(root)
    return schemas


def _is_custom(document: Doc) -> bool:
    return (document["apiVersion"], document["kind"]) in _crd_schemas()


def _validate_custom(document: Doc) -> None:
    import jsonschema
    import kubernetes_validate

    schema = _crd_schemas()[(document["apiVersion"], document["kind"])]
    jsonschema.Draft4Validator(schema).validate(document)  # OpenAPI v3.0 is draft 4's kin
    as_core = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": document["metadata"]}
    kubernetes_validate.validate(as_core, KUBERNETES, strict=True)


@pytest.mark.parametrize("path", sorted(CRDS.glob("*.yaml")), ids=lambda p: p.name)
def test_the_vendored_crds_are_the_upstream_files_with_their_license(path: Path) -> None:
    lines = path.read_bytes().splitlines(keepends=True)
    header = [line for line in lines if line.startswith(b"#")]
    assert lines[: len(header)] == header  # the header comes first, then the file as is
    text = b"".join(header).decode()
    assert "dask-kubernetes 2026.3.0" in text and "BSD 3-Clause" in text
    digest = re.search(r"sha256: ([0-9a-f]{64})", text)
    assert digest, "the header names the upstream file's sha256"
    assert hashlib.sha256(b"".join(lines[len(header) :])).hexdigest() == digest.group(1)
    assert "Redistribution and use" in (CRDS / "LICENSE.dask-kubernetes").read_text()


# ---------------------------------------------------------------- schemas


@pytest.mark.parametrize(
    "document", _documents(), ids=lambda d: f"{d['kind']}/{d['metadata']['name']}"
)
def test_every_manifest_is_valid_against_its_schema(document: Doc) -> None:
    import kubernetes_validate

    if _is_custom(document):
        _validate_custom(document)
    else:
        kubernetes_validate.validate(document, KUBERNETES, strict=True)


def test_the_operators_kinds_are_checked_against_its_crds() -> None:
    kinds = {d["kind"] for d in _documents() if _is_custom(d)}
    assert kinds == {"DaskCluster", "DaskAutoscaler"}


def test_a_wrong_manifest_is_caught_by_the_same_check() -> None:
    import kubernetes_validate

    broken = copy.deepcopy(_all("Deployment")[0])
    broken["spec"]["replicas"] = "two"
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(broken, KUBERNETES, strict=True)


def _no_replicas_as_text(cluster: Doc) -> None:
    cluster["spec"]["worker"]["replicas"] = "two"


def _no_misspelled_field(cluster: Doc) -> None:
    cluster["spec"]["worker"]["replica"] = cluster["spec"]["worker"].pop("replicas")


def _no_numeric_target_port(cluster: Doc) -> None:
    # int-or-string in Kubernetes, but a string in the CRD: the API server says no
    cluster["spec"]["scheduler"]["service"]["ports"][0]["targetPort"] = 8786


def _no_cluster_without_service(cluster: Doc) -> None:
    del cluster["spec"]["scheduler"]["service"]


def _no_container_without_name(cluster: Doc) -> None:
    del cluster["spec"]["worker"]["spec"]["containers"][0]["name"]


def _no_pod_field_misspelled(cluster: Doc) -> None:
    container = cluster["spec"]["scheduler"]["spec"]["containers"][0]
    container["resource"] = container.pop("resources")


@pytest.mark.parametrize(
    "breakage",
    [
        _no_replicas_as_text,
        _no_misspelled_field,
        _no_numeric_target_port,
        _no_cluster_without_service,
        _no_container_without_name,
        _no_pod_field_misspelled,
    ],
    ids=lambda f: f.__name__[4:],
)
def test_a_wrong_dask_cluster_is_caught_by_the_same_check(breakage: Callable[[Doc], None]) -> None:
    import jsonschema

    broken = copy.deepcopy(_one("DaskCluster"))
    breakage(broken)
    with pytest.raises(jsonschema.ValidationError):
        _validate_custom(broken)


def test_a_wrong_dask_autoscaler_is_caught_by_the_same_check() -> None:
    import jsonschema

    broken = copy.deepcopy(_one("DaskAutoscaler"))
    broken["spec"]["maximum"] = "eight"
    with pytest.raises(jsonschema.ValidationError):
        _validate_custom(broken)
    del broken["spec"]["maximum"]
    with pytest.raises(jsonschema.ValidationError):
        _validate_custom(broken)


def test_the_dask_clusters_pods_and_service_are_valid_core_objects() -> None:
    """The operator makes Deployments of these pod specs and a Service of this spec."""
    import kubernetes_validate

    for cluster in _all("DaskCluster"):
        name = cluster["metadata"]["name"]
        for role in ("scheduler", "worker"):
            pod = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": f"{name}-{role}"}}
            pod["spec"] = cluster["spec"][role]["spec"]
            kubernetes_validate.validate(pod, KUBERNETES, strict=True)
        service = {"apiVersion": "v1", "kind": "Service", "metadata": {"name": f"{name}-scheduler"}}
        service["spec"] = cluster["spec"]["scheduler"]["service"]
        kubernetes_validate.validate(service, KUBERNETES, strict=True)


# ---------------------------------------------------------------- the containers


def _ports_of(container: Doc) -> dict[str | int, int]:
    """The container's ports by name and by number."""
    ports: dict[str | int, int] = {}
    for port in container.get("ports", []):
        ports[port["containerPort"]] = port["containerPort"]
        if "name" in port:
            ports[port["name"]] = port["containerPort"]
    return ports


def _address_port(address: str) -> int:
    return int(address.rsplit(":", 1)[1])


def _run(container: Doc) -> tuple[str, str, set[int], str | None]:
    """Parse the container's command line as its program does: (program, subcommand, the
    ports it listens on, the host it binds). A misspelled option fails here."""
    command = container.get("command")
    args = [str(a) for a in container["args"]]
    if command is None:  # the image's entrypoint, `workbench`
        parsed = build_parser().parse_args(args)
        return "workbench", args[0], {parsed.port}, parsed.host
    if command == ["mlflow"]:
        from mlflow.cli import cli

        params = cli.commands[args[0]].make_context(args[0], args[1:]).params
        return "mlflow", args[0], {params["port"]}, params["host"]
    if command == ["/bin/oauth2-proxy"]:
        options = dict(a.removeprefix("--").split("=", 1) for a in args)
        host, port = options["http-address"].rsplit(":", 1)
        return "oauth2-proxy", "", {int(port)}, host
    if command == ["dask"]:
        (entry,) = entry_points(group="dask_cli", name=args[0])
        params = entry.load().make_context(args[0], args[1:]).params
        ports = {_address_port(params["dashboard_address"])}
        if args[0] == "scheduler":
            ports.add(int(params["port"]))
        return "dask", args[0], ports, params.get("host")
    pytest.fail(f"{container['name']}: a command the tests do not know: {command}")


def test_containers_run_real_commands_on_the_ports_they_declare() -> None:
    runs = set()
    images = set()
    for name, container in _containers():
        program, subcommand, ports, host = _run(container)
        runs.add((program, subcommand))
        if program != "oauth2-proxy":
            images.add(container["image"])
        if subcommand == "dashboard":
            # behind its single sign-on proxy: on the pod's loopback, no port to the outside
            assert host == "127.0.0.1" and "ports" not in container, name
            continue
        assert ports == {p["containerPort"] for p in container["ports"]}, name
        if subcommand != "worker":  # in a pod, the Service reaches it on the pod's address
            assert host == "0.0.0.0", name
    assert runs == {
        ("workbench", "serve"),
        ("workbench", "dashboard"),
        ("oauth2-proxy", ""),
        ("mlflow", "server"),
        ("dask", "scheduler"),
        ("dask", "worker"),
    }
    assert images == {f"workbench:{installed_version('mlops-workbench')}"}  # the Dockerfile's image


def test_every_pod_runs_unprivileged_with_resources_and_probes() -> None:
    user = next(
        line.split()[1]
        for line in (DEPLOY / "Dockerfile").read_text().splitlines()
        if line.startswith("USER")
    )
    for pod, spec in _pods():
        pod_context = spec.get("securityContext", {})
        for container in spec["containers"]:
            name = f"{pod}/{container['name']}"
            context = {**pod_context, **container.get("securityContext", {})}
            assert context.get("runAsNonRoot") is True, name
            assert str(context.get("runAsUser")) == user, name  # the image's own user
            assert context.get("allowPrivilegeEscalation") is False, name
            assert "ALL" in context.get("capabilities", {}).get("drop", []), name
            resources = container.get("resources", {})
            assert {"cpu", "memory"} <= set(resources.get("requests", {})), name
            assert "memory" in resources.get("limits", {}), name
            ports = _ports_of(container)
            for probe in ("readinessProbe", "livenessProbe"):
                assert probe in container, f"{name} has no {probe}"
                if "exec" in container[probe]:  # a server on the pod's loopback
                    assert _loopback_probe(container, container[probe]), name
                    continue
                action = container[probe].get("httpGet") or container[probe].get("tcpSocket")
                assert action and action["port"] in ports, f"{name}: {probe} on no port of its"


def _loopback_probe(container: Doc, probe: Doc) -> bool:
    """Whether an exec probe connects to the port the container's server listens on, on
    the loopback it binds."""
    _, _, ports, host = _run(container)
    command = probe["exec"]["command"]
    return command[:2] == ["python", "-c"] and f"('{host}', {ports.pop()})" in command[2]


def test_the_servers_answer_probes_where_they_serve_them() -> None:
    paths: dict[tuple[str, str], set[str]] = {}
    for _, container in _containers():
        program, subcommand, _, _ = _run(container)
        for probe in ("readinessProbe", "livenessProbe"):
            action = container[probe].get("httpGet", {"path": "(exec)"})
            paths.setdefault((program, subcommand), set()).add(action["path"])
    assert paths == {
        ("workbench", "serve"): {"/ping", "/health"},
        # every route of the dashboard needs the user; it is probed from inside (a
        # connection to its loopback port), its proxy at the proxy's own routes
        ("workbench", "dashboard"): {"(exec)"},
        ("oauth2-proxy", ""): {"/ready", "/ping"},
        ("mlflow", "server"): {"/health"},  # exempt from MLflow's Host header check
        ("dask", "scheduler"): {"/health"},
        ("dask", "worker"): {"/health"},
    }


def test_the_scoring_deployment_scales_out_and_keeps_serving_through_a_drain() -> None:
    """An autoscaler on CPU for the scoring Deployment (whose container requests CPU, what
    utilisation is measured against), never below two replicas; a disruption budget that
    lets a drain take one pod at a time from the same pods."""
    deployment = _one("Deployment", "workbench-scoring")
    labels = deployment["spec"]["template"]["metadata"]["labels"]
    (scaler,) = _all("HorizontalPodAutoscaler")
    assert scaler["apiVersion"] == "autoscaling/v2"
    target = scaler["spec"]["scaleTargetRef"]
    assert (target["apiVersion"], target["kind"], target["name"]) == (
        deployment["apiVersion"],
        "Deployment",
        "workbench-scoring",
    )
    low, high = scaler["spec"]["minReplicas"], scaler["spec"]["maxReplicas"]
    assert 2 <= low <= deployment["spec"]["replicas"] <= high
    (cpu,) = [m for m in scaler["spec"]["metrics"] if m["type"] == "Resource"]
    assert cpu["resource"]["name"] == "cpu" and cpu["resource"]["target"]["type"] == "Utilization"
    assert 0 < cpu["resource"]["target"]["averageUtilization"] <= 100
    for container in _deployment_containers("workbench-scoring"):
        resources = container["resources"]
        assert {"cpu", "memory"} <= set(resources["requests"]) and "cpu" in resources["limits"]
    (budget,) = _all("PodDisruptionBudget")
    assert budget["spec"]["selector"]["matchLabels"].items() <= labels.items()
    assert (
        budget["spec"]["selector"]["matchLabels"] == deployment["spec"]["selector"]["matchLabels"]
    )
    # a drain may take a pod, and never the last ones: one at a time, two or more running
    assert budget["spec"].get("maxUnavailable") == 1 and "minAvailable" not in budget["spec"]


# ---------------------------------------------------------------- settings and addresses


def _env_names() -> set[str]:
    names = set(_config())
    for _, container in _containers():
        names |= {v["name"] for v in container.get("env", [])}
    return names


def test_the_environment_names_are_real_settings_or_known_variables(tmp_path: Path) -> None:
    import mlflow.environment_variables
    from mlflow.cli import cli

    settings = {
        f"WORKBENCH_{f.name.upper()}" for f in dataclasses.fields(Settings) if f.name != "sources"
    } | {"MLFLOW_TRACKING_URI"}
    for name, source in WORKBENCH_READS.items():
        assert f'"{name}"' in (ROOT / source).read_text()  # still read where it was
    mlflow_names = {p.envvar for p in cli.commands["server"].params if p.envvar} | {
        n for n in dir(mlflow.environment_variables) if n.startswith("MLFLOW_")
    }
    for name in _env_names():
        if name.startswith("WORKBENCH_"):
            assert name in settings or name in WORKBENCH_READS, f"{name} is no workbench setting"
        elif name.startswith("MLFLOW_"):
            assert name in mlflow_names, f"{name} is not read by MLflow"
        else:
            assert name in AWS | OAUTH2_PROXY, f"{name}: a variable the tests do not know"

    # the ConfigMap as the workbench resolves it: every key taken, the services remote
    s = resolve_settings(tmp_path, environ=_config())
    for key in _config():
        field = "tracking_uri" if key == "MLFLOW_TRACKING_URI" else key[10:].lower()
        assert s.sources[field] == f"env:{key}"
    assert s.tracking_uri.startswith("http://")
    assert s.inference_log_dir.startswith("s3://")
    assert s.dask_scheduler and s.dask_scheduler.startswith("tcp://")


def _service_host(url: str) -> tuple[str, str | None]:
    """(Service name, namespace) of an in-cluster URL."""
    labels = (urlsplit(url).hostname or "").split(".")
    assert labels[2:] in ([], ["svc"], ["svc", "cluster", "local"]), url
    return labels[0], labels[1] if len(labels) > 1 else None


def test_the_scheduler_address_is_the_dask_clusters_service() -> None:
    cluster = _one("DaskCluster")
    name = cluster["metadata"]["name"]
    address = _config()["WORKBENCH_DASK_SCHEDULER"]
    assert urlsplit(address).scheme == "tcp"
    service, _ = _service_host(address)
    assert service == f"{name}-scheduler"  # the operator's name for the scheduler Service
    spec = cluster["spec"]["scheduler"]["service"]
    # the labels the operator gives the scheduler pod
    assert spec["selector"] == {"dask.org/cluster-name": name, "dask.org/component": "scheduler"}
    (port,) = [p for p in spec["ports"] if p["port"] == urlsplit(address).port]
    (scheduler,) = cluster["spec"]["scheduler"]["spec"]["containers"]
    assert _run(scheduler)[:2] == ("dask", "scheduler")
    args = [str(a) for a in scheduler["args"]]
    (entry,) = entry_points(group="dask_cli", name="scheduler")
    comm = int(entry.load().make_context(args[0], args[1:]).params["port"])  # not the dashboard
    assert _ports_of(scheduler)[port["targetPort"]] == comm == urlsplit(address).port
    autoscaler = _one("DaskAutoscaler")
    assert autoscaler["spec"]["cluster"] == name
    spec = autoscaler["spec"]
    assert 1 <= spec["minimum"] <= cluster["spec"]["worker"]["replicas"] <= spec["maximum"]


def test_the_tracking_uri_is_the_mlflow_service_and_the_log_is_shared() -> None:
    uri = _config()["MLFLOW_TRACKING_URI"]
    name, namespace = _service_host(uri)
    _, dask_namespace = _service_host(_config()["WORKBENCH_DASK_SCHEDULER"])
    assert namespace == dask_namespace  # one namespace for all, the one of kubectl's context
    assert not [d for d in _documents() if "namespace" in d["metadata"]]
    service = _one("Service", name)
    (port,) = [p for p in service["spec"]["ports"] if p["port"] == urlsplit(uri).port]
    (server,) = _deployment_containers(name)
    _, _, listens, _ = _run(server)
    assert _ports_of(server)[port["targetPort"]] in listens
    # MLflow answers 403 to a Host header it does not allow
    args = [str(a) for a in server["args"]]
    allowed = args[args.index("--allowed-hosts") + 1].split(",")
    netloc = urlsplit(uri).netloc
    assert any(fnmatch.fnmatch(netloc, a) if "*" in a else netloc == a for a in allowed)
    # artifacts on object storage, proxied: clients need no bucket of their own
    assert "--serve-artifacts" in args
    assert args[args.index("--artifacts-destination") + 1].startswith("s3://")

    # the scoring server writes the inference log the dashboards read, one MLflow for both
    assert _config()["WORKBENCH_INFERENCE_LOG_DIR"].startswith("s3://")
    for deployment in ("workbench-scoring", "workbench-dashboards"):
        for container in _deployment_containers(deployment):
            if container["image"].startswith(PROXY_IMAGE):
                continue
            assert {"configMapRef": {"name": CONFIG}} in container["envFrom"]
            env = {v["name"]: v for v in container.get("env", [])}
            assert not set(env) & set(_config())  # nothing overrides the shared settings
            assert "--log-dir" not in container["args"]
            for key in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
                assert env[key]["valueFrom"]["secretKeyRef"]["name"] == "workbench-secrets"


def test_every_service_reaches_the_pods_it_names() -> None:
    for service in _all("Service"):
        selector = service["spec"]["selector"]
        (deployment,) = [
            d
            for d in _all("Deployment")
            if selector.items() <= d["spec"]["template"]["metadata"]["labels"].items()
        ]
        assert deployment["spec"]["selector"]["matchLabels"].items() <= selector.items()
        ports: dict[str | int, int] = {}
        for container in deployment["spec"]["template"]["spec"]["containers"]:
            ports |= _ports_of(container)
        for port in service["spec"]["ports"]:
            assert port.get("targetPort", port["port"]) in ports, service["metadata"]["name"]


# ---------------------------------------------------------------- secrets


def test_no_secret_is_written_in_a_manifest() -> None:
    secrets = {s["metadata"]["name"] for s in _all("Secret")}
    for secret in _all("Secret"):
        assert not secret.get("stringData") and not secret.get("data")  # templates only
    for name, container in _containers():
        for variable in container.get("env", []):
            if "value" in variable:
                assert not SECRET_NAME.search(variable["name"]), f"{name}: {variable['name']}"
                assert not URL_PASSWORD.search(str(variable["value"])), name
            else:
                ref = variable["valueFrom"]["secretKeyRef"]  # from a Secret, or not at all
                assert ref["name"] in secrets and ref["key"], f"{name}: {variable['name']}"
        for source in container.get("envFrom", []):
            assert source["configMapRef"]["name"] == CONFIG, name
        assert not URL_PASSWORD.search(" ".join(map(str, container.get("args", [])))), name
    for key, value in _config().items():
        assert not SECRET_NAME.search(key) and not URL_PASSWORD.search(value), key
    token = next(
        v
        for _, c in _containers()
        for v in c.get("env", [])
        if v["name"] == "WORKBENCH_SERVE_TOKEN"
    )
    assert token["valueFrom"]["secretKeyRef"]["name"] == "workbench-secrets"
    (store,) = [v for v in _deployment_containers("mlflow")[0]["env"] if "STORE_URI" in v["name"]]
    assert store["valueFrom"]["secretKeyRef"]["name"] == "mlflow-secrets"


# ---------------------------------------------------------------- the image


def _dockerfile() -> list[str]:
    """The Dockerfile's instructions, continuation lines joined, comments dropped."""
    text = re.sub(r"\\\n", " ", (DEPLOY / "Dockerfile").read_text())
    return [
        " ".join(line.split())
        for line in text.splitlines()
        if line.strip() and not line.lstrip().startswith("#")
    ]


def test_the_dockerfile_builds_the_package_and_runs_it_unprivileged() -> None:
    lines = _dockerfile()
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
    ports = {
        p["containerPort"]
        for _, c in _containers()
        if not c["image"].startswith(PROXY_IMAGE)  # the proxy's own image
        for p in c.get("ports", [])
    }
    assert ports <= exposed


def test_the_image_has_the_clients_of_the_clusters_stores() -> None:
    installed = {
        word
        for line in _dockerfile()
        if line.startswith("RUN") and "pip install" in line
        for word in shlex.split(line)
    }
    # the package, with PostgreSQL's driver (MLflow's backend store, the Optuna storage)
    assert ".[postgres]" in installed
    assert "s3fs" in installed  # the inference log at an s3:// URL
    assert "boto3" in installed  # MLflow's artifacts at an s3:// URL


# ---------------------------------------------------------------- scheduled retraining


def _retrain_pod() -> Doc:
    cron = _one("CronJob", "workbench-retrain")
    spec: Doc = cron["spec"]["jobTemplate"]["spec"]["template"]["spec"]
    return spec


def test_the_retrain_cronjob_refits_from_the_feature_volume_once_at_a_time(
    tmp_path: Path,
) -> None:
    """deploy/k8s/retrain.yaml: a real `workbench retrain` command line (until the run's
    day, a rolling window, no promotion), never retried (a retry would register a second
    challenger), its labels and feature store on the volume the manifest claims."""
    cron = _one("CronJob", "workbench-retrain")
    assert cron["spec"]["concurrencyPolicy"] == "Forbid"
    assert cron["spec"]["jobTemplate"]["spec"]["backoffLimit"] == 0
    pod = _retrain_pod()
    assert pod["restartPolicy"] == "Never"
    (container,) = pod["containers"]
    assert container["image"] == f"workbench:{installed_version('mlops-workbench')}"
    args = build_parser().parse_args([str(a) for a in container["args"]])
    assert args.command == "retrain" and args.until == "today" and args.since_days == 90
    assert args.backtest_days == 14 and not args.promote and args.tune == 0
    mounts = {m["mountPath"]: m["name"] for m in container["volumeMounts"]}
    volumes = {v["name"]: v for v in pod["volumes"]}

    def volume_of(path: str) -> Doc:
        (mount,) = [m for m in mounts if path.startswith(m + "/")]
        return volumes[mounts[mount]]

    env = {v["name"]: v for v in container["env"]}
    environ = {**_config(), **{k: v["value"] for k, v in env.items() if "value" in v}}
    settings = resolve_settings(tmp_path, environ=environ)
    labels, store = volume_of(args.labels), volume_of(str(settings.feature_store_dir))
    assert labels is store  # the store and the label rows, written by the materialize job
    claim = _one("PersistentVolumeClaim", "workbench-features")
    assert labels["persistentVolumeClaim"]["claimName"] == claim["metadata"]["name"]
    assert "emptyDir" in volume_of(str(settings.home))  # what it downloads, per run
    context = {**pod["securityContext"], **container["securityContext"]}
    assert context["runAsNonRoot"] is True and context["readOnlyRootFilesystem"] is True
    assert context["allowPrivilegeEscalation"] is False
    assert {"cpu", "memory"} <= set(container["resources"]["requests"])
    assert container["envFrom"] == [{"configMapRef": {"name": CONFIG}}]
    for name, variable in env.items():
        if "value" not in variable:
            assert variable["valueFrom"]["secretKeyRef"]["name"] == "workbench-secrets", name
        else:
            assert not SECRET_NAME.search(name), name
        if name.startswith("WORKBENCH_"):
            known = {f"WORKBENCH_{f.name.upper()}" for f in dataclasses.fields(Settings)}
            assert name in known | set(WORKBENCH_READS), name
        else:
            assert name in AWS, name


def test_a_wrong_retrain_cronjob_is_caught_by_the_same_checks() -> None:
    import kubernetes_validate

    broken = copy.deepcopy(_one("CronJob", "workbench-retrain"))
    broken["spec"]["jobTemplate"]["spec"]["backoffLimit"] = "none"
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(broken, KUBERNETES, strict=True)
    (container,) = _retrain_pod()["containers"]
    with pytest.raises(SystemExit):  # --since and --since-days together
        build_parser().parse_args([*map(str, container["args"]), "--since", "2024-07-01"])
