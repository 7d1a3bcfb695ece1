"""`vton-eval dashboard` and `vton-eval demo`: the Streamlit app, alone or with a sandbox and a first run."""

from __future__ import annotations

import importlib.util
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import click

from vton_eval.store import Database, resolve_db_path

REPO = Path(__file__).resolve().parents[2]
SAMPLE = REPO / "datasets" / "sample"


def _app_path() -> Path:
    # Located, not imported: the engine never imports the dashboard.
    spec = importlib.util.find_spec("dashboard")
    if spec is None or not spec.submodule_search_locations:
        raise click.ClickException("the dashboard package is not installed (pip install -e . from the repo)")
    return Path(next(iter(spec.submodule_search_locations))) / "app.py"


def start_dashboard(db_path: Path, port: int, host: str, env: dict[str, str] | None = None) -> subprocess.Popen:
    app = _app_path()
    command = [
        sys.executable, "-m", "streamlit", "run", str(app), "--server.port", str(port), "--server.address", host,
        "--server.headless", "true", "--browser.gatherUsageStats", "false", "--", "--db", str(db_path),
    ]
    full_env = {**os.environ, **(env or {}), "VTON_EVAL_DB": str(db_path), "GRADIO_ANALYTICS_ENABLED": "False"}
    # Run from the repo so .streamlit/config.toml (theme, loopback binding) applies.
    return subprocess.Popen(command, env=full_env, cwd=app.parent.parent)


def _wait(proc: subprocess.Popen) -> int:
    """Wait for the Streamlit process; Ctrl-C or SIGTERM (a supervisor, a test) stops it too."""

    def on_term(signum: int, _frame: object) -> None:
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, on_term)
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
              help="Database (default: $VTON_EVAL_DB or ./results.duckdb).")
@click.option("--port", default=8501, show_default=True, type=int)
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to bind (loopback by default).")
def dashboard_command(db_path: str | None, port: int, host: str) -> None:
    """Open the dashboard on a database."""
    path = resolve_db_path(db_path)
    click.echo(f"dashboard for {path} at http://{host}:{port}")
    sys.exit(_wait(start_dashboard(path, port, host)))


@click.command("demo")
@click.option("--db", "db_path", default=None, metavar="PATH",
              help="Database (default: $VTON_EVAL_DB or ./results.duckdb).")
@click.option("--port", default=8501, show_default=True, type=int, help="Dashboard port.")
@click.option("--sandbox-port", default=7860, show_default=True, type=int)
@click.option("--no-dashboard", is_flag=True, help="Only start the sandbox and record the first run.")
def demo_command(db_path: str | None, port: int, sandbox_port: int, no_dashboard: bool) -> None:
    """Start the sandbox, record a first run of the sample dataset if there is none, open the dashboard."""
    from rich.console import Console

    from vton_eval.cli.run_cmd import drive_run, print_report
    from vton_eval.runner import RunSettings, create_run
    from vton_eval.sandbox import SandboxConfig, start_sandbox
    from vton_eval.sandbox.app import free_port, port_available
    from vton_eval.store.runs import list_runs

    path = resolve_db_path(db_path)
    db = Database(path)
    if not port_available(sandbox_port):
        sandbox_port = free_port()
    # A believable service: some latency with jitter, and a few seeded faults to look at.
    config = SandboxConfig(latency=0.6, jitter=0.5, error_rate=0.06, noop_rate=0.05, seed=1, concurrency=4)
    sandbox = start_sandbox(config, port=sandbox_port)
    click.echo(f"sandbox serving /generate at {sandbox.url}")
    try:
        if not list_runs(db, limit=1):
            click.echo(f"recording a first run of {SAMPLE} into {path} ...")
            run_id = create_run(db, RunSettings(dataset=str(SAMPLE), endpoint=sandbox.url, concurrency=4,
                                                label="demo", retries=0))
            console = Console(stderr=True, highlight=False)
            print_report(db, drive_run(db, run_id, console), console)
        else:
            click.echo(f"{path} already has runs; not recording another")
        if no_dashboard:
            return
        click.echo(f"dashboard at http://127.0.0.1:{port} (Ctrl-C stops everything)")
        proc = start_dashboard(path, port, "127.0.0.1", env={"VTON_EVAL_SANDBOX_URL": sandbox.url})
        time.sleep(0.5)
        _wait(proc)
    finally:
        sandbox.close()


COMMANDS = [dashboard_command, demo_command]
