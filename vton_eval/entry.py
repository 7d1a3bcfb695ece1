"""The `vton-eval` program's first lines: take Ctrl-C and SIGTERM over before the (slow) imports begin.

A Ctrl-C that arrives while the command is still importing (a second on a busy machine) is
remembered here instead of becoming a traceback; the command then ends with exit 130 before doing
anything (`run` records nothing). A SIGTERM in that time (the dashboard's Cancel of a run that is
still starting) is remembered too: without this, the process died silently and its run stayed
"running". Commands that handle signals themselves (`run`, `resume`) take over from this handler
once they start and honour what came before. Importing `vton_eval.cli` from a library or a test does not touch
signal handling: only this entry point does.
"""

from __future__ import annotations

import signal

_received: list[int] = []


def _remember(signum: int, _frame: object) -> None:
    _received.append(signum)


def early_signal() -> int | None:
    """The signal that arrived before the command took over signal handling, if any."""
    return _received[0] if _received else None


_EXIT_BY_SIGNAL = {signal.SIGINT: 130, signal.SIGTERM: 143}


def main() -> None:
    signal.signal(signal.SIGTERM, _remember)
    signal.signal(signal.SIGINT, _remember)
    from vton_eval.cli import main as cli

    cli()  # a signal that came meanwhile is acted on by hand_over, once the command is known


def hand_over(keep: bool) -> None:
    """Called when the command is known: `keep` (a command that installs its own handler and checks
    `early_signal()`) leaves the early handler in place until then; otherwise Ctrl-C works as usual
    again, and one that already arrived ends the command now."""
    if signal.getsignal(signal.SIGINT) is not _remember:
        return  # not started through this entry point (a test, a library)
    if not keep:
        signal.signal(signal.SIGINT, signal.default_int_handler)
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        if _received:
            raise SystemExit(_EXIT_BY_SIGNAL.get(_received[0], 130))
