"""Formatting shared by the gate's reports: one way to print a rate, a p95, a change, an interval,
and escaping for text that came from the service (error messages) or from people (labels)."""

from __future__ import annotations

import re

from vton_eval.gate.model import P95_LATENCY, PREFERENCE, Criterion

VERDICT_TEXT = {"pass": "pass", "regression": "REGRESSION", "not_judged": "not judged"}


def value_text(crit: Criterion, side: str) -> str:
    """'3/20 (15.0 %)' for a rate, '1234 ms (n=20)' for a p95, '-' when unknown."""
    value = getattr(crit, side)
    if crit.name == P95_LATENCY:
        n = getattr(crit, f"{side}_n")
        return "-" if value is None else f"{value:.0f} ms (n={n})"
    if crit.name == PREFERENCE:
        n = getattr(crit, f"{side}_n")
        return "-" if value is None or not n else f"{value * 100:.1f} % of {n} picks"
    k, n = getattr(crit, f"{side}_count"), getattr(crit, f"{side}_n")
    if value is None or k is None or not n:
        return "-"
    return f"{k}/{n} ({value * 100:.1f} %)"


def change_text(crit: Criterion) -> str:
    if crit.change is None:
        return "-"
    if crit.name == P95_LATENCY:
        return f"{crit.change * 100:+.1f} %"
    return f"{crit.change * 100:+.1f} pp"


def interval_text(crit: Criterion) -> str:
    if crit.interval is None:
        return "-"
    lo, hi = crit.interval
    unit = "%" if crit.name == P95_LATENCY else "pp"
    return f"{lo * 100:+.1f} to {hi * 100:+.1f} {unit}"


def threshold_text(crit: Criterion) -> str:
    if crit.name == PREFERENCE:
        return f"-{crit.threshold * 100:.1f} pp"
    return f"+{crit.threshold * 100:.0f} %" if crit.name == P95_LATENCY else f"+{crit.threshold * 100:.1f} pp"


# Inline Markdown that could turn text into markup: emphasis, code, links/images (need `[`), tables,
# strikethrough. `(`, `#`, `-`... are inert mid-line, so they stay readable in the raw file.
_MD_SPECIAL = re.compile(r"([\\`*_\[\]|~])")


def md_escape(text: object, limit: int = 240) -> str:
    """Text safe inside a Markdown table cell: no HTML, no links or images, no table breaks.

    `&`, `<`, `>` become entities (so `<img onerror=...>` shows as text); Markdown punctuation gets
    a backslash; newlines become spaces (a newline would end the table row); long text is cut.
    """
    s = "" if text is None else str(text)
    s = re.sub(r"[\x00-\x08\x0b-\x1f\x7f]", "", s)
    s = " ".join(s.split())
    if len(s) > limit:
        s = s[: limit - 1] + "…"
    s = s.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return _MD_SPECIAL.sub(r"\\\1", s)


_XML_INVALID = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


def xml_clean(text: object) -> str:
    """Drop characters XML 1.0 forbids (a service's message may carry any byte); the XML writer escapes the rest."""
    return _XML_INVALID.sub("", "" if text is None else str(text))
