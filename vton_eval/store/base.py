"""The store's interface: where results live, and the only door to them.

Every write in vton-eval is a function of a `Writer` handed to `Store.write(work)`: one owner
opens the connection, runs the work in one transaction, commits, and retries what the store's
concurrency asks to retry (as datasette's `execute_write_fn`). Every read goes through
`vton_eval.store.reads.reading(store)`. An implementation provides connections and the two
statements whose SQL differs between engines: insert-unless-present and replace-by-key.

`Database` (`store/db.py`) implements it on a DuckDB file; a shared store is another implementation.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager
from typing import Any, TypeVar

from vton_eval.artifacts import ArtifactStore
from vton_eval.errors import VtonEvalError

T = TypeVar("T")


# -- what any store raises for a person to read ----------------------------------------------------


class DatabaseBusy(VtonEvalError):
    """Another process held the database lock for longer than we were willing to wait."""


class NoDatabase(VtonEvalError):
    """The database file does not exist yet (nothing has been recorded)."""


class DatabaseUnusable(VtonEvalError):
    """The file cannot be used: damaged, not a database, or not readable / writable here."""


class DatabaseDamaged(DatabaseUnusable):
    """The file is not a DuckDB database, or parts of it cannot be read."""


class Writer(ABC):
    """A connection inside one write transaction, with the statements a store writes with."""

    def __init__(self, con: Any) -> None:
        self.con = con

    def execute(self, sql: str, params: Sequence[Any] | dict[str, Any] = ()) -> Any:
        return self.con.execute(sql, params if isinstance(params, dict) else list(params))

    def scalar(self, sql: str, params: Sequence[Any] | dict[str, Any] = ()) -> Any:
        row = self.execute(sql, params).fetchone()
        return row[0] if row else None

    def rows(self, sql: str, params: Sequence[Any] = ()) -> list[dict[str, Any]]:
        cur = self.execute(sql, params)
        names = [d[0] for d in cur.description]
        return [dict(zip(names, row, strict=True)) for row in cur.fetchall()]

    def lock(self, name: str) -> None:
        """Serialise this transaction with every other that takes a lock (a shared store's writers); a
        file has one writer at a time already."""
        return None

    @abstractmethod
    def insert_new(self, table: str, columns: Sequence[str], values: Sequence[tuple[Any, ...]],
                   key: Sequence[str]) -> int:
        """Insert the rows whose `key` is not in `table` yet (a replayed journal, a retried batch, a merge
        never duplicates nor replaces a row); return how many rows the batch had."""

    @abstractmethod
    def insert_select(self, table: str, columns: Sequence[str], select_sql: str, params: Any,
                      key: Sequence[str]) -> None:
        """Insert the rows a SELECT gives (columns in `columns` order) whose `key` is not in `table` yet."""

    @abstractmethod
    def replace(self, table: str, columns: Sequence[str], values: tuple[Any, ...], key: Sequence[str]) -> None:
        """Insert one row, replacing the row with the same `key` (a reviewer's new verdict on a case)."""


class Store(ABC):
    """Where one set of results lives: tables and artifact files."""

    #: Where the store is, for people (a file path; never a password).
    location: str
    artifacts: ArtifactStore
    #: Whether a scan of a table costs more than the rows it reads (a shared store asks its catalog at every
    #: scan): then rows several queries of a page read are kept in temporary tables (`Reader.kept`).
    keeps_reads: bool = False

    @abstractmethod
    def exists(self) -> bool:
        """Whether anything was recorded yet (reads of a store that does not exist are empty)."""

    @abstractmethod
    def ensure(self) -> None:
        """Create the store and bring its schema up to date."""

    @abstractmethod
    def connect(self, read_only: bool = False, busy_timeout_s: float | None = None) -> AbstractContextManager[Any]:
        """A connection for one unit of work (readers: through `reads.reading`; writers: through `write`)."""

    @abstractmethod
    def write(self, work: Callable[[Writer], T], busy_timeout_s: float | None = None) -> T:
        """Run `work` in one write transaction: all of it is stored, or none of it."""

    def reading(self) -> AbstractContextManager[Any]:
        from vton_eval.store.reads import reading

        return reading(self)


# DuckDB draws a progress bar on stdout (terminal or not) for a query slower than 2 s: a slow read on a loaded
# machine or a busy shared store would write it into a command's output (JSON, CSV, Rich tables). The setting
# belongs to a connection (it cannot be set for a whole instance), so every connection we open turns it off.
QUIET = "SET enable_progress_bar = false"
