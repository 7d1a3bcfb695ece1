"""An endpoint as a person gives it (a URL or a Space id), checked; and the errors of an unusable one."""

from __future__ import annotations

import re

import httpx

from vton_eval.errors import InvalidValue, VtonEvalError

SPACE_ID = re.compile(r"^[A-Za-z0-9][\w.-]*/[\w.-]+$")


class EndpointError(VtonEvalError):
    """The endpoint cannot be used at all (unreachable, not a Gradio app, no such API)."""


class EndpointStopped(EndpointError):
    """The caller stopped while the connection was being made."""


def check_endpoint_text(src: str) -> str:
    """Validate an endpoint given by a person: an http(s) URL or a Space id ('owner/name')."""
    # A URL copied from a page carries the invisible word joiner the pages put after its scheme (no link).
    src = (src or "").replace("\u2060", "").strip()
    if not src:
        raise InvalidValue("the endpoint is empty: give a URL (http://127.0.0.1:7860) or a Space id (owner/name)")
    if src.startswith(("http://", "https://")):
        url = httpx.URL(src)
        if not url.host:
            raise InvalidValue(f"{src!r} is not a valid URL (no host)")
        if url.userinfo:
            # A URL is stored with the run and shown on pages: credentials belong in HF_TOKEN.
            raise InvalidValue("the endpoint URL carries credentials; remove them and set HF_TOKEN instead")
        return src.rstrip("/")
    if SPACE_ID.match(src):
        return src
    raise InvalidValue(f"{src!r} is neither an http(s) URL nor a Space id like owner/name")


