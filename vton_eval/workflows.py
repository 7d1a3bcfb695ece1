"""The registry of workflows: every fact about a workflow lives in its entry, and everything else asks here.

A workflow is what the service is asked to do with a product (put on glasses, shoes, a top...).
Its entry says where the product goes on a person (as body-geometry fractions, read by
`vton_eval.body`), how the product hangs in that box, which check thresholds differ from the
defaults, which reasons a reviewer may pick beyond the common ones, and what a zoomed crop of its
region shows.

Adding a workflow is one `Workflow(...)` entry below (plus its tests); a test may `register` one
for its own duration with `registered(...)`.

A service may offer a workflow this registry does not know (the SM4LL Space lists its workflows in
a dropdown, and adds to it without a release of ours). Such a name gets a *generic* entry
(`generic(name)`): the whole figure is its product region, the default check thresholds and the
common review reasons apply. A generic entry is a pure function of its name, so every process that
meets the name in recorded data arrives at the same entry. In a process that outlives one run (the
dashboard), such names are known only for the work that met them (`offered(names)`, a block): what an
endpoint offered does not grow the registry for the next run, form or manifest. A process of its own
(the sandbox, the check worker) may keep them (`ensure_known`).
"""

from __future__ import annotations

import dataclasses
import re
import threading
from collections.abc import Iterable, Iterator, Mapping
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
class BodyRegion:
    """Where the product goes on a parsed person (`vton_eval.person`): named landmarks, not fractions.

    Names are MediaPipe Pose's landmarks ("left_shoulder", "right_hip", "left_heel"...), the face mesh's
    groups ("face.eyes", "face.brows", "face.oval"), or "person" for the whole person mask. `core` is
    where the product must appear: the hull of its points grown by `grow` (in torso lengths, shoulder
    centre to hip centre), and with `on_person` only the person's pixels of it (a top is on the body, not
    the wall behind it). `zone` names what the product may also change (the arms under a sleeve, a hem
    below the knee): everything outside the hull of core and zone points, grown by `zone_grow`, must stay
    as it was. A product region mostly out of frame (shoes on a portrait) falls back to `Placement`.
    """

    core: tuple[str, ...]
    zone: tuple[str, ...] = ()
    grow: float = 0.08
    zone_grow: float = 0.2
    on_person: bool = True


_SHOULDERS = ("left_shoulder", "right_shoulder")
_HIPS = ("left_hip", "right_hip")
_ARMS = ("left_elbow", "right_elbow", "left_wrist", "right_wrist")
_KNEES = ("left_knee", "right_knee")
_ANKLES = ("left_ankle", "right_ankle")
_FEET = (*_ANKLES, "left_heel", "right_heel", "left_foot_index", "right_foot_index")
WHOLE_PERSON = BodyRegion(("person",), grow=0.05, zone_grow=0.15)


@dataclass(frozen=True)
class Workflow:
    name: str
    product: str  # what the product is, in words: "glasses", "shoes", "top", "dress"
    placement: Placement
    anchor: str  # how the product sits in its box: "top" (hangs), "bottom" (stands), "center"
    zoom: str  # what a zoomed crop of the region shows, in words
    reasons: tuple[str, ...] = ()  # review reasons beyond the common ones
    check_defaults: Mapping[str, float] = field(default_factory=dict)  # thresholds unlike the defaults
    skip_checks: tuple[str, ...] = ()  # automatic checks that do not apply to this workflow
    generic: bool = False  # made for a name a service offered that this registry did not know
    # Words in a service's category choices that name this workflow (`endpoints inspect` maps a dropdown by them).
    words: tuple[str, ...] = ()
    description: str = ""  # the product as a service's text prompt names it ("a top")
    # Where the product goes on a parsed person; `placement` is the fallback when no person is found.
    body: BodyRegion = WHOLE_PERSON


# The region-based checks a workflow may declare inapplicable (see vton_eval.checks.run).
SKIPPABLE_CHECKS: tuple[str, ...] = ("change_in_region", "placement", "noop", "identity", "body", "background",
                                      "fidelity")

COMMON_REASONS: tuple[str, ...] = (
    "product distorted", "wrong product", "person changed", "background changed", "artifacts", "wrong placement",
)
# Garment try-ons legitimately touch more of the picture around the region (hair over a collar, arms
# over a new sleeve, a longer hem) than glasses or shoes do.
_GARMENT_CHECKS = MappingProxyType({"preservation.max_changed_share": 0.15})

