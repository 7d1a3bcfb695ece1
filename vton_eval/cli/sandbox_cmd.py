"""`vton-eval sandbox`: serve a local stand-in for the try-on Space, with optional injected faults."""

from __future__ import annotations

import signal
import time

import click

from vton_eval import workflows
from vton_eval.quota import parse_rate


def parse_latency(text: str) -> tuple[float, dict[str, float]]:
    """'0.5' or '0.5,top=2,dress=3' -> (default seconds, per-workflow overrides)."""
    default = 0.0
    overrides: dict[str, float] = {}
    for i, part in enumerate(p.strip() for p in text.split(",")):
        if not part:
            raise ValueError(f"empty item in {text!r}")
        name, _, value = part.rpartition("=")
        name = name.strip()
        try:
            seconds = float(value)
        except ValueError:
            raise ValueError(f"{value.strip()!r} is not a number of seconds") from None
        if not seconds >= 0 or seconds == float("inf"):
            raise ValueError(f"latency must be a finite number >= 0, got {value.strip()}")
        if not name:
            if i != 0:
                raise ValueError("the default latency must come first, e.g. 0.5,top=2")
            default = seconds
        elif not workflows.is_known(name):
            raise ValueError(f"unknown workflow {name!r} (use {', '.join(workflows.names())})")
        else:
            overrides[name] = seconds
    return default, overrides


def _latency(ctx: click.Context, param: click.Parameter, value: str) -> tuple[float, dict[str, float]]:
    try:
        return parse_latency(value)
    except ValueError as exc:
        raise click.BadParameter(f"{exc} (expected e.g. 0.5 or 0.5,top=2,dress=3)") from None


def _share(ctx: click.Context, param: click.Parameter, value: float) -> float:
    if not 0.0 <= value <= 1.0:
        raise click.BadParameter(f"must be a fraction between 0 and 1 (e.g. 0.05 for 5%), got {value:g}")
    return value


def _rate_limit(ctx: click.Context, param: click.Parameter, value: str | None) -> str | None:
    if value is None:
        return None
    try:
        parse_rate(value)
    except ValueError as exc:
        raise click.BadParameter(str(exc)) from None
    return value


def _signature(ctx: click.Context, param: click.Parameter, value: str) -> str:
    from vton_eval.sandbox.signatures import SIGNATURES

    if value not in SIGNATURES:
        raise click.BadParameter(f"no sandbox signature {value!r} (use {', '.join(SIGNATURES)})")
    return value


def _offered(ctx: click.Context, param: click.Parameter, value: str | None) -> list[str] | None:
    if value is None:
        return None
    names = [v.strip() for v in value.split(",") if v.strip()]
    if not names:
        raise click.BadParameter("give at least one workflow, e.g. eyewear,footwear,dress,top")
    for name in names:
        if not workflows.is_known(name):
            try:
                workflows.generic(name)
            except Exception as exc:  # VtonEvalError: a name that cannot be a workflow
                raise click.BadParameter(str(exc)) from None
    return names


def _positive(ctx: click.Context, param: click.Parameter, value: int | None) -> int | None:
    if value is not None and value < 1:
        raise click.BadParameter(f"must be at least 1, got {value}")
    return value


