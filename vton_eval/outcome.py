"""The vocabulary of a call's result, shared by every part: error kinds, statuses, and the outcome of one call."""

from __future__ import annotations

from dataclasses import dataclass

ERROR_KINDS: tuple[str, ...] = (
    "rate_limited",
    "nsfw_rejected",
    "invalid_input",
    "timeout",
    "connection",
    "queue_full",
    "server_error",
    "bad_output",
    "cancelled",
    "silent_failure",
)

# Kinds worth another attempt: the same request may well succeed later. A refusal of the content
# (nsfw, invalid input) would be refused again, and only spends quota.
TRANSIENT_KINDS: frozenset[str] = frozenset(
    {"connection", "timeout", "queue_full", "server_error", "rate_limited"}
)

STATUSES: tuple[str, ...] = ("ok", "error")
RUN_STATUSES: tuple[str, ...] = ("running", "finished", "cancelled", "interrupted", "failed")


@dataclass
class Outcome:
    """What one call to a try-on endpoint produced."""

    status: str
    error_kind: str | None = None
    error_message: str | None = None
    latency_ms: float | None = None
    queue_ms: float | None = None
    output: bytes | None = None
    output_width: int | None = None
    output_height: int | None = None
    # Seconds the service asked us to wait (rate limits), when it said so.
    retry_after_s: float | None = None

    @classmethod
    def ok(cls, output: bytes, width: int, height: int, latency_ms: float, queue_ms: float | None) -> Outcome:
        return cls("ok", None, None, latency_ms, queue_ms, output, width, height)

    @classmethod
    def error(
        cls,
        kind: str,
        message: str,
        latency_ms: float | None = None,
        queue_ms: float | None = None,
        retry_after_s: float | None = None,
    ) -> Outcome:
        if kind not in ERROR_KINDS:
            raise ValueError(f"unknown error kind {kind!r}")
        return cls("error", kind, message, latency_ms, queue_ms, retry_after_s=retry_after_s)

    @property
    def transient(self) -> bool:
        return self.status == "error" and self.error_kind in TRANSIENT_KINDS
