"""A bare machine: every make target that needs uv installs the pinned one itself.

The machine these tests stand for has only Python >= 3.11 on PATH, and its pip refuses to
install into the system interpreter (PEP 668, as on Debian and Ubuntu). `make` must then put a
pinned uv into a private tools directory (deploy/bootstrap-uv.sh) before anything runs uv.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from service_kit_testing.required import skip_unless_required

ROOT = Path(__file__).resolve().parents[2]
BARE_PATH = "/usr/bin:/bin"  # no ~/.local/bin, no pyenv shims, no venv: no uv
TARGETS_THAT_RUN_UV = ["install", "lint", "fmt", "test", "test-unit", "e2e", "run", "migrate"]


def _run(
    command: list[str], *, env: dict[str, str] | None = None, timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(  # noqa: S603 - our own Makefile, script and interpreters
        command, capture_output=True, text=True, env=env, timeout=timeout, check=False
    )


def _pinned_uv_version() -> str:
    match = re.search(r"^UV_VERSION := (\S+)$", (ROOT / "Makefile").read_text(), re.MULTILINE)
    assert match, "Makefile pins no UV_VERSION"
    return match.group(1)


def _bare_env(tools: Path) -> dict[str, str]:
    env = {key: value for key, value in os.environ.items() if not key.startswith("UV_")}
    env.pop("VIRTUAL_ENV", None)
    env.update(PATH=BARE_PATH, TOOLS_DIR=str(tools), MAKEFLAGS="")
    return env


def _externally_managed_python() -> Path | None:
    """The machine's own python3 when its pip refuses system installs (PEP 668)."""
    python = shutil.which("python3", path=BARE_PATH)
    if python is None:
        return None
    stdlib = _run([python, "-c", "import sysconfig; print(sysconfig.get_path('stdlib'))"])
    stdlib_dir = stdlib.stdout.strip()
    return Path(python) if (Path(stdlib_dir) / "EXTERNALLY-MANAGED").exists() else None


@pytest.fixture(scope="module")
def bare_python() -> Path:
    python = _externally_managed_python()
    if python is None:
        skip_unless_required(
            f"no externally managed python3 on {BARE_PATH} to stand for a bare machine "
            "(Debian, where CI runs, has one)"
        )
    return python


def test_bare_machine_python_refuses_system_installs(bare_python: Path) -> None:
    result = _run(
        [str(bare_python), "-m", "pip", "install", "--dry-run", "uv"],
        env=_bare_env(Path("/nonexistent")),
    )

    assert result.returncode != 0
    assert "externally-managed-environment" in result.stderr


@pytest.mark.parametrize("target", TARGETS_THAT_RUN_UV)
def test_make_target_bootstraps_uv_first_when_none_is_on_path(target: str, tmp_path: Path) -> None:
    result = _run(
        ["/usr/bin/make", "-n", "--no-print-directory", "-C", str(ROOT), target],
        env=_bare_env(tmp_path / "tools"),
    )

    commands = [line for line in result.stdout.splitlines() if line.strip()]
    assert "deploy/bootstrap-uv.sh" in commands[0], commands[:3]
    assert f"{tmp_path}/tools/bin/uv" in result.stdout


def test_make_uv_installs_the_pinned_uv_when_pip_refuses_system_installs(
    bare_python: Path, tmp_path: Path
) -> None:
    tools = tmp_path / "tools"

    result = _run(
        ["/usr/bin/make", "-s", "--no-print-directory", "-C", str(ROOT), "uv"],
        env=_bare_env(tools),
        timeout=600,
    )

    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stdout.strip().splitlines()[-1] == f"{tools}/bin/uv"
    version = _run([str(tools / "bin" / "uv"), "--version"]).stdout
    assert version.split()[1] == _pinned_uv_version()
    untouched = _run([str(bare_python), "-c", "import uv"])
    assert "No module named 'uv'" in untouched.stderr  # nothing went into the system Python
