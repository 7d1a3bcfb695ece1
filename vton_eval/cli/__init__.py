"""The `vton-eval` command. Each sub-module holds one family of sub-commands."""

from __future__ import annotations

import os

import click

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(package_name="vton-eval")
def main() -> None:
    """Evaluate virtual try-on services served as Gradio apps."""


def _register() -> None:
    from vton_eval.cli import checks_cmd, dashboard_cmd, datasets_cmd, gate_cmd, run_cmd, sandbox_cmd

    for module in (run_cmd, checks_cmd, datasets_cmd, sandbox_cmd, dashboard_cmd, gate_cmd):
        for command in module.COMMANDS:
            main.add_command(command)


_register()
