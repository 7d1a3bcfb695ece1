"""Opening the DuckDB file safely: short-lived connections, lock retries, migrations.

DuckDB lets one process hold the file read-write, or many read-only, never both, and has no busy
timeout. So nobody keeps a connection while waiting on the network or a person: open, work,
close. A lock conflict is retried with jittered backoff on both sides, so a dashboard reading the
file never breaks a run, and the reverse.
"""

from __future__ import annotations

import os
import random
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import duckdb

from vton_eval.artifacts import ArtifactStore
from vton_eval.store.base import (
    QUIET,
    DatabaseBusy,
    DatabaseDamaged,
    DatabaseUnusable,
    NoDatabase,
    Store,
    T,
    Writer,
)
from vton_eval.store.lake_schema import file_statement
from vton_eval.store.schema import SCHEMA_VERSION, current_version, migrate

DEFAULT_DB = "results.duckdb"


_DAMAGE_SIGNS = ("not a valid duckdb database", "corrupt", "checksum", "could not read enough bytes",
                 "serialization")


def damage_error(path: Path, exc: BaseException) -> DatabaseUnusable | None:
    """The clear error for a DuckDB failure that means the file cannot be used; None for any other failure
    (a lock conflict, a mistake in a query)."""
    text = str(exc)
    if _is_lock_conflict(exc):
        return None
    lowered = text.lower()
    first = text.strip().splitlines()[0][:300] if text.strip() else type(exc).__name__
    if "newer version of duckdb" in lowered or "version number 999" in lowered:
        return DatabaseUnusable(
            f"{path} was written by DuckDB 2.0, and vton-eval now runs DuckDB 1.5.5 (the version whose shared-store "
            "extensions install offline): convert it once as docs/team-deployment.md's 'DuckDB version' says")
    if "permission denied" in lowered or "no space left" in lowered or "read-only file system" in lowered:
        return DatabaseUnusable(f"{path} cannot be used here: {first}")
    if isinstance(exc, duckdb.IOException | duckdb.SerializationException) or any(
            sign in lowered for sign in _DAMAGE_SIGNS):
        return DatabaseDamaged(f"{path} is not a DuckDB database, or it is damaged: {first}")
    return None


def resolve_db_path(flag: str | os.PathLike[str] | None = None) -> Path:
    """The database file: an explicit flag, else VTON_EVAL_DB, else ./results.duckdb (a store URL is not a
    file: see `location.resolve_location`)."""
    chosen = flag or os.environ.get("VTON_EVAL_DB") or DEFAULT_DB
    return Path(chosen).expanduser().resolve()


def _is_lock_conflict(exc: BaseException) -> bool:
    text = str(exc)
    return "Could not set lock" in text or "Conflicting lock" in text


# In one process DuckDB refuses a read-only and a read-write connection to the same file at the
# same time; serialising our own short connections per file avoids that.
_process_locks: dict[Path, threading.RLock] = {}
_process_locks_guard = threading.Lock()
_migrated: set[Path] = set()


def _process_lock(path: Path) -> threading.RLock:
    with _process_locks_guard:
        return _process_locks.setdefault(path, threading.RLock())


