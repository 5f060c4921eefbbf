"""Signing-key lifecycle: create, rotate, retire, re-encrypt."""

import logging
from collections.abc import Sequence

from sqlalchemy.orm import Session

from identity.errors import (
    SigningKeyNotFoundError,
    SigningKeyStateError,
    SigningKeyUndecryptableError,
)
from identity.models import AuditEventType, KeyState, SigningKey
from identity.repositories.signing_key_repository import SigningKeyRepository
from identity.security.keys import PublicJwk, SecretBox, generate_es256_key
from identity.services.audit_recorder import AuditRecorder
from identity.services.event_recorder import EventRecorder
from service_kit.clock import SYSTEM_CLOCK, Clock
from service_kit.db import transaction
from service_kit.errors import UniqueViolationError

logger = logging.getLogger(__name__)


class KeyService:
    """Use cases on signing keys. Exactly one key is active; retiring keys still verify.

    A key that becomes active (a rotation, or the first key of a fresh database) is announced
    as `identity.key.rotated`, a retired one as `identity.key.retired`, in the same transaction.
    """

    def __init__(
        self,
        session: Session,
        *,
        box: SecretBox,
        keys: SigningKeyRepository | None = None,
        events: EventRecorder | None = None,
        audit: AuditRecorder | None = None,
        clock: Clock = SYSTEM_CLOCK,
    ) -> None:
        self._session = session
        self._box = box
        self._keys = keys or SigningKeyRepository(session)
        self._events = events or EventRecorder(session, clock=clock)
        self._audit = audit or AuditRecorder(session, clock=clock)
        self._clock = clock

    def ensure_active_key(self) -> SigningKey:
        """The active key, created first if the database has none (a fresh install)."""
        active = self._keys.find_active()
        if active is not None:
            return active
        try:
            with transaction(self._session):
                created = self._create_active_key()
        except UniqueViolationError:
            # Another worker created it at the same moment; theirs is as good as ours.
            active = self._keys.find_active()
            if active is None:
                raise
            return active
        logger.info("signing key created", extra={"kid": created.kid})
        return created

    def rotate_signing_key(self) -> SigningKey:
        """Make a new key active; the previous active key becomes retiring."""
        now = self._clock.now()
        with transaction(self._session):
            previous = self._keys.find_active_for_update()
            if previous is not None:
                previous.state = KeyState.RETIRING
                previous.retiring_at = now
                self._keys.flush()
            created = self._create_active_key()
        logger.info(
            "signing key rotated",
            extra={"kid": created.kid, "previous_kid": previous.kid if previous else None},
        )
        return created

    def retire_signing_key(self, kid: str) -> SigningKey:
        """Unpublish a retiring key: tokens it signed stop verifying.

        Raises:
            SigningKeyNotFoundError: no key has this kid.
            SigningKeyStateError: the key is active (rotate first) or already retired.
        """
        with transaction(self._session):
            key = self._keys.find_by_kid(kid)
            if key is None:
                raise SigningKeyNotFoundError()
            if key.state != KeyState.RETIRING:
                raise SigningKeyStateError(
                    f"Only retiring keys can be retired; this key is {key.state.value}."
                )
            self._retire(key)
        logger.info("signing key retired", extra={"kid": kid})
        return key

    def retire_all_retiring_keys(self) -> Sequence[SigningKey]:
        """Unpublish every retiring key at once; returns the keys retired (maybe none)."""
        with transaction(self._session):
            keys = self._keys.list_retiring()
            for key in keys:
                self._retire(key)
        for key in keys:
            logger.info("signing key retired", extra={"kid": key.kid})
        return keys

    def reencrypt_private_keys(self) -> int:
        """Re-encrypt every stored private key with the first key-encryption key, so the keys
        after it can be dropped from the configuration; returns how many keys were rewritten.
        All or nothing: one undecryptable key leaves every key as it was.

        Raises:
            SigningKeyUndecryptableError: a private key was encrypted with none of our keys.
        """
        with transaction(self._session):
            keys = self._keys.list_all_for_update()
            for key in keys:
                ciphertext = self._box.rotate(key.private_key_ciphertext)
                if ciphertext is None:
                    raise SigningKeyUndecryptableError(
                        f"The private key of {key.kid} was encrypted with none of the "
                        "configured key-encryption keys; nothing was re-encrypted."
                    )
                key.private_key_ciphertext = ciphertext
        logger.info("signing keys re-encrypted", extra={"count": len(keys)})
        return len(keys)

    def list_signing_keys(self) -> Sequence[SigningKey]:
        return self._keys.list_all()

    def list_published_keys(self) -> Sequence[SigningKey]:
        """Active and retiring keys."""
        return self._keys.list_published()

    def get_public_jwks(self) -> list[PublicJwk]:
        """The public JWKs to publish; a fresh database gets its first key here."""
        self.ensure_active_key()
        return [PublicJwk.from_mapping(key.public_jwk) for key in self._keys.list_published()]

    def _retire(self, key: SigningKey) -> None:
        key.state = KeyState.RETIRED
        key.retired_at = self._clock.now()
        self._events.key_retired(key.kid)
        self._audit.record(AuditEventType.KEY_RETIRED, detail={"kid": key.kid}, system=True)

    def _create_active_key(self) -> SigningKey:
        generated = generate_es256_key()
        key = self._keys.add(
            SigningKey(
                kid=generated.kid,
                algorithm=generated.algorithm,
                public_jwk=generated.public_jwk,
                private_key_ciphertext=self._box.encrypt(generated.private_pem),
                state=KeyState.ACTIVE,
                created_at=self._clock.now(),
            )
        )
        self._events.key_rotated(key.kid)
        self._audit.record(AuditEventType.KEY_ROTATED, detail={"kid": key.kid}, system=True)
        return key
