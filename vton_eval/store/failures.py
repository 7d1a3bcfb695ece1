"""DuckDB's own exceptions, as a person reads them: only the store knows the engine it runs on.

The store turns the failures it knows (a lock held too long, a damaged file, a missing database) into the
errors of its interface (`store.base`); anything else DuckDB raises reaches the command line or a page as
one line from here, with secrets removed, never as a traceback.
"""

from __future__ import annotations

import duckdb

from vton_eval.secrets import redact


def database_failure(exc: BaseException) -> str | None:
    """The one line to show for an unexpected database failure; None when `exc` is not one."""
    if not isinstance(exc, duckdb.Error):
        return None
    return f"database error: {(redact(str(exc)).strip().splitlines() or [type(exc).__name__])[0]}"


__all__ = ["database_failure"]