_BUILT_IN = (
    # Glasses: the eyes and the brow band; the frame's arms may reach the ears.
    Workflow("eyewear", "glasses", Placement(width=0.115, on_eyes=True), "center", "face",
             ("frame misplaced",), MappingProxyType({"fidelity.min_colour": 0.3}),
             words=("glasses", "eyewear", "spectacle"), description="glasses",
             body=BodyRegion(("face.eyes", "face.brows"), ("face.oval",), 0.06, 0.04, False)),
    # Shoes: ankles, heels and toes; a shoe is bigger than the foot it covers, so not clipped to the person.
    Workflow("footwear", "shoes", Placement((0.90, 1.0), 0.30), "bottom", "feet",
             ("ground contact",), MappingProxyType({"fidelity.min_colour": 0.35}),
             words=("shoe", "footwear", "foot", "sneaker", "boot"), description="shoes",
             body=BodyRegion(_FEET, (*_KNEES,), 0.12, 0.12, False)),
    # A dress: shoulders to the knees (or the ankles, for a long one), with the arms it may cover.
    Workflow("dress", "dress", Placement((0.16, 0.74), 0.42), "top", "body",
             ("length or fit",), _GARMENT_CHECKS, words=("dress", "overall", "full"), description="a dress",
             body=BodyRegion((*_SHOULDERS, *_HIPS, *_KNEES), (*_ARMS, *_ANKLES), 0.08, 0.2)),
    # A top: shoulders to hips, with the arms it covers.
    Workflow("top", "top", Placement((0.16, 0.47), 0.42), "top", "torso",
             ("length or fit",), _GARMENT_CHECKS, words=("top", "upper", "shirt", "tee"), description="a top",
             body=BodyRegion((*_SHOULDERS, *_HIPS), _ARMS, 0.08, 0.2)),
    # Trousers or a skirt: from the waist (about 0.42 of the figure) down to the ankles.
    Workflow("bottom", "trousers or skirt", Placement((0.42, 0.94), 0.34), "top", "legs",
             ("length or fit", "waistline"), _GARMENT_CHECKS,
             words=("bottom", "lower", "pant", "trouser", "skirt", "jean"), description="trousers",
             body=BodyRegion((*_HIPS, *_KNEES, *_ANKLES), _FEET, 0.08, 0.2)),
    # A whole outfit, shoulders to feet. `placement` is left out: it asks whether the product went
    # somewhere other than its region, and an outfit's region is the whole figure, so the only
    # "elsewhere" is the background, which the preservation checks already judge.
    Workflow("lookbook", "outfit", Placement((0.14, 1.0), 0.46), "top", "outfit",
             ("length or fit", "outfit incomplete"), _GARMENT_CHECKS, ("placement",), words=("lookbook", "outfit"),
             description="an outfit", body=WHOLE_PERSON),
)

_REGISTRY: dict[str, Workflow] = {w.name: w for w in _BUILT_IN}
_lock = threading.RLock()  # pages and runs register generic entries from several threads


def names() -> tuple[str, ...]:
    """The known workflows, in registration order."""
    return tuple(_REGISTRY)


def get(name: str) -> Workflow:
    """The entry of `name`; raises UnknownWorkflow (a ValueError) naming the known ones."""
    try:
        return _REGISTRY[name]
    except (KeyError, TypeError):
        raise UnknownWorkflow(f"unknown workflow {name!r} (use {', '.join(_REGISTRY)})") from None


def entries() -> tuple[Workflow, ...]:
    """The known workflows' entries, in registration order."""
    with _lock:
        return tuple(_REGISTRY.values())


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
            "check_defaults": dict(entry.check_defaults), "skip_checks": list(entry.skip_checks),
            "generic": entry.generic, "words": list(entry.words), "description": entry.description,
            "body": dataclasses.asdict(entry.body)}


def adopt(spec: dict[str, Any] | str) -> str:
    """Know the workflow `spec` describes (registering it when it is new here); return its name."""
    if isinstance(spec, str):
        return spec
    with _lock:
        if not is_known(spec["name"]):
            placement = spec["placement"]
            body = spec.get("body")
            region = WHOLE_PERSON if body is None else BodyRegion(
                tuple(body["core"]), tuple(body["zone"]), body["grow"], body["zone_grow"], body["on_person"])
            register(Workflow(spec["name"], spec["product"],
                              Placement(tuple(placement["span"]), placement["width"], placement["on_eyes"]),
                              spec["anchor"], spec["zoom"], tuple(spec["reasons"]),
                              MappingProxyType(dict(spec["check_defaults"])), tuple(spec.get("skip_checks", ())),
                              bool(spec.get("generic", False)), tuple(spec.get("words", ())),
                              str(spec.get("description", "")), region))
    return spec["name"]


