"""`vton-eval dashboard` and `vton-eval demo`: the Streamlit app, alone or with a sandbox and a first run."""

from __future__ import annotations

import importlib.util
import os
import signal
import subprocess
import sys
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from vton_eval import access, binding
from vton_eval.secrets import TOKEN_ENV, hand_over_token, without_tokens
from vton_eval.store import Store, open_store, resolve_location

if TYPE_CHECKING:
    from rich.console import Console


def _app_path() -> Path:
    # Located, not imported: the engine never imports the dashboard.
    spec = importlib.util.find_spec("dashboard")
    if spec is None or not spec.submodule_search_locations:
        raise click.ClickException("the dashboard package is not installed (pip install -e . from the repo)")
    return Path(next(iter(spec.submodule_search_locations))) / "app.py"


def secrets_files(app: Path, given: Path | None) -> list[Path]:
    """Where Streamlit will read secrets: the file given, else its defaults (the user's, then the repo's)."""
    if given is not None:
        return [given]
    return [Path.home() / ".streamlit" / "secrets.toml", app.parent.parent / ".streamlit" / "secrets.toml"]


def start_dashboard(db_path: Path | str, port: int, host: str, env: dict[str, str] | None = None,
                    secrets: Path | None = None, hosts: list[str] | None = None,
                    output: int | None = None) -> subprocess.Popen:
    """The Streamlit process. `hosts`: the names it answers to (Streamlit's `server.allowedHosts`; None: any,
    for a dashboard with sign-in, whose cookie is bound to its own name anyway). `output`: its stdout and
    stderr (subprocess.PIPE to hold them back), default ours."""
    app = _app_path()
    # The address always explicit: unset, Streamlit listens on every interface.
    command = [
        sys.executable, "-m", "streamlit", "run", str(app), "--server.port", str(port), "--server.address", host,
        "--server.headless", "true", "--browser.gatherUsageStats", "false",
        *(["--secrets.files", str(secrets)] if secrets is not None else []),
        *[arg for name in hosts or () for arg in ("--server.allowedHosts", name)], "--", "--db", str(db_path),
    ]
    # The token is handed over through a pipe, not the environment: every process the dashboard starts (a
    # check worker, a run) would inherit an environment's token, allowed endpoint or not.
    full_env = {**without_tokens(os.environ), **without_tokens(env or {}), "VTON_EVAL_DB": str(db_path),
                "GRADIO_ANALYTICS_ENABLED": "False"}
    fds = hand_over_token(os.environ.get(TOKEN_ENV, "").strip() or None, full_env)
    try:
        # Run from the repo so .streamlit/config.toml (theme, loopback binding) applies.
        return subprocess.Popen(command, env=full_env, cwd=app.parent.parent, pass_fds=fds, stdout=output,
                                stderr=subprocess.STDOUT if output is not None else None)
    finally:
        for fd in fds:
            os.close(fd)


def _interrupt(signum: int, _frame: object) -> None:
    raise KeyboardInterrupt


def _wait(proc: subprocess.Popen) -> int:
    """Wait for the Streamlit process; Ctrl-C or SIGTERM (a supervisor, a test) stops it too."""
    previous = signal.signal(signal.SIGTERM, _interrupt)
    try:
        return proc.wait()
    except KeyboardInterrupt:
        proc.send_signal(signal.SIGINT)
        try:
            return proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            return proc.wait()
    finally:
        signal.signal(signal.SIGTERM, previous)


@click.command("dashboard")
@click.option("--db", "db_path", default=None, metavar="PATH",
              help="Database file or shared store URL (default: $VTON_EVAL_DB or ./results.duckdb).")
@click.option("--port", default=8501, show_default=True, type=int, help="Port to listen on.")
@click.option("--host", default="127.0.0.1", show_default=True,
              help="Address to listen on. Beyond loopback only with sign-in configured ([auth] in the secrets).")
@click.option("--secrets", "secrets_file", default=None, type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="Streamlit secrets file ([auth] for sign-in, HF_TOKEN); default: Streamlit's own places.")
@click.option("--access", "access_file", default=None, type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help=f"Roles file (roles and the token allow-list); default: ${access.ACCESS_ENV} or "
                   f"{access.DEFAULT_ACCESS_FILE}.")
