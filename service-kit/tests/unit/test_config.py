"""The production guard of ServiceSettings: unsafe settings refuse to load."""

from typing import Any

import pytest
from pydantic import SecretStr, ValidationError

from service_kit.config import ServiceSettings

POSTGRES_URL = "postgresql+psycopg://identity@db:5432/identity"
STRONG_SECRET = "k3Jx9-q2VbT7wLmN4pRs8uYz0aCdEfGh"


def production_settings(**overrides: Any) -> ServiceSettings:
    """Settings that pass the guard, with `overrides` applied; no .env file is read."""
    values: dict[str, Any] = {
        "env": "production",
        "debug": False,
        "database_url": POSTGRES_URL,
        "secret_key": SecretStr(STRONG_SECRET),
        "cors_origins": ["https://app.example.com"],
        "cors_allow_credentials": True,
        "events_broker_url": SecretStr("amqp://identity:Zq8v2LwT0xNfR4kJ@rabbitmq:5672/"),
    }
    values.update(overrides)
    return ServiceSettings(_env_file=None, **values)


def test_service_settings_load_when_production_config_is_proper() -> None:
    settings = production_settings()

    assert settings.env == "production"


@pytest.mark.parametrize(
    "secret",
    [
        pytest.param("", id="empty"),
        pytest.param("   ", id="blank"),
        pytest.param("dev-insecure-secret-key", id="dev-placeholder"),
        pytest.param("please-change-me", id="change-me"),
    ],
)
def test_service_settings_refuse_to_load_when_production_secret_is_placeholder(
    secret: str,
) -> None:
    with pytest.raises(ValidationError, match="secret_key is missing or a development placeholder"):
        production_settings(secret_key=SecretStr(secret))


def test_service_settings_refuse_to_load_when_production_secret_is_left_at_default() -> None:
    with pytest.raises(ValidationError, match="secret_key"):
        ServiceSettings(_env_file=None, env="production", database_url=POSTGRES_URL)


def test_service_settings_refuse_to_load_when_production_has_debug_on() -> None:
    with pytest.raises(ValidationError, match="debug must be off"):
        production_settings(debug=True)


def test_service_settings_refuse_to_load_when_production_cors_star_allows_credentials() -> None:
    with pytest.raises(ValidationError, match="CORS"):
        production_settings(cors_origins=["*"], cors_allow_credentials=True)


def test_service_settings_load_when_production_cors_wildcard_has_no_credentials() -> None:
    settings = production_settings(cors_origins=["*"], cors_allow_credentials=False)

    assert settings.cors_origins == ["*"]


@pytest.mark.parametrize("url", ["sqlite:///var/service.db", "sqlite:///:memory:"])
def test_service_settings_refuse_to_load_when_production_database_is_sqlite(url: str) -> None:
    with pytest.raises(ValidationError, match="PostgreSQL"):
        production_settings(database_url=url)


def test_service_settings_list_every_problem_when_production_has_several() -> None:
    with pytest.raises(ValidationError) as excinfo:
        production_settings(debug=True, database_url="sqlite:///x.db")

    assert "debug must be off" in str(excinfo.value)
    assert "PostgreSQL" in str(excinfo.value)


@pytest.mark.parametrize("env", ["development", "test"])
def test_service_settings_load_dev_defaults_when_env_is_not_production(env: str) -> None:
    settings = ServiceSettings(_env_file=None, env=env, debug=True)

    assert settings.secret_key.get_secret_value().startswith("dev-insecure-")


class _SettingsWithApiKey(ServiceSettings):
    api_key: SecretStr = SecretStr("")


def test_service_settings_refuse_to_load_when_production_subclass_secret_is_empty() -> None:
    with pytest.raises(ValidationError, match="api_key is missing"):
        _SettingsWithApiKey(
            _env_file=None,
            env="production",
            database_url=POSTGRES_URL,
            secret_key=SecretStr(STRONG_SECRET),
        )


@pytest.mark.parametrize(
    "password",
    [
        pytest.param("dev-insecure-identity-db-password", id="compose-default"),
        pytest.param("change-me-dev", id="k8s-dev-overlay"),
    ],
)
def test_service_settings_refuse_to_load_when_production_database_password_is_placeholder(
    password: str,
) -> None:
    url = f"postgresql+psycopg://identity:{password}@db:5432/identity"

    with pytest.raises(ValidationError, match="database_url has a development placeholder"):
        production_settings(database_url=url)


def test_service_settings_keep_the_database_password_out_of_the_error_when_refusing() -> None:
    password = "Zq8v2LwT0xNfR4kJ"

    with pytest.raises(ValidationError) as excinfo:
        ServiceSettings(
            _env_file=None,
            env="production",
            debug=True,
            database_url=f"postgresql+psycopg://identity:{password}@db",
        )

    assert "debug must be off" in str(excinfo.value)
    assert password not in str(excinfo.value)


@pytest.mark.parametrize(
    "url",
    [
        pytest.param("postgresql+psycopg://identity:Zq8v2LwT0xNfR4kJ@db:5432/identity", id="real"),
        pytest.param(POSTGRES_URL, id="no-password"),
    ],
)
def test_service_settings_load_when_production_database_password_is_real_or_absent(
    url: str,
) -> None:
    settings = production_settings(database_url=url)

    assert settings.database_url == url


def test_service_settings_refuse_to_load_when_production_database_url_does_not_parse() -> None:
    with pytest.raises(ValidationError, match="database_url is not a valid database URL"):
        production_settings(database_url="not a url")


@pytest.mark.parametrize(
    ("url", "problem"),
    [
        pytest.param("sqla+sqlite:///var/events.db", "needs a RabbitMQ", id="embedded"),
        pytest.param(
            "amqp://identity:dev-insecure-broker@rabbitmq:5672/", "placeholder", id="placeholder"
        ),
    ],
)
def test_service_settings_refuse_to_load_when_production_events_broker_is_unfit(
    url: str, problem: str
) -> None:
    with pytest.raises(ValidationError, match=problem):
        production_settings(events_broker_url=SecretStr(url))


def test_service_settings_use_the_embedded_events_transport_when_not_in_production() -> None:
    settings = ServiceSettings(_env_file=None)  # type: ignore[call-arg]

    assert settings.events_broker_url.get_secret_value().startswith("sqla+sqlite:///")
