"""What a `--db` value names: a DuckDB file (the default), or a shared store URL.

A shared store is written `ducklake+postgresql://USER@HOST:PORT/DBNAME?data_path=PATH_OR_URL`: the
DuckLake catalog lives in that PostgreSQL database, and everything else under `data_path` (a folder
every machine mounts, or `s3://bucket/prefix`): the lake's Parquet files in `lake/`, the images in
`artifacts/`. The URL carries no secret: a password in it is refused (DuckDB's error messages repeat
the connection string), so it comes from PGPASSWORD, PGPASSFILE or ~/.pgpass, as for psql.
"""

from __future__ import annotations

import hashlib
import os
import re
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlsplit

from vton_eval.errors import InvalidValue

SCHEME = "ducklake+postgresql"
DEFAULT_DB = "results.duckdb"


class StoreUrlError(InvalidValue):
    """A store URL that cannot be used as written."""


_OTHER_URL = re.compile(r"^\s*[A-Za-z][A-Za-z0-9+.-]*://")


def is_store_url(text: str | os.PathLike[str] | None) -> bool:
    return isinstance(text, str) and text.strip().lower().startswith(SCHEME + ":")


def resolve_location(flag: str | os.PathLike[str] | None = None) -> str:
    """The store a `--db` value names: the flag, else $VTON_EVAL_DB, else ./results.duckdb; a file path
    made absolute, a store URL checked and kept as written."""
    chosen = flag or os.environ.get("VTON_EVAL_DB") or DEFAULT_DB
    if is_store_url(chosen):
        return parse_store_url(str(chosen)).url
    if isinstance(chosen, str) and _OTHER_URL.match(chosen):
        # A mistyped store URL would otherwise become a database file with a strange name.
        raise StoreUrlError(f"{chosen.split(':', 1)[0]}:// is not a store this tool knows: give a DuckDB file "
                            f"path or {SCHEME}://USER@HOST:PORT/DBNAME?data_path=...")
    return str(Path(chosen).expanduser().resolve())


def _libpq(value: str) -> str:
    # keyword=value quoting of libpq: single quotes, backslash escapes.
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


@dataclass(frozen=True)
class StoreUrl:
    url: str
    user: str | None
    host: str
    port: int
    dbname: str
    data_path: str  # a local folder (absolute) or an s3:// URL, without a trailing slash

    @property
    def is_s3(self) -> bool:
        return self.data_path.startswith("s3://")

    @property
    def conninfo(self) -> str:
        """The libpq connection string (no password: libpq finds it in PGPASSWORD / pgpass)."""
        fields = {"dbname": self.dbname, "host": self.host, "port": str(self.port)}
        if self.user:
            fields["user"] = self.user
        return " ".join(f"{k}={_libpq(v)}" for k, v in fields.items())

    @property
    def lake_path(self) -> str:
        """DuckLake's DATA_PATH: apart from the artifacts, so its file clean-ups never see an image."""
        return self.data_path + "/lake/"

    @property
    def key(self) -> str:
        """A short name for this store, the same in every process (the attach alias, cache folders)."""
        return hashlib.sha256(f"{self.host}:{self.port}/{self.dbname}|{self.data_path}".encode()).hexdigest()[:12]


def parse_store_url(text: str) -> StoreUrl:
    """Check a store URL; raise StoreUrlError saying what is wrong."""
    parts = urlsplit(text.strip())
    if parts.scheme.lower() != SCHEME:
        raise StoreUrlError(f"a store URL starts with {SCHEME}://")
    try:
        port = parts.port or 5432
    except ValueError:
        raise StoreUrlError("the store URL's port is not a number") from None
    if parts.password is not None:
        raise StoreUrlError("a store URL carries no password (it would be kept with runs and shown in error "
                            "messages): put it in PGPASSWORD or ~/.pgpass")
    dbname = unquote(parts.path.lstrip("/"))
    if not dbname or "/" in dbname:
        raise StoreUrlError(f"name the PostgreSQL database: {SCHEME}://USER@HOST:PORT/DBNAME?data_path=...")
    query = parse_qs(parts.query, keep_blank_values=True)
    unknown = sorted(set(query) - {"data_path"})
    if unknown:
        raise StoreUrlError(f"unknown store URL parameter(s) {', '.join(unknown)} (only data_path)")
    data = (query.get("data_path") or [""])[0].strip()
    if not data:
        raise StoreUrlError("the store URL needs ?data_path=FOLDER or ?data_path=s3://bucket/prefix "
                            "(where the lake's files and the images go)")
    if data.lower().startswith("s3://"):
        if len(data.rstrip("/")) <= len("s3://"):
            raise StoreUrlError("data_path=s3://... names no bucket")
        data_path = data.rstrip("/")
    elif "://" in data:
        raise StoreUrlError("data_path is a folder or an s3:// URL")
    else:
        folder = Path(data).expanduser()
        if not folder.is_absolute():
            raise StoreUrlError("data_path must be an absolute folder (every machine mounts it at the same place)")
        data_path = str(folder.resolve())
    user = unquote(parts.username) if parts.username else None
    host = parts.hostname or "localhost"
    # The canonical spelling: what runs keep and pages show (never a secret: none is accepted).
    netloc = (f"{user}@" if user else "") + (f"[{host}]" if ":" in host else host) + f":{port}"
    url = f"{SCHEME}://{netloc}/{dbname}?data_path={data_path}"
    return StoreUrl(url=url, user=user, host=host, port=port, dbname=dbname, data_path=data_path)
