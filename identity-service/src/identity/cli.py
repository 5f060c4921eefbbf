"""`flask --app identity ...`: migrations, seed data, users, signing keys, token pruning,
the integration-event relay."""

import json
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import ParamSpec

import click
from flask import Flask
from flask.cli import AppGroup, with_appcontext
from pydantic import ValidationError

from identity import wiring
from identity.errors import EmailTakenError
from identity.mail.metrics import MailMetrics
from identity.models import AuditEventType, Base, Role
from identity.schemas.user_schemas import UserCreate
from identity.services.audit_service import AuditListParams
from service_kit.background import run_until_signalled
from service_kit.db import Database
from service_kit.errors import DomainError
from service_kit.events.broker import describe
from service_kit.events.relay_metrics import RelayMetrics
from service_kit.http.migrations import init_migrations
from service_kit.progress import progress

P = ParamSpec("P")

MIGRATIONS_DIR = Path(__file__).resolve().parents[2] / "migrations"

SEED_USERS = (
    ("admin@example.com", "Admin", Role.ADMIN),
    ("user@example.com", "Example User", Role.USER),
)
SEED_PASSWORD = "change-me-now"  # noqa: S105 - documented development seed password


def _user_create(email: str, password: str, full_name: str | None) -> UserCreate:
    try:
        return UserCreate(email=email, password=password, full_name=full_name)
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
        raise click.ClickException(problems) from None


@click.command("create-user")
@click.option("--email", prompt=True)
@click.option("--password", prompt=True, hide_input=True, confirmation_prompt=True)
@click.option("--full-name", default=None)
@click.option("--role", type=click.Choice([role.value for role in Role]), default=Role.USER.value)
@click.option(
    "--unverified",
    is_flag=True,
    help="Leave the address unverified and queue a verification mail (default: the operator "
    "vouches for the address).",
)
@with_appcontext
def create_user_command(
    email: str, password: str, full_name: str | None, role: str, *, unverified: bool
) -> None:
    """Create a user (prompts for what is not given); its address counts as verified."""
    try:
        user = wiring.user_service().register_user(
            _user_create(email, password, full_name), role=Role(role), email_verified=not unverified
        )
    except DomainError as exc:
        raise click.ClickException(exc.detail) from None
    click.echo(f"created {role} {user.public_id}")


@click.command("seed")
@with_appcontext
def seed_command() -> None:
    """Create the development users if they do not exist (idempotent); never in production."""
    if wiring.settings().env == "production":
        # The seed accounts' password is published in the README: in production they would be
        # an admin account anyone can log in to.
        raise click.ClickException(
            "seed creates development accounts with a published password and refuses to run "
            "with IDENTITY_ENV=production; create real accounts with create-user"
        )
    for email, full_name, role in SEED_USERS:
        data = _user_create(email, SEED_PASSWORD, full_name)
        try:
            user = wiring.user_service().register_user(data, role=role, email_verified=True)
        except EmailTakenError:
            click.echo(f"exists   {email}")
        else:
            click.echo(f"created  {email} ({role.value}) {user.public_id}")


@click.command("list-users")
@click.option("--limit", default=100, show_default=True, type=click.IntRange(1, 100))
@click.option("--search", default=None)
@with_appcontext
def list_users_command(limit: int, search: str | None) -> None:
    """List users, oldest first."""
    page = wiring.user_service().list_users(limit=limit, after=None, search=search)
    for user in page.items:
        state = "active" if user.is_active else "inactive"
        click.echo(f"{user.public_id}  {user.role.value:5}  {state:8}  {user.email}")
    if page.next_position is not None:
        click.echo("... more users; narrow with --search")


keys_cli = AppGroup("keys", help="Signing keys: list, rotate, retire, reencrypt.")