class Database(Store):
    """A DuckDB file and how to open it. Cheap to create; holds no connection."""

    def __init__(self, path: str | os.PathLike[str] | None = None, busy_timeout_s: float = 15.0) -> None:
        self.path = resolve_db_path(path)
        self.busy_timeout_s = busy_timeout_s
        self.location = str(self.path)
        self.artifacts = ArtifactStore(self.path)

    def __repr__(self) -> str:
        return f"Database({str(self.path)!r})"

    @property
    def folder(self) -> Path:
        return self.path.parent

    def exists(self) -> bool:
        return self.path.is_file()

    @contextmanager
    def connect(self, read_only: bool = False, busy_timeout_s: float | None = None) -> Iterator[
        duckdb.DuckDBPyConnection
    ]:
        """A connection for one unit of work. Read-only on a missing file raises NoDatabase."""
        if read_only and not self.exists():
            raise NoDatabase(f"no database at {self.path} yet")
        if read_only and self.path not in _migrated:
            self._upgrade_if_old(busy_timeout_s)
        deadline = time.monotonic() + (self.busy_timeout_s if busy_timeout_s is None else busy_timeout_s)
        delay = 0.01
        lock = _process_lock(self.path)
        with lock:
            while True:
                try:
                    con = duckdb.connect(str(self.path), read_only=read_only)
                    con.execute(QUIET)
                    break
                except duckdb.Error as exc:
                    if not _is_lock_conflict(exc):
                        raise (damage_error(self.path, exc) or exc) from None
                    if time.monotonic() >= deadline:
                        raise DatabaseBusy(
                            f"{self.path.name} is locked by another process (a run writing, or another "
                            "tool); try again in a moment"
                        ) from None
                    time.sleep(delay * (0.5 + random.random()))
                    delay = min(delay * 2, 0.25)
            try:
                if not read_only and self.path not in _migrated:
                    migrate(con, transform=file_statement)
                    _migrated.add(self.path)
                yield con
            except duckdb.Error as exc:
                damaged = damage_error(self.path, exc)
                if damaged is not None:
                    raise damaged from None
                raise
            finally:
                con.close()

    def _upgrade_if_old(self, busy_timeout_s: float | None) -> None:
        """A file an older vton-eval wrote gets the current schema before anyone reads it (checked once)."""
        with _process_lock(self.path):
            _migrated.add(self.path)  # "checked": the read below must not check again
            try:
                with self.connect(read_only=True, busy_timeout_s=busy_timeout_s) as con:
                    old = current_version(con) < SCHEMA_VERSION
            except BaseException:
                _migrated.discard(self.path)
                raise
            if old:
                _migrated.discard(self.path)
                with self.connect(busy_timeout_s=busy_timeout_s):  # a writer's open migrates
                    pass

    def ensure(self) -> None:
        """Create the file and bring its schema up to date."""
        self.folder.mkdir(parents=True, exist_ok=True)
        _migrated.discard(self.path)
        with self.connect():
            pass

    def write(self, work: Callable[[Writer], T], busy_timeout_s: float | None = None) -> T:
        with self.connect(busy_timeout_s=busy_timeout_s) as con:
            con.execute("BEGIN")
            try:
                result = work(FileWriter(con))
                con.execute("COMMIT")
            except BaseException:
                try:
                    con.execute("ROLLBACK")
                except duckdb.Error:  # the transaction is already gone (the failure ended it)
                    pass
                raise
        return result


class FileWriter(Writer):
    """Writes to a DuckDB file, whose tables have primary keys: INSERT OR IGNORE / OR REPLACE."""

    def insert_new(self, table: str, columns: Sequence[str], values: Sequence[tuple[Any, ...]],
                   key: Sequence[str]) -> int:
        return insert_staged(self, self.con, table, columns, values, key)

    def insert_select(self, table: str, columns: Sequence[str], select_sql: str, params: Any,
                      key: Sequence[str]) -> None:
        quoted = ", ".join(f'"{name}"' for name in columns)
        self.execute(f"INSERT OR IGNORE INTO {table} ({quoted}) {select_sql}", params)

    def replace(self, table: str, columns: Sequence[str], values: tuple[Any, ...], key: Sequence[str]) -> None:
        quoted = ", ".join(f'"{name}"' for name in columns)
        self.con.execute(f"INSERT OR REPLACE INTO {table} ({quoted}) VALUES ({', '.join('?' for _ in columns)})",
                         list(values))


def insert_staged(w: Writer, con: duckdb.DuckDBPyConnection, table: str, columns: Sequence[str],
                  values: Sequence[tuple[Any, ...]], key: Sequence[str], temp_schema: str = "") -> int:
    """`insert_new` through a temporary table filled by the appender, then the writer's own insert_select
    (fast for many rows; `temp_schema` qualifies the temporary table where another catalog is the default)."""
    if not values:
        return 0
    quoted = ", ".join(f'"{name}"' for name in columns)
    stage = f"_stage_{table}"
    con.execute(f"CREATE OR REPLACE TEMP TABLE {stage} AS SELECT {quoted} FROM {table} LIMIT 0")
    append(con, stage, columns, values)
    w.insert_select(table, columns, f"SELECT {quoted} FROM {temp_schema}{stage}", [], key)
    con.execute(f"DROP TABLE {temp_schema}{stage}")
    return len(values)


def append(con: duckdb.DuckDBPyConnection, table: str, columns: Sequence[str],
           values: Sequence[tuple[Any, ...]]) -> None:
    """Bulk-append rows to a table. DuckDB's appender takes ~300k rows/s and needs neither pandas nor
    Arrow (a quick start for `vton-eval run`); a DuckDB without it goes through an Arrow table."""
    if hasattr(con, "appender"):
        appender = con.appender(table)
        appender.append_rows(values)
        appender.flush()
        return
    import pyarrow as pa

    incoming = pa.table({name: pa.array([row[i] for row in values]) for i, name in enumerate(columns)})
    name = f"_incoming_{table}"
    con.register(name, incoming)
    try:
        quoted = ", ".join(f'"{c}"' for c in columns)
        con.execute(f"INSERT INTO {table} ({quoted}) SELECT {quoted} FROM {name}")
    finally:
        con.unregister(name)
