"""The Kubernetes manifests (deploy/k8s): render every overlay, validate it, check its policies.

Rendering: `kustomize build` or `kubectl kustomize` when one is on PATH, else kustomize_lite (an
offline subset, checked against the real thing whenever a binary is there). Validation: every
rendered document and every Secret example against the Kubernetes 1.30 OpenAPI schemas in strict
mode (no unknown fields), offline, with kubernetes-validate. Policies: hardened containers,
probes, resources, an HPA (web pods) and a PDB per Deployment, a housekeeping CronJob per
service, NetworkPolicies evaluated as a cluster would (each database reachable only from its own
service, the broker only from the event relay and consumer, SMTP only from the mailer),
placeholder-only Secrets, and settings that the services themselves accept (and refuse while a
placeholder is left in). Background workers (the events relay and consumer, the mailer): their
commands are parsed by the services' own CLI and run here as processes against their probes; the
dev RabbitMQ runs in Docker as its pod spec says.
"""

from __future__ import annotations

import functools
import importlib.util
import ipaddress
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
import uuid
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from types import ModuleType
from typing import Any
from urllib.parse import urlsplit

import click
import kombu
import kubernetes_validate
import pytest
import yaml
from cryptography.fernet import Fernet
from kustomize_lite import (
    Document,
    UnsupportedKustomizationError,
    build,
    load_documents,
    strategic_merge,
    transform_image,
)
from pydantic import ValidationError

from identity.config import IdentitySettings
from items.config import ItemsSettings
from service_kit.config import is_placeholder_secret
from service_kit_testing.required import skip_unless_required

KUBERNETES_VERSION = "1.30.0"
K8S = Path(__file__).resolve().parents[1] / "k8s"
OVERLAYS = sorted(path.parent.name for path in K8S.glob("overlays/*/kustomization.yaml"))
SECRET_EXAMPLES = K8S / "base" / "secrets.example.yaml"
NAMESPACE = "identity-items"
TMP = "/tmp"  # noqa: S108 - the path the manifests mount an emptyDir on

SERVICES = ("identity", "items")
# The Deployments whose replica count an HPA owns: the API pods and the gateway.
WEB_DEPLOYMENTS = ("identity", "items", "gateway")


@dataclass(frozen=True)
class Worker:
    """A Deployment running one of the long-running background commands of its service's CLI (an
    integration-event process, the mail worker): no API, Prometheus metrics on a port of its
    own."""

    deployment: str
    service: str
    command: tuple[str, ...]  # after `flask --app <service>`
    metrics_port: int
    component: str


# The broker's clients.
EVENT_WORKERS = (
    Worker("identity-events-relay", "identity", ("events", "relay"), 9101, "events-relay"),
    Worker("items-events-consumer", "items", ("events", "consume"), 9102, "events-consumer"),
)
# The SMTP server's only client.
MAILER = Worker("identity-mailer", "identity", ("mail", "run"), 9103, "mailer")
WORKERS = (*EVENT_WORKERS, MAILER)
BROKER_PORT = 5672
BROKER_TLS_PORT = 5671
WORKLOAD_KINDS = ("Deployment", "StatefulSet", "Job", "CronJob")
LONG_RUNNING_KINDS = ("Deployment", "StatefulSet")
# The housekeeping CronJobs of each service and the command each runs (the same as compose's
# housekeeping containers run).
HOUSEKEEPING = {
    "identity": [
        ("identity-tokens-prune", ["flask", "--app", "identity", "tokens", "prune"]),
        ("identity-events-prune", ["flask", "--app", "identity", "events", "prune"]),
        ("identity-audit-prune", ["flask", "--app", "identity", "audit", "prune"]),
    ],
    "items": [
        ("items-idempotency-prune", ["flask", "--app", "items", "idempotency", "prune"]),
        ("items-events-prune", ["flask", "--app", "items", "events", "prune"]),
    ],
}
HOUSEKEEPING_JOBS = [
    (service, name, command) for service, jobs in HOUSEKEEPING.items() for name, command in jobs
]
SETTINGS_CLASSES: dict[str, type[IdentitySettings] | type[ItemsSettings]] = {
    "identity": IdentitySettings,
    "items": ItemsSettings,
}
# Variables read by service_kit/gunicorn_config.py rather than by the settings classes.
GUNICORN_VARIABLES = frozenset(
    {
        "WEB_CONCURRENCY",
        "GUNICORN_THREADS",
        "GUNICORN_TIMEOUT",
        "GUNICORN_REUSE_PORT",
        "LOG_LEVEL",
        "PROMETHEUS_MULTIPROC_DIR",
        "FORWARDED_ALLOW_IPS",
    }
)
GATEWAY_VARIABLES = frozenset(
    {
        "IDENTITY_UPSTREAM",
        "ITEMS_UPSTREAM",
        "GATEWAY_LISTEN",
        "GATEWAY_AUTH_RATE",
        "GATEWAY_AUTH_BURST",
        "GATEWAY_PASSWORD_CONCURRENCY",
        "GATEWAY_HSTS",
        "GATEWAY_REAL_IP_FROM",
        "GATEWAY_REAL_IP_HEADER",
    }
)
GATEWAY_RENDER = K8S.parents[1] / "gateway" / "render.py"


def load_gateway_render() -> ModuleType:
    """gateway/render.py (a script, not a package): the gateway's own validation."""
    spec = importlib.util.spec_from_file_location("gateway_render", GATEWAY_RENDER)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


# --------------------------------------------------------------------------- rendering


def kustomize_command() -> list[str] | None:
    """A real kustomize, if this machine has one: standalone, or built into kubectl."""
    if executable := shutil.which("kustomize"):
        return [executable, "build"]
    if executable := shutil.which("kubectl"):
        return [executable, "kustomize"]
    return None


def kustomize_binary_build(directory: Path) -> list[Document]:
    command = kustomize_command()
    assert command is not None
    result = subprocess.run(  # noqa: S603 - a fixed command on our own files
        [*command, str(directory)], capture_output=True, text=True, check=False, timeout=120
    )
    assert result.returncode == 0, f"{' '.join(command)} {directory} failed:\n{result.stderr}"
    return [doc for doc in yaml.safe_load_all(result.stdout) if doc]


@functools.cache
def rendered(overlay: str) -> tuple[Document, ...]:
    """The overlay as `kubectl apply -k` would send it (treat as read-only)."""
    directory = K8S / "overlays" / overlay
    if kustomize_command() is not None:
        return tuple(kustomize_binary_build(directory))
    return tuple(build(directory))


def identity_of(doc: Document) -> tuple[str, str, str, str]:
    metadata = doc["metadata"]
    return doc["apiVersion"], doc["kind"], metadata.get("namespace", ""), metadata["name"]


def of_kind(docs: tuple[Document, ...], kind: str) -> dict[str, Document]:
    return {doc["metadata"]["name"]: doc for doc in docs if doc["kind"] == kind}


def workloads(
    docs: tuple[Document, ...], kinds: tuple[str, ...] = WORKLOAD_KINDS
) -> Iterator[tuple[str, Document]]:
    for doc in docs:
        if doc["kind"] in kinds:
            yield f"{doc['kind']}/{doc['metadata']['name']}", doc


def pod_template(workload: Document) -> dict[str, Any]:
    """The pod template of a workload (a CronJob's is inside its job template)."""
    spec = workload["spec"]
    if workload["kind"] == "CronJob":
        spec = spec["jobTemplate"]["spec"]
    template: dict[str, Any] = spec["template"]
    return template


def pod_spec(workload: Document) -> dict[str, Any]:
    spec: dict[str, Any] = pod_template(workload)["spec"]
    return spec


def all_containers(workload: Document) -> list[dict[str, Any]]:
    spec = pod_spec(workload)
    return [*spec.get("initContainers", []), *spec["containers"]]


def config_map_data(docs: tuple[Document, ...], name: str) -> dict[str, str]:
    data: dict[str, str] = of_kind(docs, "ConfigMap")[name]["data"]
    return data


def secret_values(secret: Document) -> dict[str, str]:
    assert "data" not in secret, "write examples as stringData, readable in review"
    values: dict[str, str] = secret.get("stringData", {})
    return values


@pytest.fixture(params=OVERLAYS)
def overlay(request: pytest.FixtureRequest) -> str:
    name: str = request.param
    return name


@pytest.fixture
def docs(overlay: str) -> tuple[Document, ...]:
    return rendered(overlay)


def test_the_overlays_exist() -> None:
    assert "production" in OVERLAYS
    assert (K8S / "base" / "kustomization.yaml").is_file()


