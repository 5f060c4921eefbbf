"""The mail worker (`flask --app identity mail run`): sends the outbox's mails, one per
transaction.

For each due mail: claim it (`FOR UPDATE SKIP LOCKED`: workers running at once send different
mails), look the account up as it is now, make the single-use token (a reset voids the older
ones), render the mail, hand it to the backend, and delete the row; all in one transaction, so
the token exists only if the mail went out, and no usable token ever rests in the outbox. A
mail for an address without a suitable account (unknown, disabled, already verified) is
dropped unsent.

A failed send is retried later (the wait doubles from `retry_seconds`, up to an hour); after
`max_attempts` the row is kept with `failed_at` set. Delivery is at least once: a worker that
dies after the mail server accepted a mail and before its commit leaves the row to be sent
again, with a new link (the first one never worked: its token was not committed).
"""

import logging
import threading
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Protocol
from urllib.parse import urlencode

from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from identity.mail.backends import MailBackend, MailDeliveryError
from identity.mail.messages import MailComposer, MailContent
from identity.models import AccountTokenPurpose, MailKind, OutboundMail, User
from identity.repositories.account_token_repository import AccountTokenRepository
from identity.repositories.mail_repository import MailOutboxRepository
from identity.repositories.user_repository import UserRepository
from identity.security.tokens import hash_account_token, new_account_token
from service_kit.clock import SYSTEM_CLOCK, Clock
from service_kit.db import transaction

logger = logging.getLogger(__name__)

MAX_RETRY_WAIT = timedelta(hours=1)


@dataclass(frozen=True, slots=True)
class MailPolicy:
    public_url: str
    """Links point to `{public_url}/verify-email?token=...` and `/reset-password?token=...`."""
    verification_ttl_seconds: int
    reset_ttl_seconds: int
    max_attempts: int
    retry_seconds: int


_PAGES = {
    MailKind.VERIFY_EMAIL: ("verify-email", AccountTokenPurpose.VERIFY_EMAIL),
    MailKind.PASSWORD_RESET: ("reset-password", AccountTokenPurpose.RESET_PASSWORD),
}


class Outcome(StrEnum):
    SENT = "sent"
    DROPPED = "dropped"
    RETRYING = "retrying"
    FAILED = "failed"


