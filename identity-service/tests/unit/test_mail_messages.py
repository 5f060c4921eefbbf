"""Mails from templates: subject, plain text and HTML (escaped), and the console backend."""

import io
import uuid
from email.message import EmailMessage

from identity.mail.backends import ConsoleBackend
from identity.mail.messages import MailComposer, MailContent, describe_duration
from identity.models import MailKind

LINK = "https://app.example.com/verify-email?token=abc_DEF-123"


def _compose(
    kind: MailKind, *, product: str = "Acme", sender: str = "no-reply@acme.example", ttl: int = 60
) -> EmailMessage:
    return MailComposer(product_name=product, sender=sender).compose(
        kind,
        to="ada@example.com",
        content=MailContent(link=LINK, expires_in_seconds=ttl),
        message_id=uuid.UUID(int=7),
    )


def test_a_verification_mail_has_subject_both_bodies_and_the_link() -> None:
    message = _compose(MailKind.VERIFY_EMAIL, sender="Acme <no-reply@acme.example>", ttl=86_400)

    assert message["Subject"] == "Confirm your email address for Acme"
    assert message["To"] == "ada@example.com"
    assert message["From"] == "Acme <no-reply@acme.example>"
    assert message["Message-ID"].endswith("@acme.example>")
    text = message.get_body(preferencelist=("plain",))
    html = message.get_body(preferencelist=("html",))
    assert text is not None
    assert html is not None
    assert LINK in text.get_content()
    assert "for 24 hours" in text.get_content()
    assert f'href="{LINK}"' in html.get_content()


def test_html_is_escaped_and_plain_text_is_not() -> None:
    message = _compose(MailKind.PASSWORD_RESET, product="<Acme & Co>", ttl=1800)

    html = message.get_body(preferencelist=("html",))
    text = message.get_body(preferencelist=("plain",))
    assert html is not None
    assert text is not None
    assert "&lt;Acme &amp; Co&gt;" in html.get_content()
    assert "<Acme & Co>" not in html.get_content()
    assert "<Acme & Co>" in text.get_content()
    assert "for 30 minutes" in text.get_content()
    assert message["Subject"] == "Reset your <Acme & Co> password"


def test_durations_read_in_the_largest_whole_unit() -> None:
    assert [describe_duration(s) for s in (86_400, 3600, 1800, 60, 90, 1)] == [
        "24 hours",
        "1 hour",
        "30 minutes",
        "1 minute",
        "90 seconds",
        "1 second",
    ]


def test_the_console_backend_prints_headers_and_the_text_body() -> None:
    message = _compose(MailKind.VERIFY_EMAIL)
    stream = io.StringIO()

    ConsoleBackend(stream).send(message)

    printed = stream.getvalue()
    assert "To: ada@example.com\n" in printed
    assert "Subject: Confirm your email address for Acme\n" in printed
    assert LINK in printed
    assert "<html" not in printed