@pytest.mark.skipif(kustomize_command() is None, reason="no kustomize or kubectl on PATH")
@pytest.mark.parametrize("overlay_name", OVERLAYS)
def test_kustomize_lite_matches_kustomize(overlay_name: str) -> None:
    directory = K8S / "overlays" / overlay_name
    ours = sorted(build(directory), key=identity_of)
    theirs = sorted(kustomize_binary_build(directory), key=identity_of)
    assert [identity_of(doc) for doc in ours] == [identity_of(doc) for doc in theirs]
    for mine, reference in zip(ours, theirs, strict=True):
        assert mine == reference, f"kustomize_lite differs on {identity_of(mine)}"


def test_kustomize_lite_refuses_what_it_does_not_implement(tmp_path: Path) -> None:
    (tmp_path / "kustomization.yaml").write_text("resources: []\ncommonLabels: {a: b}\n")
    with pytest.raises(UnsupportedKustomizationError, match="commonLabels"):
        build(tmp_path)
    with pytest.raises(UnsupportedKustomizationError, match="containers"):
        strategic_merge({"containers": [{"name": "a"}]}, {"containers": [{"name": "a"}]})
    assert strategic_merge({"a": {"b": 1, "c": 2}}, {"a": {"b": None, "d": 3}}) == {
        "a": {"c": 2, "d": 3}
    }


@pytest.mark.parametrize(
    ("image", "rule", "expected"),
    [
        ("gateway:latest", {"newTag": "1.2.3"}, "gateway:1.2.3"),
        ("gateway", {"newName": "r.example.com/x/gateway"}, "r.example.com/x/gateway"),
        ("gateway:latest", {"newName": "r.io/gateway", "newTag": "2"}, "r.io/gateway:2"),
        ("gateway:latest", {"digest": "sha256:ab"}, "gateway@sha256:ab"),
        ("gateway-two:latest", {"newTag": "1"}, "gateway-two:latest"),
        ("localhost:5000/gateway", {"newTag": "2"}, "localhost:5000/gateway"),
    ],
)
def test_kustomize_lite_images(image: str, rule: dict[str, str], expected: str) -> None:
    assert transform_image(image, {"name": "gateway", **rule}) == expected


def test_kustomize_lite_keeps_registry_ports() -> None:
    rule = {"name": "localhost:5000/gateway", "newTag": "2"}
    assert transform_image("localhost:5000/gateway:1", rule) == "localhost:5000/gateway:2"


# --------------------------------------------------------------------------- schemas


def schema_errors(doc: Document) -> str | None:
    try:
        validated = kubernetes_validate.validate(doc, KUBERNETES_VERSION, strict=True)
    except kubernetes_validate.ValidationError as error:
        where = ".".join(str(part) for part in error.path)
        return f"{doc['kind']}/{doc['metadata']['name']}: {where}: {error.message}"
    except kubernetes_validate.SchemaNotFoundError as error:
        return f"{doc['kind']}/{doc['metadata']['name']}: {error.message}"
    assert validated == "1.30"
    return None


def test_every_rendered_document_is_valid_kubernetes_1_30(docs: tuple[Document, ...]) -> None:
    errors = [error for doc in docs if (error := schema_errors(doc))]
    assert not errors, "\n".join(errors)


def test_the_secret_examples_are_valid_kubernetes_1_30() -> None:
    examples = load_documents(SECRET_EXAMPLES)
    assert {doc["metadata"]["name"] for doc in examples} == {"identity-secrets", "items-secrets"}
    errors = [error for doc in examples if (error := schema_errors(doc))]
    assert not errors, "\n".join(errors)


def test_strict_validation_catches_a_misspelt_field() -> None:
    deployment = of_kind(rendered("production"), "Deployment")["identity"]
    broken = strategic_merge(
        deployment,
        {"spec": {"template": {"spec": {"securityContext": {"runAsNonroot": True}}}}},
    )
    assert schema_errors(broken) is not None


def test_everything_lives_in_the_namespace(docs: tuple[Document, ...]) -> None:
    namespaces = of_kind(docs, "Namespace")
    assert list(namespaces) == [NAMESPACE]
    labels = namespaces[NAMESPACE]["metadata"]["labels"]
    assert labels["pod-security.kubernetes.io/enforce"] == "restricted"
    for doc in docs:
        if doc["kind"] != "Namespace":
            assert doc["metadata"].get("namespace") == NAMESPACE, identity_of(doc)


# --------------------------------------------------------------------------- pods


def parse_quantity(value: str | int) -> Decimal:
    """A Kubernetes resource quantity ("250m", "1", "512Mi", "1G") as a number."""
    suffixes = {
        "m": Decimal("0.001"),
        "": Decimal(1),
        "k": Decimal(10) ** 3,
        "M": Decimal(10) ** 6,
        "G": Decimal(10) ** 9,
        "Ki": Decimal(2) ** 10,
        "Mi": Decimal(2) ** 20,
        "Gi": Decimal(2) ** 30,
    }
    match = re.fullmatch(r"([0-9.]+)([a-zA-Z]*)", str(value))
    assert match, f"unexpected quantity {value!r}"
    assert match.group(2) in suffixes, f"unexpected quantity {value!r}"
    return Decimal(match.group(1)) * suffixes[match.group(2)]


def effective(setting: str, container: dict[str, Any], pod: dict[str, Any]) -> Any:
    """A security setting as the kubelet applies it: the container's, else the pod's."""
    return container.get("securityContext", {}).get(
        setting, pod.get("securityContext", {}).get(setting)
    )


def test_every_pod_is_hardened(docs: tuple[Document, ...]) -> None:
    for where, workload in workloads(docs):
        spec = pod_spec(workload)
        assert spec.get("automountServiceAccountToken") is False, where
        for host_namespace in ("hostNetwork", "hostPID", "hostIPC"):
            assert not spec.get(host_namespace), f"{where}: {host_namespace}"
        for volume in spec.get("volumes", []):
            assert "hostPath" not in volume, f"{where}: hostPath volume {volume['name']}"
        for container in all_containers(workload):
            here = f"{where} container {container['name']}"
            context = container.get("securityContext", {})
            assert effective("runAsNonRoot", container, spec) is True, here
            assert effective("runAsUser", container, spec) != 0, here
            assert context.get("readOnlyRootFilesystem") is True, here
            assert context.get("allowPrivilegeEscalation") is False, here
            assert not context.get("privileged"), here
            assert context.get("capabilities", {}).get("drop") == ["ALL"], here
            assert not context.get("capabilities", {}).get("add"), here
            seccomp = effective("seccompProfile", container, spec)
            assert seccomp == {"type": "RuntimeDefault"}, here


def test_every_container_has_bounded_resources(docs: tuple[Document, ...]) -> None:
    for where, workload in workloads(docs):
        for container in all_containers(workload):
            here = f"{where} container {container['name']}"
            resources = container.get("resources", {})
            for resource in ("cpu", "memory"):
                request = resources.get("requests", {}).get(resource)
                limit = resources.get("limits", {}).get(resource)
                assert request is not None, f"{here}: no {resource} request"
                assert limit is not None, f"{here}: no {resource} limit"
                assert parse_quantity(request) <= parse_quantity(limit), f"{here}: {resource}"


def test_long_running_containers_have_probes(docs: tuple[Document, ...]) -> None:
    for where, workload in workloads(docs, LONG_RUNNING_KINDS):
        for container in pod_spec(workload)["containers"]:
            here = f"{where} container {container['name']}"
            port_names = {port.get("name") for port in container.get("ports", [])}
            port_numbers = {port["containerPort"] for port in container.get("ports", [])}
            for probe_name in ("livenessProbe", "readinessProbe"):
                probe = container.get(probe_name)
                assert probe, f"{here}: no {probe_name}"
                if "httpGet" in probe:
                    port = probe["httpGet"]["port"]
                    assert port in port_names or port in port_numbers, f"{here}: {probe_name}"


def http_probe_path(container: dict[str, Any], probe: str) -> tuple[str, int]:
    get = container[probe]["httpGet"]
    ports = {port["name"]: port["containerPort"] for port in container["ports"]}
    return get["path"], ports.get(get["port"], get["port"])


@pytest.mark.parametrize(
    ("deployment", "port", "live", "ready"),
    [
        ("identity", 8000, "/health/live", "/health/ready"),
        ("items", 8000, "/health/live", "/health/ready"),
        ("gateway", 8080, "/health", "/health"),
    ],
)
def test_probes_use_the_health_endpoints(
    docs: tuple[Document, ...], deployment: str, port: int, live: str, ready: str
) -> None:
    container = pod_spec(of_kind(docs, "Deployment")[deployment])["containers"][0]
    assert http_probe_path(container, "livenessProbe") == (live, port)
    assert http_probe_path(container, "readinessProbe") == (ready, port)
    assert http_probe_path(container, "startupProbe") == (live, port)


