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


@click.group(cls=_Cli, context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(package_name="vton-eval")
@click.pass_context
def main(ctx: click.Context) -> None:
    """Evaluate virtual try-on services served as Gradio apps."""
    from vton_eval.entry import hand_over

    hand_over(keep=ctx.invoked_subcommand in SIGNAL_AWARE)


def _register() -> None:
    from vton_eval.cli import (
        arena_cmd,
        audit_cmd,
        checks_cmd,
        dashboard_cmd,
        datasets_cmd,
        endpoints_cmd,
        gate_cmd,
        quota_cmd,
        run_cmd,
        sandbox_cmd,
        store_cmd,
    )

    for module in (run_cmd, quota_cmd, checks_cmd, datasets_cmd, endpoints_cmd, sandbox_cmd, dashboard_cmd, gate_cmd,
                   store_cmd, audit_cmd, arena_cmd):
        for command in module.COMMANDS:
            main.add_command(command)


_register()
