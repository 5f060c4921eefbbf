"""Token material (refresh tokens, the verification and reset tokens mailed to accounts): 256
random bits out, only their SHA-256 in the database."""

import hashlib
import secrets


def new_refresh_token() -> str:
    return secrets.token_urlsafe(32)


def hash_refresh_token(raw_token: str) -> str:
    return hashlib.sha256(raw_token.encode("utf-8")).hexdigest()


new_account_token = new_refresh_token
hash_account_token = hash_refresh_token