def test_writable_paths_are_empty_dirs(docs: tuple[Document, ...]) -> None:
    """With a read-only root, every path a process writes to must be a volume of the pod."""
    for where, workload in workloads(docs):
        spec = pod_spec(workload)
        volumes = {volume["name"]: volume for volume in spec.get("volumes", [])}
        claims = {
            claim["metadata"]["name"] for claim in workload["spec"].get("volumeClaimTemplates", [])
        }
        for container in all_containers(workload):
            here = f"{where} container {container['name']}"
            mounts = {mount["mountPath"]: mount["name"] for mount in container["volumeMounts"]}
            assert "emptyDir" in volumes[mounts[TMP]], f"{here}: {TMP}"
            for name in mounts.values():
                assert name in volumes or name in claims, f"{here}: volume {name}"
            env = {item["name"]: item.get("value") for item in container.get("env", [])}
            if container["name"] in SERVICES:
                directory = env["PROMETHEUS_MULTIPROC_DIR"]
                assert "emptyDir" in volumes[mounts[directory]], f"{here}: {directory}"
    gateway = pod_spec(of_kind(docs, "Deployment")["gateway"])
    mounted = {mount["mountPath"] for mount in gateway["containers"][0]["volumeMounts"]}
    assert {TMP, "/run", "/var/cache/nginx", "/etc/nginx/conf.d"} <= mounted


def test_pods_run_under_their_own_service_account(docs: tuple[Document, ...]) -> None:
    accounts = of_kind(docs, "ServiceAccount")
    for account in accounts.values():
        assert account["automountServiceAccountToken"] is False
    for where, workload in workloads(docs, ("Deployment", "Job", "CronJob")):
        name = pod_labels(workload)["app.kubernetes.io/name"]
        assert pod_spec(workload)["serviceAccountName"] == name, where
        assert name in accounts, where


def test_every_reference_resolves(overlay: str, docs: tuple[Document, ...]) -> None:
    """ConfigMaps and Secrets referenced by pods exist (Secrets: here or in the examples)."""
    config_maps = {name: set(doc["data"]) for name, doc in of_kind(docs, "ConfigMap").items()}
    secrets = {name: set(secret_values(doc)) for name, doc in of_kind(docs, "Secret").items()}
    if overlay == "production":
        assert not secrets, "production Secrets are created out of band, never applied from git"
        examples = load_documents(SECRET_EXAMPLES)
        secrets = {doc["metadata"]["name"]: set(secret_values(doc)) for doc in examples}
    for where, workload in workloads(docs):
        for container in all_containers(workload):
            here = f"{where} container {container['name']}"
            for source in container.get("envFrom", []):
                if "configMapRef" in source:
                    assert source["configMapRef"]["name"] in config_maps, here
                if "secretRef" in source:
                    assert source["secretRef"]["name"] in secrets, here
            for variable in container.get("env", []):
                if reference := variable.get("valueFrom", {}).get("secretKeyRef"):
                    assert reference["key"] in secrets[reference["name"]], here


# --------------------------------------------------------------------------- scaling


def test_the_deployments_are_the_web_pods_and_the_workers(docs: tuple[Document, ...]) -> None:
    workers = {worker.deployment for worker in WORKERS}
    assert set(of_kind(docs, "Deployment")) == set(WEB_DEPLOYMENTS) | workers


def test_deployments_leave_the_replica_count_to_their_hpa(docs: tuple[Document, ...]) -> None:
    deployments = of_kind(docs, "Deployment")
    autoscalers = of_kind(docs, "HorizontalPodAutoscaler")
    for name in WEB_DEPLOYMENTS:
        deployment = deployments[name]
        assert "replicas" not in deployment["spec"], f"{name}: the HPA owns the replica count"
        strategy = deployment["spec"]["strategy"]["rollingUpdate"]
        assert strategy["maxUnavailable"] == 0, name
        targets = [
            hpa
            for hpa in autoscalers.values()
            if hpa["spec"]["scaleTargetRef"]
            == {"apiVersion": "apps/v1", "kind": "Deployment"} | {"name": name}
        ]
        assert len(targets) == 1, f"{name}: {len(targets)} HPAs"
        hpa = targets[0]["spec"]
        assert 1 <= hpa["minReplicas"] <= hpa["maxReplicas"], name
        assert {metric["resource"]["name"] for metric in hpa["metrics"]} == {"cpu"}, name


def test_every_deployment_has_a_disruption_budget(docs: tuple[Document, ...]) -> None:
    budgets = of_kind(docs, "PodDisruptionBudget")
    pods = {where: pod_labels(workload) for where, workload in workloads(docs)}
    for name, deployment in of_kind(docs, "Deployment").items():
        template = pod_labels(deployment)
        covering = [pdb for pdb in budgets.values() if selects(pdb["spec"]["selector"], template)]
        assert len(covering) == 1, f"{name}: {len(covering)} PodDisruptionBudgets"
        budget = covering[0]["spec"]
        assert budget.get("maxUnavailable") == 1, name
        selected = [where for where, labels in pods.items() if selects(budget["selector"], labels)]
        assert selected == [f"Deployment/{name}"], f"{name}'s budget also covers {selected}"


def test_production_runs_at_least_three_of_each() -> None:
    for name, hpa in of_kind(rendered("production"), "HorizontalPodAutoscaler").items():
        assert hpa["spec"]["minReplicas"] >= 3, name


def test_services_select_exactly_their_deployment(docs: tuple[Document, ...]) -> None:
    pods = {where: (pod_labels(workload), workload) for where, workload in workloads(docs)}
    for name, service in of_kind(docs, "Service").items():
        selected = [
            where
            for where, (labels, _) in pods.items()
            if selects({"matchLabels": service["spec"]["selector"]}, labels)
        ]
        assert len(selected) == 1, f"Service {name} selects {selected}"
        _, workload = pods[selected[0]]
        port_names = {
            port.get("name")
            for container in all_containers(workload)
            for port in container.get("ports", [])
        }
        for port in service["spec"]["ports"]:
            assert port["targetPort"] in port_names, f"Service {name} port {port}"


# --------------------------------------------------------------------------- migrations


@pytest.mark.parametrize("service", SERVICES)
def test_a_migration_job_runs_before_each_rollout(docs: tuple[Document, ...], service: str) -> None:
    job = of_kind(docs, "Job")[f"{service}-migrate"]
    assert job["spec"]["backoffLimit"] >= 1
    assert job["spec"]["ttlSecondsAfterFinished"] > 0
    assert job["spec"]["activeDeadlineSeconds"] > 0
    assert pod_spec(job)["restartPolicy"] == "Never"
    (migrate,) = pod_spec(job)["containers"]
    assert migrate["command"] == ["flask", "--app", service, "db", "upgrade"]

    deployment = pod_spec(of_kind(docs, "Deployment")[service])
    (wait,) = deployment["initContainers"]
    (app,) = deployment["containers"]
    # The same image: the init container waits for the head revision of *this* release.
    assert migrate["image"] == wait["image"] == app["image"]
    assert f"flask --app {service} db current" in wait["command"][-1]
    assert "(head)" in wait["command"][-1]
    assert migrate["envFrom"] == wait["envFrom"] == app["envFrom"]


# --------------------------------------------------------------------------- housekeeping


@pytest.mark.parametrize(("service", "name", "command"), HOUSEKEEPING_JOBS)
def test_a_housekeeping_cronjob_runs_each_prune_command_of_each_service(
    docs: tuple[Document, ...], service: str, name: str, command: list[str]
) -> None:
    cronjobs = of_kind(docs, "CronJob")
    assert name in cronjobs, f"no CronJob {name}"
    (prune,) = pod_spec(cronjobs[name])["containers"]
    assert prune["command"] == command


@pytest.mark.parametrize(("service", "name", "command"), HOUSEKEEPING_JOBS)
def test_housekeeping_runs_with_the_image_and_configuration_of_its_service(
    docs: tuple[Document, ...], service: str, name: str, command: list[str]
) -> None:
    housekeeping = pod_spec(of_kind(docs, "CronJob")[name])
    deployment = pod_spec(of_kind(docs, "Deployment")[service])
    (prune,) = housekeeping["containers"]
    (app,) = deployment["containers"]
    assert prune["image"] == app["image"]
    assert prune["envFrom"] == app["envFrom"]
    assert housekeeping["serviceAccountName"] == deployment["serviceAccountName"]
    # Like the Deployment, a new image prunes only once its migration Job has run.
    assert housekeeping["initContainers"] == deployment["initContainers"]


