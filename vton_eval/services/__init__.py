"""What the dispatcher calls: a try-on service, one case in, an `Outcome` out.

`Service` is the seam. `GradioService` (`services/gradio.py`) is the implementation for Gradio apps
through gradio_client; the shape of its call (API name, argument order, ImageEditor values, which
output holds the image) is the run's endpoint profile (`services/profiles/`: built-in TOMLs and a
person's own files). Another kind of API is another implementation of the same protocol: a line in the kinds table
(`services/kinds.py`), which `make_service` and profile loading read. The dispatcher knows nothing else about services.

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
from vton_eval.services.kinds import KINDS
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

    def discover_workflows(self, stop: threading.Event | None = None) -> list[str] | None:
        """The workflows the endpoint offers (connecting if needed), for a profile that reads them from it;
        None when it does not say. Raises EndpointError (EndpointStopped when `stop` was set meanwhile)."""
        ...

    def close(self) -> None:
        ...


def make_service(endpoint: str, timeout_s: float = 300.0, profile: Profile | None = None,
                 on_note: Callable[[str], None] | None = None, token: str | None = None,
                 open_timeout_s: float | None = None) -> Service:
    """The service a run's settings name, of its profile's kind (`services.kinds`; default the sm4ll profile, a
    Gradio app), not yet connected, sending `token` (to its origin only). `timeout_s` bounds one call,
    `open_timeout_s` connecting (None: the kind's own default); `on_note` hears what connecting waits for (a
    Space that is building or asleep)."""
    profile = profile or load_profile(DEFAULT_PROFILE)
    extra = {} if open_timeout_s is None else {"open_timeout_s": open_timeout_s}
    return KINDS[profile.kind].factory()(endpoint, profile, token=token, call_timeout_s=timeout_s, on_note=on_note,
                                         **extra)


__all__ = ["DEFAULT_PROFILE", "CallInputs", "EndpointError", "EndpointStopped", "Profile", "ProfileError", "Service",
           "check_endpoint_text", "load_profile", "make_service", "parse_profile"]
