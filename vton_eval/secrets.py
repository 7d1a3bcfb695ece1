"""The service token: read from the environment only, and scrubbed from any text we keep or show.

A message can carry the token in more than one encoding: percent-encoded in a URL a server
echoes back (`hf%5F…`), as HTML or JSON escapes, in another case (`HF_…`), as hex (`68665f…`,
`\x68\x66…`), or inside base64. `redact` removes every form.
"""

from __future__ import annotations

import base64
import os
import re
import threading
from collections.abc import Mapping

from vton_eval.textsafe import cap, strip_controls

TOKEN_ENV = "HF_TOKEN"
# Other names under which tools look for a Hugging Face token: no process we start inherits any of them unasked.
TOKEN_NAMES = (TOKEN_ENV, "HUGGING_FACE_HUB_TOKEN", "HF_API_TOKEN")
# `vton-eval dashboard` hands the token to the Streamlit process through a pipe whose descriptor this names,
# instead of its environment (from where every process the dashboard starts would inherit it).
TOKEN_FD_ENV = "VTON_EVAL_TOKEN_FD"
# hf_ followed by the token body; the underscore may itself be encoded (%5F, &#95;, \u005f).
_UNDERSCORE = r"(?:_|%5[fF]|&#0*95;|&#[xX]0*5[fF];|\\u005[fF])"
_TOKEN_SHAPE = re.compile(r"hf" + _UNDERSCORE + r"[A-Za-z0-9]{8,}")
_BEARER = re.compile(r"(Bearer(?:\s|%20|\+)+)[A-Za-z0-9._~+/=%\-]+", re.I)
_compiled: dict[str, list[re.Pattern[str]]] = {}
# A shared store's secrets: never in a URL we keep, but a library's error text may still echo them.
STORE_SECRET_ENVS = ("PGPASSWORD", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN")
_PASSWORD_FIELD = re.compile(r"(password\s*=\s*)('[^']*'|\S+)", re.I)
# Tokens this process holds outside its environment (the dashboard's, from Streamlit secrets): scrubbed too.
_remembered: set[str] = set()
# A caller that passes no token explicitly means "the one in this process's environment" (the CLI's runs).
FROM_ENVIRONMENT: object = object()


def get_token() -> str | None:
    token = os.environ.get(TOKEN_ENV, "").strip()
    return token or None


def without_tokens(env: Mapping[str, str]) -> dict[str, str]:
    """An environment for a process we start: `env` without any Hugging Face token variable."""
    return {k: v for k, v in env.items() if k not in TOKEN_NAMES}


def hand_over_token(token: str | None, env: dict[str, str]) -> tuple[int, ...]:
    """Put `token` into a pipe for a child process (its read end's descriptor named in `env`); returns the
    descriptors to pass to the child (`pass_fds`), which the parent closes once the child has started."""
    if not token:
        return ()
    read_end, write_end = os.pipe()
    with os.fdopen(write_end, "wb") as pipe:  # a token is far below a pipe's buffer: this never blocks
        pipe.write(token.encode("utf-8"))
    env[TOKEN_FD_ENV] = str(read_end)
    return (read_end,)


_handed: list[str | None] = []
_handed_lock = threading.Lock()


def handed_token() -> str | None:
    """The token a parent handed this process through `hand_over_token` (read once, then the pipe is closed);
    None when none was. It is scrubbed from messages like an environment token."""
    with _handed_lock:
        if not _handed:
            token = None
            fd = os.environ.pop(TOKEN_FD_ENV, "")
            if fd.isdigit():
                try:
                    with os.fdopen(int(fd), "rb") as pipe:
                        token = pipe.read(64 * 1024).decode("utf-8", "replace").strip() or None
                except OSError:  # not ours, or already closed: no token
                    token = None
            _handed.append(token)
            remember_secret(token)
        return _handed[0]


def remember_secret(token: str | None) -> None:
    """Scrub `token` from every message too, although it is not in this process's environment."""
    if token and len(token) >= 4:
        _remembered.add(token)


def _char_forms(ch: str) -> str:
    """A pattern matching one character of the token in any encoding a message may use."""
    code = ord(ch)
    forms = [re.escape(ch), f"%{code:02x}", f"%{code:02X}", f"&#0*{code};", f"&#[xX]0*{code:x};",
             f"&#[xX]0*{code:X};", f"\\\\u{code:04x}", f"\\\\u{code:04X}"]
    if ch == " ":
        forms.append(r"\+")
    return "(?:" + "|".join(forms) + ")"


def _base64_forms(token: str) -> list[str]:
    """The token as it appears inside base64 text, at each of the three byte alignments."""
    data = token.encode()
    forms = []
    for shift in range(3):
        encoded = base64.b64encode(b"\0" * shift + data).decode()
        # Drop the characters that mix in the neighbouring bytes at both ends.
        start = (shift * 4 + 2) // 3
        end = len(encoded) - (4 if (shift + len(data)) % 3 else 0)
        core = encoded[start:end].rstrip("=")
        if len(core) >= 8:
            forms.append(core)
            forms.append(core.replace("+", "-").replace("/", "_"))  # the URL-safe alphabet
    return forms


def _patterns(token: str) -> list[re.Pattern[str]]:
    if token not in _compiled:
        if len(_compiled) > 8:
            _compiled.clear()
        hex_form = r"(?:\\x)?".join(f"{b:02x}" for b in token.encode())  # 68665f... or \x68\x66\x5f...
        _compiled[token] = [re.compile("".join(_char_forms(c) for c in token), re.I), re.compile(hex_form, re.I)] + [
            re.compile(re.escape(form)) for form in _base64_forms(token)]
    return _compiled[token]


def redact(text: str | None) -> str | None:
    """Remove the token (in any encoding) and anything shaped like one from text bound for a log, a page or
    the database."""
    if not text:
        return text
    for token in {get_token(), *_remembered}:
        if token and len(token) >= 4:
            for pattern in _patterns(token):
                text = pattern.sub("***", text)
    for name in STORE_SECRET_ENVS:
        secret = os.environ.get(name, "")
        if len(secret) >= 4:
            text = text.replace(secret, "***")
    text = _PASSWORD_FIELD.sub(r"\1***", text)
    text = _BEARER.sub(r"\1***", text)
    return _TOKEN_SHAPE.sub("hf_***", text)


def clean_message(text: str | None) -> str | None:
    """A message as we store it: no token, no control characters, at most 8 KB (with its original length)."""
    if text is None:
        return None
    return cap(redact(strip_controls(text)) or "")
