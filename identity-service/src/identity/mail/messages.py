"""Mails from templates: a subject, a plain-text body and an HTML alternative per kind.

Templates live in `identity/mail/templates/<kind>.{subject.txt,txt,html}`; each sees
`product_name`, `link` (the page that takes the token), `expires_in` (a duration in words) and
`recipient`. HTML is autoescaped; plain text is not.
"""

import uuid
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import make_msgid

from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape

from identity.models import MailKind


@dataclass(frozen=True, slots=True)
class MailContent:
    """What a mail says: the link with its token, and how long it works."""

    link: str
    expires_in_seconds: int


class MailComposer:
    def __init__(self, *, product_name: str, sender: str) -> None:
        self._product_name = product_name
        self._sender = sender
        self._templates = Environment(
            loader=PackageLoader("identity.mail", "templates"),
            autoescape=select_autoescape(enabled_extensions=("html",), default=False),
            undefined=StrictUndefined,
            keep_trailing_newline=True,
        )

    def compose(
        self, kind: MailKind, *, to: str, content: MailContent, message_id: uuid.UUID
    ) -> EmailMessage:
        """The message, with a `Message-ID` made from `message_id`: the same mail sent again
        (a retry after an unknown outcome) carries the same id."""
        context = {
            "product_name": self._product_name,
            "recipient": to,
            "link": content.link,
            "expires_in": describe_duration(content.expires_in_seconds),
        }
        name = kind.value
        subject = self._templates.get_template(f"{name}.subject.txt").render(context).strip()
        message = EmailMessage()
        message["Subject"] = subject
        message["From"] = self._sender
        message["To"] = to
        message["Message-ID"] = make_msgid(idstring=message_id.hex, domain=_domain(self._sender))
        message.set_content(self._templates.get_template(f"{name}.txt").render(context))
        message.add_alternative(
            self._templates.get_template(f"{name}.html").render(context), subtype="html"
        )
        return message


def describe_duration(seconds: int) -> str:
    """`86400` -> "24 hours", `1800` -> "30 minutes", `90` -> "90 seconds"."""
    for unit, size in (("hour", 3600), ("minute", 60)):
        if seconds >= size and seconds % size == 0:
            count = seconds // size
            return f"{count} {unit}{'s' if count != 1 else ''}"
    return f"{seconds} second{'s' if seconds != 1 else ''}"


def _domain(sender: str) -> str:
    address = sender.rsplit("<", 1)[-1].rstrip(">").strip()
    return address.rsplit("@", 1)[-1] if "@" in address else "localhost"
