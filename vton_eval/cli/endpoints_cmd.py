"""`vton-eval endpoints inspect` and `vton-eval endpoints profiles`: what an endpoint offers, and the profiles."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click
from rich.console import Console
from rich.table import Table

from vton_eval.cli.term import one_line, safe
from vton_eval.cli.tokens import command_line_rules, command_line_token
from vton_eval.secrets import get_token
from vton_eval.services import check_endpoint_text
from vton_eval.services.api import Endpoint
from vton_eval.services.inspection import inspect_endpoint, tryon_score
from vton_eval.services.profiles import BUILT_IN, built_in_text, load_profile


@click.group("endpoints")
def endpoints() -> None:
    """Inspect endpoints and list the built-in endpoint profiles."""


def _value(value: Any) -> str:
    return "-" if value is None else one_line(repr(value))


def api_table(endpoint: Endpoint, chosen: bool) -> Table:
    title = f"{safe(endpoint.api_name)}" + ("  [green](looks like a try-on: the suggestion below)[/]" if chosen else "")
    table = Table(title=title, title_justify="left")
    for name in ("#", "parameter", "component", "type", "default", "choices"):
        table.add_column(name, overflow="fold")
    for i, p in enumerate(endpoint.parameters):
        choices = ", ".join(one_line(str(c)) for c in p.choices[:12]) + (" ..." if len(p.choices) > 12 else "")
        table.add_row(str(i), one_line(p.name or p.label), one_line(p.component), one_line(p.python_type),
                      _value(p.default) if p.has_default else "(required)", choices or "-")
    outputs = ", ".join(f"{i}: {one_line(o.component)} {one_line(o.label)}".strip() for i, o in
                        enumerate(endpoint.outputs))
    table.caption = f"returns {outputs or 'nothing'}"
    table.caption_justify = "left"
    return table


@endpoints.command("inspect")
@click.argument("endpoint", metavar="URL|SPACE")
@click.option("--timeout", "timeout_s", default=60.0, show_default=True, type=float,
              help="Seconds to wait for the endpoint (a Space that is building or asleep).")
@click.option("--toml-only", is_flag=True, help="Print only the suggested profile (to redirect into a file).")
@click.option("--access", "access_file", default=None, type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="Roles file whose [token] rules decide whether HF_TOKEN goes to this endpoint (default: "
                   "$VTON_EVAL_ACCESS, else .streamlit/access.toml when it exists).")
def inspect_command(endpoint: str, timeout_s: float, toml_only: bool, access_file: Path | None) -> None:
    """Print an endpoint's named APIs (parameters, types, defaults, choices) and a suggested profile TOML for
    the one that looks like a try-on."""
    console = Console(highlight=False, stderr=toml_only)
    src = check_endpoint_text(endpoint)
    notes = Console(stderr=True, highlight=False)
    # An unknown app is inspected first: the token rules hold here as for a run.
    token, note = command_line_token(src, get_token(), command_line_rules(access_file))
    if note:
        notes.print(f"[yellow]{safe(note)}")
    result = inspect_endpoint(src, token=token, open_timeout_s=timeout_s,
                              on_note=lambda text: notes.print(f"[dim]{safe(text)}"))
    if not toml_only:
        console.print(f"{safe(result.src)}: {len(result.endpoints)} named API(s)")
        ranked = sorted(result.endpoints.values(), key=lambda e: (-tryon_score(e), e.api_name))
        for e in ranked:
            console.print(api_table(e, e.api_name == result.tryon))
        for note in result.notes:
            console.print(f"[yellow]{safe(note)}")
    if result.suggestion is None:
        if toml_only:
            raise click.ClickException("no API of this endpoint looks like a try-on; nothing to suggest")
        return
    if toml_only:
        click.echo(result.suggestion, nl=False)
        return
    console.print("\nSuggested profile (save it as a .toml file, read it, then `vton-eval run ... --profile FILE`):")
    click.echo(result.suggestion, nl=False)


@endpoints.command("profiles")
@click.option("--show", metavar="NAME", default=None, help="Print this built-in profile's TOML.")
def profiles_command(show: str | None) -> None:
    """List the built-in endpoint profiles (or print one)."""
    if show:
        load_profile(show)  # a clear error for an unknown name
        click.echo(built_in_text(show), nl=False)
        return
    table = Table()
    for name in ("profile", "call", "workflows", "about"):
        table.add_column(name, overflow="fold")
    for name in BUILT_IN:
        p = load_profile(name)
        workflows = ", ".join(p.workflows) + (" (+ what the endpoint offers)" if p.workflows_from_endpoint else "")
        table.add_row(name, safe(p.summary()), workflows, safe(p.description))
    Console(highlight=False).print(table)


COMMANDS = [endpoints]
