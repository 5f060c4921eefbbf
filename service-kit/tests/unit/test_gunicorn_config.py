"""The gunicorn settings read from the environment."""

import importlib
from pathlib import Path
from types import ModuleType

import pytest

import service_kit.gunicorn_config


def load_config(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, **env: str) -> ModuleType:
    """The config module as gunicorn would load it with `env` set."""
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(tmp_path))
    monkeypatch.delenv("GUNICORN_REUSE_PORT", raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    return importlib.reload(service_kit.gunicorn_config)


def test_each_worker_listens_on_its_own_socket_by_default(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    assert load_config(monkeypatch, tmp_path).reuse_port is True


@pytest.mark.parametrize(
    ("value", "expected"), [("false", False), ("0", False), ("off", False), ("TRUE", True)]
)
def test_reuse_port_follows_the_variable(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, value: str, expected: bool
) -> None:
    assert load_config(monkeypatch, tmp_path, GUNICORN_REUSE_PORT=value).reuse_port is expected


def test_a_reuse_port_value_that_is_neither_true_nor_false_is_refused(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    with pytest.raises(ValueError, match="GUNICORN_REUSE_PORT"):
        load_config(monkeypatch, tmp_path, GUNICORN_REUSE_PORT="maybe")
