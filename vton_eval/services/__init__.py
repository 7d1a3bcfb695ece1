"""What the dispatcher calls: a try-on service, one case in, an `Outcome` out.

`Service` is the seam. `GradioService` (`services/gradio.py`) is the implementation for Gradio apps
through gradio_client; another API shape is another implementation of the same protocol, built by
`make_service` from a run's settings. The dispatcher knows nothing else about services.

Around it: `answer.py` reads the image out of an untrusted answer, `classify.py` turns a service's
messages and exceptions into error kinds, `spaces.py` resolves a Hugging Face Space id, and
`endpoints.py` checks an endpoint given by a person.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol, runtime_checkable

from vton_eval.outcome import Outcome
from vton_eval.services.endpoints import EndpointError, EndpointStopped, check_endpoint_text


@dataclass(frozen=True)
class CallInputs:
    """One case as a service receives it: the files and the workflow."""

    person: Path
    product: Path
    workflow: str
    mask: Path | None = None


@runtime_checkable
class Service(Protocol):
    """A try-on service. Thread-safe: one instance serves all the workers of a run."""

    src: str

    def open(self, stop: threading.Event | None = None) -> Service:
        """Connect; raise EndpointError (EndpointStopped when `stop` was set meanwhile)."""
        ...

    def call(self, inputs: CallInputs, timeout_s: float = 300.0, stop: threading.Event | None = None) -> Outcome:
        """One try-on, at most `timeout_s` in all; never raises for trouble on the service's side."""
        ...

    def close(self) -> None:
        ...


def make_service(endpoint: str, timeout_s: float = 300.0, token: str | None = None) -> Service:
    """The service a run's settings name (today: a Gradio app or Space), sending `token` (to its origin only)."""
    from vton_eval.services.gradio import GradioService

    # Reads above the server's 15 s heartbeat, capped by the call's own deadline.
    return GradioService(endpoint, token=token, read_timeout_s=max(60.0, min(timeout_s, 300.0)))


__all__ = ["CallInputs", "EndpointError", "EndpointStopped", "Service", "check_endpoint_text", "make_service"]
