"""identity's Flask CLI through `app.test_cli_runner()`: users, seed data, signing keys, pruning."""

import json
from collections.abc import Callable
from typing import Any

import jwt
import pytest
from click.testing import Result
from cryptography.fernet import Fernet
from flask.testing import FlaskClient, FlaskCliRunner
from flask_openapi3.openapi import OpenAPI
from pydantic import SecretStr
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from identity import create_app
from identity.cli import SEED_USERS
from identity.config import IdentitySettings
from identity.models import KeyState, Role, SigningKey, User
from identity.security.hashing import Argon2idHasher
from identity.security.keys import SecretBox
from service_kit.db import Database
from service_kit_testing import FakeClock
from tests.factories import make_user
from tests.integration.conftest import AuthActions

AppWithKeys = Callable[..., OpenAPI]


@pytest.fixture
def runner(app: OpenAPI) -> FlaskCliRunner:
    return app.test_cli_runner()


def invoke(runner: FlaskCliRunner, *args: str) -> Result:
    return runner.invoke(args=list(args))


def find_user(session: Session, email: str) -> User | None:
    session.expire_all()
    return session.scalars(select(User).where(User.email == email)).one_or_none()


def key_states(session: Session) -> dict[str, KeyState]:
    session.expire_all()
    return {key.kid: key.state for key in session.scalars(select(SigningKey))}


def active_kid(runner: FlaskCliRunner) -> str:
    """Rotate once so a known key is active, and return its kid."""
    output = invoke(runner, "keys", "rotate").output
    return output.split()[-1]


CREATE_ADMIN = (
    "create-user",
    "--email",
    "Root@Example.com",
    "--password",
    "a long admin passphrase",
    "--role",
    "admin",
    "--full-name",
    "Root Admin",
)


def test_create_user_creates_an_admin_when_role_admin_is_given(
    runner: FlaskCliRunner, session: Session
) -> None:
    result = invoke(runner, *CREATE_ADMIN)

    user = find_user(session, "root@example.com")
    assert result.exit_code == 0, result.output
    assert user is not None
    assert (user.role, user.full_name) == (Role.ADMIN, "Root Admin")


def test_create_user_prints_public_id_when_user_is_created(
    runner: FlaskCliRunner, session: Session
) -> None:
    result = invoke(runner, *CREATE_ADMIN)

    user = find_user(session, "root@example.com")
    assert user is not None
    assert result.output.strip() == f"created admin {user.public_id}"


def test_create_user_fails_with_a_message_when_email_is_taken(
    runner: FlaskCliRunner, session: Session
) -> None:
    make_user(session, email="root@example.com")

    result = invoke(runner, *CREATE_ADMIN)

    assert result.exit_code != 0
    assert "already exists" in result.output


@pytest.mark.parametrize(
    ("option", "value", "message"),
    [("--email", "not-an-email", "email"), ("--password", "short", "password")],
)
def test_create_user_fails_with_a_message_when_input_is_invalid(
    runner: FlaskCliRunner, option: str, value: str, message: str
) -> None:
    args = list(CREATE_ADMIN)
    args[args.index(option) + 1] = value

    result = invoke(runner, *args)

    assert result.exit_code != 0
    assert message in result.output


def test_seed_creates_development_users_when_database_is_empty(
    runner: FlaskCliRunner, session: Session
) -> None:
    result = invoke(runner, "seed")

    assert result.exit_code == 0, result.output
    assert [find_user(session, email) is not None for email, _, _ in SEED_USERS] == [True, True]


def test_seed_creates_nothing_when_run_twice(runner: FlaskCliRunner, session: Session) -> None:
    invoke(runner, "seed")

    result = invoke(runner, "seed")

    emails = [email for email, _, _ in SEED_USERS]
    count = session.scalar(select(func.count()).select_from(User).where(User.email.in_(emails)))
    assert result.exit_code == 0, result.output
    assert count == len(SEED_USERS)
    assert result.output.count("exists") == len(SEED_USERS)