def test_every_cronjob_runs_alone_on_a_sensible_schedule(docs: tuple[Document, ...]) -> None:
    """Never two runs at once; a fixed minute (not every minute), at least daily, in UTC; bounded
    retries, run time and history, so a stuck or failing run neither piles up nor hides."""
    cronjobs = of_kind(docs, "CronJob")
    assert set(cronjobs) == {name for _, name, _ in HOUSEKEEPING_JOBS}
    for name, cronjob in cronjobs.items():
        spec = cronjob["spec"]
        assert spec["concurrencyPolicy"] == "Forbid", name
        assert spec["timeZone"] == "Etc/UTC", name
        minute, hour, day_of_month, month, day_of_week = spec["schedule"].split()
        assert minute.isdigit(), f"{name}: {spec['schedule']} runs more than once an hour"
        assert 0 <= int(minute) <= 59, name
        assert hour == "*" or hour.isdigit(), f"{name}: {spec['schedule']}"
        assert (day_of_month, month, day_of_week) == ("*", "*", "*"), f"{name}: not daily"
        assert 0 < spec["startingDeadlineSeconds"] < 3600, name
        assert spec["successfulJobsHistoryLimit"] >= 1, name
        assert spec["failedJobsHistoryLimit"] >= 1, name
        job = spec["jobTemplate"]["spec"]
        assert 1 <= job["backoffLimit"] <= 5, name
        assert 0 < job["activeDeadlineSeconds"] < 3600, name
        assert job["ttlSecondsAfterFinished"] > 0, name
        assert pod_spec(cronjob)["restartPolicy"] == "Never", name


def test_housekeeping_pods_are_labelled_apart_from_the_api_pods(
    docs: tuple[Document, ...],
) -> None:
    """Their own component label: no Service routes to them, no PodDisruptionBudget counts them,
    and Prometheus does not scrape them; their service's name label lets them reach its
    database."""
    for service, name, _ in HOUSEKEEPING_JOBS:
        labels = pod_labels(of_kind(docs, "CronJob")[name])
        assert labels["app.kubernetes.io/name"] == service, name
        assert labels["app.kubernetes.io/component"] == "housekeeping", name


# --------------------------------------------------------------------------- network policies


def selects(selector: Mapping[str, Any], labels: Mapping[str, str]) -> bool:
    """A label selector (matchLabels and matchExpressions) against a pod's labels."""
    for key, value in selector.get("matchLabels", {}).items():
        if labels.get(key) != value:
            return False
    for expression in selector.get("matchExpressions", []):
        key, operator = expression["key"], expression["operator"]
        values = expression.get("values", [])
        if operator == "In" and labels.get(key) not in values:
            return False
        if operator == "NotIn" and labels.get(key) in values:
            return False
        if operator == "Exists" and key not in labels:
            return False
        if operator == "DoesNotExist" and key in labels:
            return False
    return True


def pod_labels(workload: Document) -> dict[str, str]:
    labels: dict[str, str] = pod_template(workload)["metadata"]["labels"]
    return labels


@dataclass(frozen=True)
class Pod:
    name: str
    labels: Mapping[str, str]
    namespace: str = NAMESPACE
    ports: frozenset[int] = field(default_factory=frozenset)


@dataclass(frozen=True)
class External:
    """An address outside the cluster: an internet client, a managed database."""

    name: str
    address: str
    ports: frozenset[int] = field(default_factory=frozenset)


Endpoint = Pod | External
NAMESPACE_LABELS = {
    "kube-system": {"kubernetes.io/metadata.name": "kube-system"},
    "monitoring": {"kubernetes.io/metadata.name": "monitoring"},
}


class NetworkModel:
    """Evaluates NetworkPolicies as a cluster does: a connection needs the source's egress and
    the destination's ingress to allow it; a pod selected by no policy of a direction is open in
    that direction; policies add up."""

    def __init__(self, docs: tuple[Document, ...]) -> None:
        self.policies = list(of_kind(docs, "NetworkPolicy").values())
        namespace = of_kind(docs, "Namespace")[NAMESPACE]
        self.namespace_labels = {
            **NAMESPACE_LABELS,
            NAMESPACE: {
                **namespace["metadata"].get("labels", {}),
                "kubernetes.io/metadata.name": NAMESPACE,
            },
        }

    def _policy_types(self, policy: Document) -> list[str]:
        spec = policy["spec"]
        default = ["Ingress", "Egress"] if "egress" in spec else ["Ingress"]
        types: list[str] = spec.get("policyTypes", default)
        return types

    def _applying(self, pod: Pod, direction: str) -> list[Document]:
        return [
            policy
            for policy in self.policies
            if policy["metadata"]["namespace"] == pod.namespace
            and direction in self._policy_types(policy)
            and selects(policy["spec"]["podSelector"], pod.labels)
        ]

    def _peer_matches(self, peer: dict[str, Any], namespace: str, other: Endpoint) -> bool:
        if "ipBlock" in peer:
            if not isinstance(other, External):
                return False
            address = ipaddress.ip_address(other.address)
            block = peer["ipBlock"]
            return address in ipaddress.ip_network(block["cidr"]) and not any(
                address in ipaddress.ip_network(excluded) for excluded in block.get("except", [])
            )
        if isinstance(other, External):
            return False
        if "namespaceSelector" in peer:
            labels = self.namespace_labels.get(other.namespace, {})
            if not selects(peer["namespaceSelector"], labels):
                return False
        elif other.namespace != namespace:
            return False
        return selects(peer.get("podSelector", {}), other.labels)

    @staticmethod
    def _port_matches(rule: dict[str, Any], port: int, protocol: str) -> bool:
        if not rule.get("ports"):
            return True
        for allowed in rule["ports"]:
            number = allowed.get("port")
            assert not isinstance(number, str), "use port numbers in NetworkPolicies"
            if allowed.get("protocol", "TCP") != protocol:
                continue
            if number is None or number <= port <= allowed.get("endPort", number):
                return True
        return False

    def _allows(self, pod: Pod, other: Endpoint, port: int, protocol: str, direction: str) -> bool:
        policies = self._applying(pod, direction)
        if not policies:
            return True
        rules_key, peers_key = ("ingress", "from") if direction == "Ingress" else ("egress", "to")
        for policy in policies:
            for rule in policy["spec"].get(rules_key, []):
                peers = rule.get(peers_key)
                if not self._port_matches(rule, port, protocol):
                    continue
                if not peers or any(
                    self._peer_matches(peer, pod.namespace, other) for peer in peers
                ):
                    return True
        return False

    def allowed(self, source: Endpoint, target: Endpoint, port: int, protocol: str = "TCP") -> bool:
        if isinstance(source, Pod) and not self._allows(source, target, port, protocol, "Egress"):
            return False
        return not (
            isinstance(target, Pod) and not self._allows(target, source, port, protocol, "Ingress")
        )


MANAGED_DATABASES = {"identity": "192.0.2.10", "items": "192.0.2.20"}
EXTERNAL_BROKER = "192.0.2.30"
# A mail relay somewhere outside (its address is not known in advance): relay (25), implicit TLS
# (465) and submission (587).
SMTP_SERVER = "198.51.100.25"
SMTP_PORTS = frozenset({25, 465, 587})


def smtp_port(overlay: str) -> int:
    """The port the mailer sends to: the overlay's IDENTITY_SMTP_PORT, else identity's default."""
    configured = config_map_data(rendered(overlay), "identity-config").get("IDENTITY_SMTP_PORT")
    default: int = IdentitySettings.model_fields["smtp_port"].default
    return int(configured) if configured is not None else default


def cluster_pods(docs: tuple[Document, ...]) -> dict[str, Pod]:
    pods = {}
    for _, workload in workloads(docs):
        ports = frozenset(
            port["containerPort"]
            for container in pod_spec(workload)["containers"]
            for port in container.get("ports", [])
        )
        pods[workload["metadata"]["name"]] = Pod(
            workload["metadata"]["name"], pod_labels(workload), ports=ports
        )
    return pods


def endpoints(docs: tuple[Document, ...]) -> dict[str, Endpoint]:
    """The overlay's pods, plus in-cluster databases and broker where the overlay has none, plus
    the managed ones outside, plus strangers."""
    found: dict[str, Endpoint] = dict(cluster_pods(docs))
    for service in SERVICES:
        database = f"{service}-db"
        found.setdefault(
            database, Pod(database, {"app.kubernetes.io/name": database}, ports=frozenset({5432}))
        )
        found[f"managed-{database}"] = External(
            f"managed-{database}", MANAGED_DATABASES[service], frozenset({5432})
        )
    found.setdefault(
        "rabbitmq",
        Pod("rabbitmq", {"app.kubernetes.io/name": "rabbitmq"}, ports=frozenset({BROKER_PORT})),
    )
    found["external-rabbitmq"] = External(
        "external-rabbitmq", EXTERNAL_BROKER, frozenset({BROKER_PORT, BROKER_TLS_PORT})
    )
    found["smtp-server"] = External("smtp-server", SMTP_SERVER, SMTP_PORTS)
    found["stranger"] = Pod("stranger", {"app.kubernetes.io/name": "debug-shell"})
    found["other-namespace"] = Pod(
        "other-namespace", {"app.kubernetes.io/name": "identity"}, namespace="default"
    )
    found["prometheus"] = Pod(
        "prometheus", {"app.kubernetes.io/name": "prometheus"}, namespace="monitoring"
    )
    found["internet"] = External(
        "internet", "203.0.113.7", frozenset({443, 5432, BROKER_PORT, BROKER_TLS_PORT})
    )
    return found


