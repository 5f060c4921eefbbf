"""docker-compose.yml as committed, read without Docker: every variable it reads is listed in
.env.example, every service setting it passes is one the service has (and accepts, with the
defaults), the integration-event processes and the mail worker run, wait and report health as
intended, and every service that keeps running has a health check (`make up` waits for them).

The e2e suite's compose mode starts this file for real; these tests catch in a second what
would otherwise be a container that starts with a misspelled (so silently ignored) setting.
"""

import os
import re
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

import pytest
import yaml
from pydantic_settings import BaseSettings

from identity.config import IdentitySettings
from items.config import ItemsSettings

ROOT = Path(__file__).resolve().parents[2]
COMPOSE_FILE = ROOT / "docker-compose.yml"
ENV_EXAMPLE = ROOT / ".env.example"
INTERPOLATION = re.compile(r"\$\{(?P<name>[A-Z0-9_]+)(?::?-(?P<default>[^}]*))?\}")

SETTINGS: dict[str, tuple[str, type[BaseSettings]]] = {
    "identity-service": ("IDENTITY_", IdentitySettings),
    "items-service": ("ITEMS_", ItemsSettings),
}
EVENT_PROCESSES = {
    # service: (the image it runs, its command, the database and migration it waits for)
    "identity-relay": (
        "identity-service",
        ["flask", "--app", "identity", "events", "relay"],
        ("identity-db", "identity-migrate"),
    ),
    "items-consumer": (
        "items-service",
        ["flask", "--app", "items", "events", "consume"],
        ("items-db", "items-migrate"),
    ),
}
# The mail worker: as an event process, with the mail catcher in place of the broker.
MAIL_PROCESSES = {
    "identity-mailer": (
        "identity-service",
        ["flask", "--app", "identity", "mail", "run"],
        ("identity-db", "identity-migrate"),
    ),
}
BROKER_URL_SETTINGS = {
    "identity-service": "IDENTITY_EVENTS_BROKER_URL",
    "items-service": "ITEMS_EVENTS_BROKER_URL",
}


def with_defaults(value: str) -> str:
    """`value` as compose interpolates it when no variable is set (`${X:-default}` -> default)."""
    return INTERPOLATION.sub(lambda match: match.group("default") or "", value)


def compose() -> dict[str, Any]:
    document: dict[str, Any] = yaml.safe_load(COMPOSE_FILE.read_text())
    return document


def services() -> dict[str, dict[str, Any]]:
    found: dict[str, dict[str, Any]] = compose()["services"]
    return found


def image_name(service: dict[str, Any]) -> str:
    return str(service.get("image", "")).split(":", 1)[0]


def app_services() -> dict[str, dict[str, Any]]:
    """Services that run one of the two service images (web, migrations, housekeeping, events)."""
    return {name: svc for name, svc in services().items() if image_name(svc) in SETTINGS}


def environment(service: dict[str, Any]) -> dict[str, str]:
    """The service's environment with the defaults filled in (anchors are already merged)."""
    return {name: with_defaults(str(value)) for name, value in service["environment"].items()}


def strings(node: object) -> list[str]:
    """Every string value in a parsed YAML document (keys too: compose interpolates only values,
    and keys never hold a `${...}`)."""
    if isinstance(node, str):
        return [node]
    if isinstance(node, dict):
        return [text for key, value in node.items() for text in (*strings(key), *strings(value))]
    if isinstance(node, list):
        return [text for value in node for text in strings(value)]
    return []


def test_every_variable_the_compose_file_reads_is_listed_in_env_example() -> None:
    read = {
        match.group("name") for text in strings(compose()) for match in INTERPOLATION.finditer(text)
    }
    listed = set(re.findall(r"^#? ?([A-Z][A-Z0-9_]*)=", ENV_EXAMPLE.read_text(), re.MULTILINE))

    assert read - listed == set()


