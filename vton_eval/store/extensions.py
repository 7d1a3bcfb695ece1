"""Loading DuckDB's DuckLake, PostgreSQL and httpfs extensions without the internet.

DuckDB downloads extensions from its own repository on first use; these machines reach only PyPI. The
`duckdb-extension-<name>` wheels (pinned with duckdb, 1.5.5) carry the signed binaries: `INSTALL
'<file>'` copies one into DuckDB's extension folder (~/.duckdb/extensions), after which `LOAD <name>`
works in any process. Loading the wheel's file directly does not work for postgres (its entry point is
named after `postgres_scanner`), hence INSTALL first. Where a wheel is missing (no build for the
platform), DuckDB's own `INSTALL <name>` is tried: it works with internet access.
"""

from __future__ import annotations

import importlib.resources
from collections.abc import Iterable

import duckdb

from vton_eval.errors import VtonEvalError
from vton_eval.store.literals import sql_string

_PACKAGES = {"ducklake": "duckdb_extension_ducklake", "postgres": "duckdb_extension_postgres",
             "httpfs": "duckdb_extension_httpfs"}


class ExtensionMissing(VtonEvalError):
    """A DuckDB extension the shared store needs could not be installed."""


def extension_file(name: str) -> str | None:
    """The extension binary in the `duckdb-extension-<name>` wheel for this duckdb, if installed."""
    try:
        folder = importlib.resources.files(_PACKAGES[name])
    except ModuleNotFoundError:
        return None
    path = folder / "extensions" / f"v{duckdb.__version__}" / f"{name}.duckdb_extension"
    return str(path) if path.is_file() else None


def load_extensions(con: duckdb.DuckDBPyConnection, names: Iterable[str]) -> None:
    """LOAD each extension, installing it from its wheel (or DuckDB's repository) the first time."""
    for name in names:
        try:
            con.execute(f"LOAD {name}")
            continue
        except duckdb.Error:
            pass
        wheel = extension_file(name)
        try:
            con.execute(f"INSTALL {sql_string(wheel)}" if wheel else f"INSTALL {name}")
            con.execute(f"LOAD {name}")
        except duckdb.Error as exc:
            first = (str(exc).strip().splitlines() or [type(exc).__name__])[0][:300]
            raise ExtensionMissing(
                f"DuckDB's {name} extension is not available: {first}. Install it with "
                f"`pip install duckdb-extension-{name}=={duckdb.__version__}`") from None