def ours(endpoint: Endpoint) -> bool:
    """Our policies govern connections from and to our namespace's pods, nothing else."""
    return isinstance(endpoint, Pod) and endpoint.namespace == NAMESPACE


def expected_connections(overlay: str, found: dict[str, Endpoint]) -> set[tuple[str, str, int]]:
    # Anyone outside the namespace may call the gateway; inside, egress is denied by default.
    expected = {(name, "gateway", 8080) for name, endpoint in found.items() if not ours(endpoint)}
    expected |= {
        ("gateway", "identity", 8000),
        ("gateway", "items", 8000),
        ("items", "identity", 8000),
        ("prometheus", "identity", 8000),
        ("prometheus", "items", 8000),
    }
    for service in SERVICES:
        housekeeping = [name for name, _ in HOUSEKEEPING[service]]
        workers = [worker.deployment for worker in WORKERS if worker.service == service]
        for client in (service, f"{service}-migrate", *housekeeping, *workers):
            expected.add((client, f"{service}-db", 5432))
            if overlay == "production":
                expected.add((client, f"managed-{service}-db", 5432))
    for worker in WORKERS:
        expected.add(("prometheus", worker.deployment, worker.metrics_port))
    # The relay and the consumer, and nothing else, reach the broker: the in-cluster one (dev), the
    # external one over TLS (production). Neither web process does.
    for worker in EVENT_WORKERS:
        if overlay == "production":
            expected.add((worker.deployment, "external-rabbitmq", BROKER_TLS_PORT))
        else:
            expected.add((worker.deployment, "rabbitmq", BROKER_PORT))
    # The mailer, and nothing else, reaches a mail server: on the port its configuration names
    # (the ports the worker cannot speak on, or is not configured for, stay closed).
    expected.add((MAILER.deployment, "smtp-server", smtp_port(overlay)))
    return expected


def test_a_default_deny_policy_covers_the_namespace(docs: tuple[Document, ...]) -> None:
    denying = [
        policy
        for policy in of_kind(docs, "NetworkPolicy").values()
        if policy["spec"]["podSelector"] == {}
        and set(policy["spec"]["policyTypes"]) == {"Ingress", "Egress"}
        and not policy["spec"].get("ingress")
        and not policy["spec"].get("egress")
    ]
    assert len(denying) == 1


def test_only_the_intended_connections_are_allowed(
    overlay: str, docs: tuple[Document, ...]
) -> None:
    model = NetworkModel(docs)
    found = endpoints(docs)
    expected = expected_connections(overlay, found)
    actual = {
        (source, target, port)
        for source, source_endpoint in found.items()
        for target, target_endpoint in found.items()
        if source != target
        if ours(source_endpoint) or ours(target_endpoint)
        for port in target_endpoint.ports
        if model.allowed(source_endpoint, target_endpoint, port)
    }
    assert actual - expected == set(), "allowed but not intended"
    assert expected - actual == set(), "intended but blocked"


def test_every_pod_reaches_cluster_dns(docs: tuple[Document, ...]) -> None:
    model = NetworkModel(docs)
    dns = Pod("kube-dns", {"k8s-app": "kube-dns"}, namespace="kube-system")
    for name, pod in cluster_pods(docs).items():
        assert model.allowed(pod, dns, 53, "UDP"), name
        assert model.allowed(pod, dns, 53, "TCP"), name
        assert not model.allowed(pod, dns, 5432), name


@pytest.mark.parametrize("service", SERVICES)
def test_each_database_admits_only_its_own_service(
    docs: tuple[Document, ...], service: str
) -> None:
    """Structurally, for pods that do not exist yet too: the database's ingress rules name only
    its service's pods, in this namespace, on 5432; every egress rule that allows 5432 belongs to
    that service's pods and leads only to its own database."""
    database_labels = {"app.kubernetes.io/name": f"{service}-db"}
    own_pods = {"app.kubernetes.io/name": service}
    policies = of_kind(docs, "NetworkPolicy").values()
    guarding = [p for p in policies if selects(p["spec"]["podSelector"], database_labels)]
    ingress_rules = [rule for policy in guarding for rule in policy["spec"].get("ingress", [])]
    assert ingress_rules, f"nothing admits {service}'s own pods to its database"
    for rule in ingress_rules:
        assert rule.get("from"), "an ingress rule without `from` admits everyone"
        for peer in rule["from"]:
            assert set(peer) == {"podSelector"}, f"{service}-db admits {peer}"
            assert peer["podSelector"] == {"matchLabels": own_pods}
        assert rule.get("ports") == [{"protocol": "TCP", "port": 5432}]

    for policy in policies:
        for rule in policy["spec"].get("egress", []):
            assert rule.get("ports"), f"{policy['metadata']['name']}: egress to every port"
            if not any(port.get("port") == 5432 for port in rule["ports"]):
                continue
            clients = policy["spec"]["podSelector"]
            assert clients.get("matchLabels", {}).get("app.kubernetes.io/name") in SERVICES
            client = clients["matchLabels"]["app.kubernetes.io/name"]
            for peer in rule["to"]:
                assert set(peer) in ({"podSelector"}, {"ipBlock"}), peer
                if "podSelector" in peer:
                    assert peer["podSelector"] == {
                        "matchLabels": {"app.kubernetes.io/name": f"{client}-db"}
                    }


def test_managed_database_addresses_do_not_overlap(
    overlay: str, docs: tuple[Document, ...]
) -> None:
    blocks: dict[str, list[ipaddress.IPv4Network | ipaddress.IPv6Network]] = {}
    for policy in of_kind(docs, "NetworkPolicy").values():
        for rule in policy["spec"].get("egress", []):
            if not any(port.get("port") == 5432 for port in rule["ports"]):
                continue
            for peer in rule.get("to", []):
                if "ipBlock" in peer:
                    client = policy["spec"]["podSelector"]["matchLabels"]["app.kubernetes.io/name"]
                    blocks.setdefault(client, []).append(
                        ipaddress.ip_network(peer["ipBlock"]["cidr"])
                    )
    if overlay == "production":
        assert set(blocks) == set(SERVICES)
    for mine in blocks.get("identity", []):
        for theirs in blocks.get("items", []):
            assert not mine.overlaps(theirs), f"{mine} overlaps {theirs}"


# --------------------------------------------------------------------------- secrets, settings


def all_secrets(docs: tuple[Document, ...]) -> list[Document]:
    return [*of_kind(docs, "Secret").values(), *load_documents(SECRET_EXAMPLES)]


def test_no_secret_holds_a_real_value(docs: tuple[Document, ...]) -> None:
    """Every secret value is a placeholder that production refuses ("change-me", "dev-insecure-"
    or empty); in database URLs, the password is."""
    for secret in all_secrets(docs):
        for key, value in secret_values(secret).items():
            here = f"Secret {secret['metadata']['name']} {key}"
            if key.endswith("DATABASE_URL"):
                password = urlsplit(value).password
                assert password is not None, here
                assert is_placeholder_secret(password), here
            else:
                assert is_placeholder_secret(value), here


def test_the_secret_examples_are_unmistakable_placeholders() -> None:
    for secret in load_documents(SECRET_EXAMPLES):
        for key, value in secret_values(secret).items():
            assert "change-me" in value, key
            if key.endswith("DATABASE_URL"):
                host = urlsplit(value).hostname or ""
                assert host.endswith(".invalid"), f"{key}: use a host that never resolves"


def service_environment(docs: tuple[Document, ...], service: str, overlay: str) -> dict[str, str]:
    """What `envFrom` gives the service's container: its ConfigMap, then its Secret."""
    environment = dict(config_map_data(docs, f"{service}-config"))
    secrets = {doc["metadata"]["name"]: doc for doc in all_secrets(docs)}
    if overlay != "production":
        secrets.update(of_kind(docs, "Secret"))
    environment.update(secret_values(secrets[f"{service}-secrets"]))
    return environment


