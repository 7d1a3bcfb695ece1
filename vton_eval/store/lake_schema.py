"""The schema of a shared store: the same numbered migrations as a file, rewritten for DuckLake.

DuckLake has no PRIMARY KEY, UNIQUE or index, and cannot add a column with a constraint. So each
statement of `schema.MIGRATIONS` is rewritten on its way to a lake: key clauses dropped (a key column
keeps NOT NULL), inline keys become NOT NULL, an added column loses NOT NULL (its DEFAULT stays, so
old rows read the same), indexes are skipped. Keys are enforced by the writer instead
(`LakeWriter.insert_new` / `replace`, under the table's lock row). A later migration needs no work of
its own for the lake; `tests/test_lake.py` applies the whole list to a real one.
"""

from __future__ import annotations

import re

_KEY_CLAUSE = re.compile(r",\s*(?:CONSTRAINT\s+\w+\s+)?(?:PRIMARY\s+KEY|UNIQUE)\s*\([^)]*\)", re.I)
_INLINE_KEY = re.compile(r"(?:\bNOT\s+NULL\s+)?\bPRIMARY\s+KEY\b(?:\s+NOT\s+NULL\b)?", re.I)
_INLINE_UNIQUE = re.compile(r"(?<=\w)\s+UNIQUE\b(?=\s*[,)\n]|\s+NOT\b|\s+DEFAULT\b)", re.I)
_ADD_COLUMN = re.compile(r"^\s*ALTER\s+TABLE\b.*\bADD\s+(?:COLUMN\b)?", re.I | re.S)
_NOT_NULL = re.compile(r"\s+NOT\s+NULL\b", re.I)
_SKIPPED = re.compile(r"^\s*(?:CREATE\s+(?:UNIQUE\s+)?INDEX|DROP\s+INDEX|ALTER\s+TABLE\s+\S+\s+ADD\s+"
                      r"(?:CONSTRAINT\s+\w+\s+)?(?:PRIMARY\s+KEY|UNIQUE))\b", re.I)


def file_statement(sql: str) -> str:
    """One migration statement as DuckDB 1.5 takes it on a file: it cannot add a column with a
    constraint either (the DEFAULT stays)."""
    return _NOT_NULL.sub("", sql) if _ADD_COLUMN.match(sql) else sql


def lake_statement(sql: str) -> str | None:
    """One migration statement as DuckLake takes it (None: nothing to do on a lake)."""
    if _SKIPPED.match(sql):
        return None
    out = _KEY_CLAUSE.sub("", sql)
    out = _INLINE_KEY.sub("NOT NULL", out)
    out = _INLINE_UNIQUE.sub("", out)
    if _ADD_COLUMN.match(out):
        out = _NOT_NULL.sub("", out)
    return out
