"""Time-based one-time passwords (RFC 6238, pyotp) and recovery codes.

The secret is 160 random bits (RFC 4226's recommended length), base32 for the authenticator
app, stored encrypted with the key-encryption keys. A code is checked against the current time
step and one step either side (clock drift), and is accepted only for a step later than the
last one accepted, so a code works once. Recovery codes are 10 random base32 characters (50
bits), shown once; only an HMAC of each is kept, keyed by a secret the database does not hold.
"""

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime
from typing import Final

import pyotp

from identity.security.keys import SecretBox

RECOVERY_CODE_COUNT: Final = 10
_CODE_DIGITS: Final = 6
_RECOVERY_ALPHABET: Final = "abcdefghijkmnpqrstuvwxyz23456789"  # no 0/o, 1/l


@dataclass(frozen=True, slots=True)
class TotpSecret:
    secret: str
    """Base32, for the authenticator app (shown once, at enrolment)."""
    ciphertext: str
    """What the database keeps."""
    otpauth_uri: str


class SecondFactor:
    def __init__(self, box: SecretBox, *, issuer_name: str, recovery_secret: bytes) -> None:
        self._box = box
        self._issuer_name = issuer_name
        self._recovery_secret = recovery_secret

    def new_secret(self, account_name: str) -> TotpSecret:
        secret = pyotp.random_base32(length=32)
        uri = pyotp.TOTP(secret).provisioning_uri(name=account_name, issuer_name=self._issuer_name)
        return TotpSecret(secret, self._box.encrypt(secret.encode()), uri)

    def matching_step(
        self, ciphertext: str, code: str, *, now: datetime, after_step: int | None
    ) -> int | None:
        """The time step `code` belongs to (now, or one step either side), if it is later than
        `after_step`; None when the code is wrong, reused or the secret cannot be read."""
        if len(code) != _CODE_DIGITS or not code.isdigit():
            return None
        secret = self._box.decrypt(ciphertext)
        if secret is None:
            return None
        totp = pyotp.TOTP(secret.decode())
        current = totp.timecode(now)
        for step in (current - 1, current, current + 1):
            fresh = after_step is None or step > after_step
            if fresh and hmac.compare_digest(totp.generate_otp(step), code):
                return step
        return None

    @staticmethod
    def new_recovery_codes() -> list[str]:
        """`RECOVERY_CODE_COUNT` codes like `7kq2m-xw9ab`."""
        codes = []
        for _ in range(RECOVERY_CODE_COUNT):
            raw = "".join(secrets.choice(_RECOVERY_ALPHABET) for _ in range(10))
            codes.append(f"{raw[:5]}-{raw[5:]}")
        return codes

    def recovery_hash(self, code: str) -> str:
        """The HMAC kept for a recovery code; case, spaces and dashes do not matter."""
        normalised = "".join(code.lower().split()).replace("-", "")
        return hmac.new(self._recovery_secret, normalised.encode(), hashlib.sha256).hexdigest()
