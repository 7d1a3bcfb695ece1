"""The compatibility suite's servers: the sandbox's signatures served by the Gradio versions services pin.

Each old Gradio lives in its own virtual environment, built by `make compat` from the lock file beside
this one (`compat/gradio-<version>.txt`) into `.compat/gradio-<version>/`; "current" is the project's
own `.venv`. Every server is a subprocess (`python -m vton_eval.sandbox.serve`, the repository on its
PYTHONPATH) serving all seven signatures on free loopback ports; they start together when the session
starts and stop when it ends (or when this process dies: they watch their stdin). The clients are ours:
the runner and gradio_client of `.venv`.

At the end, the session prints the table the guide's Figures page (docs/figures.md) shows: per Gradio version
and profile, the sample's cases ok / not sent (a workflow the profile does not support) / failed.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
OLD = ("4.16.0", "4.24.0", "4.41.0", "5.6.0")
VERSIONS = (*OLD, "current")
PROFILES = ("sm4ll", "idm-vton", "catvton", "ootdiffusion", "leffa", "omnitry", "kolors")
# Seven apps on a two-core machine while the other versions start too: 100-230 s measured while other test
# suites shared the machine (load average 8-20). The first test of a version waits for it, so the compat
# tests get a longer per-test limit than the main suite's 300 s.
START_TIMEOUT_S = 480.0
TEST_TIMEOUT_S = 600


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        item.add_marker(pytest.mark.timeout(TEST_TIMEOUT_S))


def python_for(version: str) -> Path:
    if version == "current":
        return Path(sys.executable)
    return REPO / ".compat" / f"gradio-{version}" / "bin" / "python"


@dataclass
class Server:
    version: str
    process: subprocess.Popen
    log: Path
    started: float
    gradio: str = ""
    urls: dict[str, str] = field(default_factory=dict)
    ready_s: float | None = None
    error: str | None = None
    ready: threading.Event = field(default_factory=threading.Event)

    def wait(self) -> Server:
        if not self.ready.wait(START_TIMEOUT_S):
            self.error = f"no answer within {START_TIMEOUT_S:g} s"
        if self.error:
            tail = self.log.read_text(errors="replace")[-3000:] if self.log.exists() else ""
            pytest.fail(f"the Gradio {self.version} server did not start: {self.error}\n{tail}", pytrace=False)
        return self

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.stdin.close()  # it stops when its stdin closes
            try:
                self.process.wait(30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(10)


def _start(version: str, folder: Path) -> Server:
    python = python_for(version)
    log = folder / f"server-{version}.log"
    if not python.exists():
        server = Server(version, None, log, time.monotonic())  # type: ignore[arg-type]
        server.error = f"{python} is missing: `make compat` builds the old Gradio environments"
        server.ready.set()
        return server
    env = {**os.environ, "PYTHONPATH": str(REPO), "GRADIO_ANALYTICS_ENABLED": "False", "PYTHONUNBUFFERED": "1"}
    env.pop("VIRTUAL_ENV", None)
    with log.open("wb") as err:
        process = subprocess.Popen([str(python), "-m", "vton_eval.sandbox.serve", "--profiles", ",".join(PROFILES)],
                                   stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=err, text=True, env=env,
                                   cwd=folder)
    server = Server(version, process, log, time.monotonic())

    def read_ready() -> None:
        for line in process.stdout:
            if line.startswith("READY "):
                info = json.loads(line[len("READY "):])
                server.gradio, server.urls = info["gradio"], info["urls"]
                server.ready_s = time.monotonic() - server.started
                break
        else:
            server.error = f"it exited with code {process.wait()}"
        server.ready.set()

    threading.Thread(target=read_ready, name=f"compat-{version}", daemon=True).start()
    return server


@pytest.fixture(scope="session")
def servers():
    """Every version's server, all started at once (each test waits for the one it needs)."""
    folder = Path(tempfile.mkdtemp(prefix="vton-compat-"))
    started = {version: _start(version, folder) for version in VERSIONS}
    yield started
    for server in started.values():
        if server.process is not None:
            server.stop()


TABLE: dict[tuple[str, str], dict[str, int]] = {}
SERVED: dict[str, tuple[str, float | None]] = {}


def pytest_terminal_summary(terminalreporter, exitstatus, config) -> None:
    if not TABLE:
        return
    write = terminalreporter.write_line
    write("")
    write("Sample cases per Gradio version and profile: ok / not sent (workflow not supported) / failed")
    write("")
    versions = [v for v in VERSIONS if any(key[0] == v for key in TABLE)]
    heads = [f"{SERVED[v][0]}" if v in SERVED else v for v in versions]
    write("| profile | " + " | ".join(f"Gradio {h}" for h in heads) + " |")
    write("|---|" + "---|" * len(versions))
    for profile in PROFILES:
        cells = []
        for version in versions:
            counts = TABLE.get((version, profile))
            cells.append(f"{counts['ok']} / {counts['not_sent']} / {counts['failed']}" if counts else "-")
        write(f"| {profile} | " + " | ".join(cells) + " |")
    starts = ", ".join(f"{SERVED[v][0]} {SERVED[v][1]:.1f} s" for v in versions if v in SERVED and SERVED[v][1])
    if starts:
        write("")
        write(f"servers ready after (seven apps each, all starting at once): {starts}")
