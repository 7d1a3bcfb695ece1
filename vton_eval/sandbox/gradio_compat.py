"""What the sandbox needs to run under the Gradio versions try-on services pin (4.16 to current).

The compatibility suite (`make compat`) serves the sandbox's signatures from old Gradio servers, each in
its own virtual environment, so the sandbox's own code must import and run there. The differences it
meets, each asked of the installed Gradio rather than of its version number:

- `gr.Error(..., print_exception=False)` exists from 5.x on (before, every refusal printed a traceback);
- `launch(ssr_mode=...)` exists from 5.x on (server-side rendering needs Node; the sandbox turns it off);
- `gr.Image(format=...)` exists from 4.24 on (before, image outputs were PNG).
"""

from __future__ import annotations

import inspect
from functools import cache
from typing import Any


@cache
def _accepts(target: Any, name: str) -> bool:
    try:
        return name in inspect.signature(target).parameters
    except (TypeError, ValueError):
        return False


def error(message: str) -> Exception:
    """A `gr.Error` carrying `message` to the client, without a server traceback where Gradio allows it."""
    import gradio as gr

    if _accepts(gr.Error, "print_exception"):
        return gr.Error(message, print_exception=False)
    return gr.Error(message)


def supported(target: Any, **options: Any) -> dict[str, Any]:
    """`options` less those `target` (a component class, `Blocks.launch`) does not take in this Gradio."""
    return {name: value for name, value in options.items() if _accepts(target, name)}


def version() -> str:
    import gradio as gr

    return str(getattr(gr, "__version__", "unknown"))
