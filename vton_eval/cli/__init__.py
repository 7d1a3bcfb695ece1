"""The `vton-eval` command. Each sub-module holds one family of sub-commands."""

from __future__ import annotations

import os
from typing import Any

import click

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")


class _Cli(click.Group):
    """Every engine error becomes one clear line and exit 1; nothing prints a traceback."""

    def invoke(self, ctx: click.Context) -> Any:
        from vton_eval.cli.term import plain
        from vton_eval.errors import VtonEvalError

        try:
            return super().invoke(ctx)
        except click.ClickException as exc:
            exc.message = plain(exc.message)
            raise
        except VtonEvalError as exc:
            raise click.ClickException(plain(str(exc))) from None
        except Exception as exc:
            from vton_eval.store.failures import database_failure

            line = database_failure(exc)  # the store turns known failures into clear errors; the rest: one line
            if line is not None:
                raise click.ClickException(plain(line)) from None
            raise


# Commands that install their own Ctrl-C handling (and honour a Ctrl-C that came during start-up).
SIGNAL_AWARE = ("run", "resume")


# Which module holds each command: a command's module (and what it imports: pandas, the checks, SciPy) loads only
# when that command runs, so `vton-eval run` does not start by importing the analytics of `audit` (about 1 s of CPU).
COMMANDS = {
    "run": "run_cmd", "resume": "run_cmd", "cancel": "run_cmd", "runs": "run_cmd",
    "quota": "quota_cmd",
    "checks": "checks_cmd",
    "datasets": "datasets_cmd",
    "endpoints": "endpoints_cmd",
    "sandbox": "sandbox_cmd",
    "dashboard": "dashboard_cmd", "demo": "dashboard_cmd",
    "bless": "gate_cmd", "baselines": "gate_cmd", "gate": "gate_cmd", "merge": "gate_cmd", "export": "gate_cmd",
    "store": "store_cmd",
    "audit": "audit_cmd",
    "arena": "arena_cmd", "agreement": "arena_cmd",
}


class _LazyCli(_Cli):
    def list_commands(self, ctx: click.Context) -> list[str]:
        return list(COMMANDS)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        module = COMMANDS.get(cmd_name)
        if module is None:
            return None
        from importlib import import_module

        found = {c.name: c for c in import_module(f"vton_eval.cli.{module}").COMMANDS}
        return found[cmd_name]


@click.group(cls=_LazyCli, context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(package_name="vton-eval")
@click.pass_context
def main(ctx: click.Context) -> None:
    """Evaluate virtual try-on services served as Gradio apps."""
    from vton_eval.entry import hand_over

    hand_over(keep=ctx.invoked_subcommand in SIGNAL_AWARE)
