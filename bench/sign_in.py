"""How long signing in and out takes in a real browser, through a real OpenID Connect provider.

The provider is oidc-provider-mock on loopback (in place of Google or Entra ID, so the provider's own
network time is not in these figures); the dashboard is `vton-eval dashboard` with `[auth]` and a roles
file, on a database with one 200-case run; the browser is Debian's chromium through Playwright. Each
of 5 rounds uses a fresh browser context (no cookies): open the dashboard (the sign-in screen), sign
in (Sign in, the provider's page, back to a signed-in dashboard), sign out (Sign out, the provider's
end-session page, back to the sign-in screen).

Usage: .venv/bin/python bench/sign_in.py
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

# Run as a script, Python puts bench/ first on the path; the repository root goes there instead.
REPO = Path(__file__).resolve().parents[1]
sys.path[0] = str(REPO)

from bench.seed import seed  # noqa: E402
from tests.helpers.browser import CHROMIUM, CHROMIUM_ARGS, free_port  # noqa: E402

ROUNDS = 5


def _wait_healthy(url: str, proc: subprocess.Popen, limit_s: float = 120.0) -> None:
    import httpx

    deadline = time.monotonic() + limit_s
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit("the dashboard exited")
        try:
            if httpx.get(f"{url}/_stcore/health", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise SystemExit("the dashboard did not start")


def main() -> None:
    import logging

    import oidc_provider_mock
    from playwright.sync_api import sync_playwright

    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # the provider's request log
    user = oidc_provider_mock.User(sub="alice", claims={"email": "alice@example.com", "email_verified": True,
                                                        "groups": ["vton-operators"]})
    with tempfile.TemporaryDirectory() as tmp, \
            oidc_provider_mock.run_server_in_thread(port=0, user_claims=[user]) as server:
        tmp = Path(tmp)
        seed(tmp / "results.duckdb", runs=1, cases_per_run=200)
        port = free_port()
        (tmp / "secrets.toml").write_text(f"""
[auth]
redirect_uri = "http://127.0.0.1:{port}/oauth2callback"
cookie_secret = "{os.urandom(24).hex()}"
client_id = "vton-eval-bench"
client_secret = "unused-by-the-mock"
server_metadata_url = "http://localhost:{server.server_port}/.well-known/openid-configuration"
""", encoding="utf-8")
        (tmp / "access.toml").write_text('[roles]\noperator = ["group:vton-operators"]\n', encoding="utf-8")
        proc = subprocess.Popen([sys.executable, "-m", "vton_eval", "dashboard", "--db", str(tmp / "results.duckdb"),
                                 "--port", str(port), "--secrets", str(tmp / "secrets.toml"),
                                 "--access", str(tmp / "access.toml")],
                                cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        base = f"http://127.0.0.1:{port}"
        gate, sign_in, drawn, sign_out, provider_page = [], [], [], [], []
        try:
            _wait_healthy(base, proc)
            with sync_playwright() as pw:
                browser = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
                for _ in range(ROUNDS):
                    tab = browser.new_context().new_page()
                    tab.set_default_timeout(60_000)
                    t0 = time.perf_counter()
                    tab.goto(base + "/")
                    tab.get_by_role("button", name="Sign in").wait_for()
                    t1 = time.perf_counter()
                    tab.get_by_role("button", name="Sign in").click()
                    tab.get_by_role("button", name="alice", exact=True).click()  # the provider's page
                    tab.get_by_text("Signed in as alice@example.com").wait_for()
                    t_in = time.perf_counter()
                    # Sign out is timed from a page at rest: a click during a run waits for that run to stop.
                    tab.wait_for_function("() => !document.querySelector('[data-testid=\"stStatusWidget\"]')")
                    t2 = time.perf_counter()
                    drawn.append(t2 - t1)
                    tab.get_by_role("button", name="Sign out").click()
                    tab.get_by_role("button", name="End session").wait_for()  # the provider's page
                    t_end = time.perf_counter()
                    tab.get_by_role("button", name="End session").click()
                    tab.get_by_text("Sign in to see the results").wait_for()
                    t3 = time.perf_counter()
                    provider_page.append(t_end - t2)
                    gate.append(t1 - t0)
                    sign_in.append(t_in - t1)
                    sign_out.append(t3 - t2)
                    tab.context.close()
                browser.close()
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
    print(f"Sign-in in chromium through oidc-provider-mock, {ROUNDS} rounds (load average "
          f"{os.getloadavg()[0]:.1f}, {os.cpu_count()} cores):")
    for name, times in (("open the dashboard -> sign-in screen", gate), ("sign in -> signed in (sidebar)", sign_in),
                        ("sign in -> Overview fully drawn", drawn),
                        ("sign out -> sign-in screen", sign_out),
                        ("  of it: Sign out -> provider's page", provider_page)):
        print(f"  {name:38s} median {statistics.median(times):5.2f} s   worst {max(times):5.2f} s")


if __name__ == "__main__":
    main()
