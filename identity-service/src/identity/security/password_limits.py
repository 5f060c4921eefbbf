"""Password length limits: the settings, the request schemas and the password policy all take
them from here."""

from typing import Final

PASSWORD_MIN_LENGTH: Final = 8
"""The shortest new password any deployment accepts (`IDENTITY_PASSWORD_MIN_LENGTH` may ask for
more, never less)."""
PASSWORD_MAX_LENGTH: Final = 128
"""The longest password accepted anywhere (login included): a longer one is refused before it
is hashed, so nobody makes the server hash megabytes."""
