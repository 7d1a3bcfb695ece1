"""A Hugging Face Space id, resolved to the URL its app serves at, waiting (boundedly) while it starts."""

from __future__ import annotations

import threading
import time

from vton_eval.secrets import clean_message
from vton_eval.services.endpoints import EndpointError, EndpointStopped

# The Space this tool was first built for (the launch form offers it; the token allow-list's default).
SM4LL_SPACE = "sm4ll-VTON/sm4ll-VTON-Demo"
_SPACE_WAITING = {"BUILDING", "APP_STARTING", "RUNNING_BUILDING", "SLEEPING", "PAUSED_WAKING"}
_SPACE_BROKEN = {"BUILD_ERROR", "RUNTIME_ERROR", "CONFIG_ERROR", "NO_APP_FILE", "PAUSED", "STOPPED", "DELETING"}
_SPACE_POLL_S = 5.0


def resolve_space(space_id: str, token: str | None, stop: threading.Event | None, deadline: float) -> str:
    """The URL a Space id serves its app at, once the Space runs; waits for a building or sleeping Space
    until `deadline` (gradio_client would wait for ever). Raises EndpointError."""
    import huggingface_hub

    while True:
        try:
            info = huggingface_hub.space_info(space_id, token=token or False)
        except Exception as exc:  # not found, private without a token, no network...
            raise EndpointError(clean_message(f"cannot find the Space {space_id}: {type(exc).__name__}: {exc}")
                                ) from None
        stage = str(getattr(getattr(info, "runtime", None), "stage", "") or "").upper()
        if stage in _SPACE_BROKEN:
            raise EndpointError(f"the Space {space_id} is not running (state {stage}); its owner must restart it")
        if info.host and stage not in _SPACE_WAITING:
            return str(info.host)
        remaining = deadline - time.monotonic()
        if remaining <= _SPACE_POLL_S:
            raise EndpointError(f"the Space {space_id} is still {stage.lower() or 'starting'}; try again in a few "
                                "minutes")
        if stop is not None and stop.wait(_SPACE_POLL_S):
            raise EndpointStopped(f"stopped while waiting for the Space {space_id} to start")
        if stop is None:
            time.sleep(_SPACE_POLL_S)


