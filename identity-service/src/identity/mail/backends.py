"""Where mails go: `console` (printed, for development) or `smtp` (a mail server).

A backend either hands the message over or raises `MailDeliveryError`; the mail worker then
retries later. Nothing here logs a message's body (it holds a single-use link).
"""

import smtplib
import ssl
import sys
import threading
from dataclasses import dataclass
from email.message import EmailMessage
from typing import Protocol, TextIO


class MailDeliveryError(Exception):
    """The message was not accepted; the text says why, without the message."""


class MailBackend(Protocol):
    def send(self, message: EmailMessage) -> None:
        """Return once the message was handed over.

        Raises:
            MailDeliveryError: it was not; try again later.
        """


class ConsoleBackend:
    """Prints each message, headers and text, on a stream (standard output by default): the
    development default, where no mail server runs. Refused in production (the links in it
    are live tokens)."""

    def __init__(self, stream: TextIO | None = None) -> None:
        self._stream = stream
        self._lock = threading.Lock()

    def send(self, message: EmailMessage) -> None:
        stream = self._stream or sys.stdout
        text = message.get_body(preferencelist=("plain",))
        body = text.get_content() if text is not None else ""
        headers = "".join(f"{name}: {message[name]}\n" for name in ("From", "To", "Subject"))
        with self._lock:
            stream.write(f"----- mail -----\n{headers}\n{body}----- end of mail -----\n")
            stream.flush()


@dataclass(frozen=True, slots=True)
class SmtpServer:
    host: str
    port: int
    starttls: bool
    username: str
    password: str | None
    timeout_seconds: float


class SmtpBackend:
    """One SMTP connection per message (mails are rare: a connection kept open would mostly
    time out), upgraded with STARTTLS when configured (the server's certificate is checked),
    then authenticated when a username is set."""

    def __init__(self, server: SmtpServer, *, tls: ssl.SSLContext | None = None) -> None:
        self._server = server
        self._tls = tls or ssl.create_default_context()

    def send(self, message: EmailMessage) -> None:
        server = self._server
        try:
            with smtplib.SMTP(server.host, server.port, timeout=server.timeout_seconds) as smtp:
                if server.starttls:
                    smtp.starttls(context=self._tls)
                if server.username:
                    smtp.login(server.username, server.password or "")
                refused = smtp.send_message(message)
        except (smtplib.SMTPException, OSError) as exc:
            raise MailDeliveryError(_describe(exc)) from None
        if refused:  # some recipients refused; ours is the only one
            raise MailDeliveryError("the recipient was refused")


def _describe(error: Exception) -> str:
    """The error's class and SMTP code, if any: never the server's text (it may echo the
    message) nor credentials."""
    code = getattr(error, "smtp_code", None)
    return type(error).__name__ + (f" {code}" if code is not None else "")
