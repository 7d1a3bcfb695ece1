"""The database schema, as numbered migrations. A database records the version it is at.

The tables follow the data contract (docs/data-contract.md): `runs`, `cases` (the inputs a run planned),
`results` (one row per finished case), `checks` (automatic checks per output), `reviews`,
`preferences` (blind A/B picks) and `baselines` (blessed runs). Later features add columns through new
migrations; existing databases are upgraded when a writer first opens them.

A migration is a list of SQL statements; `REBUILD_SUMMARIES` among them asks for the derived
per-run summaries (see `vton_eval.store.summaries`) to be rebuilt once, after the last migration,
with the summary SQL of this version.
"""

from __future__ import annotations

import re
from collections.abc import Callable

import duckdb

from vton_eval.errors import VtonEvalError
from vton_eval.store.summaries import SUMMARY_DDL, rebuild_all_summaries


class SchemaTooNew(VtonEvalError, RuntimeError):
    """The database was written by a newer vton-eval."""


REBUILD_SUMMARIES = "-- rebuild the per-run summaries"

MIGRATIONS: list[list[str]] = [
    # 1: runs, planned cases, results
    [
        """CREATE TABLE runs (
            run_id VARCHAR PRIMARY KEY,
            label VARCHAR,
            endpoint VARCHAR NOT NULL,
            dataset VARCHAR NOT NULL,
            dataset_path VARCHAR,
            status VARCHAR NOT NULL,
            created_at TIMESTAMP NOT NULL,
            started_at TIMESTAMP,
            finished_at TIMESTAMP,
            updated_at TIMESTAMP,
            workflows VARCHAR,
            pairs_filter VARCHAR,
            tags_filter VARCHAR,
            concurrency INTEGER,
            rate_limit VARCHAR,
            repeats INTEGER,
            retries INTEGER,
            timeout_s DOUBLE,
            total_cases INTEGER,
            pid INTEGER,
            host VARCHAR,
            message VARCHAR,
            settings VARCHAR,
            shard VARCHAR,
            checks_config VARCHAR,
            merged_from VARCHAR
        )""",
        """CREATE TABLE cases (
            run_id VARCHAR NOT NULL,
            pair_id VARCHAR NOT NULL,
            workflow VARCHAR NOT NULL,
            tags VARCHAR,
            base_path VARCHAR,
            product_path VARCHAR,
            mask_path VARCHAR,
            reference_path VARCHAR,
            base_source VARCHAR,
            product_source VARCHAR,
            invalid_reason VARCHAR,
            PRIMARY KEY (run_id, pair_id)
        )""",
        """CREATE TABLE results (
            run_id VARCHAR NOT NULL,
            pair_id VARCHAR NOT NULL,
            workflow VARCHAR NOT NULL,
            "repeat" INTEGER NOT NULL,
            status VARCHAR NOT NULL,
            error_kind VARCHAR,
            error_message VARCHAR,
            latency_ms DOUBLE,
            queue_ms DOUBLE,
            attempts INTEGER,
            output_path VARCHAR,
            output_sha256 VARCHAR,
            output_width INTEGER,
            output_height INTEGER,
            started_at TIMESTAMP,
            finished_at TIMESTAMP,
            flags VARCHAR,
            checks VARCHAR,
            PRIMARY KEY (run_id, pair_id, "repeat")
        )""",
        # One row per automatic check of an output: long format, so flag rates are one GROUP BY.
        """CREATE TABLE checks (
            run_id VARCHAR NOT NULL,
            pair_id VARCHAR NOT NULL,
            "repeat" INTEGER NOT NULL,
            workflow VARCHAR NOT NULL,
            "check" VARCHAR NOT NULL,
            value DOUBLE,
            threshold DOUBLE,
            passed BOOLEAN NOT NULL,
            severity VARCHAR NOT NULL,
            PRIMARY KEY (run_id, pair_id, "repeat", "check")
        )""",
        """CREATE TABLE reviews (
            run_id VARCHAR NOT NULL,
            pair_id VARCHAR NOT NULL,
            workflow VARCHAR NOT NULL,
            "repeat" INTEGER NOT NULL DEFAULT 1,
            reviewer VARCHAR NOT NULL,
            verdict VARCHAR NOT NULL,
            reasons VARCHAR,
            note VARCHAR,
            created_at TIMESTAMP NOT NULL,
            PRIMARY KEY (run_id, pair_id, "repeat", reviewer)
        )""",
        # Blind A/B preferences between two runs' outputs for the same case.
        """CREATE TABLE preferences (
            run_a VARCHAR NOT NULL,
            run_b VARCHAR NOT NULL,
            pair_id VARCHAR NOT NULL,
            "repeat" INTEGER NOT NULL DEFAULT 1,
            workflow VARCHAR NOT NULL,
            reviewer VARCHAR NOT NULL,
            choice VARCHAR NOT NULL,
            left_run VARCHAR,
            created_at TIMESTAMP NOT NULL,
            PRIMARY KEY (run_a, run_b, pair_id, "repeat", reviewer)
        )""",
        # The blessed baseline run per dataset and endpoint, for release gates.
        """CREATE TABLE baselines (
            dataset VARCHAR NOT NULL,
            endpoint VARCHAR NOT NULL,
            run_id VARCHAR NOT NULL,
            blessed_at TIMESTAMP NOT NULL,
            PRIMARY KEY (dataset, endpoint)
        )""",
    ],
    # 2: the similarity cache of the Compare page (derived data, see vton_eval.similarity_cache)
    [
        """CREATE TABLE IF NOT EXISTS pair_similarity (
            output_a VARCHAR NOT NULL,
            output_b VARCHAR NOT NULL,
            ssim DOUBLE,
            changed_share DOUBLE,
            psnr DOUBLE,
            diff_path VARCHAR,
            problem VARCHAR,
            computed_at TIMESTAMP NOT NULL,
            PRIMARY KEY (output_a, output_b)
        )""",
    ],
    # 3: run kinds (a suite run or a single-pair try), provenance (the tool's version on every run,
    # verdict and preference) and the per-run summaries the pages read.
    [
        "ALTER TABLE runs ADD COLUMN kind VARCHAR DEFAULT 'suite'",
        # Until now a try was a one-case run labelled so by the Runs page: the only way it was made.
        "UPDATE runs SET kind = 'try' WHERE label = 'try one pair' AND total_cases = 1",
        "ALTER TABLE runs ADD COLUMN tool_version VARCHAR",
        "ALTER TABLE reviews ADD COLUMN tool_version VARCHAR",
        "ALTER TABLE preferences ADD COLUMN tool_version VARCHAR",
        *SUMMARY_DDL,
        REBUILD_SUMMARIES,
    ],
    # 4: endpoint profiles: the profile a run called its endpoint with (name, and the TOML text, so a
    # resume sends exactly the same), and per case what was sent differently from the case's files
    # (a resized input, the person image standing in for a missing mask...).
    [
        "ALTER TABLE runs ADD COLUMN profile VARCHAR",
        "ALTER TABLE runs ADD COLUMN profile_text VARCHAR",
        # Every run before profiles called /generate(base, product, workflow, mask): the sm4ll shape.
        "UPDATE runs SET profile = 'sm4ll'",
        "ALTER TABLE cases ADD COLUMN sent_note VARCHAR",
    ],
    # 5: team access. The audit trail (who launched, cancelled, resumed, tried, blessed, and who gave or
    # cleared each verdict and pick, with times; refused attempts too), appended to and never updated; and
    # the identity behind a verdict or a pick: `issuer#subject` of the signed-in person, NULL for a name
    # typed on a dashboard without sign-in. No key: rows are only ever appended.
    [
        """CREATE TABLE IF NOT EXISTS audit (
            acted_at TIMESTAMP NOT NULL,
            actor VARCHAR NOT NULL,
            identity VARCHAR,
            role VARCHAR,
            action VARCHAR NOT NULL,
            outcome VARCHAR NOT NULL,
            run_id VARCHAR,
            subject VARCHAR,
            detail VARCHAR,
            tool_version VARCHAR
        )""",
        "ALTER TABLE reviews ADD COLUMN identity VARCHAR",
        "ALTER TABLE preferences ADD COLUMN identity VARCHAR",
    ],
    # 6: several reviewers. A lead's ruling on a case where reviewers disagree (`kind` 'verdict': `run_a` is
    # the run, `run_b` ''; 'pick': the two runs in sorted order, `decision` the preferred run's id or 'tie'),
    # and the overlap target per dataset (each case judged by k reviewers).
    [
        """CREATE TABLE IF NOT EXISTS settlements (
            kind VARCHAR NOT NULL,
            run_a VARCHAR NOT NULL,
            run_b VARCHAR NOT NULL,
            pair_id VARCHAR NOT NULL,
            "repeat" INTEGER NOT NULL,
            workflow VARCHAR,
            decision VARCHAR NOT NULL,
            note VARCHAR,
            settled_by VARCHAR NOT NULL,
            identity VARCHAR,
            settled_at TIMESTAMP NOT NULL,
            tool_version VARCHAR,
            PRIMARY KEY (kind, run_a, run_b, pair_id, "repeat")
        )""",
        """CREATE TABLE IF NOT EXISTS overlap_targets (
            dataset VARCHAR NOT NULL,
            k INTEGER NOT NULL,
            set_by VARCHAR NOT NULL,
            identity VARCHAR,
            set_at TIMESTAMP NOT NULL,
            PRIMARY KEY (dataset)
        )""",
    ],
    # 7: the quota ledger (vton_eval.quota_ledger): every call sent to an endpoint, with whose quota it counts
    # against (`quota_key`: a machine's host name, or VTON_EVAL_QUOTA_KEY), when it was sent, when it ended
    # (NULL while in flight; a crashed process never writes it, so `ends_by`, the call's deadline, bounds it),
    # and the waits a service asked for ("retry in 0:09:48"). Every run, resume and try honours it.
    [
        """CREATE TABLE IF NOT EXISTS endpoint_calls (
            call_id VARCHAR PRIMARY KEY,
            endpoint VARCHAR NOT NULL,
            quota_key VARCHAR NOT NULL,
            run_id VARCHAR,
            host VARCHAR,
            pid INTEGER,
            sent_at TIMESTAMP NOT NULL,
            ends_by TIMESTAMP NOT NULL,
            ended_at TIMESTAMP
        )""",
        """CREATE TABLE IF NOT EXISTS endpoint_holds (
            endpoint VARCHAR NOT NULL,
            quota_key VARCHAR NOT NULL,
            asked_at TIMESTAMP NOT NULL,
            until TIMESTAMP NOT NULL,
            run_id VARCHAR,
            reason VARCHAR
        )""",
    ],
    # 8: the person parser. Its cache: one parse per person image (by the file's SHA-256) and parser
    # version, so each person image is parsed once per store whatever the runs that send it (`found` false
    # records that no person was found: the checks fell back to geometry). And where each check looks
    # (`check_boxes.box`, JSON [x0, y0, x1, y1] as fractions of the person image), for Review's zoom: a table
    # of its own, because DuckLake 0.x loses the inlined rows of `checks` once a column is added to it.
    [
        """CREATE TABLE IF NOT EXISTS person_parses (
            image_sha256 VARCHAR NOT NULL,
            parser VARCHAR NOT NULL,
            found BOOLEAN NOT NULL,
            parse VARCHAR NOT NULL,
            parsed_at TIMESTAMP NOT NULL,
            PRIMARY KEY (image_sha256, parser)
        )""",
        """CREATE TABLE IF NOT EXISTS check_boxes (
            run_id VARCHAR NOT NULL,
            pair_id VARCHAR NOT NULL,
            "repeat" INTEGER NOT NULL,
            "check" VARCHAR NOT NULL,
            box VARCHAR NOT NULL,
            PRIMARY KEY (run_id, pair_id, "repeat", "check")
        )""",
    ],
]

