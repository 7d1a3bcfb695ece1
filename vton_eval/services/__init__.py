"""What the dispatcher calls: a try-on service, one case in, an `Outcome` out.

`Service` is the seam. `GradioService` (`services/gradio.py`) is the implementation for Gradio apps
through gradio_client; the shape of its call (API name, argument order, ImageEditor values, which
output holds the image) is the run's endpoint profile (`services/profiles/`: built-in TOMLs and a
person's own files). Another kind of API is another implementation of the same protocol, built by
`make_service` from a run's settings. The dispatcher knows nothing else about services.

Around it: `answer.py` reads the image out of an untrusted answer, `classify.py` turns a service's
messages and exceptions into error kinds, `spaces.py` resolves a Hugging Face Space id (waiting,
boundedly, for one that is building or asleep), `endpoints.py` checks an endpoint given by a person,
`api.py` reads an endpoint's API description and `inspection.py` turns it into a report and a
suggested profile.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol, runtime_checkable

from vton_eval.outcome import Outcome
from vton_eval.services.endpoints import EndpointError, EndpointStopped, check_endpoint_text
from vton_eval.services.profiles import DEFAULT_PROFILE, Profile, ProfileError, load_profile, parse_profile


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
    profile: Profile
    # After `open`: the workflows the endpoint offers (profiles that read them from it), else None.
    offered_workflows: list[str] | None

    def open(self, stop: threading.Event | None = None) -> Service:
        """Connect; raise EndpointError (EndpointStopped when `stop` was set meanwhile)."""
        ...

    def call(self, inputs: CallInputs, timeout_s: float = 300.0, stop: threading.Event | None = None) -> Outcome:
        """One try-on, at most `timeout_s` in all; never raises for trouble on the service's side."""
        ...

    def close(self) -> None:
        ...


def make_service(endpoint: str, timeout_s: float = 300.0, profile: Profile | None = None,
                 on_note: Callable[[str], None] | None = None, token: str | None = None) -> Service:
    """The service a run's settings name (a Gradio app or Space, called as its profile says; default sm4ll),
    sending `token` (to its origin only). `on_note` hears what connecting waits for (a Space that is
    building or asleep)."""
    from vton_eval.services.gradio import GradioService

    # Reads above the server's 15 s heartbeat, capped by the call's own deadline.
    return GradioService(endpoint, token=token, read_timeout_s=max(60.0, min(timeout_s, 300.0)),
                         profile=profile or load_profile(DEFAULT_PROFILE), on_note=on_note)


def endpoint_workflows(endpoint: str, profile: Profile, timeout_s: float = 20.0, stop: threading.Event | None = None,
                       on_note: Callable[[str], None] | None = None, token: str | None = None) -> list[str] | None:
    """The workflows a live endpoint offers (the choices of the argument that receives {workflow}), for a
    profile that reads them from it; None when it does not say. Connects once, within `timeout_s`, sending
    `token` (to its origin only); raises EndpointError (EndpointStopped when `stop` is set meanwhile)."""
    from vton_eval.services.gradio import GradioService

    service = GradioService(endpoint, token=token, profile=profile, open_timeout_s=timeout_s, on_note=on_note)
    try:
        return service.open(stop=stop).offered_workflows
    finally:
        service.close()


__all__ = ["DEFAULT_PROFILE", "CallInputs", "EndpointError", "EndpointStopped", "Profile", "ProfileError", "Service",
           "check_endpoint_text", "endpoint_workflows", "load_profile", "make_service", "parse_profile"]
