"""Crashes and stops: kill -9 and Ctrl-C of a real `vton-eval run` process, then resume. No loss, no repeat.

A second process polls the database all through a run, as the dashboard does: neither side errs.
"""

from __future__ import annotations

import hashlib
import json
import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

from vton_eval.records import Recorded, ResultRow, from_row
from vton_eval.runner import RunSettings, create_run, execute_run
from vton_eval.runner.journal import RECEIVED, Journal, journal_path
from vton_eval.store import Database, DatabaseBusy, NoDatabase
from vton_eval.store.runs import get_run

from .helpers.paths import REPO, SAMPLE
from .helpers.wait import wait_until


def _count(db: Database, run_id: str | None = None) -> int:
    try:
        with db.connect(read_only=True, busy_timeout_s=5) as con:
            sql = "SELECT count(*) FROM results" + (" WHERE run_id = ?" if run_id else "")
            return con.execute(sql, [run_id] if run_id else []).fetchone()[0]
    except NoDatabase:
        return 0


def _count_now(db: Database) -> int:
    """`_count` for a poll while a run writes: a file the run holds locked is "not yet" (-1), not a failure."""
    try:
        return _count(db)
    except DatabaseBusy:
        return -1


def _start(db: Database, url: str, *extra: str) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "vton_eval", "run", "--dataset", str(SAMPLE), "--endpoint", url, "--concurrency", "2",
         "--db", db.location, *extra],
        cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _wait_for_results(db: Database, at_least: int, timeout: float = 60) -> None:
    wait_until(lambda: _count_now(db) >= at_least, timeout, f"{at_least} recorded results")


def _received(db: Database) -> dict[str, str | None]:
    """pair id -> output sha of every result the run received: in the database or in its journal."""
    try:
        with db.connect(read_only=True) as con:
            row = con.execute("SELECT run_id FROM runs").fetchone()
            if row is None:
                return {}
            stored = {r[0]: r[1] for r in con.execute(
                "SELECT pair_id, output_sha256 FROM results WHERE run_id = ?", [row[0]]).fetchall()}
    except NoDatabase:
        return {}
    journalled = {e.recorded.result.pair_id: e.recorded.result.output_sha256 for e in
                  Journal(journal_path(db.artifacts.root, row[0])).read()}
    return {**journalled, **stored}


def _case_keys(db: Database, run_id: str) -> dict[tuple[str, str, str], str]:
    """(base sha, product sha, workflow) -> pair id: how the server's call log names a case."""
    store = db.artifacts
    with db.connect(read_only=True) as con:
        rows = con.execute("SELECT pair_id, workflow, base_path, product_path FROM cases WHERE run_id = ?",
                           [run_id]).fetchall()

    def sha(rel: str) -> str:
        return hashlib.sha256(store.abspath(rel).read_bytes()).hexdigest()

    return {(sha(b), sha(p), wf): pid for pid, wf, b, p in rows}


