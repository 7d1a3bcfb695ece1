"""The kinds of service a profile can name: the one table behind `make_service` and profile loading.

Each kind says which profile fields make up its call shape, how they are parsed (data only: a profile
never imports the code that makes calls) and which `Service` makes its calls. A new kind of service
(say a plain REST endpoint) is one module with its call shape and its `Service`, one line here, and
its tests; the runner, the store and the pages do not change.

The service is named by its import path and imported when a service of the kind is made, so loading a
profile never loads gradio_client or httpx (the "Profiles are data" import rule).
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from vton_eval.services import gradio_call


class CallShape(Protocol):
    """What the runner asks of any kind's call shape (the rest is the kind's own business)."""

    @property
    def uses_mask(self) -> bool: ...

    @property
    def mask_cannot_be_left_out(self) -> bool: ...

    @property
    def workflow_arg(self) -> int | None: ...

    def summary(self) -> str: ...


@dataclass(frozen=True)
class ServiceKind:
    name: str
    description: str
    fields: tuple[str, ...]  # the profile fields of its call shape
    parse_call: Callable[[Mapping[str, Any], gradio_call.Fail], CallShape]
    # "module:function" making the Service: function(endpoint, profile, *, token, call_timeout_s, open_timeout_s,
    # on_note) -> Service, not yet connected.
    service: str

    def factory(self) -> Callable[..., Any]:
        module, _, name = self.service.partition(":")
        return getattr(importlib.import_module(module), name)


DEFAULT_KIND = "gradio"
KINDS: dict[str, ServiceKind] = {k.name: k for k in (
    ServiceKind("gradio", "a Gradio app or Hugging Face Space, called through gradio_client", gradio_call.FIELDS,
                gradio_call.parse, "vton_eval.services.gradio:make"),
)}

__all__ = ["DEFAULT_KIND", "KINDS", "CallShape", "ServiceKind"]