SCHEMA_VERSION = len(MIGRATIONS)


def current_version(con: duckdb.DuckDBPyConnection) -> int:
    """The schema version of the current database; 0 when it has none yet.

    Asked of the table itself, not of information_schema: a process with shared stores attached would
    list every attached catalog there (and fail when one of their servers is down). Outside a transaction
    only (a missing table is an error, which would end one)."""
    try:
        row = con.execute("SELECT max(version) FROM schema_version").fetchone()
    except duckdb.CatalogException:
        return 0
    return int(row[0] or 0) if row else 0


def migrate(con: duckdb.DuckDBPyConnection, transform: Callable[[str], str | None] | None = None,
            before_each: Callable[[duckdb.DuckDBPyConnection], None] | None = None) -> int:
    """Apply the migrations this database lacks, each in its own transaction; return the version.

    A store whose engine takes other DDL passes `transform` (one statement in, the statement to run out,
    or None to skip it; see `vton_eval.store.lake_schema`); `before_each` runs first in each migration's
    transaction (a shared store serialises concurrent migrations with it)."""
    con.execute("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER, applied_at TIMESTAMP)")
    version = current_version(con)
    if version > SCHEMA_VERSION:
        raise SchemaTooNew(
            f"this database is at schema version {version}, newer than this vton-eval ({SCHEMA_VERSION}); "
            "upgrade vton-eval"
        )
    rebuild = False
    for number in range(version + 1, SCHEMA_VERSION + 1):
        parts = _segments(MIGRATIONS[number - 1])
        for index, part in enumerate(parts):
            last = index == len(parts) - 1
            con.execute("BEGIN")
            try:
                if before_each is not None:
                    before_each(con)
                if current_version(con) >= number:  # another process applied it meanwhile
                    con.execute("COMMIT")
                    break
                for statement in part:
                    if statement == REBUILD_SUMMARIES:
                        rebuild = True
                        continue
                    sql = _idempotent(statement) if len(parts) > 1 else statement
                    sql = transform(sql) if transform is not None else sql
                    if sql:
                        con.execute(sql)
                if last and rebuild and number == SCHEMA_VERSION:
                    rebuild_all_summaries(con)
                if last:
                    con.execute("INSERT INTO schema_version VALUES (?, now()::TIMESTAMP)", [number])
                con.execute("COMMIT")
            except Exception:
                try:
                    con.execute("ROLLBACK")
                except duckdb.Error:  # a failed COMMIT already ended the transaction
                    pass
                raise
    return SCHEMA_VERSION


