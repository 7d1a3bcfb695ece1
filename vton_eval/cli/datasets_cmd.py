"""`vton-eval datasets ...`: checking manifests before a run finds the problems the hard way."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from vton_eval.cli.term import plain
from vton_eval.datasets import DatasetError, load_dataset
from vton_eval.images import DEFAULT_MAX_PIXELS


@click.group("datasets")
def datasets_group() -> None:
    """Check and create datasets."""


@datasets_group.command("validate")
@click.argument("path", type=click.Path(path_type=Path))
@click.option("--max-pixels", default=DEFAULT_MAX_PIXELS, show_default=True, type=int,
              help="Refuse images larger than this many pixels.")
def validate_command(path: Path, max_pixels: int) -> None:
    """Report every problem of a dataset with its line and reason; exit 1 if any is an error."""
    try:
        ds = load_dataset(path, max_pixels=max_pixels)
    except DatasetError as exc:
        raise click.ClickException(str(exc)) from None
    for problem in ds.problems:
        click.echo(plain(f"{ds.manifest}:{problem}"), err=problem.severity == "error")
    errors, warnings = len(ds.errors), len(ds.problems) - len(ds.errors)
    invalid = sum(1 for p in ds.pairs if p.invalid_reason)
    by_workflow = ", ".join(f"{w} {sum(1 for p in ds.pairs if p.workflow == w)}" for w in ds.workflows)
    click.echo(plain(f"{ds.name}: {len(ds.pairs)} usable pairs ({by_workflow or 'none'}), {invalid} that the service "
                     f"would refuse; {errors} error(s), {warnings} warning(s)"))
    sys.exit(1 if errors else 0)


@datasets_group.command("sample")
@click.argument("dest", type=click.Path(path_type=Path), default=Path("datasets/sample"))
def sample_command(dest: Path) -> None:
    """(Re)generate the sample dataset (drawn figures, scikit-image photos, drawn products)."""
    from vton_eval.samples import make_sample_dataset

    manifest = make_sample_dataset(dest)
    click.echo(f"wrote {manifest}")


COMMANDS = [datasets_group]
