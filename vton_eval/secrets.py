"""The service token: read from the environment only, and scrubbed from any text we keep or show."""

from __future__ import annotations

import os
import re

TOKEN_ENV = "HF_TOKEN"
# Hugging Face tokens look like hf_xxx; scrub anything of that shape too, not only our own token.
_TOKEN_SHAPE = re.compile(r"\bhf_[A-Za-z0-9]{8,}\b")
_BEARER = re.compile(r"(Bearer\s+)[A-Za-z0-9._\-]+", re.I)


def get_token() -> str | None:
    token = os.environ.get(TOKEN_ENV, "").strip()
    return token or None


def redact(text: str | None) -> str | None:
    """Remove the token (and anything shaped like one) from text bound for a log, a page or the DB."""
    if not text:
        return text
    token = get_token()
    if token and len(token) >= 4:
        text = text.replace(token, "***")
    text = _BEARER.sub(r"\1***", text)
    return _TOKEN_SHAPE.sub("hf_***", text)