@click.command("sandbox")
@click.option(
    "--port", type=click.IntRange(1, 65535), default=7860, show_default=True, help="Port on 127.0.0.1."
)
@click.option(
    "--latency",
    default="0",
    show_default=True,
    callback=_latency,
    metavar="SECONDS[,WORKFLOW=SECONDS...]",
    help="Service time per call, optionally per workflow: 0.5,top=2,dress=3.",
)
@click.option(
    "--jitter", type=float, default=0.0, callback=_share, help="Latency varies by +- this fraction."
)
@click.option(
    "--error-rate",
    type=float,
    default=0.0,
    callback=_share,
    help="Share of calls failing with a server error.",
)
@click.option(
    "--bad-output-rate",
    type=float,
    default=0.0,
    callback=_share,
    help="Share of calls returning an undecodable image.",
)
@click.option(
    "--noop-rate", type=float, default=0.0, callback=_share,
    help="Share of calls returning the person image unchanged (a silent failure).",
)
@click.option(
    "--blank-rate", type=float, default=0.0, callback=_share,
    help="Share of calls returning a flat grey image (a silent failure).",
)
@click.option("--seed", type=int, default=None, help="Seed for faults and jitter (same seed, same sequence).")
@click.option(
    "--rate-limit",
    default=None,
    callback=_rate_limit,
    metavar="N/PERIOD",
    help="Per client IP, e.g. 30/h (the Space's limit). Off by default.",
)
@click.option(
    "--concurrency", type=int, default=4, show_default=True, callback=_positive, help="Calls served at once."
)
@click.option(
    "--max-queue", type=int, default=None, callback=_positive, help="Refuse calls beyond this many waiting."
)
@click.option("--hang", is_flag=True, help="Every call hangs (never answers).")
@click.option("--hang-rate", type=float, default=0.0, callback=_share, help="Share of calls that hang.")
@click.option("--profile", default="sm4ll", show_default=True, metavar="NAME", callback=_signature,
              help="Whose API signature to serve: sm4ll, idm-vton, catvton, ootdiffusion, leffa, omnitry, kolors.")
@click.option("--workflows", "offered", default=None, metavar="LIST", callback=_offered,
              help="sm4ll: the workflows its dropdown lists, e.g. eyewear,footwear,dress,top,bottom (default: all "
                   "of ours); a name we do not know is drawn on the whole figure.")
def sandbox(
    port: int,
    latency: tuple[float, dict[str, float]],
    jitter: float,
    error_rate: float,
    bad_output_rate: float,
    noop_rate: float,
    blank_rate: float,
    seed: int | None,
    rate_limit: str | None,
    concurrency: int,
    max_queue: int | None,
    hang: bool,
    hang_rate: float,
    profile: str,
    offered: list[str] | None,
) -> None:
    """Serve a local stand-in for a try-on service's API until Ctrl-C.

    By default it answers like the SM4LL-VTON Space (same inputs, a .webp output, the same refusals);
    --profile serves another service's signature (IDM-VTON, CatVTON, OOTDiffusion, Leffa, OmniTry, Kolors:
    the same argument and output shapes). Inside, a fake try-on; it can inject latency, errors, bad
    outputs, hangs and a rate limit.
    """
    from vton_eval.sandbox import SandboxConfig, start_sandbox

    config = SandboxConfig(
        latency=latency[0],
        latency_by_workflow=latency[1],
        jitter=jitter,
        error_rate=error_rate,
        seed=seed,
        bad_output_rate=bad_output_rate,
        noop_rate=noop_rate,
        blank_rate=blank_rate,
        hang=hang,
        hang_rate=hang_rate,
        rate_limit=rate_limit,
        concurrency=concurrency,
        max_queue=max_queue,
        profile=profile,
        workflows=offered,
    )
    try:
        handle = start_sandbox(config, port=port)
    except OSError as exc:
        raise click.ClickException(
            f"cannot serve on port {port}: {exc}. Choose another with --port."
        ) from None

    def stop(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    # Explicit handlers: a sandbox started in the background (nohup, `&`) inherits SIGINT ignored.
    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGTERM, stop)
    from vton_eval.services.profiles import load_profile

    # A Gradio profile names its endpoint in its call shape (a REST profile has none to name).
    api_name = getattr(load_profile(profile).call, "api_name", "")
    click.echo(f"Sandbox serving the {profile} signature ({api_name}) at {handle.url}")
    for line in config.describe():
        click.echo(f"  {line}")
    click.echo("Press Ctrl-C to stop.")
    try:
        while True:
            time.sleep(0.5)
    except KeyboardInterrupt:
        click.echo("Stopping the sandbox...")
    finally:
        handle.close()


COMMANDS = [sandbox]
