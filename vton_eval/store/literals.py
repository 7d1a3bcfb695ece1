"""SQL string literals, for the statements that take no prepared parameters (ATTACH, INSTALL, COPY, a subquery
written into a page's query)."""


def sql_string(text: str) -> str:
    """`text` as a SQL string literal. DuckDB's plain strings give a backslash no meaning, so doubling the
    single quotes is all the quoting there is."""
    return "'" + text.replace("'", "''") + "'"