_DDL = re.compile(r"^\s*(CREATE|ALTER|DROP)\b", re.I)


def _segments(statements: list[str]) -> list[list[str]]:
    """A migration in parts that DuckDB 1.5 can commit: it refuses to commit a transaction that alters a
    table after changing its rows ("another transaction has altered this table"), so a DDL statement that
    follows a data change starts a new transaction. Only the last part records the version; the earlier
    parts are re-run safely if a crash falls between (see `_idempotent`)."""
    parts: list[list[str]] = [[]]
    changed_rows = False
    for statement in statements:
        ddl = bool(_DDL.match(statement))
        if ddl and changed_rows:
            parts.append([])
            changed_rows = False
        parts[-1].append(statement)
        changed_rows = changed_rows or (not ddl and statement != REBUILD_SUMMARIES)
    return parts


def _idempotent(sql: str) -> str:
    """DDL that can run twice (a migration re-run after a crash between its parts)."""
    sql = re.sub(r"^(\s*CREATE\s+TABLE\s+)(?!IF\s+NOT\s+EXISTS)", r"\1IF NOT EXISTS ", sql, flags=re.I)
    return re.sub(r"(\bADD\s+COLUMN\s+)(?!IF\s+NOT\s+EXISTS)", r"\1IF NOT EXISTS ", sql, flags=re.I)