@pytest.fixture
def production_runner(
    settings: IdentitySettings,
    rollback_database: Database,
    clock: FakeClock,
    hasher: Argon2idHasher,
) -> FlaskCliRunner:
    """The CLI of an app whose settings pass the production guard, on the test's database."""
    production = IdentitySettings(
        _env_file=None,  # type: ignore[call-arg]
        **{
            **settings.model_dump(),
            "env": "production",
            "secret_key": SecretStr(Fernet.generate_key().decode()),
            "key_encryption_keys": SecretStr(Fernet.generate_key().decode()),
            "events_broker_url": SecretStr("amqp://identity:Zq81xT4@mq.internal:5672/"),
            "mail_backend": "smtp",
        },
    )
    app = create_app(production, clock=clock, hasher=hasher, database=rollback_database)
    return app.test_cli_runner()


def test_seed_fails_with_a_message_when_env_is_production(
    production_runner: FlaskCliRunner,
) -> None:
    result = invoke(production_runner, "seed")

    assert result.exit_code != 0
    assert "refuses to run with IDENTITY_ENV=production" in result.output


def test_seed_creates_no_user_when_env_is_production(
    production_runner: FlaskCliRunner, session: Session
) -> None:
    invoke(production_runner, "seed")

    assert [find_user(session, email) for email, _, _ in SEED_USERS] == [None, None]


def test_list_users_prints_every_user_when_no_search_is_given(
    runner: FlaskCliRunner, session: Session
) -> None:
    users = [make_user(session), make_user(session, is_active=False)]

    result = invoke(runner, "list-users")

    assert result.exit_code == 0, result.output
    assert [user.email in result.output for user in users] == [True, True]


def test_list_users_prints_only_matches_when_search_is_given(
    runner: FlaskCliRunner, session: Session
) -> None:
    wanted = make_user(session, email="wanted-9f2@example.com")
    other = make_user(session)

    result = invoke(runner, "list-users", "--search", "wanted-9f2")

    assert (wanted.email in result.output, other.email in result.output) == (True, False)


def test_keys_rotate_makes_new_key_active_and_old_retiring_when_a_key_exists(
    runner: FlaskCliRunner, session: Session
) -> None:
    old = active_kid(runner)

    result = invoke(runner, "keys", "rotate")

    new = result.output.split()[-1]
    assert result.exit_code == 0, result.output
    assert key_states(session) == {old: KeyState.RETIRING, new: KeyState.ACTIVE}


def test_keys_list_prints_every_key_with_state_when_keys_exist(runner: FlaskCliRunner) -> None:
    old = active_kid(runner)
    new = active_kid(runner)

    result = invoke(runner, "keys", "list")

    lines = {line.split()[0]: line.split()[1] for line in result.output.splitlines()}
    assert lines == {old: "retiring", new: "active"}


def test_keys_list_prints_json_when_asked(runner: FlaskCliRunner) -> None:
    kid = active_kid(runner)

    result = invoke(runner, "keys", "list", "--json")

    assert [(key["kid"], key["state"]) for key in json.loads(result.output)] == [(kid, "active")]


def test_keys_retire_retires_key_when_key_is_retiring(
    runner: FlaskCliRunner, session: Session
) -> None:
    old = active_kid(runner)
    active_kid(runner)

    result = invoke(runner, "keys", "retire", old)

    assert result.exit_code == 0, result.output
    assert key_states(session)[old] is KeyState.RETIRED


def test_keys_retire_fails_when_key_is_active(runner: FlaskCliRunner, session: Session) -> None:
    kid = active_kid(runner)

    result = invoke(runner, "keys", "retire", kid)

    assert result.exit_code != 0
    assert "active" in result.output
    assert key_states(session)[kid] is KeyState.ACTIVE


