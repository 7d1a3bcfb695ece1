"""Text from a service or a file is data: no control sequence reaches a terminal, no message grows unbounded.

A service's error message, a dataset's pair id or a label can carry ANSI/OSC escapes (which clear
a screen or retitle a window), bidirectional overrides (which reorder what a reader sees) or a
megabyte of text. Everything we keep or print goes through here first.
"""

from __future__ import annotations

import re

# C0 controls but tab and newline, DEL, C1 controls (ESC-less CSI 0x9b included), and the
# Unicode bidirectional controls.
_CONTROLS = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]")
_CONTROLS_AND_NEWLINES = re.compile("[\x00-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]")

MAX_MESSAGE_CHARS = 8192


def strip_controls(text: object, keep_newlines: bool = True) -> str:
    """The text without control characters (tabs and, by default, newlines stay)."""
    s = "" if text is None else str(text)
    return (_CONTROLS if keep_newlines else _CONTROLS_AND_NEWLINES).sub("", s)


_CUT_NOTE = re.compile(r"… \[cut: [\d,]+ characters in all\]$")


def cap(text: str, limit: int = MAX_MESSAGE_CHARS) -> str:
    """At most `limit` characters; a cut text says how long the original was (cutting twice keeps the
    first note, which knows the original length)."""
    if len(text) <= limit:
        return text
    note = _CUT_NOTE.search(text)
    if note is not None and note.start() <= limit:
        return text
    return f"{text[:limit]}… [cut: {len(text):,} characters in all]"


# What a spreadsheet reads as the start of a formula (OWASP's list: = + - @, and tab or carriage return before one).
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def spreadsheet_cell(value: object) -> object:
    """A value for a CSV that people open in a spreadsheet: a text starting like a formula (`=HYPERLINK(...)`,
    `@SUM`, `-1+cmd|...`) gets a leading apostrophe, so it is shown as the text it is; numbers stay numbers."""
    if isinstance(value, str) and value.startswith(_FORMULA_START):
        return "'" + value
    return value
