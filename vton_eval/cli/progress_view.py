"""How a running run looks in a terminal: a live bar with counts by outcome, or plain lines in CI."""

from __future__ import annotations

import sys
import threading
import time
from collections.abc import Callable

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from vton_eval.cli.term import one_line, plain, safe
from vton_eval.runner import Progress as RunProgress


def _counts(p: RunProgress) -> str:
    parts = [f"[green]ok {p.ok}[/]"]
    parts += [f"[red]{safe(kind)} {n}[/]" for kind, n in sorted(p.errors.items())]
    return "  ".join(parts)


def watch(progress: RunProgress, worker: threading.Thread, console: Console, on_tick: Callable[[], None]) -> None:
    """Show progress until `worker` ends. on_tick runs every loop (signal-friendly main thread)."""
    if console.is_terminal:
        columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                   TextColumn("{task.fields[counts]}"), TextColumn("[dim]{task.fields[note]}"))
        with Progress(*columns, console=console, transient=False) as bar:
            task = bar.add_task("cases", total=progress.total or None, counts="", note="")
            while worker.is_alive():
                worker.join(0.2)
                on_tick()
                bar.update(task, total=progress.total or None, completed=progress.done, counts=_counts(progress),
                           note=safe(progress.note))
        return
    last = 0.0
    while worker.is_alive():
        worker.join(0.2)
        on_tick()
        # Nothing to say before the run knows its cases (a "[0/0] ok 0" reads as a run with nothing to do).
        if time.monotonic() - last >= 5.0 and progress.total:
            last = time.monotonic()
            print(progress_line(progress), file=sys.stderr, flush=True)


def progress_line(progress: RunProgress) -> str:
    """One line of a run's progress for a log (CI, the dashboard's log view): '12 of 40 cases recorded: 10 ok,
    2 errors (timeout 2)'."""
    failed = sum(progress.errors.values())
    kinds = ", ".join(f"{k} {n}" for k, n in sorted(progress.errors.items()))
    line = f"{progress.done:,} of {progress.total:,} cases recorded: {progress.ok:,} ok, " \
           f"{failed:,} error{'' if failed == 1 else 's'}" + (f" ({kinds})" if kinds else "")
    return line + (f"; {plain(progress.note)}" if progress.note else "")


def _ms(value: float | None) -> str:
    return "-" if value is None else f"{value:,.0f}"


def summary_table(summary: dict) -> Table:
    table = Table(title="Summary by workflow", show_lines=False)
    for name in ("workflow", "cases", "ok", "errors", "error rate", "p50 ms", "p95 ms", "p99 ms"):
        table.add_column(name, justify="left" if name == "workflow" else "right")
    for row in summary["workflows"]:
        table.add_row(safe(row["workflow"]), str(row["cases"]), str(row["ok"]), str(row["errors"]),
                      f"{row['error_rate']:.1%}", _ms(row["p50_ms"]), _ms(row["p95_ms"]), _ms(row["p99_ms"]))
    return table


def kinds_table(summary: dict) -> Table | None:
    if not summary["error_kinds"]:
        return None
    table = Table(title="Errors by kind")
    table.add_column("kind")
    table.add_column("count", justify="right")
    table.add_column("example message", overflow="fold")
    for row in summary["error_kinds"]:
        table.add_row(safe(row["error_kind"]), str(row["n"]), one_line(row["example"] or ""))
    return table
