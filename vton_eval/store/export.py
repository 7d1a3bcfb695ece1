"""Exporting a run as Parquet files, for notebooks, warehouses and anything that reads Arrow.

DuckDB writes the files itself (`COPY ... TO ... (FORMAT parquet)`), so a million-row run exports
without passing through Python. One folder per run: `run.parquet` (the run's row), `cases`,
`results`, `checks`, `reviews`, `preferences` (blind picks it took part in) and `settlements`; a table
with no rows for the run still gets a file (with its
columns), so readers need no special case. Paths inside (output_path...) stay relative to the
database's folder, as in the database.
"""

from __future__ import annotations

import os
from pathlib import Path

from vton_eval.errors import VtonEvalError
from vton_eval.store.base import Store
from vton_eval.store.literals import sql_string
from vton_eval.store.runs import resolve_run_id

EXPORTED = {
    "run": "SELECT * FROM runs WHERE run_id = {id}",
    "cases": "SELECT * FROM cases WHERE run_id = {id} ORDER BY pair_id",
    "results": 'SELECT * FROM results WHERE run_id = {id} ORDER BY pair_id, "repeat"',
    "checks": 'SELECT * FROM checks WHERE run_id = {id} ORDER BY pair_id, "repeat", "check"',
    "reviews": 'SELECT * FROM reviews WHERE run_id = {id} ORDER BY pair_id, "repeat", reviewer',
    # Blind picks between this run and another, with who gave them (reviewer, identity).
    "preferences": 'SELECT * FROM preferences WHERE run_a = {id} OR run_b = {id} '
                   'ORDER BY run_a, run_b, pair_id, "repeat", reviewer',
    # A lead's rulings on this run's cases (verdicts, and picks it took part in).
    "settlements": 'SELECT * FROM settlements WHERE run_a = {id} OR run_b = {id} '
                   'ORDER BY kind, run_a, run_b, pair_id, "repeat"',
}


class ExportError(VtonEvalError):
    """Nothing to export (unknown run...)."""


def export_run(db: Store, run_id: str, directory: str | os.PathLike[str]) -> dict[str, Path]:
    """Write the run's tables as Parquet files in `directory` (created); return {table: path}.

    `run_id` may be a unique prefix. Files are written under a temporary name and renamed, so a
    reader never sees half a file. Raises ExportError for an unknown run.
    """
    full = resolve_run_id(db, run_id)
    if full is None:
        raise ExportError(f"no run matches {run_id!r} in {db.location}")
    folder = Path(directory).expanduser().resolve()
    folder.mkdir(parents=True, exist_ok=True)
    written: dict[str, Path] = {}
    with db.connect(read_only=True) as con:
        for name, sql in EXPORTED.items():
            target = folder / f"{name}.parquet"
            tmp = folder / f".{name}.parquet.tmp"
            query = sql.format(id=sql_string(full))
            con.execute(f"COPY ({query}) TO {sql_string(str(tmp))} (FORMAT parquet, COMPRESSION zstd)")
            os.replace(tmp, target)
            written[name] = target
    return written
