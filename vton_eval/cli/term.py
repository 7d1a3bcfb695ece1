"""Text bound for the terminal. What a service, a dataset or a person wrote is data, never markup.

Rich reads `[...]` in any string as markup (`[/red]` crashes a print, `[link=...]` makes a link)
and passes ANSI/OSC escapes through (a window retitled, a screen cleared). Every such text goes
through `safe` before Rich prints it, and through `plain` before click echoes it.
"""

from __future__ import annotations

from rich.markup import escape

from vton_eval.textsafe import strip_controls


def plain(text: object) -> str:
    """Text without control characters, for click.echo and plain prints."""
    return strip_controls(text)


def safe(text: object) -> str:
    """Text without control characters and with Rich markup escaped, for console.print and tables."""
    return escape(strip_controls(text))


def one_line(text: object, limit: int = 200) -> str:
    """`safe` text on one line, cut to `limit` characters (table cells)."""
    s = " ".join(strip_controls(text, keep_newlines=False).split())
    return escape(s if len(s) <= limit else s[: limit - 1] + "…")


def counted(n: int, noun: str, plural: str | None = None) -> str:
    """'1 error', '4 errors': a count with its noun in the right number."""
    return f"{n:,} {noun if n == 1 else plural or noun + 's'}"
