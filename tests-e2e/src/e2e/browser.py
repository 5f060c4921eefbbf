"""Headless Chromium: load a page, let its scripts run, return the resulting DOM and what the
page wrote to its console (Content-Security-Policy violations among it)."""

import re
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from typing import Final

CHROMIUM_NAMES: Final = ("chromium", "chromium-browser", "google-chrome")
VIRTUAL_TIME_BUDGET_MS: Final = 15_000
TIMEOUT_SECONDS: Final = 90
# With --enable-logging=stderr, each console message is a line like
#   [12:12:1130/112149.141591:INFO:CONSOLE:2] "message", source: URL (2)
# (older builds: `INFO:CONSOLE(2)`).
_CONSOLE_LINE: Final = re.compile(r"^\[[^\]]*:CONSOLE[:(][^\]]*\] (?P<message>.*)$")
_CSP_VIOLATION: Final = re.compile(r"Content Security Policy|Refused to", re.IGNORECASE)


@dataclass(frozen=True, slots=True)
class LoadedPage:
    dom: str
    console: tuple[str, ...]

    @property
    def csp_violations(self) -> list[str]:
        """Console messages in which the browser reports blocking something by the page's CSP."""
        return [message for message in self.console if _CSP_VIOLATION.search(message)]


def chromium_binary() -> str | None:
    return next((found for name in CHROMIUM_NAMES if (found := shutil.which(name))), None)


def load_page(binary: str, url: str) -> LoadedPage:
    """The DOM of `url` after its scripts ran (up to 15 s of virtual time), and its console.

    A fresh profile per call; no sandbox (CI runs as root); no background traffic to anything
    but `url`.
    """
    with tempfile.TemporaryDirectory(prefix="e2e-chromium-") as profile:
        result = subprocess.run(
            [
                binary,
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-dev-shm-usage",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--no-first-run",
                "--enable-logging=stderr",
                "--v=0",
                f"--user-data-dir={profile}",
                f"--virtual-time-budget={VIRTUAL_TIME_BUDGET_MS}",
                "--dump-dom",
                url,
            ],
            capture_output=True,
            text=True,
            timeout=TIMEOUT_SECONDS,
            check=False,
        )
    assert result.returncode == 0, f"chromium failed ({result.returncode}): {result.stderr[-2000:]}"
    console = tuple(
        match.group("message")
        for line in result.stderr.splitlines()
        if (match := _CONSOLE_LINE.match(line))
    )
    return LoadedPage(dom=result.stdout, console=console)