def test_keys_retire_fails_with_a_message_when_kid_is_unknown(runner: FlaskCliRunner) -> None:
    result = invoke(runner, "keys", "retire", "no-such-kid")

    assert result.exit_code != 0
    assert "No signing key" in result.output


def _token_and_kid(auth: AuthActions) -> tuple[dict[str, str], str]:
    headers = auth.new_user_headers()
    token = headers["Authorization"].removeprefix("Bearer ")
    return headers, str(jwt.get_unverified_header(token)["kid"])


def test_get_me_returns_200_when_token_was_signed_before_keys_rotate(
    runner: FlaskCliRunner, client: FlaskClient, auth: AuthActions
) -> None:
    headers, _ = _token_and_kid(auth)
    invoke(runner, "keys", "rotate")

    response = client.get("/api/v1/users/me", headers=headers)

    assert response.status_code == 200


def test_get_me_returns_401_when_token_signing_key_was_retired(
    runner: FlaskCliRunner, client: FlaskClient, auth: AuthActions
) -> None:
    headers, kid = _token_and_kid(auth)
    rotated = invoke(runner, "keys", "rotate")
    retired = invoke(runner, "keys", "retire", kid)

    response = client.get("/api/v1/users/me", headers=headers)

    assert (rotated.exit_code, retired.exit_code) == (0, 0), rotated.output + retired.output
    body: dict[str, Any] = response.get_json(force=True)
    assert (response.status_code, body["code"]) == (401, "invalid_token"), (kid, body)


def test_jwks_omits_key_when_keys_retire_retired_it(
    runner: FlaskCliRunner, client: FlaskClient, auth: AuthActions
) -> None:
    _, kid = _token_and_kid(auth)
    invoke(runner, "keys", "rotate")
    invoke(runner, "keys", "retire", kid)

    response = client.get("/.well-known/jwks.json")

    assert kid not in [key["kid"] for key in response.get_json(force=True)["keys"]]


def test_tokens_prune_prints_counts_when_tokens_expired(
    runner: FlaskCliRunner,
    auth: AuthActions,
    session: Session,
    clock: FakeClock,
    settings: IdentitySettings,
) -> None:
    auth.login(make_user(session).email)
    clock.advance(seconds=settings.refresh_token_ttl_seconds + 1)

    result = invoke(runner, "tokens", "prune")

    assert result.exit_code == 0, result.output
    summary, counts = result.output.strip().splitlines()
    assert summary.startswith("pruning tokens: 5 steps in ")  # not a terminal: no bar
    assert counts == (
        "deleted 1 tokens, 1 families; cleared 0 grace-window secrets; forgot 0 throttles; "
        "deleted 0 expired verification, reset and two-factor login tokens"
    )


# -- retiring every retiring key, re-encrypting private keys -----------------------------------


def test_keys_retire_all_retiring_retires_every_retiring_key_and_keeps_the_active_one(
    runner: FlaskCliRunner, session: Session
) -> None:
    first, second, active = active_kid(runner), active_kid(runner), active_kid(runner)

    result = invoke(runner, "keys", "retire", "--all-retiring")

    assert result.exit_code == 0, result.output
    assert sorted(result.output.split()) == sorted(["retired", first, "retired", second])
    assert key_states(session) == {
        first: KeyState.RETIRED,
        second: KeyState.RETIRED,
        active: KeyState.ACTIVE,
    }


def test_keys_retire_all_retiring_says_so_when_no_key_is_retiring(runner: FlaskCliRunner) -> None:
    active_kid(runner)

    result = invoke(runner, "keys", "retire", "--all-retiring")

    assert result.exit_code == 0, result.output
    assert result.output.strip() == "no retiring keys"