@click.option("--unsafe-listen-without-sign-in", "unsafe", is_flag=True,
              help="Listen beyond loopback with NO sign-in: anyone who reaches the port can launch runs, spend the "
                   "token and write verdicts under any name.")
@click.option("--allow-host", "allow_hosts", multiple=True, metavar="NAME",
              help="Without sign-in the dashboard answers only to loopback names (localhost, 127.0.0.1, ::1), so a "
                   "web page that rebinds its own name to this machine cannot drive it; add a name people use "
                   "(repeatable).")
def dashboard_command(db_path: str | None, port: int, host: str, secrets_file: Path | None,
                      access_file: Path | None, unsafe: bool, allow_hosts: tuple[str, ...]) -> None:
    """Open the dashboard on a database."""
    path = resolve_location(db_path)
    env: dict[str, str] = {}
    app = _app_path()
    # The dashboard runs in the repo (like Streamlit's own secrets, the default roles file is found there).
    named = access_file or (Path(os.environ[access.ACCESS_ENV]) if os.environ.get(access.ACCESS_ENV) else None)
    roles = named or app.parent.parent / access.DEFAULT_ACCESS_FILE
    access.load_config(roles)  # a roles file that cannot be used is said now, not at the first sign-in
    if named is not None or roles.exists():
        env[access.ACCESS_ENV] = str(roles.resolve())
    signed = binding.sign_in_configured(secrets_files(app, secrets_file))
    hosts = None
    if not signed:
        env[binding.ALLOWED_HOSTS_ENV] = ",".join(allow_hosts)
        listening_on_one = host not in ("0.0.0.0", "::", "")
        # Listening on every interface on purpose (the loud flag): any address may be used, so Streamlit is not
        # told the names; the app's gate still refuses a name that is not an address nor configured.
        hosts = binding.allowed_hosts([*allow_hosts, host]) if listening_on_one else None
    if not signed and not binding.is_loopback(host):
        if not unsafe:
            raise click.ClickException(
                f"refusing to listen on {host} without sign-in: anyone who can reach it could launch runs and spend "
                "the token. Configure sign-in ([auth] in .streamlit/secrets.toml, see docs/team-access.md), or "
                "listen on 127.0.0.1, or pass --unsafe-listen-without-sign-in if that is really meant.")
        env[binding.UNSAFE_LISTEN_ENV] = "1"
        click.secho(f"WARNING: listening on {host} WITHOUT SIGN-IN: anyone who can reach port {port} can launch runs, "
                    "spend the token and write verdicts under any name.", fg="red", bold=True, err=True)
    click.echo(f"dashboard for {path} at http://{host}:{port}" + (" (sign-in required)" if signed else ""))
    secrets = secrets_file.resolve() if secrets_file else None
    sys.exit(_wait(start_dashboard(path, port, host, env=env, secrets=secrets, hosts=hosts)))


def gate_the_candidate(db: Store, console: Console) -> None:
    """The demo's last word before the dashboard: the gate's verdict on the candidate, and what it means."""
    from vton_eval.cli.gate_cmd import run_gate
    from vton_eval.demo import CANDIDATE, gate_verdict_note
    from vton_eval.gate import REGRESSION

    console.print("the baseline is blessed; gating the candidate against it (vton-eval gate --candidate latest):")
    result = run_gate(db, "latest", console=console)
    console.print()
    console.print(gate_verdict_note(CANDIDATE.label, result.verdict == REGRESSION))
    console.print()


@click.command("demo")
@click.option("--db", "db_path", default=None, metavar="PATH",
              help="Database (default: $VTON_EVAL_DB or ./results.duckdb).")
@click.option("--port", default=8501, show_default=True, type=int, help="Dashboard port.")
@click.option("--sandbox-port", default=7860, show_default=True, type=int,
              help="Sandbox port (a free one is picked when it is taken).")