def test_kill_9_then_resume_loses_nothing_and_repeats_nothing(db, live_sandbox):
    live_sandbox.hold_after(6)  # six answers, then every call waits: the kill lands mid-run, whatever the load
    # Without checks: this is about calls (none lost, none repeated); a kill while outputs wait for their checks is
    # the test of a stop below. With them, the resume's 14 checked cases passed two minutes beside two CPU burners.
    proc = _start(db, live_sandbox.url, "--no-checks")
    wait_until(lambda: len(_received(db)) == 6 and live_sandbox.held_now >= 1, what="6 results and a held call",
               interval=0.1)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    live_sandbox.hold_after(None)
    with db.connect(read_only=True) as con:
        run_id = con.execute("SELECT run_id FROM runs").fetchone()[0]
    received = _received(db)
    assert get_run(db, run_id)["status"] == "interrupted"  # the process is gone: shown as such
    assert len(received) == 6

    resumed_at = time.time()
    proc = subprocess.run([sys.executable, "-m", "vton_eval", "resume", run_id[:15], "--db", db.location],
                          cwd=REPO, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    with db.connect(read_only=True) as con:
        final = con.execute('SELECT pair_id, "repeat", output_sha256 FROM results WHERE run_id = ?',
                            [run_id]).fetchall()
    assert len(final) == len({(p, r) for p, r, _ in final}) == 20  # every case once
    by_pair = {p: sha for p, _, sha in final}
    for pair, sha in received.items():  # nothing received before the kill was lost or replaced
        assert by_pair[pair] == sha
    names = _case_keys(db, run_id)
    sent_again = [names[(c["base"], c["product"], c["workflow"])] for c in live_sandbox.calls
                  if c["t"] >= resumed_at and "base" in c]
    assert sent_again and not set(sent_again) & set(received)
    assert set(sent_again) == set(names.values()) - set(received)
    # Each case once, unless the run retried it (a loaded machine can time a call out): then as recorded.
    with db.connect(read_only=True) as con:
        attempts = dict(con.execute("SELECT pair_id, attempts FROM results WHERE run_id = ?", [run_id]).fetchall())
    assert len(sent_again) == sum(attempts[p] for p in set(sent_again))
    assert get_run(db, run_id)["status"] == "finished"


def test_a_journal_left_unchecked_by_a_crash_is_checked_on_resume(db, live_sandbox):
    """The crash came after a result was journalled but before its checks ran."""
    live_sandbox.config.noop_rate = 1.0  # every output is the person unchanged: a hard check failure
    run_id = create_run(db, RunSettings(dataset=str(SAMPLE), endpoint=live_sandbox.url, workflows=["top"]))
    report = execute_run(db, run_id)
    with db.connect() as con:
        row = con.execute("SELECT * FROM results WHERE run_id = ? LIMIT 1", [run_id]).fetchone()
        cols = [d[0] for d in con.description]
        record = dict(zip(cols, row, strict=True))
        con.execute("DELETE FROM results WHERE run_id = ? AND pair_id = ?", [run_id, record["pair_id"]])
        con.execute("DELETE FROM checks WHERE run_id = ? AND pair_id = ?", [run_id, record["pair_id"]])
        con.execute("UPDATE runs SET status = 'interrupted' WHERE run_id = ?", [run_id])
    assert report.status == "finished"
    raw = from_row(ResultRow, {**record, "status": "ok", "error_kind": None, "error_message": None, "flags": None,
                              "checks": None})
    Journal(journal_path(db.artifacts.root, run_id)).append(RECEIVED, Recorded(raw))
    calls = live_sandbox.stats.get("calls", 0)
    assert execute_run(db, run_id).status == "finished"
    assert live_sandbox.stats.get("calls", 0) == calls  # recovered from the journal, not sent again
    with db.connect(read_only=True) as con:
        kind, checks = con.execute("SELECT error_kind, checks FROM results WHERE run_id = ? AND pair_id = ?",
                                   [run_id, record["pair_id"]]).fetchone()
        n_checks = con.execute("SELECT count(*) FROM checks WHERE run_id = ? AND pair_id = ?",
                               [run_id, record["pair_id"]]).fetchone()[0]
    assert kind == "silent_failure" and json.loads(checks) and n_checks > 0


def test_ctrl_c_marks_the_run_interrupted_and_exits_cleanly(db, live_sandbox):
    live_sandbox.hold_after(2)
    # Without checks: a result is recorded as it is received. (With them, a stop leaves outputs still waiting for
    # their checks in the journal for `resume`, and the checks' low-priority process can take a minute to start
    # on a loaded machine.)
    proc = _start(db, live_sandbox.url, "--no-checks")
    wait_until(lambda: _count_now(db) == 2 and live_sandbox.held_now >= 1, what="2 results and a held call",
               interval=0.1)
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    assert "Traceback" not in err and "interrupted" in err and "vton-eval resume" in err
    with db.connect(read_only=True) as con:
        run_id, status = con.execute("SELECT run_id, status FROM runs").fetchone()
    assert status == "interrupted"
    assert _count(db, run_id) == 2  # the held calls were cut short: not results
    assert not journal_path(db.artifacts.root, run_id).exists()  # everything reached the database


def test_sigterm_cancels(db, live_sandbox):
    live_sandbox.hold_after(1)
    proc = _start(db, live_sandbox.url, "--no-checks")  # recorded as received, as above
    wait_until(lambda: _count_now(db) == 1 and live_sandbox.held_now >= 1, what="a result and a held call",
               interval=0.1)
    os.kill(proc.pid, signal.SIGTERM)
    proc.communicate(timeout=60)
    assert proc.returncode == 3
    with db.connect(read_only=True) as con:
        assert con.execute("SELECT status FROM runs").fetchone()[0] == "cancelled"


def test_a_ctrl_c_that_comes_while_the_program_starts_is_not_lost(db, live_sandbox):
    """The signal lands before `run` installs its own handler (during the imports): the program still
    stops, with exit 130, a sentence and no traceback, and records nothing."""
    code = textwrap.dedent("""
        import os, signal, sys
        from vton_eval import entry
        signal.signal(signal.SIGINT, entry._remember)   # what the program's first line does
        os.kill(os.getpid(), signal.SIGINT)             # Ctrl-C before the command has even been parsed
        from vton_eval.cli import main
        main(sys.argv[1:])
    """)
    proc = subprocess.run([sys.executable, "-c", code, "run", "--dataset", str(SAMPLE), "--endpoint",
                           live_sandbox.url, "--db", db.location], cwd=REPO, capture_output=True, text=True,
                          timeout=120)
    assert proc.returncode == 130, proc.stderr
    assert "interrupted before the run started" in proc.stderr and "Traceback" not in proc.stderr
    assert _count(db) == 0


READER = textwrap.dedent("""
    import sys, time, json
    from vton_eval.store import NoDatabase, open_store
    from vton_eval.store.runs import list_runs
    db = open_store(sys.argv[1], busy_timeout_s=10)
    target, errors, reads, last = int(sys.argv[2]), [], 0, -1
    deadline = time.time() + 300
    while time.time() < deadline and last < target:
        try:
            with db.connect(read_only=True) as con:
                count = con.execute("SELECT count(*) FROM results").fetchone()[0]
            list_runs(db)
            reads += 1
            if count != last:
                print(json.dumps({"count": count}), flush=True)
                last = count
        except NoDatabase:
            pass
        except Exception as exc:
            errors.append(repr(exc))
        time.sleep(0.01)
    print(json.dumps({"reads": reads, "errors": errors}), flush=True)
""")


def test_a_reader_polling_throughout_a_run_breaks_nothing(db, live_sandbox):
    """A second process reads (as a page does) before, during and after a run's writes: no read fails,
    no write fails. The sandbox holds the run half-way until the reader has seen the half written,
    so the reads overlap the writes whatever the machine's load."""
    live_sandbox.config.latency = 0.05
    db.ensure()
    reader = subprocess.Popen([sys.executable, "-c", READER, db.location, "60"], cwd=REPO,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    lines: list[dict] = []
    threading.Thread(target=lambda: lines.extend(json.loads(line) for line in reader.stdout), daemon=True).start()
    wait_until(lambda: any(line.get("count") == 0 for line in lines), timeout=120, what="the reader's first read")
    live_sandbox.hold_after(30)
    run_id = create_run(db, RunSettings(dataset=str(SAMPLE), endpoint=live_sandbox.url, repeats=3, concurrency=4))
    box: dict = {}
    runner = threading.Thread(target=lambda: box.update(report=execute_run(db, run_id)))
    runner.start()
    try:
        wait_until(lambda: any(0 < line.get("count", 0) < 60 for line in lines), timeout=120,
                   what="the reader to see the run half-way")
    finally:
        live_sandbox.hold_after(None)
    runner.join(timeout=300)
    reader.wait(timeout=300)
    result = lines[-1]
    assert box["report"].status == "finished" and _count(db, run_id) == 60
    assert result["errors"] == [] and result["reads"] > 2, (result, reader.stderr.read())
    assert lines[-2]["count"] == 60  # and it saw the whole run once it was written


def _catches(pid: int, signum: int) -> bool:
    """Whether the process has a handler for `signum` (Linux: the SigCgt mask in /proc)."""
    try:
        status = Path(f"/proc/{pid}/status").read_text(encoding="ascii")
    except FileNotFoundError:
        return False
    mask = next(int(line.split()[1], 16) for line in status.splitlines() if line.startswith("SigCgt:"))
    return bool(mask >> (signum - 1) & 1)


def test_a_cancel_that_comes_while_the_run_process_is_still_starting_cancels_the_run(db, live_sandbox):
    """The dashboard's Cancel may reach a run process that is still importing or opening the store (seconds
    for a shared store): the run ends `cancelled`, it is not killed with its run left `running`."""
    live_sandbox.hold_after(0)
    try:
        run_id = create_run(db, RunSettings(dataset=str(SAMPLE), endpoint=live_sandbox.url, pairs=["top-01"]))
        proc = subprocess.Popen([sys.executable, "-m", "vton_eval", "resume", run_id, "--db", db.location], cwd=REPO,
                                stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        # The program's first lines take SIGTERM over; the imports and the store come after, so the signal
        # lands while the program is still starting (it used to kill it there, its run left "running").
        wait_until(lambda: _catches(proc.pid, signal.SIGTERM), what="the program to take SIGTERM over",
                   interval=0.002)
        proc.send_signal(signal.SIGTERM)
        out, _ = proc.communicate(timeout=180)
    finally:
        live_sandbox.hold_after(None)
    assert "Traceback" not in out, out
    assert proc.returncode == 3 and get_run(db, run_id)["status"] == "cancelled", out


def _check_worker_of(pid: int) -> int | None:
    """The pid of the check process a run process started, or None yet."""
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            cmdline = (entry / "cmdline").read_bytes()
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        if ppid == pid and b"vton_eval.runner.check_worker" in cmdline:
            return int(entry.name)
    return None


def test_a_stop_leaves_results_waiting_for_their_checks_to_resume_which_records_them(db, live_sandbox):
    """Ctrl-C while received outputs wait for their checks (a loaded machine; here the check process is paused):
    the run says how many, keeps them in its journal, and `resume` checks and records them without a call."""
    live_sandbox.hold_after(2)
    proc = _start(db, live_sandbox.url)
    # The run process imports, opens the store (a shared store: seconds) and plans before its checks start: with two
    # CPU burners beside the suite's four workers that took over a minute.
    worker = wait_until(lambda: _check_worker_of(proc.pid), timeout=180, what="the run's check process")
    os.kill(worker, signal.SIGSTOP)
    try:
        wait_until(lambda: len(_received(db)) == 2 and live_sandbox.held_now >= 1, what="2 received and a held call",
                   interval=0.1)
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=60)
    finally:
        try:
            os.kill(worker, signal.SIGCONT)
        except ProcessLookupError:
            pass  # the run killed it, as it should
    assert proc.returncode == 130, err
    assert "2 more received, their checks unfinished: resume records them" in " ".join(err.split()), err
    with db.connect(read_only=True) as con:
        run_id = con.execute("SELECT run_id FROM runs").fetchone()[0]
    assert _count(db, run_id) == 0 and journal_path(db.artifacts.root, run_id).exists()
    kept = _received(db)
    live_sandbox.hold_after(None)
    resumed_at = time.time()
    resumed = subprocess.run([sys.executable, "-m", "vton_eval", "resume", run_id, "--db", db.location], cwd=REPO,
                             capture_output=True, text=True, timeout=180)
    assert resumed.returncode == 0, resumed.stderr
    with db.connect(read_only=True) as con:
        rows = {p: (sha, checks) for p, sha, checks in con.execute(
            "SELECT pair_id, output_sha256, checks FROM results WHERE run_id = ?", [run_id]).fetchall()}
    for pair, sha in kept.items():  # recorded from the journal, checked, the same output
        assert rows[pair][0] == sha and json.loads(rows[pair][1])
    names = _case_keys(db, run_id)
    sent_again = {names[(c["base"], c["product"], c["workflow"])] for c in live_sandbox.calls
                  if c["t"] >= resumed_at and "base" in c}
    assert sent_again == set(names.values()) - set(kept)  # the two kept were not sent again; the rest were