class MailSender:
    """Sends one due mail per call, on one session."""

    def __init__(
        self,
        session: Session,
        *,
        backend: MailBackend,
        composer: MailComposer,
        policy: MailPolicy,
        users: UserRepository | None = None,
        tokens: AccountTokenRepository | None = None,
        mails: MailOutboxRepository | None = None,
        clock: Clock = SYSTEM_CLOCK,
    ) -> None:
        self._session = session
        self._backend = backend
        self._composer = composer
        self._policy = policy
        self._users = users or UserRepository(session)
        self._tokens = tokens or AccountTokenRepository(session)
        self._mails = mails or MailOutboxRepository(session)
        self._clock = clock

    def send_next(self) -> Outcome | None:
        """Send the mail due first, if any; what became of it (None: nothing was due)."""
        now = self._clock.now()
        with transaction(self._session):
            mail = self._mails.claim_due(now=now)
            if mail is None:
                return None
            about = {"kind": mail.kind.value, "mail_id": mail.id}  # the row is gone after
            try:
                with self._session.begin_nested():  # undone if the send fails
                    sent = self._deliver(mail, now=now)
            except MailDeliveryError as exc:
                return self._failed(mail, str(exc), now=now)
            self._mails.remove(mail.id)
        outcome = Outcome.SENT if sent else Outcome.DROPPED
        logger.info("mail handled", extra=about | {"outcome": outcome.value})
        return outcome

    def count_due(self) -> int:
        return self._mails.count_due(now=self._clock.now())

    def list_recent(self, *, limit: int, failed_only: bool) -> Sequence[OutboundMail]:
        """Mails still queued or given up on, newest first."""
        return self._mails.list_recent(limit=limit, failed_only=failed_only)

    def _deliver(self, mail: OutboundMail, *, now: datetime) -> bool:
        user = self._users.find_by_email(mail.recipient)
        if not self._wanted(mail.kind, user) or user is None:
            return False
        page, purpose = _PAGES[mail.kind]
        ttl = (
            self._policy.verification_ttl_seconds
            if purpose is AccountTokenPurpose.VERIFY_EMAIL
            else self._policy.reset_ttl_seconds
        )
        if purpose is AccountTokenPurpose.RESET_PASSWORD:
            self._tokens.void_unused(user.id, purpose)  # a newer request voids older links
        raw = new_account_token()
        self._tokens.issue(
            user.id,
            user.email,
            purpose,
            token_hash=hash_account_token(raw),
            now=now,
            ttl=timedelta(seconds=ttl),
        )
        link = f"{self._policy.public_url.rstrip('/')}/{page}?{urlencode({'token': raw})}"
        message = self._composer.compose(
            mail.kind,
            to=user.email,
            content=MailContent(link=link, expires_in_seconds=ttl),
            message_id=uuid.uuid4(),
        )
        self._backend.send(message)
        return True

    @staticmethod
    def _wanted(kind: MailKind, user: User | None) -> bool:
        if user is None or not user.can_log_in:
            return False
        return kind is not MailKind.VERIFY_EMAIL or not user.email_verified

    def _failed(self, mail: OutboundMail, error: str, *, now: datetime) -> Outcome:
        attempts = mail.attempts + 1
        wait = min(
            timedelta(seconds=self._policy.retry_seconds * 2 ** (attempts - 1)), MAX_RETRY_WAIT
        )
        gave_up = attempts >= self._policy.max_attempts
        self._mails.note_failure(
            mail.id, error=error, retry_at=now + wait, failed_at=now if gave_up else None
        )
        extra = {"kind": mail.kind.value, "mail_id": mail.id, "attempts": attempts, "error": error}
        if gave_up:
            logger.error("mail failed for good", extra=extra)
            return Outcome.FAILED
        logger.warning(
            "mail not sent; will retry",
            extra=extra | {"retry_in_seconds": int(wait.total_seconds())},
        )
        return Outcome.RETRYING


class MailObserver(Protocol):
    """What the worker reports (Prometheus in `mail run`: `identity.mail.metrics`)."""

    def handled(self, outcome: str) -> None: ...

    def due(self, count: int) -> None: ...


class _NoObserver:
    def handled(self, outcome: str) -> None:
        pass

    def due(self, count: int) -> None:
        pass


class MailWorker:
    """The loop: sends due mails until none is due, then waits `poll_seconds`; a database
    outage is waited out. Stops when `stop` is set, after the mail in progress."""

    def __init__(
        self,
        sender_factory: Callable[[Session], MailSender],
        session_factory: Callable[[], Session],
        *,
        poll_seconds: float,
        max_backoff_seconds: float = 10.0,
        observer: MailObserver | None = None,
    ) -> None:
        self._sender_factory = sender_factory
        self._session_factory = session_factory
        self._poll_seconds = poll_seconds
        self._max_backoff = max_backoff_seconds
        self._observer = observer or _NoObserver()

    def run(self, stop: threading.Event) -> None:
        logger.info("mail worker started")
        failures = 0
        while not stop.is_set():
            try:
                with self._session_factory() as session:
                    sender = self._sender_factory(session)
                    outcome = sender.send_next()
                    if outcome is None:  # caught up: say so (zero, or what is not due yet)
                        self._observer.due(sender.count_due())
            except SQLAlchemyError as exc:
                failures += 1
                if failures == 2:
                    logger.warning(
                        "mail worker cannot reach the database; retrying",
                        extra={"error": type(exc).__name__},
                    )
                stop.wait(
                    0 if failures == 1 else min(0.25 * 2 ** (failures - 2), self._max_backoff)
                )
                continue
            if failures > 1:
                logger.info("mail worker recovered", extra={"failed_attempts": failures})
            failures = 0
            if outcome is None:
                stop.wait(self._poll_seconds)
            else:
                self._observer.handled(outcome.value)
        logger.info("mail worker stopped")