@pytest.mark.parametrize("service", SERVICES)
def test_every_variable_is_a_setting_the_service_reads(
    overlay: str, docs: tuple[Document, ...], service: str
) -> None:
    prefix = f"{service.upper()}_"
    fields = SETTINGS_CLASSES[service].model_fields
    for name in service_environment(docs, service, overlay):
        if name in GUNICORN_VARIABLES:
            continue
        assert name.startswith(prefix), f"{name} is not read by {service}"
        assert name.removeprefix(prefix).lower() in fields, f"{name}: no such setting"
    gateway = config_map_data(docs, "gateway-config")
    assert set(gateway) == GATEWAY_VARIABLES


def test_identity_and_items_agree_on_tokens(docs: tuple[Document, ...]) -> None:
    identity = config_map_data(docs, "identity-config")
    items = config_map_data(docs, "items-config")
    assert identity["IDENTITY_ISSUER"] == items["ITEMS_TOKEN_ISSUER"]
    assert identity["IDENTITY_ACCESS_TOKEN_AUDIENCE"] == items["ITEMS_TOKEN_AUDIENCE"]
    jwks = urlsplit(items["ITEMS_JWKS_URL"])
    services = of_kind(docs, "Service")
    assert jwks.hostname in services, "ITEMS_JWKS_URL must name the identity Service"
    assert jwks.port in {port["port"] for port in services[jwks.hostname]["spec"]["ports"]}
    assert jwks.path == "/.well-known/jwks.json"
    gateway = config_map_data(docs, "gateway-config")
    for variable, service in (("IDENTITY_UPSTREAM", "identity"), ("ITEMS_UPSTREAM", "items")):
        host, _, port = gateway[variable].partition(":")
        assert host == service
        assert int(port) in {item["port"] for item in services[service]["spec"]["ports"]}


def test_production_settings() -> None:
    docs = rendered("production")
    identity = config_map_data(docs, "identity-config")
    items = config_map_data(docs, "items-config")
    assert identity["IDENTITY_ENV"] == items["ITEMS_ENV"] == "production"
    assert identity["IDENTITY_TRUSTED_PROXY_COUNT"] == items["ITEMS_TRUSTED_PROXY_COUNT"] == "1"
    assert identity["IDENTITY_ISSUER"].startswith("https://")
    for name, workload in workloads(docs, ("Deployment", "Job", "CronJob")):
        for container in all_containers(workload):
            image = container["image"]
            _, _, tag = image.rpartition(":")
            registry = image.split("/")[0] if "/" in image else ""
            assert "." in registry, f"{name}: {image} names no registry"
            assert tag not in ("", "latest"), f"{name}: {image} needs a release tag"


def test_gateway_config_is_what_the_gateway_accepts(docs: tuple[Document, ...]) -> None:
    render = load_gateway_render()
    gateway = config_map_data(docs, "gateway-config")

    render.gateway_values(gateway)  # raises RenderError on a value the container would refuse
    render.render_real_ip_conf(gateway)


def test_production_gateway_takes_the_client_address_from_the_ingress() -> None:
    render = load_gateway_render()
    gateway = config_map_data(rendered("production"), "gateway-config")

    proxies = render.trusted_proxies(gateway)

    assert proxies, "production sits behind an ingress: GATEWAY_REAL_IP_FROM must name it"
    assert all(ipaddress.ip_network(proxy).prefixlen > 0 for proxy in proxies), "trusts everyone"
    assert gateway["GATEWAY_REAL_IP_HEADER"] == "X-Forwarded-For"


def test_production_gateway_sends_strict_transport_security() -> None:
    render = load_gateway_render()
    gateway = config_map_data(rendered("production"), "gateway-config")

    hsts = render.gateway_values(gateway)["GATEWAY_HSTS"]

    max_age = re.match(r"max-age=([0-9]+)", hsts, flags=re.IGNORECASE)
    assert max_age is not None, "production is HTTPS only: GATEWAY_HSTS must be set"
    assert int(max_age.group(1)) >= 180 * 24 * 3600


