"""`vton-eval datasets ...`: checking manifests before a run finds the problems the hard way; importing the
public test sets where they lie."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from vton_eval.cli.term import plain
from vton_eval.datasets import DatasetError
from vton_eval.datasets.layouts import LAYOUTS
from vton_eval.datasets.layouts.common import PAIRS_CHOICES
from vton_eval.images import DEFAULT_MAX_PIXELS


@click.group("datasets")
def datasets_group() -> None:
    """Check, import and create datasets."""


def _url_cache(cache: Path | None, timeout: float, max_bytes: int):
    from vton_eval.datasets.urls import UrlCache, UrlLimits

    if timeout <= 0 or max_bytes <= 0:
        raise click.ClickException("--url-timeout and --url-max-bytes must be positive")
    return UrlCache(cache, UrlLimits(max_bytes=max_bytes, timeout_s=timeout))


@datasets_group.command("validate")
@click.argument("path", type=click.Path(path_type=Path))
@click.option("--max-pixels", default=DEFAULT_MAX_PIXELS, show_default=True, type=int,
              help="Refuse images larger than this many pixels.")
@click.option("--url-cache", type=click.Path(path_type=Path), default=None,
              help="Cache of images fetched by URL [default: $VTON_EVAL_URL_CACHE or ~/.cache/vton-eval/urls].")
@click.option("--url-timeout", default=30.0, show_default=True, type=float, help="Seconds allowed per URL download.")
@click.option("--url-max-bytes", default=50 * 1024 * 1024, show_default=True, type=int,
              help="Largest image fetched by URL.")
@click.option("--refresh-urls", is_flag=True, help="Fetch URLs again even when they are cached.")
def validate_command(path: Path, max_pixels: int, url_cache: Path | None, url_timeout: float, url_max_bytes: int,
                     refresh_urls: bool) -> None:
    """Report every problem of a dataset with its line and reason; exit 1 if any is an error.

    The outcome is kept beside the manifest (validation.json) for the Datasets page."""
    from vton_eval.datasets.validation import validate_dataset

    try:
        result = validate_dataset(path, max_pixels=max_pixels, url_cache=_url_cache(url_cache, url_timeout,
                                                                                     url_max_bytes),
                                  refresh_urls=refresh_urls)
    except DatasetError as exc:
        raise click.ClickException(str(exc)) from None
    ds = result.dataset
    for problem in ds.problems:
        click.echo(plain(f"{ds.manifest}:{problem}"), err=problem.severity == "error")
    if ds.image_root != ds.root:
        click.echo(plain(f"paths are relative to {ds.image_root} (the root its dataset.json declares)"))
    click.echo(plain(result.describe()))
    sys.exit(1 if ds.errors else 0)


@datasets_group.command("import")
@click.argument("layout", type=click.Choice(list(LAYOUTS)))
@click.argument("src", type=click.Path(path_type=Path))
@click.option("--into", "into", required=True, type=click.Path(path_type=Path),
              help="The new dataset's folder (its manifest.csv and dataset.json go there; images stay in SRC).")
@click.option("--split", default="test", show_default=True, help="Which split: test or train.")
@click.option("--pairs", "pairs", type=click.Choice(PAIRS_CHOICES), default="unpaired", show_default=True,
              help="paired: each person with the garment they wear (the person image is the reference).")
@click.option("--category", "categories", multiple=True,
              help="; ".join(f"{lay.title}: {', '.join(lay.categories)}" for lay in LAYOUTS.values() if lay.categories)
              + " (repeat or comma-separate) [default: all present].")
@click.option("--limit", type=int, default=None, help="Keep a sample of this many pairs.")
@click.option("--seed", type=int, default=0, show_default=True, help="The sample's seed (same seed, same pairs).")
@click.option("--masks/--no-masks", default=None,
              help=" ".join(f"{lay.title}: {lay.masks}{' [default: when present]' if lay.masks_by_default else ''}."
                            for lay in LAYOUTS.values()))
@click.option("--overwrite", is_flag=True, help="Replace a dataset already in --into.")
def import_command(layout: str, src: Path, into: Path, split: str, pairs: str, categories: tuple[str, ...],
                   limit: int | None, seed: int, masks: bool | None, overwrite: bool) -> None:
    """Write a dataset for a folder of a public test set's layout, without copying its images.

    Every problem of the source (a malformed line, a pair naming a missing file) is reported with its
    file and line; exit 1 if any line was left out for an error."""
    from vton_eval.access import local_actor
    from vton_eval.curation import import_layout
    from vton_eval.datasets.layouts import ImportOptions

    wanted = tuple(c.strip() for given in categories for c in given.split(",") if c.strip()) or None
    options = ImportOptions(split=split, pairs=pairs, categories=wanted, limit=limit, seed=seed, masks=masks)
    try:
        # The person at the terminal reads their own disk: no import roots apply, and no store is involved.
        report = import_layout(layout, src, into, options, overwrite=overwrite, actor=local_actor(via="cli"))
    except DatasetError as exc:
        raise click.ClickException(str(exc)) from None
    for problem in report.problems:
        click.echo(plain(f"{report.source}/{problem}"), err=problem.severity == "error")
    click.echo(plain(report.describe()))
    if report.written:
        click.echo(plain(f"next: vton-eval datasets validate {report.folder}"))
    sys.exit(1 if report.errors or not report.written else 0)


@datasets_group.command("sample")
@click.argument("dest", type=click.Path(path_type=Path), default=Path("datasets/sample"))
def sample_command(dest: Path) -> None:
    """(Re)generate the sample dataset (drawn figures, scikit-image photos, drawn products)."""
    from vton_eval.samples import make_sample_dataset

    manifest = make_sample_dataset(dest)
    click.echo(f"wrote {manifest}")


COMMANDS = [datasets_group]