@pytest.fixture
def clean_environment(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    for name in list(os.environ):
        if name.startswith(tuple(prefix for prefix, _ in SETTINGS.values())):
            monkeypatch.delenv(name)
    return monkeypatch


@pytest.mark.parametrize("name", sorted(app_services()))
def test_service_variables_are_settings_the_service_has_and_accepts(
    clean_environment: pytest.MonkeyPatch, name: str
) -> None:
    service = app_services()[name]
    prefix, settings_class = SETTINGS[image_name(service)]
    passed = {key: value for key, value in environment(service).items() if key.startswith(prefix)}
    for key, value in passed.items():
        clean_environment.setenv(key, value)

    unknown = {
        key for key in passed if key.removeprefix(prefix).lower() not in settings_class.model_fields
    }
    settings_class(_env_file=None)  # type: ignore[call-arg]  # as the service reads them

    assert unknown == set(), f"{name}: not settings of {settings_class.__name__}"


@pytest.mark.parametrize("name", sorted(app_services()))
def test_every_service_of_an_app_image_has_the_compose_broker(name: str) -> None:
    service = app_services()[name]
    broker = services()["rabbitmq"]["environment"]
    url = urlsplit(environment(service)[BROKER_URL_SETTINGS[image_name(service)]])

    assert (url.scheme, url.hostname, url.port) == ("amqp", "rabbitmq", 5672)
    assert unquote(url.username or "") == with_defaults(broker["RABBITMQ_DEFAULT_USER"])
    assert unquote(url.password or "") == with_defaults(broker["RABBITMQ_DEFAULT_PASS"])
    assert unquote(url.path.removeprefix("/")) == with_defaults(broker["RABBITMQ_DEFAULT_VHOST"])


def test_the_broker_keeps_its_data_in_a_named_volume_under_a_fixed_node_name() -> None:
    broker = services()["rabbitmq"]
    volumes = compose()["volumes"]

    assert broker["hostname"] == "rabbitmq"  # the node name, and so the data directory
    (volume,) = broker["volumes"]
    name, path = volume.split(":")
    assert name in volumes
    assert path == "/var/lib/rabbitmq"
    assert broker["healthcheck"]["test"] == ["CMD", "rabbitmq-diagnostics", "-q", "ping"]


# What each background process talks to besides its database: the broker, or the mail catcher.
PEERS = {**dict.fromkeys(EVENT_PROCESSES, "rabbitmq"), **dict.fromkeys(MAIL_PROCESSES, "maildev")}


@pytest.mark.parametrize("name", sorted(PEERS))
def test_background_processes_start_once_their_peer_is_healthy_and_their_schema_is_migrated(
    name: str,
) -> None:
    image, command, (database, migration) = {**EVENT_PROCESSES, **MAIL_PROCESSES}[name]
    service = services()[name]

    assert image_name(service) == image
    assert service["command"][: len(command)] == command
    assert service["depends_on"] == {
        database: {"condition": "service_healthy"},
        migration: {"condition": "service_completed_successfully"},
        PEERS[name]: {"condition": "service_healthy"},
    }
    assert service["restart"] == "unless-stopped"


def test_compose_sends_mail_to_its_catcher_whose_ui_listens_on_loopback_only() -> None:
    catcher = services()["maildev"]
    mail = services()["identity-mailer"]["environment"]

    assert catcher["ports"] == ["127.0.0.1:${MAILDEV_PORT:-1080}:1080"]
    assert (mail["IDENTITY_MAIL_BACKEND"], mail["IDENTITY_SMTP_HOST"]) == (
        "${IDENTITY_MAIL_BACKEND:-smtp}",
        "${IDENTITY_SMTP_HOST:-maildev}",
    )


@pytest.mark.parametrize("name", sorted({**EVENT_PROCESSES, **MAIL_PROCESSES}))
def test_background_processes_are_healthy_while_their_metrics_port_answers(name: str) -> None:
    service = services()[name]
    command = service["command"]
    port = command[command.index("--metrics-port") + 1]

    probe = " ".join(service["healthcheck"]["test"])

    assert f"http://127.0.0.1:{port}/metrics" in probe
    assert command[command.index("--metrics-host") + 1] == "0.0.0.0"  # noqa: S104 - in its network


@pytest.mark.parametrize(
    "name", sorted(name for name, svc in services().items() if svc.get("restart") != "no")
)
def test_every_service_that_keeps_running_has_a_health_check(name: str) -> None:
    """`docker compose up --wait` (`make up`) fails on a running service whose health check is
    disabled, and waits for every other one to be healthy."""
    healthcheck = services()[name].get("healthcheck", {})

    assert not healthcheck.get("disable", False)
    assert healthcheck.get("test"), f"{name} has no health check of its own"
