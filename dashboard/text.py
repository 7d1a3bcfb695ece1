"""Text from a file, a server or a person, for the pages' Markdown: shown as the text it is (`md`)."""

from __future__ import annotations

import re

_MD_SPECIAL = "\\`*_{}[]()#+-.!|<>~$:&="
# What Streamlit's Markdown turns into a link by itself, escapes or not (it links URLs, www. names and e-mail
# addresses found in the text it has parsed): such a value goes into a code span, where nothing is linked.
_LINKABLE = re.compile(r"(?i)\b[a-z][a-z0-9+.-]*://[^\s<>]+|\bwww\.[^\s<>]+|[\w.+-]+@[\w-]+(?:\.[\w-]+)+")
_TRAILING = ".,;:!?'\")]}"


def _escape(text: str) -> str:
    return "".join("\\" + ch if ch in _MD_SPECIAL else ch for ch in text)


def _code_span(text: str) -> str:
    fence = "`" * (max((len(run) for run in re.findall("`+", text)), default=0) + 1)
    pad = " " if text.startswith("`") or text.endswith("`") else ""
    return f"{fence}{pad}{text}{pad}{fence}"


def md(text: object) -> str:
    """Text from a file or a server, for Markdown: shown as the text it is, never as markup and never as a link
    (a URL, a www. name or an e-mail address goes into a code span; everything else is escaped)."""
    text = str(text)
    out, last = [], 0
    for match in _LINKABLE.finditer(text):
        value = match.group(0).rstrip(_TRAILING)
        out.append(_escape(text[last:match.start()]))
        out.append(_code_span(value))
        last = match.start() + len(value)
    out.append(_escape(text[last:]))
    return "".join(out)
