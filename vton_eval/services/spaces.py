"""A Hugging Face Space id, resolved to the URL its app serves at, waiting (boundedly) while it starts.

gradio_client polls a building Space every 2 s with no timeout, and a sleeping Space only wakes when
its address is visited; here every wait ends at the caller's deadline (or stop), says what it waits
for through `on_note`, and a sleeping Space is woken by a request to its address (sent without any
credential).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

import httpx

from vton_eval.secrets import clean_message
from vton_eval.services.endpoints import EndpointError, EndpointStopped

# The Space this tool was first built for (the launch form offers it; the token allow-list's default).
SM4LL_SPACE = "sm4ll-VTON/sm4ll-VTON-Demo"
_SPACE_WAITING = {"BUILDING", "APP_STARTING", "RUNNING_BUILDING", "RUNNING_APP_STARTING", "SLEEPING",
                  "PAUSED_WAKING"}
_SPACE_BROKEN = {"BUILD_ERROR", "RUNTIME_ERROR", "CONFIG_ERROR", "NO_APP_FILE", "PAUSED", "STOPPED", "DELETING"}
_SPACE_POLL_S = 5.0
_WAKE_TIMEOUT_S = 10.0

STAGE_WORDS = {
    "BUILDING": "building", "APP_STARTING": "starting", "RUNNING_BUILDING": "rebuilding",
    "RUNNING_APP_STARTING": "restarting", "SLEEPING": "asleep", "PAUSED_WAKING": "waking up",
    "BUILD_ERROR": "failing to build", "RUNTIME_ERROR": "stopped by a runtime error", "CONFIG_ERROR":
    "misconfigured", "NO_APP_FILE": "without an app file", "PAUSED": "paused", "STOPPED": "stopped",
    "DELETING": "being deleted",
}


def describe_stage(stage: str) -> str:
    return STAGE_WORDS.get(stage, stage.lower() or "starting")


def resolve_space(space_id: str, token: str | None, stop: threading.Event | None, deadline: float,
                  on_note: Callable[[str], None] | None = None,
                  space_info: Callable[..., object] | None = None) -> str:
    """The URL a Space id serves its app at, once the Space runs; waits for a building or sleeping Space
    until `deadline` (gradio_client would wait for ever), saying so through `on_note`. Raises EndpointError.

    `space_info` stands in for `huggingface_hub.space_info` (tests play the Hub's answers with it)."""
    if space_info is None:
        import huggingface_hub

        space_info = huggingface_hub.space_info
    announced, woken = None, False
    while True:
        try:
            info = space_info(space_id, token=token or False)
        except Exception as exc:  # not found, private without a token, no network...
            raise EndpointError(clean_message(f"cannot find the Space {space_id}: {type(exc).__name__}: {exc}")
                                ) from None
        stage = str(getattr(getattr(info, "runtime", None), "stage", "") or "").upper()
        host = getattr(info, "host", None)
        if stage in _SPACE_BROKEN:
            raise EndpointError(f"the Space {space_id} is not running ({describe_stage(stage)}, state {stage}); "
                                "its owner must restart it")
        if host and stage not in _SPACE_WAITING:
            return str(host)
        remaining = deadline - time.monotonic()
        if stage == "SLEEPING" and host and not woken:
            woken = True
            _wake(str(host))
        if remaining <= _SPACE_POLL_S:
            raise EndpointError(f"the Space {space_id} is still {describe_stage(stage)} (state {stage or 'unknown'}); "
                                "try again in a few minutes")
        if on_note is not None and stage != announced:
            announced = stage
            on_note(f"the Space {space_id} is {describe_stage(stage)}: waiting for it, at most {remaining:.0f} s more")
        if stop is not None and stop.wait(_SPACE_POLL_S):
            raise EndpointStopped(f"stopped while waiting for the Space {space_id} to start")
        if stop is None:
            time.sleep(_SPACE_POLL_S)


def _wake(host: str) -> None:
    """Visit a sleeping Space's address (what wakes it); no credential is sent, nothing is read."""
    if not host.startswith(("https://", "http://")):
        return
    try:
        with httpx.Client(timeout=_WAKE_TIMEOUT_S, follow_redirects=False) as client:
            client.get(host)
    except httpx.HTTPError:  # best effort: the wait that follows says whether it woke
        pass
