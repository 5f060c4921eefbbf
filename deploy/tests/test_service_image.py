"""The one service Dockerfile, read without Docker: compose builds both services from it, and
what it installs (the lock file's runtime dependencies of the service) holds no test support.

The e2e suite's compose mode builds and runs the images for real."""

import os
import re
import subprocess
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
DOCKERFILE = ROOT / "Dockerfile"
SERVICES = {"identity": "identity-service", "items": "items-service"}
TEST_ONLY = {"service-kit-testing", "pytest", "testcontainers", "schemathesis", "hypothesis"}


def runtime_requirements(package: str) -> set[str]:
    """What `uv sync --frozen --no-dev --package <package>` (the Dockerfile's) installs."""
    command = [os.environ.get("UV", "uv"), "export", "--frozen", "--no-dev", "--no-hashes"]
    exported = subprocess.run(  # noqa: S603 - our own uv, fixed arguments
        [*command, "--package", package],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    names = set()
    for line in exported.splitlines():
        if line.startswith("-e ./"):
            names.add(line.removeprefix("-e ./").strip())
        elif line and not line.startswith(("#", " ")):
            names.add(re.split(r"[=<>;\[ ]", line, maxsplit=1)[0].lower())
    return names


@pytest.mark.parametrize("package", sorted(SERVICES.values()))
def test_runtime_dependencies_hold_no_test_support(package: str) -> None:
    requirements = runtime_requirements(package)

    assert {"service-kit", package, "gunicorn"} <= requirements  # the export was read
    assert requirements & TEST_ONLY == set()


def test_dockerfile_installs_one_service_without_dev_dependencies_or_test_support() -> None:
    text = DOCKERFILE.read_text()
    syncs = re.findall(r"uv sync [^\n]*", text)

    assert len(syncs) == 2
    assert all("--no-dev" in sync for sync in syncs)
    assert all('--package "${SERVICE}-service"' in sync for sync in syncs)
    assert "service-kit-testing" not in text
    assert "/tests" not in text


def test_compose_builds_both_services_from_the_one_dockerfile() -> None:
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())["services"]
    builds = {name: spec["build"] for name, spec in compose.items() if "build" in spec}

    service_builds = {name: build for name, build in builds.items() if name in SERVICES}
    assert service_builds == {
        name: {"context": ".", "args": {"SERVICE": name}} for name in SERVICES
    }
    assert not (ROOT / "identity-service" / "Dockerfile").exists()
    assert not (ROOT / "items-service" / "Dockerfile").exists()
