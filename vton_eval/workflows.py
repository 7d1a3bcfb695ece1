"""The registry of workflows: every fact about a workflow lives in its entry, and everything else asks here.

A workflow is what the service is asked to do with a product (put on glasses, shoes, a top...).
Its entry says where the product goes on a person (as body-geometry fractions, read by
`vton_eval.body`), how the product hangs in that box, which check thresholds differ from the
defaults, which reasons a reviewer may pick beyond the common ones, and what a zoomed crop of its
region shows.

Adding a workflow is one `Workflow(...)` entry below (plus its tests); a test may `register` one
for its own duration with `registered(...)`.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from vton_eval.errors import VtonEvalError


class UnknownWorkflow(VtonEvalError, ValueError):
    """A workflow name that is not in the registry."""


@dataclass(frozen=True)
class Placement:
    """Where the product goes on a figure, as fractions of the figure's height (head top 0, soles 1).

    `span` is the vertical extent and `width` the box's width (both in figure heights); `on_eyes`
    centres a small box on the eyes instead (found from the face when there is one).
    """

    span: tuple[float, float] = (0.0, 1.0)
    width: float = 0.42
    on_eyes: bool = False


@dataclass(frozen=True)
class Workflow:
    name: str
    product: str  # what the product is, in words: "glasses", "shoes", "top", "dress"
    placement: Placement
    anchor: str  # how the product sits in its box: "top" (hangs), "bottom" (stands), "center"
    zoom: str  # what a zoomed crop of the region shows, in words
    reasons: tuple[str, ...] = ()  # review reasons beyond the common ones
    check_defaults: Mapping[str, float] = field(default_factory=dict)  # thresholds unlike the defaults


COMMON_REASONS: tuple[str, ...] = (
    "product distorted", "wrong product", "person changed", "background changed", "artifacts", "wrong placement",
)
# Garment try-ons legitimately touch more of the picture around the region (hair over a collar, arms
# over a new sleeve, a longer hem) than glasses or shoes do.
_GARMENT_CHECKS = MappingProxyType({"preservation.max_changed_share": 0.15})

_BUILT_IN = (
    Workflow("eyewear", "glasses", Placement(width=0.115, on_eyes=True), "center", "face",
             ("frame misplaced",)),
    Workflow("footwear", "shoes", Placement((0.90, 1.0), 0.30), "bottom", "feet",
             ("ground contact",)),
    Workflow("dress", "dress", Placement((0.16, 0.74), 0.42), "top", "body",
             ("length or fit",), _GARMENT_CHECKS),
    Workflow("top", "top", Placement((0.16, 0.47), 0.42), "top", "torso",
             ("length or fit",), _GARMENT_CHECKS),
)

# --- issue 13 (DressCode lower_body): a minimal `bottom`, to be reconciled with issue 12's entry at merge ---
_BUILT_IN += (
    Workflow("bottom", "trousers or skirt", Placement((0.45, 0.93), 0.36), "top", "legs",
             ("length or fit",), _GARMENT_CHECKS),
)
# --- end of issue 13's hunk ---

_REGISTRY: dict[str, Workflow] = {w.name: w for w in _BUILT_IN}


def names() -> tuple[str, ...]:
    """The known workflows, in registration order."""
    return tuple(_REGISTRY)


def get(name: str) -> Workflow:
    """The entry of `name`; raises UnknownWorkflow (a ValueError) naming the known ones."""
    try:
        return _REGISTRY[name]
    except (KeyError, TypeError):
        raise UnknownWorkflow(f"unknown workflow {name!r} (use {', '.join(_REGISTRY)})") from None


def is_known(name: object) -> bool:
    return isinstance(name, str) and name in _REGISTRY


def reasons_for(name: str) -> tuple[str, ...]:
    """What a reviewer may say is wrong with an output of this workflow."""
    return (*COMMON_REASONS, *get(name).reasons) if is_known(name) else COMMON_REASONS


def region_name(name: str) -> str:
    """What a zoomed crop of this workflow's product region shows, in words."""
    return get(name).zoom if is_known(name) else "product region"


def to_spec(name: str) -> dict[str, Any]:
    """A workflow's entry as JSON-ready data (sent to the check worker, another process)."""
    entry = get(name)
    return {"name": entry.name, "product": entry.product, "placement": dataclasses.asdict(entry.placement),
            "anchor": entry.anchor, "zoom": entry.zoom, "reasons": list(entry.reasons),
            "check_defaults": dict(entry.check_defaults)}


def adopt(spec: dict[str, Any] | str) -> str:
    """Know the workflow `spec` describes (registering it when it is new here); return its name."""
    if isinstance(spec, str):
        return spec
    if not is_known(spec["name"]):
        placement = spec["placement"]
        register(Workflow(spec["name"], spec["product"],
                          Placement(tuple(placement["span"]), placement["width"], placement["on_eyes"]),
                          spec["anchor"], spec["zoom"], tuple(spec["reasons"]),
                          MappingProxyType(dict(spec["check_defaults"]))))
    return spec["name"]


def register(workflow: Workflow) -> None:
    if workflow.name in _REGISTRY:
        raise VtonEvalError(f"workflow {workflow.name!r} is already registered")
    if workflow.anchor not in ("top", "bottom", "center"):
        raise VtonEvalError(f"anchor must be top, bottom or center, not {workflow.anchor!r}")
    _REGISTRY[workflow.name] = workflow


def unregister(name: str) -> None:
    if name in {w.name for w in _BUILT_IN}:
        raise VtonEvalError(f"{name!r} is built in")
    _REGISTRY.pop(name, None)


@contextmanager
def registered(workflow: Workflow) -> Iterator[Workflow]:
    """The workflow is known for the block's duration (tests, experiments)."""
    register(workflow)
    try:
        yield workflow
    finally:
        unregister(workflow.name)
