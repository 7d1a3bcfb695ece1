"""A shared store: DuckLake tables (catalog in PostgreSQL, Parquet under `data_path/lake/`) and artifact
files under `data_path/artifacts/`, for many machines writing and reading at once.

How it differs from a file, and why:

- **One DuckDB instance per process and store**, with the store attached once (loading the extensions and
  attaching cost 0.3-0.4 s; a cursor on the attached instance costs ~5 ms). A unit of work gets its
  own cursor (temp tables are per cursor) and closes it; nothing waits on a lock file.
- **Optimistic transactions.** DuckLake conflicts per table at COMMIT: an UPDATE or DELETE conflicts
  with any other write to the same table, while two INSERTs never do. `write(work)` rolls back and
  runs the whole unit again on a conflict (jittered backoff), until `busy_timeout_s`, then DatabaseBusy.
- **Keys kept by the writer.** No PRIMARY KEY: insert-unless-present is an anti-join. Tables many
  people write (verdicts, picks, blessings, the similarity cache, runs replaced by a merge) take the
  table's row in `_locks` first (an UPDATE), so two writers of the same key always conflict and the
  retry sees the winner's row. A run's results, cases and checks have one writer (the run), so they
  take no lock and concurrent runs do not serialise.
- **No password in the URL**: libpq reads PGPASSWORD / PGPASSFILE / ~/.pgpass. Errors pass through
  `secrets.redact` all the same.
"""

from __future__ import annotations

import logging
import os
import random
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import duckdb

from vton_eval.artifacts import ArtifactStore
from vton_eval.secrets import redact
from vton_eval.store.base import QUIET, DatabaseUnusable, Store, T, Writer
from vton_eval.store.extensions import load_extensions
from vton_eval.store.lake_copies import forget, read_copies
from vton_eval.store.lake_schema import lake_statement
from vton_eval.store.lake_stats import prime_statistics
from vton_eval.store.lake_writes import LOCKED_TABLES, LakeWriter, in_transaction, is_conflict
from vton_eval.store.literals import sql_string
from vton_eval.store.location import StoreUrl, parse_store_url
from vton_eval.store.schema import SCHEMA_VERSION, current_version, migrate

log = logging.getLogger(__name__)

# Every lock row: those tables', migrations', merges' and the quota ledger's (a call is reserved under it).
LOCKS = (*LOCKED_TABLES, "schema", "merge", "quota")
# Rows up to this many per insert stay in the PostgreSQL catalog instead of a Parquet file each
# (a run writes a batch every quarter second); `store compact` moves them to files.
INLINING_ROW_LIMIT = 500


class StoreUnreachable(DatabaseUnusable):
    """The shared store's catalog (PostgreSQL) or its data path cannot be reached or used."""


class CompactedMeanwhile(StoreUnreachable):
    """Another process compacted the store under this one's cached catalog; the next use attaches afresh."""


def _first_line(exc: BaseException) -> str:
    text = redact(str(exc)) or type(exc).__name__
    return (text.strip().splitlines() or [type(exc).__name__])[0][:400]


# --- the process's DuckDB instance ------------------------------------------------------------------

_guard = threading.RLock()
# One instance per store: a transaction touches every DuckLake catalog attached to its instance, so a
# store whose server is down must not take the others with it.
_instances: dict[str, duckdb.DuckDBPyConnection] = {}
_attached: dict[str, str] = {}  # store key -> alias in its instance
_migrated: set[str] = set()
_primed: set[str] = set()  # stores whose tables this process has given statistics (`lake_stats`)


def _stale(exc: BaseException) -> bool:
    """The process's DuckLake names a table of inlined rows that `store compact` elsewhere has dropped."""
    text = str(exc)
    return "ducklake_inlined_data" in text and "does not exist" in text


def _detach(key: str) -> None:
    """Forget the process's instance of a store, so the next use attaches it afresh (cursors still open on
    the old one finish on it)."""
    with _guard:
        _instances.pop(key, None)
        _attached.pop(key, None)
    forget(key)


def _instance(key: str) -> duckdb.DuckDBPyConnection:
    if key not in _instances:
        con = duckdb.connect(":memory:")
        load_extensions(con, ("ducklake", "postgres"))
        _instances[key] = con
    return _instances[key]


