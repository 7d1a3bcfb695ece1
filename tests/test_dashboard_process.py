"""The dashboard as `vton-eval dashboard` starts it: which names it answers to without sign-in (a web page that
rebinds its own name to 127.0.0.1 must not reach it), what its process keeps in its environment (no token, which
every process it starts would inherit), and a half-written `[auth]` that must not pass for sign-in."""

from __future__ import annotations

import os
import socket
import subprocess
import sys

import pytest

from vton_eval import binding
from vton_eval.access import AccessConfigError

from .helpers.browser import dashboard_process
from .helpers.paths import REPO
from .helpers.servers import free_port

TOKEN = "hf_DashboardTokenOnlyThroughThePipe42"


def _upgrade(port: int, host: str) -> str:
    """The status line Streamlit answers a WebSocket upgrade of /_stcore/stream with, the browser's way: Host and
    Origin both the name the page was loaded from (what a rebinding page sends)."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
        s.sendall((f"GET /_stcore/stream HTTP/1.1\r\nHost: {host}\r\nOrigin: http://{host}\r\nUpgrade: websocket\r\n"
                   "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                   "Sec-WebSocket-Version: 13\r\nSec-WebSocket-Protocol: streamlit\r\n\r\n").encode())
        return s.recv(200).split(b"\r\n")[0].decode()


def test_without_sign_in_only_loopback_names_and_configured_ones_reach_the_dashboard(tmp_path):
    port = free_port()
    with dashboard_process(port, "--db", str(tmp_path / "r.duckdb"), "--allow-host", "vton.lan"):
        for name in ("127.0.0.1", "localhost", "[::1]", "vton.lan"):
            assert _upgrade(port, f"{name}:{port}").endswith("101 Switching Protocols"), name
        for name in ("rebind.example", "attacker.example.com", "127.0.0.1.nip.io", "localhost.evil.example"):
            assert _upgrade(port, f"{name}:{port}").endswith("403 Forbidden"), name


def test_the_gate_answers_only_to_loopback_names_and_configured_ones():
    """The app's own check (for `streamlit run` by hand, where nobody set Streamlit's host list)."""
    for host in ("127.0.0.1:8501", "localhost", "LOCALHOST.", "[::1]:8501", "127.0.0.2", "app.localhost:1", None, ""):
        assert binding.host_allowed(host), host
    for host in ("rebind.example:8501", "127.0.0.1.nip.io", "evil@127.0.0.1", "10.0.0.5", "localhost.evil.example",
                 "x:notaport"):
        assert not binding.host_allowed(host), host
    assert binding.host_allowed("vton.lan:8501", ["vton.lan"]) and binding.host_allowed("10.0.0.5", any_address=True)
    assert not binding.host_allowed("vton.lan", any_address=True)


def _children(pid: int) -> list[int]:
    with open(f"/proc/{pid}/task/{pid}/children", encoding="ascii") as f:
        return [int(p) for p in f.read().split()]


def test_the_dashboard_process_keeps_no_token_in_its_environment(tmp_path):
    """`HF_TOKEN=... vton-eval dashboard`: the Streamlit process gets the token through a pipe, and its
    environment (which every check worker and process it starts inherits) has none."""
    port = free_port()
    env = {"HF_TOKEN": TOKEN, "HUGGING_FACE_HUB_TOKEN": TOKEN}
    with dashboard_process(port, "--db", str(tmp_path / "r.duckdb"), env=env):
        launcher = next(int(p) for p in os.listdir("/proc") if p.isdigit() and _cmdline(int(p)).endswith(
            f"dashboard --port {port} --db {tmp_path / 'r.duckdb'}"))
        streamlit = _children(launcher)
        assert streamlit
        for pid in streamlit:
            with open(f"/proc/{pid}/environ", "rb") as f:
                environ = f.read()
            assert TOKEN.encode() not in environ and b"VTON_EVAL_DB" in environ


def _cmdline(pid: int) -> str:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            return f.read().replace(b"\0", b" ").decode(errors="replace").strip()
    except OSError:
        return ""


def test_the_token_handed_through_the_pipe_reaches_the_child_and_only_it():
    from vton_eval.secrets import hand_over_token

    env = {k: v for k, v in os.environ.items() if k != "HF_TOKEN"}
    fds = hand_over_token(TOKEN, env)
    script = ("import os, subprocess, sys\nfrom vton_eval.secrets import handed_token\n"
              "print(handed_token() == sys.argv[1], 'HF_TOKEN' in os.environ, 'VTON_EVAL_TOKEN_FD' in os.environ)\n"
              "print(subprocess.run([sys.executable, '-c', 'from vton_eval.secrets import handed_token; "
              "print(handed_token())'], capture_output=True, text=True).stdout.strip())\n")
    try:
        out = subprocess.run([sys.executable, "-c", script, TOKEN], env=env, pass_fds=fds, capture_output=True,
                             text=True, timeout=60, cwd=REPO)
    finally:
        for fd in fds:
            os.close(fd)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split("\n")[:2] == ["True False False", "None"]  # the grandchild gets nothing


def test_a_half_written_auth_table_does_not_pass_for_sign_in(tmp_path):
    """A lone `redirect_uri` once let the dashboard listen on 0.0.0.0 as if sign-in were configured."""
    partial = tmp_path / "secrets.toml"
    partial.write_text('[auth]\nredirect_uri = "https://dash.example.com/oauth2callback"\n', encoding="utf-8")
    with pytest.raises(AccessConfigError, match="incomplete .*no cookie_secret.*no provider"):
        binding.sign_in_configured([partial])
    proc = subprocess.run([sys.executable, "-m", "vton_eval", "dashboard", "--host", "0.0.0.0", "--port", "1",
                           "--secrets", str(partial), "--db", str(tmp_path / "r.duckdb")], cwd=REPO,
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 1 and "is incomplete" in proc.stderr and "Traceback" not in proc.stderr
    named = {"redirect_uri": "https://d.example/oauth2callback", "cookie_secret": "s",
             "google": {"client_id": "c", "client_secret": "s"}}
    assert binding.auth_problems(named) == ["[auth.google] has no server_metadata_url"]
    named["google"]["server_metadata_url"] = "https://accounts.google.com/.well-known/openid-configuration"
    assert binding.auth_problems(named) == []


def test_a_bare_url_or_address_in_text_shown_by_the_pages_is_no_link(tmp_path):
    """Streamlit's Markdown links `https://…` and `www.…` by itself, escaped or not; text from people, files and
    services goes through `md`, which leaves it plain text (here a reviewer's name, as typed)."""
    from vton_eval.store import Database

    from .helpers.browser import CHROMIUM, chromium
    from .helpers.seed import record_sample_run

    if not os.path.exists(CHROMIUM):
        pytest.skip("Debian's chromium is not installed (make test installs it)")
    db = Database(tmp_path / "results.duckdb")
    record_sample_run(db, "v1")
    name = "ana https://evil.example/x?a=1 HTTP://127.0.0.1:9/y www.evil.example"
    port = free_port()
    with dashboard_process(port, "--db", str(db.path)) as url, chromium() as browser:
        page = browser.new_page()
        page.set_default_timeout(60_000)  # a ceiling, not a wait: clicks under two CPU burners took over 30 s
        page.goto(f"{url}/review")
        page.get_by_label("Your name (stored with each verdict and pick)").fill(name)
        page.get_by_role("button", name="Start reviewing").click()
        caption = page.get_by_text("Reviewing as").first
        caption.wait_for()
        assert caption.inner_text() == f"Reviewing as {name}"  # shown as typed
        hrefs = page.eval_on_selector_all("a[href]", "links => links.map(a => a.href)")
        assert not [h for h in hrefs if "evil" in h or "127.0.0.1:9" in h], hrefs
