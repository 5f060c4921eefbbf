"""Headless Chromium: load a page, let its scripts run, return the resulting DOM."""

import shutil
import subprocess
import tempfile
from typing import Final

CHROMIUM_NAMES: Final = ("chromium", "chromium-browser", "google-chrome")
VIRTUAL_TIME_BUDGET_MS: Final = 15_000
TIMEOUT_SECONDS: Final = 90


def chromium_binary() -> str | None:
    return next((found for name in CHROMIUM_NAMES if (found := shutil.which(name))), None)


def dump_dom(binary: str, url: str) -> str:
    """The DOM of `url` after its scripts ran (up to 15 s of virtual time).

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
    return result.stdout