def _s3_secret(con: duckdb.DuckDBPyConnection, data_path: str) -> None:
    """DuckDB's S3 settings from the usual AWS_* variables (httpfs ignores AWS_ENDPOINT_URL by itself)."""
    load_extensions(con, ("httpfs",))
    env = os.environ
    params: dict[str, Any] = {
        "key_id": env.get("AWS_ACCESS_KEY_ID", ""), "secret": env.get("AWS_SECRET_ACCESS_KEY", ""),
        "region": env.get("AWS_REGION") or env.get("AWS_DEFAULT_REGION") or "us-east-1",
        "scope": "s3://" + data_path[len("s3://"):].split("/", 1)[0],
    }
    if env.get("AWS_SESSION_TOKEN"):
        params["session_token"] = env["AWS_SESSION_TOKEN"]
    endpoint = env.get("AWS_ENDPOINT_URL_S3") or env.get("AWS_ENDPOINT_URL")
    if endpoint:
        parts = urlsplit(endpoint)
        params.update(endpoint=parts.netloc or parts.path, use_ssl=parts.scheme != "http", url_style="path")
    # Named parameters: the secret never goes through string formatting.
    name = "vton_s3_" + params["scope"][5:].replace("-", "_").replace(".", "_")
    keys = ", ".join(f"{k.upper()} ${k}" for k in params)
    con.execute(f"CREATE OR REPLACE SECRET {name} (TYPE s3, {keys})", params)


def _attach(url: StoreUrl) -> str:
    """Attach the store to the process's instance once; return its alias."""
    with _guard:
        alias = _attached.get(url.key)
        if alias is not None:
            return alias
        con = _instance(url.key)
        if url.is_s3:
            _s3_secret(con, url.data_path)
        else:
            Path(url.lake_path).mkdir(parents=True, exist_ok=True)
        alias = f"lake_{url.key}"
        # ATTACH takes no prepared parameters: literals (the conninfo has no secret in it).
        sql = (f"ATTACH {sql_string('ducklake:postgres:' + url.conninfo)} AS {alias} "
               f"(DATA_PATH {sql_string(url.lake_path)})")
        for attempt in range(6):
            try:
                con.execute(sql)
                break
            except duckdb.Error as exc:
                text = str(exc)
                # Two processes creating a new catalog at once: the loser fails once, then finds it.
                if "Failed to initialize DuckLake" in text and attempt < 5:
                    time.sleep(0.2 * (attempt + 1) * (0.5 + random.random()))
                    continue
                if "does not match existing data path" in text:
                    raise StoreUnreachable(
                        f"the catalog {url.dbname} on {url.host}:{url.port} belongs to another data_path; "
                        f"use the data_path it was created with ({_first_line(exc)})") from None
                raise StoreUnreachable(f"cannot open the shared store {url.url}: {_first_line(exc)}") from None
        _attached[url.key] = alias
        return alias