@pytest.fixture
def clean_environment(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    for name in list(os.environ):
        if name.startswith(("IDENTITY_", "ITEMS_")):
            monkeypatch.delenv(name)
    return monkeypatch


@pytest.mark.parametrize("service", SERVICES)
def test_production_refuses_the_placeholders_and_accepts_real_secrets(
    clean_environment: pytest.MonkeyPatch, service: str
) -> None:
    """The rendered production settings, as the service itself reads them from its environment."""
    docs = rendered("production")
    settings_class = SETTINGS_CLASSES[service]
    environment = service_environment(docs, service, "production")
    for name, value in environment.items():
        clean_environment.setenv(name, value)
    with pytest.raises(ValidationError, match="missing or a development placeholder"):
        settings_class(_env_file=None)

    prefix = service.upper()
    url = f"postgresql+psycopg://{service}:Zq81xT4@db.internal:5432/{service}"
    real = {
        f"{prefix}_DATABASE_URL": url,
        f"{prefix}_SECRET_KEY": "9b1d5c0e6f0a4d8c8e3b2a1f7c6d",
        f"{prefix}_EVENTS_BROKER_URL": f"amqps://{service}:Zq81xT4@mq.internal:5671/identity-items",
    }
    if service == "identity":
        real["IDENTITY_KEY_ENCRYPTION_KEYS"] = Fernet.generate_key().decode()
    for name, value in real.items():
        assert name in environment, f"the Secret example lacks {name}"
        clean_environment.setenv(name, value)
    settings = settings_class(_env_file=None)
    assert settings.env == "production"
    assert settings.trusted_proxy_count == 1


# --------------------------------------------------------------------------- background workers


def worker_container(docs: tuple[Document, ...], worker: Worker) -> dict[str, Any]:
    (container,) = pod_spec(of_kind(docs, "Deployment")[worker.deployment])["containers"]
    return container


def create_service_app(service: str, directory: Path) -> Any:
    """The service's Flask app, as `flask --app <service>` builds it (SQLite under `directory`)."""
    database_url = f"sqlite:///{directory / service}.db"
    if service == "identity":
        from identity import create_app as create_identity_app

        return create_identity_app(IdentitySettings(_env_file=None, database_url=database_url))
    from items import create_app as create_items_app

    return create_items_app(ItemsSettings(_env_file=None, database_url=database_url))


def parse_cli(app: Any, path: tuple[str, ...], args: list[str]) -> dict[str, Any]:
    """Resolve `path` in the app's CLI as `flask` does and parse `args` with that command's own
    options (a misspelt option or an out-of-range value raises click's UsageError)."""
    group = app.cli
    context = click.Context(group, info_name="flask")
    command: click.Command | None = group
    for name in path:
        assert isinstance(command, click.Group), f"{name}: its parent is no command group"
        command = command.get_command(context, name)
        assert command is not None, f"the CLI has no command {' '.join(path)}"
        if name != path[-1]:
            context = click.Context(command, info_name=name, parent=context)
    assert command is not None
    parsed = command.make_context(path[-1], list(args), parent=context)
    return dict(parsed.params)


@pytest.mark.parametrize("worker", WORKERS, ids=lambda worker: worker.deployment)
def test_workers_run_a_command_of_their_services_cli(
    docs: tuple[Document, ...],
    worker: Worker,
    clean_environment: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    command = worker_container(docs, worker)["command"]
    prefix = ["flask", "--app", worker.service, *worker.command]
    assert command[: len(prefix)] == prefix

    options = parse_cli(
        create_service_app(worker.service, tmp_path), worker.command, command[len(prefix) :]
    )

    assert options["metrics_port"] == worker.metrics_port
    # The kubelet's probes and Prometheus connect to the pod's address, never to its loopback.
    assert options["metrics_host"] == "0.0.0.0"  # noqa: S104 - what a pod's metrics must bind


def test_the_cli_parser_refuses_what_the_cli_does_not_have(
    clean_environment: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    app = create_service_app("identity", tmp_path)
    with pytest.raises(click.UsageError, match="No such option"):
        parse_cli(app, ("events", "relay"), ["--metrics-prot", "9101"])
    with pytest.raises(AssertionError, match="no command events relays"):
        parse_cli(app, ("events", "relays"), [])


@pytest.mark.parametrize("worker", WORKERS, ids=lambda worker: worker.deployment)
def test_workers_are_probed_and_scraped_on_their_metrics_port(
    docs: tuple[Document, ...], worker: Worker
) -> None:
    container = worker_container(docs, worker)
    assert {port["name"]: port["containerPort"] for port in container["ports"]} == {
        "metrics": worker.metrics_port
    }
    for probe in ("startupProbe", "livenessProbe", "readinessProbe"):
        assert http_probe_path(container, probe) == ("/metrics", worker.metrics_port), probe
    annotations = pod_template(of_kind(docs, "Deployment")[worker.deployment])["metadata"][
        "annotations"
    ]
    assert annotations == {
        "prometheus.io/scrape": "true",
        "prometheus.io/port": str(worker.metrics_port),
        "prometheus.io/path": "/metrics",
    }


@pytest.mark.parametrize("worker", WORKERS, ids=lambda worker: worker.deployment)
def test_workers_run_with_the_image_and_configuration_of_their_service(
    docs: tuple[Document, ...], worker: Worker
) -> None:
    deployment = of_kind(docs, "Deployment")[worker.deployment]
    labels = pod_labels(deployment)
    assert labels["app.kubernetes.io/name"] == worker.service
    assert labels["app.kubernetes.io/component"] == worker.component
    spec = pod_spec(deployment)
    api = pod_spec(of_kind(docs, "Deployment")[worker.service])
    container = worker_container(docs, worker)
    (app,) = api["containers"]
    assert container["image"] == app["image"]
    assert container["envFrom"] == app["envFrom"]
    assert spec["serviceAccountName"] == api["serviceAccountName"]
    # A new image starts relaying, consuming or mailing only once its migration Job has run.
    assert spec["initContainers"] == api["initContainers"]


@pytest.mark.parametrize("worker", WORKERS, ids=lambda worker: worker.deployment)
def test_workers_keep_the_replica_count_of_their_overlay(
    overlay: str, docs: tuple[Document, ...], worker: Worker
) -> None:
    """No HPA (CPU says nothing about a queue or an outbox); production runs two of each, so one
    node's loss stops neither events, nor revocations, nor mails; rollouts overlap old and new
    pods, which is safe."""
    deployment = of_kind(docs, "Deployment")[worker.deployment]
    assert deployment["spec"]["replicas"] >= (2 if overlay == "production" else 1)
    assert deployment["spec"]["strategy"]["rollingUpdate"]["maxUnavailable"] == 0
    targets = [
        hpa["metadata"]["name"]
        for hpa in of_kind(docs, "HorizontalPodAutoscaler").values()
        if hpa["spec"]["scaleTargetRef"]["name"] == worker.deployment
    ]
    assert targets == []


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def worker_environment(worker: Worker, directory: Path) -> dict[str, str]:
    """The dev overlay's ConfigMap of the worker's service, with a SQLite database and the
    embedded broker transport in `directory` instead of the cluster's."""
    prefix = worker.service.upper()
    environment = {
        name: value
        for name, value in os.environ.items()
        if not name.startswith(("IDENTITY_", "ITEMS_", "PROMETHEUS_"))
    }
    environment.update(config_map_data(rendered("dev"), f"{worker.service}-config"))
    environment[f"{prefix}_DATABASE_URL"] = f"sqlite:///{directory / worker.service}.db"
    environment[f"{prefix}_EVENTS_BROKER_URL"] = f"sqla+sqlite:///{directory / 'events.db'}"
    return environment


def run_checked(command: list[str], environment: dict[str, str], directory: Path) -> None:
    result = subprocess.run(  # noqa: S603 - the manifests' own commands
        command, env=environment, cwd=directory, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, f"{command}:\n{result.stderr[-2000:]}"


def wait_for_http(url: str, process: subprocess.Popen[str], deadline_seconds: float) -> str:
    deadline = time.monotonic() + deadline_seconds
    while True:
        assert process.poll() is None, f"exited with {process.returncode} before answering {url}"
        try:
            with urllib.request.urlopen(url, timeout=2) as response:  # noqa: S310 - loopback
                body: str = response.read().decode()
                assert response.status == 200
                return body
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)


# A metric family each worker exports, to tell its metrics from anything else on the port.
WORKER_METRIC = {
    "identity-events-relay": "outbox_pending_events",
    "items-events-consumer": "integration_events_consumed_total",
    "identity-mailer": "identity_mails_due",
}


@pytest.mark.parametrize("worker", WORKERS, ids=lambda worker: worker.deployment)
def test_workers_answer_their_probes_and_stop_within_their_grace_period(
    worker: Worker, tmp_path: Path
) -> None:
    """The dev overlay's containers as processes here: the init container's command passes once
    the schema is migrated, the worker started with the container's command answers its probes'
    path, and SIGTERM ends it (status 0) within terminationGracePeriodSeconds. Only the metrics
    address moves to a free loopback port, so parallel runs never collide."""
    deployment = of_kind(rendered("dev"), "Deployment")[worker.deployment]
    (wait_for_migrations,) = pod_spec(deployment)["initContainers"]
    container = worker_container(rendered("dev"), worker)
    environment = worker_environment(worker, tmp_path)
    environment["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{environment['PATH']}"
    run_checked(["flask", "--app", worker.service, "db", "upgrade"], environment, tmp_path)
    run_checked(wait_for_migrations["command"], environment, tmp_path)

    port = free_port()
    command = list(container["command"])
    command[command.index("--metrics-port") + 1] = str(port)
    command[command.index("--metrics-host") + 1] = "127.0.0.1"
    path, _ = http_probe_path(container, "livenessProbe")
    process = subprocess.Popen(  # noqa: S603 - the manifest's own command
        command,
        env=environment,
        cwd=tmp_path,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        body = wait_for_http(f"http://127.0.0.1:{port}{path}", process, deadline_seconds=60)
        assert f"# TYPE {WORKER_METRIC[worker.deployment]}" in body

        process.send_signal(signal.SIGTERM)
        grace = pod_spec(deployment)["terminationGracePeriodSeconds"]
        assert process.wait(timeout=grace) == 0
    finally:
        if process.poll() is None:
            process.kill()
        _, stderr = process.communicate(timeout=30)
    assert "Traceback" not in stderr, stderr[-2000:]


# --------------------------------------------------------------------------- the events broker


def broker_urls(docs: tuple[Document, ...], overlay: str) -> dict[str, str]:
    return {
        service: service_environment(docs, service, overlay)[f"{service.upper()}_EVENTS_BROKER_URL"]
        for service in SERVICES
    }


def test_the_dev_broker_is_a_rabbitmq_statefulset() -> None:
    docs = rendered("dev")
    broker = of_kind(docs, "StatefulSet")["rabbitmq"]
    (container,) = pod_spec(broker)["containers"]
    assert container["image"] == "rabbitmq:3.10"
    for probe, check in (
        ("startupProbe", "ping"),
        ("livenessProbe", "ping"),
        ("readinessProbe", "check_port_connectivity"),
    ):
        assert container[probe]["exec"] == {"command": ["rabbitmq-diagnostics", "-q", check]}
    mounts = {mount["name"]: mount["mountPath"] for mount in container["volumeMounts"]}
    (claim,) = broker["spec"]["volumeClaimTemplates"]
    assert mounts[claim["metadata"]["name"]] == "/var/lib/rabbitmq"
    # The Erlang cookie lives on that volume: a recursive fsGroup change on every start would
    # open it to the group, and the node's CLI (the probes) would refuse it.
    assert pod_spec(broker)["securityContext"]["fsGroupChangePolicy"] == "OnRootMismatch"
    headless = of_kind(docs, "Service")[broker["spec"]["serviceName"]]
    assert headless["spec"]["clusterIP"] == "None"
    assert {port["port"] for port in of_kind(docs, "Service")["rabbitmq"]["spec"]["ports"]} == {
        BROKER_PORT
    }


def test_the_dev_secrets_point_the_services_at_the_dev_broker() -> None:
    docs = rendered("dev")
    (container,) = pod_spec(of_kind(docs, "StatefulSet")["rabbitmq"])["containers"]
    env = {item["name"]: item for item in container["env"]}
    reference = env["RABBITMQ_DEFAULT_PASS"]["valueFrom"]["secretKeyRef"]
    password = secret_values(of_kind(docs, "Secret")[reference["name"]])[reference["key"]]
    services = of_kind(docs, "Service")
    for service, url in broker_urls(docs, "dev").items():
        parts = urlsplit(url)
        assert parts.scheme == "amqp", service
        assert parts.hostname in services, f"{service}: {parts.hostname} is no Service"
        selected = services[parts.hostname]["spec"]["selector"]
        assert selects(
            {"matchLabels": selected}, pod_labels(of_kind(docs, "StatefulSet")["rabbitmq"])
        )
        assert parts.port == BROKER_PORT, service
        assert parts.username == env["RABBITMQ_DEFAULT_USER"]["value"], service
        assert parts.password == password, service
        assert parts.path.removeprefix("/") == env["RABBITMQ_DEFAULT_VHOST"]["value"], service


def test_production_points_the_services_at_an_external_broker_over_tls() -> None:
    docs = rendered("production")
    assert "rabbitmq" not in of_kind(docs, "StatefulSet")
    assert "rabbitmq" not in of_kind(docs, "Service")
    for service, url in broker_urls(docs, "production").items():
        parts = urlsplit(url)
        assert parts.scheme == "amqps", f"{service}: the broker password crosses networks"
        assert parts.port == BROKER_TLS_PORT, service
        assert (parts.hostname or "").endswith(".invalid"), (
            f"{service}: use a host that never resolves"
        )
    (rule,) = of_kind(docs, "NetworkPolicy")["events-broker-clients"]["spec"]["egress"]
    assert rule["ports"] == [{"protocol": "TCP", "port": BROKER_TLS_PORT}]
    assert [set(peer) for peer in rule["to"]] == [{"ipBlock"}]


# deploy/offline-images.sh's standin_revision for rabbitmq:3.10: the first that starts as user
# 999 on a read-only root filesystem.
RABBITMQ_STANDIN_REVISION = 2


def test_offline_images_rebuilds_a_rabbitmq_stand_in_older_than_the_pods_need() -> None:
    script = (K8S.parent / "offline-images.sh").read_text()
    match = re.search(r'"\$RABBITMQ_IMAGE"\) echo ([0-9]+) ;;', script)
    assert match, "deploy/offline-images.sh has no standin_revision for rabbitmq"
    assert int(match.group(1)) == RABBITMQ_STANDIN_REVISION


def docker(*args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run(  # noqa: S603 - the docker CLI with our own arguments
        ["docker", *args],  # noqa: S607 - found on PATH, as the Makefile's
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


@pytest.fixture
def docker_engine() -> None:
    if shutil.which("docker") is not None and docker("info").returncode == 0:
        return
    # As the Makefile: CI, or REQUIRE_DOCKER=1, turns a missing engine into a failure.
    skip_unless_required("no Docker engine ('docker info' failed)", variable="REQUIRE_DOCKER")


def docker_run_arguments(
    statefulset: Document, docs: tuple[Document, ...], *, name: str, directory: Path
) -> list[str]:
    """`docker run` options that hold a StatefulSet's single container to what its pod spec
    grants: its user and groups, a read-only root filesystem, no capabilities, no privilege
    escalation, its memory and CPU limits, its env (Secret references resolved from the
    overlay), a volume for each mount: a fresh docker volume for a claim template, an empty
    world-writable directory for an emptyDir, the ConfigMap's files (read-only) for a
    configMap."""
    spec = pod_spec(statefulset)
    (container,) = spec["containers"]
    pod_context, context = spec["securityContext"], container["securityContext"]
    limits = container["resources"]["limits"]
    arguments = [
        f"--name={name}",
        f"--hostname={statefulset['metadata']['name']}-0",
        f"--user={pod_context['runAsUser']}:{pod_context['runAsGroup']}",
        f"--group-add={pod_context['fsGroup']}",
        "--cap-drop=ALL",
        f"--memory={int(parse_quantity(limits['memory']))}",
        f"--cpus={parse_quantity(limits['cpu'])}",
    ]
    assert context["readOnlyRootFilesystem"] is True
    assert context["allowPrivilegeEscalation"] is False
    arguments += ["--read-only", "--security-opt=no-new-privileges"]
    secrets = of_kind(docs, "Secret")
    for variable in container.get("env", []):
        if "value" in variable:
            value = variable["value"]
        else:
            reference = variable["valueFrom"]["secretKeyRef"]
            value = secret_values(secrets[reference["name"]])[reference["key"]]
        arguments.append(f"--env={variable['name']}={value}")
    volumes = {volume["name"]: volume for volume in spec.get("volumes", [])}
    claims = {claim["metadata"]["name"] for claim in statefulset["spec"]["volumeClaimTemplates"]}
    config_maps = of_kind(docs, "ConfigMap")
    for mount in container["volumeMounts"]:
        path = mount["mountPath"]
        if mount["name"] in claims:
            arguments.append(f"--volume={name}-{mount['name']}:{path}")
        elif "emptyDir" in volumes[mount["name"]]:
            # As the kubelet makes an emptyDir: a fresh directory anyone may write to (a tmpfs
            # over a directory of the image would keep that directory's owner and mode).
            empty = directory / f"emptydir-{mount['name']}"
            empty.mkdir()
            empty.chmod(0o777)
            arguments.append(f"--volume={empty}:{path}")
        else:
            source = volumes[mount["name"]]["configMap"]["name"]
            files = directory / source
            files.mkdir(mode=0o755)
            for key, content in config_maps[source]["data"].items():
                (files / key).write_text(content)
                (files / key).chmod(0o644)
            assert mount.get("readOnly") is True, path
            arguments.append(f"--volume={files}:{path}:ro")
    return arguments


def image_missing(image: str) -> str | None:
    """Why `image` cannot stand for the StatefulSet's here, or None."""
    inspected = docker("image", "inspect", "--format={{json .Config.Labels}}", image)
    if inspected.returncode != 0:
        return f"no image {image} here (deploy/offline-images.sh builds one offline)"
    labels = json.loads(inspected.stdout) or {}
    if "stand-in" in labels.get("org.opencontainers.image.description", ""):
        revision = int(labels.get("offline-images.revision", "1"))
        if revision < RABBITMQ_STANDIN_REVISION:
            return (
                f"{image} is a stand-in from an older recipe that cannot start as user 999: "
                "deploy/offline-images.sh rebuilds it"
            )
    return None


def wait_for_exec_probe(name: str, probe: dict[str, Any], deadline_seconds: float) -> None:
    """Run the probe's command in the container until it succeeds; fail at the deadline, or at
    once (with the container's log) when the container has stopped."""
    deadline = time.monotonic() + deadline_seconds
    while True:
        result = docker("exec", name, *probe["exec"]["command"], timeout=probe["timeoutSeconds"])
        if result.returncode == 0:
            return
        running = docker("inspect", "--format={{.State.Running}}", name).stdout.strip()
        assert running == "true", f"the container stopped:\n{docker('logs', name).stdout[-3000:]}"
        assert time.monotonic() < deadline, f"{probe['exec']['command']}: {result.stderr}"
        time.sleep(1)


def test_the_dev_broker_runs_under_its_pod_spec_and_takes_the_dev_secrets_url(
    docker_engine: None, tmp_path: Path
) -> None:
    """The dev overlay's RabbitMQ container, run in Docker as its pod would run it (user 999,
    read-only root, no capabilities, its limits, env, volumes and configuration): its startup,
    liveness and readiness probes pass, and the services' broker URL from the dev Secrets (user,
    password, vhost) carries a message through it. RABBITMQ_IMAGE (as in
    deploy/offline-images.sh) replaces the StatefulSet's image. The connection is made as soon as
    the readiness probe passes, as a Service would let clients in."""
    docs = rendered("dev")
    statefulset = of_kind(docs, "StatefulSet")["rabbitmq"]
    (container,) = pod_spec(statefulset)["containers"]
    image = os.environ.get("RABBITMQ_IMAGE", container["image"])
    missing = image_missing(image)
    if missing:
        skip_unless_required(missing, variable="REQUIRE_DOCKER")
    name = f"k8s-dev-rabbitmq-{uuid.uuid4().hex[:12]}"
    arguments = docker_run_arguments(statefulset, docs, name=name, directory=tmp_path)
    amqp = container["ports"][0]["containerPort"]
    started = docker("run", "--detach", *arguments, f"--publish=127.0.0.1::{amqp}", image)
    try:
        assert started.returncode == 0, started.stderr
        startup = container["startupProbe"]
        wait_for_exec_probe(name, startup, startup["periodSeconds"] * startup["failureThreshold"])
        wait_for_exec_probe(name, container["livenessProbe"], 0)
        # Ready: the Service would send clients now, so the test connects now.
        wait_for_exec_probe(name, container["readinessProbe"], 120)
        published = docker("port", name, f"{amqp}/tcp").stdout.split()[0]
        url = urlsplit(broker_urls(docs, "dev")["items"])
        credentials = url.netloc.rpartition("@")[0]
        local = url._replace(netloc=f"{credentials}@{published}").geturl()
        with kombu.Connection(local, connect_timeout=10) as connection:
            queue = kombu.Queue(name, channel=connection.channel(), auto_delete=True)
            queue.declare()
            kombu.Producer(connection.channel()).publish(
                {"checked": name}, routing_key=name, declare=[queue]
            )
            deadline = time.monotonic() + 10
            while (message := queue.get(no_ack=True)) is None:
                assert time.monotonic() < deadline, "the message never arrived"
                time.sleep(0.1)
            assert message.payload == {"checked": name}
    finally:
        logs = docker("logs", name).stdout
        docker("rm", "--force", "--volumes", name)
        docker("volume", "rm", f"{name}-data")
    assert "BOOT FAILED" not in logs, logs[-3000:]
