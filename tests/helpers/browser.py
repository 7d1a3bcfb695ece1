"""The real browser of the browser tests (Debian's chromium, which make test installs, driven by
Playwright) and the real dashboard it drives (`vton-eval dashboard` in its own process)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import httpx

from .paths import REPO
from .wait import wait_until

# A page that has settled: Streamlit is not running the script and shows nothing stale.
SETTLED = """() => !document.querySelector('[data-testid="stStatusWidget"], [data-stale="true"]')"""
# ... and every image on it has loaded.
SETTLED_WITH_IMAGES = """() => !document.querySelector('[data-testid="stStatusWidget"], [data-stale="true"]')
                    && Array.from(document.images).every(image => image.complete)"""

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--disable-dev-shm-usage"]


@contextmanager
def dashboard_process(port: int, *args: str, env: dict[str, str] | None = None) -> Iterator[str]:
    """`vton-eval dashboard --port PORT ARGS...` until it answers its health check; its URL. Stopped after."""
    proc = subprocess.Popen([sys.executable, "-m", "vton_eval", "dashboard", "--port", str(port), *args], cwd=REPO,
                            env={**os.environ, **(env or {})}, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            text=True)
    url = f"http://127.0.0.1:{port}"

    def healthy() -> bool:
        assert proc.poll() is None, "the dashboard exited"
        try:
            return httpx.get(f"{url}/_stcore/health", timeout=1).status_code == 200
        except httpx.HTTPError:
            return False

    try:
        wait_until(healthy, what="the dashboard to start", interval=0.1)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()


@contextmanager
def chromium() -> Iterator[Any]:
    """A headless chromium (Playwright's Browser)."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()