@keys_cli.command("list")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def keys_list(as_json: bool) -> None:  # noqa: FBT001 - click flag
    """Every signing key with its state."""
    keys = wiring.key_service().list_signing_keys()
    if as_json:
        click.echo(
            json.dumps(
                [
                    {
                        "kid": key.kid,
                        "state": key.state.value,
                        "created_at": key.created_at.isoformat(),
                    }
                    for key in keys
                ]
            )
        )
        return
    for key in keys:
        click.echo(f"{key.kid}  {key.state.value:8}  {key.algorithm}  {key.created_at.isoformat()}")


@keys_cli.command("rotate")
def keys_rotate() -> None:
    """Create a new active key; the current one keeps verifying as 'retiring'."""
    try:
        key = wiring.key_service().rotate_signing_key()
    except DomainError as exc:  # e.g. a rotation running at the same moment won
        raise click.ClickException(exc.detail) from None
    click.echo(f"active {key.kid}")


@keys_cli.command("retire")
@click.argument("kid", required=False)
@click.option("--all-retiring", is_flag=True, help="Retire every retiring key.")
def keys_retire(kid: str | None, all_retiring: bool) -> None:  # noqa: FBT001 - click flag
    """Unpublish a retiring key: tokens it signed stop verifying.

    Kids are base64url thumbprints and may start with "-": write `keys retire -- KID`.
    """
    if all_retiring:
        retired = wiring.key_service().retire_all_retiring_keys()
        if not retired:
            click.echo("no retiring keys")
    elif kid:
        try:
            retired = [wiring.key_service().retire_signing_key(kid)]
        except DomainError as exc:
            raise click.ClickException(exc.detail) from None
    else:
        raise click.UsageError("give a KID or --all-retiring")
    for key in retired:
        click.echo(f"retired {key.kid}")


@keys_cli.command("reencrypt")
def keys_reencrypt() -> None:
    """Re-encrypt every private key with the first IDENTITY_KEY_ENCRYPTION_KEYS key.

    Afterwards the other keys in that setting can be removed.
    """
    try:
        count = wiring.key_service().reencrypt_private_keys()
    except DomainError as exc:
        raise click.ClickException(exc.detail) from None
    click.echo(f"re-encrypted {count} signing keys")


audit_cli = AppGroup("audit", help="The audit log: list, prune.")


@audit_cli.command("list")
@click.option("--type", "type_", type=click.Choice([t.value for t in AuditEventType]))
@click.option("--user", type=click.UUID, default=None, help="Events about this user.")
@click.option("--limit", type=click.IntRange(1, 1000), default=50, show_default=True)
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output, one per line.")
def audit_list(
    type_: str | None,
    user: uuid.UUID | None,
    limit: int,
    as_json: bool,  # noqa: FBT001 - click flag
) -> None:
    """The newest audit events."""
    page = wiring.audit_service().list_events(
        AuditListParams(type=AuditEventType(type_) if type_ else None, subject_id=user),
        limit=limit,
        after=None,
    )
    for event in page.items:
        if as_json:
            click.echo(
                json.dumps(
                    {
                        "id": str(event.public_id),
                        "type": event.type.value,
                        "occurred_at": event.occurred_at.isoformat(),
                        "actor_id": str(event.actor_id) if event.actor_id else None,
                        "subject_id": str(event.subject_id) if event.subject_id else None,
                        "ip": event.ip,
                        "user_agent": event.user_agent,
                        "request_id": event.request_id,
                        "detail": event.detail,
                    }
                )
            )
        else:
            click.echo(
                f"{event.occurred_at.isoformat()}  {event.type.value:20}  "
                f"actor={event.actor_id or '-'}  subject={event.subject_id or '-'}  "
                f"ip={event.ip or '-'}  {json.dumps(event.detail)}"
            )


@audit_cli.command("prune")
def audit_prune() -> None:
    """Delete audit events older than IDENTITY_AUDIT_RETENTION_DAYS."""
    click.echo(f"deleted {wiring.audit_service().prune()} audit events")


tokens_cli = AppGroup("tokens", help="Refresh-token housekeeping.")


