"""Turning what a Gradio service said (an exception, a message) into an error kind.

The SM4LL-VTON Space raises `gr.Error` with human sentences, so the kind is read from the
message; transport failures are read from the exception's type.

ZeroGPU Spaces answer quota refusals in words that change over time ("You have exceeded your GPU
quota (60s requested vs. 45s left) ... retry in 0:09:48", "... ZeroGPU quota ... Try again in
23:51:22"), some with HTML links in them: a quota is recognised by pattern, and the wait is read from
the text with its tags removed.
"""

from __future__ import annotations

import concurrent.futures
import html
import re

import httpx

_NSFW = re.compile(r"inappropriate|nsfw|not safe for work|explicit content", re.I)
_RATE = re.compile(
    r"rate.?limit|too many (requests|users)|quota|exceeded your|\b429\b|try again (in|later)|retry in|"
    r"requests per", re.I
)
_INVALID = re.compile(
    r"upload|missing|not supported|unsupported|invalid|format|too small|at least \d+|minimum|"
    r"unknown workflow|must be one of|not accepted|could not (read|decode|open)|cannot identify",
    re.I,
)
_RETRY_AFTER = re.compile(
    r"(?:in|after|wait)\s+(?:(\d+):(\d{2}):(\d{2})|(\d+):(\d{2})\b|"
    r"(\d+(?:\.\d+)?)\s*(s|sec|secs|seconds?|m|min|mins|minutes?|h|hrs?|hours?)\b)",
    re.I,
)
_TAG = re.compile(r"</?[A-Za-z][^<>]{0,2000}>")


def plain_text(message: str) -> str:
    """A message with HTML tags removed and entities decoded ("retry in <b>0:09:48</b>" -> "retry in 0:09:48");
    text without tags is returned as it is."""
    if "<" not in message and "&" not in message:
        return message
    return re.sub(r"[ \t]{2,}", " ", html.unescape(_TAG.sub("", message))).strip()


def classify_message(message: str) -> str:
    """The error kind a service's error message describes; unknown messages are server errors."""
    if _NSFW.search(message):
        return "nsfw_rejected"
    if _RATE.search(message):
        return "rate_limited"
    if _INVALID.search(message):
        return "invalid_input"
    return "server_error"


def retry_after_s(message: str) -> float | None:
    """Seconds a rate-limit message asks us to wait ('try again in 123 s', 'retry in 0:12:00', 'in 9:48')."""
    match = _RETRY_AFTER.search(plain_text(message))
    if not match:
        return None
    if match.group(1) is not None:
        h, m, s = (int(match.group(i)) for i in (1, 2, 3))
        return float(h * 3600 + m * 60 + s)
    if match.group(4) is not None:
        return float(int(match.group(4)) * 60 + int(match.group(5)))
    value = float(match.group(6))
    unit = match.group(7).lower()
    if unit.startswith("h"):
        return value * 3600
    if unit.startswith("m"):
        return value * 60
    return value


def classify_exception(exc: BaseException) -> tuple[str, str]:
    """(error kind, message) for an exception raised while calling a service."""
    from gradio_client.exceptions import AppError
    from gradio_client.utils import QueueError, TooManyRequestsError

    if isinstance(exc, AppError):
        message = plain_text(str(exc)) or "the service raised an error without a message"
        return classify_message(message), message
    if isinstance(exc, QueueError):
        return "queue_full", f"the service's queue is full: {exc}" if str(exc) else "the service's queue is full"
    if isinstance(exc, TooManyRequestsError):
        return "rate_limited", str(exc) or "too many requests"
    if isinstance(exc, httpx.HTTPStatusError):
        code = exc.response.status_code
        if code == 429:
            return "rate_limited", f"HTTP 429 Too Many Requests from {exc.request.url.host}"
        if code in (400, 413, 415, 422):
            return "invalid_input", f"HTTP {code} from {exc.request.url.host}: the request was refused"
        return "server_error", f"HTTP {code} from {exc.request.url.host}"
    if isinstance(exc, httpx.TimeoutException | TimeoutError):
        return "timeout", f"timed out ({type(exc).__name__})"
    if isinstance(exc, httpx.TransportError | ConnectionError):
        return "connection", f"connection failed: {_short(exc)}"
    if isinstance(exc, FileNotFoundError | PermissionError | IsADirectoryError | NotADirectoryError):
        # A file on our side (an input being uploaded): sending again cannot fix it.
        return "invalid_input", f"cannot read a local file: {_short(exc)}"
    if isinstance(exc, OSError):
        return "connection", f"connection failed: {_short(exc)}"
    if isinstance(exc, concurrent.futures.CancelledError):
        # gradio_client cancels its job when the server goes away mid-call or the stream breaks.
        return "connection", "the connection to the service was lost during the call"
    if isinstance(exc, KeyError | TypeError | ValueError | IndexError):
        # gradio_client could not read the answer (malformed JSON, missing fields): the same answer
        # would come back, so this is not worth a retry.
        return "bad_output", f"the service's answer could not be read ({type(exc).__name__}: {_short(exc)})"
    return "server_error", f"{type(exc).__name__}: {_short(exc)}"


def _short(exc: BaseException) -> str:
    text = str(exc) or type(exc).__name__
    return text if len(text) <= 500 else text[:500] + "..."
