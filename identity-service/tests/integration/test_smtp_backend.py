"""The SMTP backend against a real SMTP server (aiosmtpd on 127.0.0.1): delivery, STARTTLS
with a checked certificate, authentication, and refusals as MailDeliveryError."""

import datetime as dt
import socket
import ssl
import uuid
from collections.abc import Iterator
from email import message_from_bytes
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, Envelope, LoginPassword
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from identity.mail.backends import MailDeliveryError, SmtpBackend, SmtpServer
from identity.mail.messages import MailComposer, MailContent
from identity.models import MailKind

USER, PASSWORD = "mailer", "s3cret-smtp"


class Inbox:
    def __init__(self, *, refuse: bool = False) -> None:
        self.received: list[Envelope] = []
        self.refuse = refuse

    async def handle_RCPT(  # noqa: N802 - aiosmtpd's hook name
        self, server: Any, session: Any, envelope: Envelope, address: str, options: Any
    ) -> str:
        if self.refuse:
            return "550 no such mailbox"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Envelope) -> str:  # noqa: N802
        self.received.append(envelope)
        return "250 accepted"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def _authenticator(
    server: Any, session: Any, envelope: Any, mechanism: str, auth_data: Any
) -> AuthResult:
    good = isinstance(auth_data, LoginPassword) and (
        auth_data.login.decode(),
        auth_data.password.decode(),
    ) == (USER, PASSWORD)
    return AuthResult(success=good)


def _message() -> EmailMessage:
    return MailComposer(product_name="Acme", sender="no-reply@acme.example").compose(
        MailKind.VERIFY_EMAIL,
        to="ada@example.com",
        content=MailContent(
            link="https://acme.example/verify-email?token=t0k", expires_in_seconds=60
        ),
        message_id=uuid.uuid4(),
    )


def _certificate(directory: Path) -> tuple[Path, Path]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=1))
        .not_valid_after(now + dt.timedelta(hours=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName("localhost")]), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = directory / "smtp.pem", directory / "smtp.key"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_path, key_path


def _serve(handler: Inbox, **options: Any) -> Iterator[int]:
    port = free_port()
    controller = Controller(handler, hostname="127.0.0.1", port=port, **options)
    controller.start()
    try:
        yield port
    finally:
        controller.stop()


def _server(
    port: int, *, starttls: bool = False, username: str = "", password: str = ""
) -> SmtpServer:
    return SmtpServer(
        host="127.0.0.1" if not starttls else "localhost",
        port=port,
        starttls=starttls,
        username=username,
        password=password or None,
        timeout_seconds=5,
    )


def test_a_mail_is_delivered_as_composed() -> None:
    inbox = Inbox()
    for port in _serve(inbox):
        SmtpBackend(_server(port)).send(_message())

    [envelope] = inbox.received
    assert envelope.rcpt_tos == ["ada@example.com"]
    delivered = message_from_bytes(envelope.original_content or b"")
    assert delivered["Subject"] == "Confirm your email address for Acme"


def test_starttls_is_used_the_certificate_checked_and_the_login_refused_when_wrong(
    tmp_path: Path,
) -> None:
    cert_path, key_path = _certificate(tmp_path)
    server_tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server_tls.load_cert_chain(cert_path, key_path)
    trusting = ssl.create_default_context(cafile=str(cert_path))
    inbox = Inbox()
    for port in _serve(
        inbox,
        tls_context=server_tls,
        require_starttls=True,
        authenticator=_authenticator,
        auth_required=True,
    ):
        SmtpBackend(
            _server(port, starttls=True, username=USER, password=PASSWORD), tls=trusting
        ).send(_message())
        with pytest.raises(MailDeliveryError):  # the default context does not trust it
            SmtpBackend(_server(port, starttls=True, username=USER, password=PASSWORD)).send(
                _message()
            )
        with pytest.raises(MailDeliveryError, match=r"^SMTP"):  # refused (535), then cut off
            SmtpBackend(
                _server(port, starttls=True, username=USER, password="wrong"), tls=trusting
            ).send(_message())

    assert len(inbox.received) == 1


def test_a_refused_recipient_is_a_delivery_error() -> None:
    for port in _serve(Inbox(refuse=True)):
        with pytest.raises(MailDeliveryError, match="SMTPRecipientsRefused"):
            SmtpBackend(_server(port)).send(_message())


def test_no_server_is_a_delivery_error_naming_no_host_or_secret() -> None:
    with pytest.raises(MailDeliveryError) as refused:
        SmtpBackend(_server(free_port(), username=USER, password=PASSWORD)).send(_message())

    assert str(refused.value) == "ConnectionRefusedError"
