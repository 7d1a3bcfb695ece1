"""The root of the engine's own errors: callers (the CLI, pages) catch one type, not bare ValueError."""

from __future__ import annotations


class VtonEvalError(Exception):
    """Something a person can act on; str() is a sentence fit to show them."""


class InvalidValue(VtonEvalError, ValueError):
    """A value a person gave (a setting, an endpoint, a name, an upload) that cannot be used as it is."""
