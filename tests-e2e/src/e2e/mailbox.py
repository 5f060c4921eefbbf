"""The stack's mail catcher (MailDev), read through its REST API: the mails identity sent."""

import re
from typing import Any

import requests

from e2e.waiting import wait_until

_TOKEN = re.compile(r"[?&]token=([A-Za-z0-9_-]+)")


class Mailbox:
    def __init__(self, url: str) -> None:
        self._url = url

    def mails_to(self, address: str) -> list[dict[str, Any]]:
        """Every mail to `address` the catcher holds, oldest first."""
        with requests.get(f"{self._url}/email", timeout=5) as response:
            response.raise_for_status()
            mails: list[dict[str, Any]] = response.json()
        return [m for m in mails if any(to["address"] == address for to in m.get("to", []))]

    def wait_for(self, address: str, subject: str, *, count: int = 1) -> dict[str, Any]:
        """The `count`-th mail to `address` whose subject contains `subject`, once it came."""
        return wait_until(
            lambda: (
                m[count - 1]
                if len(m := [x for x in self.mails_to(address) if subject in x["subject"]]) >= count
                else None
            ),
            timeout=30,
            what=f"mail {count} '{subject}' to {address}",
        )

    @staticmethod
    def token(mail: dict[str, Any]) -> str:
        """The token of the mail's link (in its plain text and its HTML alike)."""
        found = _TOKEN.search(mail["text"])
        assert found is not None, mail["text"]
        assert found.group(1) in mail["html"]
        return found.group(1)
