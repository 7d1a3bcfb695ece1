"""The one way queries read a store: `reading(store)` yields a `Reader` on one short connection.

A Reader answers a query as a DataFrame (`reader(sql, params)` or `reader.frame(...)`), as dicts
(`reader.rows(...)`), as one dict (`reader.one(...)`) or as one value (`reader.scalar(...)`).
With no database yet, every read is empty. Inside `one_connection(store)` (a page render), every
read of that store in the thread shares one connection, opened at the first query.

`params` are positional (`?`, a sequence) or named (`$name`, a mapping).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from contextlib import AbstractContextManager, contextmanager
from contextvars import ContextVar
from itertools import count
from typing import TYPE_CHECKING, Any

from vton_eval.store.literals import sql_string

if TYPE_CHECKING:
    import pandas as pd

    from vton_eval.store.base import Store

Params = Sequence[Any] | Mapping[str, Any]
_KEPT = count(1)


class Reader:
    """Queries on one open connection (or on none: an empty store answers nothing)."""

    def __init__(self, con: Any, keep: bool = False) -> None:
        self._con = con
        self._keep = keep  # `kept` copies rows (a shared store), or reads them where they are (a file)
        self._kept: dict[tuple[str, tuple[Any, ...]], str] = {}

    def _execute(self, sql: str, params: Params) -> Any:
        return self._con.execute(sql, params if isinstance(params, Mapping) else list(params))

    def frame(self, sql: str, params: Params = ()) -> pd.DataFrame:
        # pandas (about 0.5 s of CPU to import) only when a frame is asked for: a run process reads rows.
        import pandas as pd

        if self._con is None:
            return pd.DataFrame()
        return _clean(self._execute(sql, params).df())

    __call__ = frame

    def rows(self, sql: str, params: Params = ()) -> list[dict[str, Any]]:
        if self._con is None:
            return []
        cur = self._execute(sql, params)
        names = [d[0] for d in cur.description]
        return [dict(zip(names, row, strict=True)) for row in cur.fetchall()]

    def one(self, sql: str, params: Params = ()) -> dict[str, Any] | None:
        rows = self.rows(sql, params)
        return rows[0] if rows else None

    def scalar(self, sql: str, params: Params = ()) -> Any:
        if self._con is None:
            return None
        row = self._execute(sql, params).fetchone()
        return row[0] if row else None

    def kept(self, sql: str, params: Params = ()) -> str:
        """The name of a temporary table of `sql`'s rows, made at the first ask on this connection and reused
        by later asks: a page's several reads of the same rows (a run's results, cases, verdicts) scan the store
        once, where on a shared store each scan costs a round of catalog queries. It goes with the connection,
        which reads one snapshot (a page's, in `one_connection`), so it cannot go stale under its readers.

        On a file, where a scan costs what it reads and a copy would cost more, the rows are read where they
        are: the name is then a subquery. `params` are positional there, text or integers."""
        if not self._keep:
            return f"({_inlined(sql, params)})"
        key = (sql, tuple(sorted(params.items())) if isinstance(params, Mapping) else tuple(params))
        name = self._kept.get(key)
        if name is None:
            name = f"kept_{next(_KEPT)}"
            if self._con is not None:  # else every read of it is empty anyway
                self._execute(f"CREATE TEMP TABLE {name} AS {sql}", params)
            self._kept[key] = name
        return name

    def numpy(self, sql: str, params: Params = ()) -> dict[str, Any]:
        """Columns as numpy arrays (no pandas on the way: the gate's latencies)."""
        if self._con is None:
            return {}
        return self._execute(sql, params).fetchnumpy()


def _inlined(sql: str, params: Params) -> str:
    """`sql` with its positional parameters written in as SQL literals (text quoted, integers as numbers)."""
    if isinstance(params, Mapping):
        raise TypeError("only positional parameters can be written into a subquery")
    pieces = sql.split("?")
    if len(pieces) != len(params) + 1:
        raise ValueError(f"{len(pieces) - 1} placeholder(s) for {len(params)} parameter(s)")
    out = pieces[0]
    for value, piece in zip(params, pieces[1:], strict=True):
        if isinstance(value, bool) or not isinstance(value, (str, int)):
            raise TypeError(f"cannot write a {type(value).__name__} into a subquery")
        out += (sql_string(value) if isinstance(value, str) else str(int(value))) + piece
    return out


def frame(store: Store, sql: str, params: Params = ()) -> pd.DataFrame:
    """One query into a DataFrame."""
    with reading(store) as read:
        return read.frame(sql, params)


def rows(store: Store, sql: str, params: Params = ()) -> list[dict[str, Any]]:
    """One query into a list of dicts."""
    with reading(store) as read:
        return read.rows(sql, params)


@contextmanager
def reading(store: Store) -> Iterator[Reader]:
    """Several read queries on one short connection (opening one costs ~15-30 ms)."""
    shared = _SHARED.get()
    if shared is not None and shared.store.location == store.location:
        yield shared.reader()
        return
    if not store.exists():
        yield Reader(None)
        return
    with store.connect(read_only=True) as con:
        yield Reader(con, keep=store.keeps_reads)


class _Shared:
    """The connection of a `one_connection` block, opened at its first query."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self._opened: AbstractContextManager[Any] | None = None
        self._reader: Reader | None = None

    def reader(self) -> Reader:
        if self._reader is None:
            opened = self.store.connect(read_only=True)
            self._reader = Reader(opened.__enter__(), keep=self.store.keeps_reads)
            self._opened = opened
        return self._reader

    def close(self) -> None:
        if self._opened is not None:
            self._opened.__exit__(None, None, None)
            self._opened = self._reader = None


_SHARED: ContextVar[_Shared | None] = ContextVar("vton_eval_shared_read", default=None)


@contextmanager
def one_connection(store: Store) -> Iterator[None]:
    """Every read of `store` in this block (this thread) shares one read-only connection, opened at the
    first query that is not answered from a cache and closed at the end of the block.

    A page renders in a few hundred ms, and opening a connection costs 15-30 ms: one per page instead
    of one per query. Nothing in the block may write to the store (DuckDB refuses a read-write
    connection beside a read-only one in the same process), and the block must not wait on a person or
    the network."""
    if not store.exists():  # `reading` answers empty frames; nothing to share
        yield
        return
    shared = _Shared(store)
    token = _SHARED.set(shared)
    try:
        yield
    finally:
        _SHARED.reset(token)
        shared.close()


def _clean(df: pd.DataFrame) -> pd.DataFrame:
    import pandas as pd

    # pandas 3 stores missing text as NaN (a float); callers test text with `if value`, so use None.
    for column in df.columns:
        if pd.api.types.is_string_dtype(df[column]) or df[column].dtype == object:
            df[column] = df[column].astype(object).where(df[column].notna(), None)
    return df