@click.option("--no-dashboard", is_flag=True, help="Only start the sandbox and record the demo runs.")
def demo_command(db_path: str | None, port: int, sandbox_port: int, no_dashboard: bool) -> None:
    """Start the sandbox, record a baseline and a regressed candidate of the sample dataset (once), bless the
    baseline, gate the candidate, and open the dashboard."""
    from vton_eval.sandbox import SandboxConfig, start_sandbox
    from vton_eval.sandbox.app import free_port, port_available

    path = resolve_location(db_path)
    db = open_store(path)
    if not no_dashboard and not port_available(port):
        raise click.ClickException(f"port {port} is taken: choose another dashboard port, e.g. make demo PORT=8502 "
                                   f"(or vton-eval demo --port 8502)")
    if not port_available(sandbox_port):
        click.echo(f"port {sandbox_port} is taken; the sandbox uses another one")
        sandbox_port = free_port()
    # The dashboard starts first and comes up while the sandbox starts and the runs are recorded (a few seconds
    # of Streamlit's start-up off the wait); what it prints is held back until the demo's own output is done.
    dashboard = None if no_dashboard else HeldOutput(start_dashboard(
        path, port, "127.0.0.1", env={"VTON_EVAL_SANDBOX_URL": f"http://127.0.0.1:{sandbox_port}"},
        hosts=binding.allowed_hosts(), output=subprocess.PIPE))
    # SIGTERM (a supervisor) unwinds like Ctrl-C, so the dashboard started above never outlives the demo.
    previous = signal.signal(signal.SIGTERM, _interrupt)
    try:
        with start_sandbox(SandboxConfig(concurrency=8), port=sandbox_port) as sandbox:
            click.echo(f"sandbox serving /generate at {sandbox.url}")
            _record_once(db, path, sandbox)
            if dashboard is None:
                return
            click.echo(f"dashboard at http://127.0.0.1:{port} (Ctrl-C stops everything)")
            _wait(dashboard.release())
    finally:
        signal.signal(signal.SIGTERM, previous)
        if dashboard is not None and dashboard.proc.poll() is None:
            dashboard.proc.terminate()
            try:
                dashboard.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                dashboard.proc.kill()
                dashboard.proc.wait()


def _record_once(db: Store, path: object, sandbox: Any) -> None:
    """The demo's two runs, the blessing and the gate, unless the store already has runs of the sample."""
    from rich.console import Console

    from vton_eval.cli.run_cmd import drive_run, print_report
    from vton_eval.demo import SAMPLE, has_sample_runs, record_demo
    from vton_eval.runner import RunReport

    if has_sample_runs(db):
        click.echo(f"{path} already has runs of {SAMPLE.name}; not recording the demo runs again "
                   "(use another --db, or delete the file, to start over)")
        return
    console = Console(stderr=True, highlight=False)

    def execute(db: Store, run_id: str) -> RunReport:
        report = drive_run(db, run_id, console)
        print_report(db, report, console)
        return report

    click.echo(f"recording a baseline and a candidate of {SAMPLE} into {path} ...")
    record_demo(db, sandbox, execute)
    # As `vton-eval gate` does: a log that is not a terminal gets wide lines, not an 80-column fold.
    gate_the_candidate(db, Console(highlight=False, width=None if sys.stdout.isatty() else 160))


class HeldOutput:
    """A process's output, kept until `release()`, then passed through as it comes."""

    def __init__(self, proc: subprocess.Popen) -> None:
        self.proc = proc
        self._held: list[bytes] = []
        self._lock = threading.Lock()
        self._released = False
        threading.Thread(target=self._pump, daemon=True).start()

    def _pump(self) -> None:
        assert self.proc.stdout is not None
        for line in iter(self.proc.stdout.readline, b""):
            with self._lock:
                if not self._released:
                    self._held.append(line)
                    continue
            sys.stdout.buffer.write(line)
            sys.stdout.buffer.flush()

    def release(self) -> subprocess.Popen:
        with self._lock:
            self._released = True
            sys.stdout.buffer.write(b"".join(self._held))
            sys.stdout.buffer.flush()
            self._held.clear()
        return self.proc

COMMANDS = [dashboard_command, demo_command]