@tokens_cli.command("prune")
def tokens_prune() -> None:
    """Delete expired refresh tokens, dead families and expired verification, reset and
    two-factor login tokens; forget stale grace-window secrets and idle throttles (a bar of
    its steps on a terminal)."""
    service = wiring.auth_service()
    with progress("pruning tokens", total=service.PRUNE_STEPS, unit=" steps") as advance:
        result = service.prune_tokens(on_progress=advance)
    click.echo(
        f"deleted {result.tokens_deleted} tokens, {result.families_deleted} families; "
        f"cleared {result.grace_secrets_cleared} grace-window secrets; "
        f"forgot {result.throttles_forgotten} throttles; "
        f"deleted {result.account_tokens_deleted} expired verification, reset and "
        "two-factor login tokens"
    )


events_cli = AppGroup("events", help="Integration events: the outbox relay and its pruning.")


def metrics_options(command: Callable[P, None]) -> Callable[P, None]:
    """`--metrics-port` and `--metrics-host` of a background process's command."""
    port = click.option(
        "--metrics-port",
        type=click.IntRange(0, 65535),
        default=None,
        help="Serve Prometheus metrics on this port (0: any free port). Default: no metrics.",
    )
    host = click.option(
        "--metrics-host",
        default="127.0.0.1",
        show_default=True,
        help="Address the metrics server listens on (0.0.0.0 in a container).",
    )
    return port(host(command))


@events_cli.command("relay")
@metrics_options
def events_relay(metrics_port: int | None, metrics_host: str) -> None:
    """Publish the outbox to the broker until SIGTERM or SIGINT (the batch in progress is
    finished first). Several relays may run at once."""
    metrics = RelayMetrics()
    broker = describe(wiring.settings().events_broker_url.get_secret_value())
    click.echo(f"relaying events to {broker}", err=True)
    run_until_signalled(
        wiring.outbox_relay(observer=metrics).run,
        metrics.registry,
        metrics_port=metrics_port,
        metrics_host=metrics_host,
    )


mail_cli = AppGroup("mail", help="The mail outbox: the worker that sends it, and what failed.")


@mail_cli.command("run")
@metrics_options
def mail_run(metrics_port: int | None, metrics_host: str) -> None:
    """Send queued mails until SIGTERM or SIGINT (the mail in progress is finished first).
    Several workers may run at once."""
    settings = wiring.settings()
    where = "the console" if settings.mail_backend == "console" else settings.smtp_host
    click.echo(f"sending mail through {where}", err=True)
    metrics = MailMetrics()
    run_until_signalled(
        wiring.mail_worker(observer=metrics).run,
        metrics.registry,
        metrics_port=metrics_port,
        metrics_host=metrics_host,
    )


@mail_cli.command("list")
@click.option("--failed", is_flag=True, help="Only mails given up on.")
@click.option("--limit", type=click.IntRange(1, 1000), default=20, show_default=True)
def mail_list(*, failed: bool, limit: int) -> None:
    """Queued and failed mails, newest first (kind, address, attempts, last error)."""
    for mail in wiring.mail_sender().list_recent(limit=limit, failed_only=failed):
        state = (
            "failed"
            if mail.failed_at is not None
            else f"due {mail.next_attempt_at:%Y-%m-%dT%H:%M:%SZ}"
        )
        click.echo(
            f"{mail.id}\t{mail.kind.value}\t{mail.recipient}\t{state}\t"
            f"attempts={mail.attempts}\t{mail.last_error or ''}"
        )


@events_cli.command("prune")
def events_prune() -> None:
    """Delete sent events older than IDENTITY_EVENTS_RETENTION_SECONDS (pending ones stay)."""
    deleted = wiring.outbox_service().prune_sent_events(
        retention_seconds=wiring.settings().events_retention_seconds
    )
    click.echo(f"deleted {deleted} sent events")


def init_cli(app: Flask, database: Database) -> None:
    init_migrations(app, database, Base.metadata, MIGRATIONS_DIR)
    for command in (
        create_user_command,
        seed_command,
        list_users_command,
        keys_cli,
        tokens_cli,
        events_cli,
        audit_cli,
        mail_cli,
    ):
        app.cli.add_command(command)
