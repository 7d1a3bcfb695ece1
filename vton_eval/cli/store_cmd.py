"""`vton-eval store init|compact|copy`: setting up and looking after a shared store."""

from __future__ import annotations

import click

from vton_eval.store import DatabaseBusy, is_store_url, open_store


def _lake(url: str):
    if not is_store_url(url):
        raise click.ClickException("give a shared store URL: ducklake+postgresql://USER@HOST:PORT/DBNAME"
                                   "?data_path=FOLDER_OR_S3_URL")
    return open_store(url)


@click.group("store")
def store_group() -> None:
    """Set up and look after a shared store (DuckLake over PostgreSQL)."""


@store_group.command("init")
@click.argument("url")
def init_command(url: str) -> None:
    """Create the store's tables in its PostgreSQL database (made beforehand, empty) and its data path."""
    store = _lake(url)
    store.ensure()
    click.echo(f"store ready: {store.location}")
    click.echo(f"  tables in PostgreSQL database {store.url.dbname} on {store.url.host}:{store.url.port}; "
               f"files under {store.url.data_path}/ (lake/ and artifacts/)")


@store_group.command("compact")
@click.argument("url")
@click.option("--keep-hours", default=1.0, show_default=True, type=click.FloatRange(min=0),
              help="Keep snapshots (and their files) this recent: readers of older ones lose them.")
def compact_command(url: str, keep_hours: float) -> None:
    """Merge the store's small files and delete those no recent snapshot needs (safe while others write)."""
    from vton_eval.store.maintenance import compact

    store = _lake(url)
    try:
        done = compact(store, keep_hours)
    except DatabaseBusy as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"compacted {store.location} in {done.seconds:.1f} s: data files {done.files_before} -> "
               f"{done.files_after}, snapshots {done.snapshots_before} -> {done.snapshots_after}")


@store_group.command("copy")
@click.argument("source", type=click.Path(exists=True, dir_okay=False))
@click.argument("url")
def copy_command(source: str, url: str) -> None:
    """Copy every run of a database file (with its images) into a shared store; copying again adds nothing."""
    from vton_eval.store.merge import MergeError, merge

    store = _lake(url)
    try:
        report = merge([source], store, combine_shards=False)
    except (MergeError, DatabaseBusy) as exc:
        raise click.ClickException(str(exc)) from None
    added = ", ".join(f"{n} {t}" for t, n in report.rows_added.items() if n)
    click.echo(f"copied {len(report.copied_runs)} run(s) into {store.location}: {added or 'no new rows'}; "
               f"{report.files_copied} artifact file(s) copied")


COMMANDS = [store_group]