@pytest.fixture
def app_with_keys(
    settings: IdentitySettings,
    rollback_database: Database,
    clock: FakeClock,
    hasher: Argon2idHasher,
) -> AppWithKeys:
    """An app on the test's database whose IDENTITY_KEY_ENCRYPTION_KEYS are `keys`, in order."""

    def build(*keys: str) -> OpenAPI:
        configured = settings.model_copy(update={"key_encryption_keys": SecretStr(",".join(keys))})
        return create_app(configured, clock=clock, hasher=hasher, database=rollback_database)

    return build


def ciphertexts(session: Session) -> dict[str, str]:
    session.expire_all()
    return {key.kid: key.private_key_ciphertext for key in session.scalars(select(SigningKey))}


@pytest.fixture
def old_fernet_key() -> str:
    return Fernet.generate_key().decode()


@pytest.fixture
def new_fernet_key() -> str:
    return Fernet.generate_key().decode()


@pytest.fixture
def keys_under_old_fernet_key(app_with_keys: AppWithKeys, old_fernet_key: str) -> list[str]:
    """An active, a retiring and a retired key, all encrypted with the old Fernet key."""
    runner = app_with_keys(old_fernet_key).test_cli_runner()
    retired, retiring, active = active_kid(runner), active_kid(runner), active_kid(runner)
    invoke(runner, "keys", "retire", retired)
    return [retired, retiring, active]


def test_keys_reencrypt_makes_every_private_key_decrypt_with_only_the_new_fernet_key(
    app_with_keys: AppWithKeys,
    session: Session,
    keys_under_old_fernet_key: list[str],
    old_fernet_key: str,
    new_fernet_key: str,
) -> None:
    runner = app_with_keys(new_fernet_key, old_fernet_key).test_cli_runner()

    result = invoke(runner, "keys", "reencrypt")

    only_new = SecretBox([new_fernet_key])
    assert result.exit_code == 0, result.output
    assert result.output.strip() == "re-encrypted 3 signing keys"
    stored = ciphertexts(session)
    assert sorted(stored) == sorted(keys_under_old_fernet_key)
    assert all(only_new.decrypt(ciphertext) is not None for ciphertext in stored.values())


def test_login_signs_with_the_active_key_when_only_the_new_fernet_key_remains_after_reencrypt(
    app_with_keys: AppWithKeys,
    session: Session,
    keys_under_old_fernet_key: list[str],
    old_fernet_key: str,
    new_fernet_key: str,
) -> None:
    invoke(app_with_keys(new_fernet_key, old_fernet_key).test_cli_runner(), "keys", "reencrypt")
    auth = AuthActions(app_with_keys(new_fernet_key).test_client(), session)

    headers = auth.new_user_headers()
    response = auth.client.get("/api/v1/users/me", headers=headers)

    token = headers["Authorization"].removeprefix("Bearer ")
    assert jwt.get_unverified_header(token)["kid"] == keys_under_old_fernet_key[-1]
    assert response.status_code == 200


def test_keys_reencrypt_changes_nothing_when_a_key_was_encrypted_with_an_unknown_fernet_key(
    app_with_keys: AppWithKeys,
    session: Session,
    keys_under_old_fernet_key: list[str],
    new_fernet_key: str,
) -> None:
    before = ciphertexts(session)
    runner = app_with_keys(new_fernet_key).test_cli_runner()

    result = invoke(runner, "keys", "reencrypt")

    assert result.exit_code != 0
    assert "none of the configured key-encryption keys" in result.output
    assert ciphertexts(session) == before


def test_keys_retire_accepts_a_kid_that_starts_with_a_dash_after_double_dash(
    runner: FlaskCliRunner, session: Session
) -> None:
    old = active_kid(runner)
    active_kid(runner)
    key = session.scalars(select(SigningKey).where(SigningKey.kid == old)).one()
    key.kid = "-" + old[1:]  # thumbprints are base64url: about 1 in 64 starts with "-"
    session.flush()

    result = invoke(runner, "keys", "retire", "--", key.kid)

    assert result.exit_code == 0, result.output
    assert key_states(session)[key.kid] is KeyState.RETIRED
