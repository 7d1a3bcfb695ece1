"""The process executing a run, as this machine knows it: whether it still lives (a row recorded as running whose
process is gone reads as interrupted), and which process a cancel may signal (that one and no other).

A run's row names its process (`pid`, `host`), but a row is data anyone who writes the store can forge: a
cancel that trusted it would signal whatever process has that number. So the run process also leaves a
marker on this machine beside its journal (`journal/<run_id>.pid`: its pid and its start time) while it
runs, and a cancel signals the row's pid only when the marker agrees, the process started when the marker
says (a pid is reused after a process ends), and it is a vton-eval process.
"""

from __future__ import annotations

import json
import os
import signal
import socket
from pathlib import Path
from typing import Any

from vton_eval.clock import utcnow
from vton_eval.errors import InvalidValue


def marker_path(artifact_root: Path, run_id: str) -> Path:
    return artifact_root / "journal" / f"{run_id}.pid"


def _started(pid: int) -> int | None:
    """The process's start time (clock ticks since boot), which a reused pid does not share; None when unknown."""
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii", errors="replace") as f:
            return int(f.read().rsplit(")", 1)[1].split()[19])
    except (OSError, IndexError, ValueError):
        return None


def _is_ours(pid: int) -> bool:
    """Whether the process runs vton-eval (`python -m vton_eval ...` or the `vton-eval` script)."""
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            words = f.read().split(b"\0")
    except OSError:
        return not os.path.isdir("/proc")  # no /proc on this system: the marker and the start time decide
    return any(w == b"vton_eval" or w.endswith((b"/vton-eval", b"vton_eval/__main__.py")) for w in words)


def mark(artifact_root: Path, run_id: str, pid: int | None = None) -> None:
    """Written by the run process when it starts executing the run, and before that by the process that started
    it (`pid`: the child's), so that a Cancel clicked at once finds it."""
    path = marker_path(artifact_root, run_id)
    path.parent.mkdir(parents=True, exist_ok=True)
    pid = pid or os.getpid()
    tmp = path.with_name(f".tmp-{os.getpid()}-{pid}-{path.name}")
    tmp.write_text(json.dumps({"pid": pid, "host": socket.gethostname(), "started": _started(pid)}),
                   encoding="utf-8")
    os.replace(tmp, path)


def unmark(artifact_root: Path, run_id: str) -> None:
    """Removed by the run process when the run ends (only its own marker)."""
    path = marker_path(artifact_root, run_id)
    try:
        if json.loads(path.read_text(encoding="utf-8")).get("pid") == os.getpid():
            path.unlink()
    except (OSError, ValueError, AttributeError):
        pass


def run_pid(artifact_root: Path, run: dict[str, Any]) -> int:
    """The pid of the live vton-eval process executing `run` on this machine; InvalidValue saying why there is none
    to signal (another machine's run, a row that names a process the run never had)."""
    run_id = run["run_id"]
    if run.get("host") and run["host"] != socket.gethostname():
        raise InvalidValue(f"run {run_id} runs on another machine ({run.get('host')}); cancel it there")
    try:
        pid = int(run.get("pid") or 0)
        marker = json.loads(marker_path(artifact_root, run_id).read_text(encoding="utf-8"))
    except (OSError, ValueError, TypeError):
        raise InvalidValue(f"run {run_id}: no process of this machine is executing it (its record names process "
                           f"{run.get('pid')}); nothing was signalled") from None
    if not isinstance(marker, dict) or marker.get("pid") != pid or pid <= 1 or pid == os.getpid():
        raise InvalidValue(f"run {run_id}: its record names process {pid}, which is not the one executing it; "
                           "nothing was signalled")
    if _started(pid) != marker.get("started") or not _is_ours(pid):
        raise InvalidValue(f"run {run_id}: process {pid} is no longer the run's (it ended); nothing was signalled")
    return pid


def stop(artifact_root: Path, run: dict[str, Any]) -> int:
    """Ask the run's process to stop (SIGTERM: it records what it has and marks the run cancelled); its pid."""
    pid = run_pid(artifact_root, run)
    os.kill(pid, signal.SIGTERM)
    return pid


# -- is it alive? ----------------------------------------------------------------------------------


def process_alive(pid: int | None, host: str | None) -> bool | None:
    """Whether a run's process still lives; None when it ran on another machine (we cannot tell)."""
    if not pid:
        return False
    if host and host != socket.gethostname():
        return None
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return not _is_zombie(pid)


def _is_zombie(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] == "Z"
    except (OSError, IndexError):
        return False


# A running run writes a heartbeat (`updated_at`) at least every 5 s; one silent for this long, on a
# machine whose processes we cannot see (a shared store), is taken as gone.
STALE_AFTER_S = 60.0


def run_alive(run: dict[str, Any]) -> bool | None:
    """Whether a run's process still lives: asked of the OS on this machine; on another machine, judged by
    its heartbeat (None: it beat recently, so it may well be running)."""
    alive = process_alive(run.get("pid"), run.get("host"))
    if alive is None:
        beat = run.get("updated_at") or run.get("created_at")
        if beat is None or (utcnow() - beat).total_seconds() > STALE_AFTER_S:
            return False
    return alive


def with_liveness(run: dict[str, Any]) -> dict[str, Any]:
    """A run recorded as running whose process is gone was killed: show it as interrupted."""
    if run["status"] == "running" and run_alive(run) is False:
        run["status"] = "interrupted"
        run["message"] = run.get("message") or "the run's process is gone (killed?); resume it to finish"
    return run