class Lake(Store):
    """A DuckLake store named by a `ducklake+postgresql://` URL. Cheap to create; attaches on first use."""

    keeps_reads = True

    def __init__(self, url: str | StoreUrl, busy_timeout_s: float = 15.0) -> None:
        self.url = url if isinstance(url, StoreUrl) else parse_store_url(url)
        self.location = self.url.url
        self.busy_timeout_s = busy_timeout_s
        self.artifacts = lake_artifacts(self.url)
        self._exists = False

    def __repr__(self) -> str:
        return f"Lake({self.location!r})"

    @contextmanager
    def _cursor(self) -> Iterator[duckdb.DuckDBPyConnection]:
        alias = _attach(self.url)
        with _guard:
            cur = _instance(self.url.key).cursor()
        try:
            cur.execute(QUIET)
            cur.execute(f"USE {alias}")
            yield cur
        finally:
            cur.close()

    def exists(self) -> bool:
        if not self._exists:
            with self._cursor() as cur:
                self._exists = current_version(cur) > 0
        return self._exists

    def ensure(self) -> None:
        """Create the catalog's tables (and lock rows) and bring the schema up to date; set the
        inlining limit the first time."""
        _migrated.discard(self.url.key)
        with self._cursor() as cur:
            self._migrate(cur)
        self._exists = True

    def _migrate(self, cur: duckdb.DuckDBPyConnection) -> None:
        fresh = current_version(cur) == 0

        def setup(c: duckdb.DuckDBPyConnection) -> None:
            c.execute("CREATE TABLE IF NOT EXISTS _locks (name VARCHAR NOT NULL, n BIGINT NOT NULL)")
            for name in LOCKS:
                c.execute("INSERT INTO _locks SELECT ?, 0 WHERE NOT EXISTS (SELECT 1 FROM _locks WHERE name = ?)",
                          [name, name])
            if fresh:
                c.execute(f"CALL ducklake_set_option('lake_{self.url.key}', 'data_inlining_row_limit', "
                          f"{INLINING_ROW_LIMIT})")

        deadline = time.monotonic() + 120.0
        while True:
            try:
                in_transaction(cur, setup, 120.0, "creating the store")
                migrate(cur, transform=lake_statement, before_each=lambda c: c.execute(
                    "UPDATE _locks SET n = n + 1 WHERE name = 'schema'"))
                break
            except duckdb.Error as exc:
                # A DDL autocommit outside the retry loop can conflict too (two first runs at once).
                if not is_conflict(exc) or time.monotonic() > deadline:
                    raise
                time.sleep(0.05 + random.random() * 0.2)
        _migrated.add(self.url.key)
        self._prime(cur)

    def _prime(self, cur: duckdb.DuckDBPyConnection) -> None:
        """Once per process and store, by a writer: statistics for the tables that never had a row."""
        if self.url.key not in _primed:
            _primed.add(self.url.key)
            prime_statistics(cur, _attached[self.url.key])

    @contextmanager
    def connect(self, read_only: bool = False, busy_timeout_s: float | None = None) -> Iterator[
        duckdb.DuckDBPyConnection
    ]:
        for attempt in (1, 2):
            with self._cursor() as cur:
                self._ensure_schema(cur, read_only)
                if not read_only:
                    try:
                        yield cur
                    except duckdb.Error as exc:
                        raise self._failure(exc) from None
                    return
                # A reader: the hot tables from this process's copies, and every query at one snapshot (one
                # transaction: the catalog is asked for the snapshot once, not at each query).
                try:
                    fresh = read_copies(cur, self.url.key, _attached[self.url.key])
                    if fresh:
                        cur.execute("BEGIN TRANSACTION")
                except duckdb.Error as exc:
                    raise self._failure(exc) from None
                if not fresh and attempt == 1:
                    _detach(self.url.key)  # compacted elsewhere: attach afresh, then read
                    continue
                try:
                    yield cur
                except duckdb.Error as exc:
                    raise self._failure(exc) from None
                finally:
                    try:
                        cur.execute("ROLLBACK")  # it wrote nothing
                    except duckdb.Error as exc:  # the read's answer stands; a failed end is worth knowing of
                        log.warning("ending a read of %s failed: %s", self.location, _first_line(exc))
                return

    def _ensure_schema(self, cur: duckdb.DuckDBPyConnection, read_only: bool) -> None:
        from vton_eval.store.base import NoDatabase

        if self.url.key not in _migrated:
            version = current_version(cur)
            if read_only and version == 0:
                raise NoDatabase(f"nothing recorded in {self.location} yet")
            if version < SCHEMA_VERSION:
                self._migrate(cur)
            else:
                _migrated.add(self.url.key)
        if not read_only:
            self._prime(cur)

    def _failure(self, exc: duckdb.Error) -> BaseException:
        """What a failed statement means to the caller: the store unreachable, or the error itself."""
        if _stale(exc):
            _detach(self.url.key)
            return CompactedMeanwhile(f"the shared store {self.location} was compacted during this read; "
                                      "try again (the next read sees the compacted store)")
        if isinstance(exc, duckdb.IOException):
            return StoreUnreachable(f"the shared store {self.location} failed: {_first_line(exc)}")
        return exc

    def write(self, work: Callable[[Writer], T], busy_timeout_s: float | None = None) -> T:
        timeout = self.busy_timeout_s if busy_timeout_s is None else busy_timeout_s
        try:
            with self.connect() as cur:
                return in_transaction(cur, lambda c: work(LakeWriter(c)), timeout, self.location)
        except CompactedMeanwhile:
            # Another process compacted the store under this one's cache: nothing was committed, so the whole
            # unit runs again on a fresh attach.
            with self.connect() as cur:
                return in_transaction(cur, lambda c: work(LakeWriter(c)), timeout, self.location)


def cache_folder(url: StoreUrl) -> Path:
    """This machine's copy of an S3 store's files: its journals and logs, and the images it read."""
    base = os.environ.get("VTON_EVAL_CACHE") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"), "vton-eval")
    return Path(base) / "stores" / url.key


_artifact_stores: dict[str, ArtifactStore] = {}


def lake_artifacts(url: StoreUrl) -> ArtifactStore:
    """Artifacts under `data_path/artifacts/`: in the shared folder, or in S3 with a local copy (one per
    process and store: it remembers what it uploaded)."""
    with _guard:
        if url.key not in _artifact_stores:
            if url.is_s3:
                from vton_eval.object_store import RemoteObjects

                store = ArtifactStore.under(cache_folder(url), remote=RemoteObjects(url.data_path))
            else:
                store = ArtifactStore.under(Path(url.data_path))
            _artifact_stores[url.key] = store
        return _artifact_stores[url.key]