# MediaPipe Pose's 33 landmarks, in its order. Kept here, not imported from vton_eval.person, because the registry
# asks nothing of the engine; the parser takes its names from here.
POSE_LANDMARKS: tuple[str, ...] = (
    "nose", "left_eye_inner", "left_eye", "left_eye_outer", "right_eye_inner", "right_eye", "right_eye_outer",
    "left_ear", "right_ear", "mouth_left", "mouth_right", "left_shoulder", "right_shoulder", "left_elbow",
    "right_elbow", "left_wrist", "right_wrist", "left_pinky", "right_pinky", "left_index", "right_index",
    "left_thumb", "right_thumb", "left_hip", "right_hip", "left_knee", "right_knee", "left_ankle", "right_ankle",
    "left_heel", "right_heel", "left_foot_index", "right_foot_index",
)
# The names a BodyRegion may use: the pose's landmarks, the face mesh's groups, the whole person.
LANDMARKS: tuple[str, ...] = (
    *POSE_LANDMARKS,
    "face.eyes", "face.brows", "face.oval", "face.left_eye", "face.right_eye", "face.left_brow", "face.right_brow",
    "face.mouth", "face.nose", "person",
)


def _is_landmark(name: str) -> bool:
    return name in LANDMARKS


_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]{0,39}$")


def generic(name: str) -> Workflow:
    """The entry a workflow offered by a service but unknown here gets: the whole figure, shoulders to
    feet, is its product region; default thresholds; the common review reasons. Raises VtonEvalError for
    a name that cannot be a workflow (lower-case letters, digits, '-' and '_', at most 40)."""
    if not isinstance(name, str) or not _NAME.match(name):
        raise VtonEvalError(f"{name!r} cannot be a workflow name (lower-case letters, digits, - and _, "
                            "at most 40 characters)")
    return Workflow(name, name, Placement((0.14, 1.0), 0.46), "top", "body", generic=True, words=(name,),
                    description=name, body=WHOLE_PERSON)


def ensure_known(names: Iterable[str]) -> list[str]:
    """Register a generic entry for each of `names` this registry does not know; return those added.

    Called where workflows arrive from outside the registry: the choices a service offers, and recorded
    cases and results whose workflow a service offered when they were planned."""
    added = []
    with _lock:
        for name in names:
            if not is_known(name):
                register(generic(name))
                added.append(name)
    return added


_scoped: dict[str, int] = {}  # generic entries known for the blocks of `offered` running now: name -> blocks


@contextmanager
def offered(names: Iterable[str]) -> Iterator[list[str]]:
    """Generic entries for those of `names` this registry does not know, for the block's duration only (several
    blocks may share one; the last to end removes it). Raises VtonEvalError, registering nothing, for a name that
    cannot be a workflow. Yields the names it made known."""
    wanted = [name for name in dict.fromkeys(names) if not is_known(name) or name in _scoped]
    entries = {name: generic(name) for name in wanted if name not in _scoped}
    with _lock:
        for name in wanted:
            if name in _scoped:
                _scoped[name] += 1
            elif is_known(name):  # registered meanwhile (for good): nothing of ours to undo
                continue
            else:
                register(entries.get(name) or generic(name))
                _scoped[name] = 1
        held = [name for name in wanted if name in _scoped]
    try:
        yield held
    finally:
        with _lock:
            for name in held:
                _scoped[name] -= 1
                if not _scoped[name]:
                    del _scoped[name]
                    _REGISTRY.pop(name, None)


def register(workflow: Workflow) -> None:
    unknown = set(workflow.skip_checks) - set(SKIPPABLE_CHECKS)
    if unknown:
        raise VtonEvalError(f"unknown checks to skip {sorted(unknown)} (use {', '.join(SKIPPABLE_CHECKS)})")
    if workflow.name in _REGISTRY:
        raise VtonEvalError(f"workflow {workflow.name!r} is already registered")
    bad = [n for n in (*workflow.body.core, *workflow.body.zone) if not _is_landmark(n)]
    if bad or not workflow.body.core:
        raise VtonEvalError(f"workflow {workflow.name!r}: its body region needs landmarks ({', '.join(LANDMARKS)}); "
                            f"unknown: {', '.join(bad) or 'none given'}")
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
