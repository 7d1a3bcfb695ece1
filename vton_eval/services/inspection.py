"""What an endpoint offers (its named APIs, parameters, defaults and choices) and a suggested profile.

`inspect_endpoint` connects as a run does (the token goes to the endpoint's origin only, the whole
connection has a deadline), reads gradio_client's API description and picks the API that looks like
a try-on: two or more image inputs and an image (or gallery) output. `suggest_profile` writes a
profile TOML for it from names, labels, defaults and choices; it is a starting point a person reads
and edits, and it always parses (`profiles.parse_profile`).
"""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Callable
from dataclasses import dataclass, field

from vton_eval import workflows as registry
from vton_eval.services.api import Endpoint, Parameter

_PERSON = re.compile(r"person|human|model|vton|src|base|people|body|dict|imgs|background|user|subject", re.I)
_PRODUCT = re.compile(r"garment|garm|cloth|product|ref|object|item|condition|apparel|wear|target", re.I)
_MASK = re.compile(r"mask", re.I)
_SEED = re.compile(r"seed", re.I)
_RANDOM = re.compile(r"random", re.I)
_DESCRIPTION = re.compile(r"desc|_des\b|prompt|caption|text", re.I)
_TRYON_NAME = re.compile(r"try|vton|generate|submit|predict|process|run", re.I)


@dataclass
class Inspection:
    src: str
    endpoints: dict[str, Endpoint]
    tryon: str | None = None  # the API that looks like a try-on
    suggestion: str | None = None  # a profile TOML for it
    notes: list[str] = field(default_factory=list)


def inspect_endpoint(src: str, token: str | None = None, open_timeout_s: float = 60.0,
                     stop: threading.Event | None = None, on_note: Callable[[str], None] | None = None) -> Inspection:
    """Connect to `src` (a URL or Space id) and describe it. Raises EndpointError."""
    from vton_eval.services.gradio import GradioService

    service = GradioService(src, token=token, open_timeout_s=open_timeout_s, on_note=on_note, require_api=False)
    try:
        service.open(stop=stop)
        endpoints = dict(service.api)
    finally:
        service.close()
    return describe(service.src, endpoints)


def describe(src: str, endpoints: dict[str, Endpoint]) -> Inspection:
    scored = sorted(((tryon_score(e), name) for name, e in endpoints.items()), reverse=True)
    best = scored[0][1] if scored and scored[0][0] > 0 else None
    inspection = Inspection(src, endpoints, best)
    if best is None:
        inspection.notes.append("no API looks like a try-on (two image inputs and an image output)")
    else:
        inspection.suggestion = suggest_profile(src, endpoints[best])
    return inspection


def tryon_score(endpoint: Endpoint) -> int:
    """How much an API looks like a try-on; 0 when it cannot be one."""
    images = [p for p in endpoint.parameters if p.is_image]
    if len(images) < 2 or not any(o.is_image for o in endpoint.outputs):
        return 0
    score = 10 + 2 * min(len(images), 3)
    score += 5 * bool(_TRYON_NAME.search(endpoint.api_name))
    score += 3 * any(_PERSON.search(p.name + " " + p.label) for p in images)
    score += 3 * any(_PRODUCT.search(p.name + " " + p.label) for p in images)
    score += 4 * (_category_param(endpoint.parameters) is not None)  # full-body beats an upper-body-only twin
    return score


def _category_param(params: tuple[Parameter, ...]) -> int | None:
    """The parameter whose choices name the most of our workflows (at least two), if any."""
    best, count = None, 1
    for i, p in enumerate(params):
        n = len(workflow_choices(p.choices)) if p.choices and not p.is_image else 0
        if n > count:
            best, count = i, n
    return best


def _roles(params: tuple[Parameter, ...]) -> dict[int, str]:
    """person / product / mask for the image parameters: by parameter name first, then by label (a person
    editor's label may well speak of masks), then by order."""
    images = [i for i, p in enumerate(params) if p.is_image]
    roles: dict[int, str] = {}
    for texts in ((lambda p: p.name), (lambda p: p.label)):
        for role, pattern in (("person", _PERSON), ("product", _PRODUCT), ("mask", _MASK)):
            if role in roles.values():
                continue
            found = next((i for i in images if i not in roles and pattern.search(texts(params[i]))), None)
            if found is not None:
                roles[found] = role
    for i in images:
        if i not in roles:
            free = [r for r in ("person", "product", "mask") if r not in roles.values()]
            if free:
                roles[i] = free[0]
    return roles


def workflow_choices(choices: tuple[object, ...]) -> dict[str, object]:
    """Our workflow -> the service's choice, by the words in the choices (each workflow's `words` in the registry)."""
    out: dict[str, object] = {}
    for entry in registry.entries():
        workflow, words = entry.name, entry.words
        if entry.generic or not words:
            continue
        exact = next((c for c in choices if str(c).strip().lower() == workflow), None)
        found = exact if exact is not None else next(
            (c for c in choices if any(w in str(c).lower() for w in words)), None)
        if found is not None and found not in out.values():
            out[workflow] = found
    return out


def suggest_profile(src: str, endpoint: Endpoint) -> str:
    """A profile TOML for `endpoint`, with a comment on every choice it made."""
    params = endpoint.parameters
    roles = _roles(params)
    has_mask_param = "mask" in roles.values()
    args: list[str] = []
    comments: list[str] = []
    table: dict[str, object] = {}
    live = False
    category = _category_param(params)
    workflow_used = False
    for i, p in enumerate(params):
        what = f"{p.name or p.label or f'argument {i + 1}'} ({p.component or 'unknown component'})"
        if i in roles:
            value = "{" + roles[i] + "}"
            if p.is_editor and roles[i] != "mask":
                value += ":editor" if has_mask_param else ":editor+mask"
            args.append(_toml(value))
            comments.append(f"{what}: {value}")
            continue
        mapped = workflow_choices(p.choices) if i == category else {}
        if mapped:
            workflow_used = True
            table = mapped
            exact = [w for w, c in mapped.items() if c == w]
            live = len(exact) >= 2
            args.append(_toml("{workflow}"))
            comments.append(f"{what}: {{workflow}}, choices {_short(p.choices)}")
            continue
        if (category is None and not workflow_used and not p.choices and _DESCRIPTION.search(p.name + " " + p.label)
                and "str" in p.python_type.lower()):
            workflow_used = True
            table = {"top": registry.get("top").description}
            args.append(_toml("{workflow}"))
            comments.append(f"{what}: {{workflow}} as a garment description (check [workflows])")
            continue
        value, why = _literal(p)
        args.append(value)
        comments.append(f"{what}: {why}")
    images = [i for i, o in enumerate(endpoint.outputs) if o.is_image]
    output = images[0] if images else 0
    texts = [i for i, o in enumerate(endpoint.outputs) if o.component.lower() in ("textbox", "text", "markdown")
             and i != output]
    if not table:
        table = {"top": "top"}
        comments.append("no category argument found: [workflows] lists top only; add the workflows it supports")
    lines = [
        f"# Suggested by `vton-eval endpoints inspect` for {_comment(src)} {_comment(endpoint.api_name)}.",
        "# Read it before use: the arguments below were guessed from names, labels, defaults and choices.",
    ]
    lines += [f"#   {i + 1}. {_comment(c)}" for i, c in enumerate(comments)]
    lines += [
        f"name = {_toml(_name_from(src))}",
        f"api_name = {_toml(endpoint.api_name)}",
        f"args = [{', '.join(args)}]",
        f"output = {output}" + (f"  # {_comment(endpoint.outputs[output].component)}" if endpoint.outputs else ""),
    ]
    if texts:
        lines.append(f"message_output = {texts[0]}  # a text output: the service's words when no image comes back")
    lines.append("max_megapixels = 0")
    if live:
        lines.append("workflows_from_endpoint = true  # its choices are our workflow names")
    lines += ["", "[workflows]"]
    lines += [f"{w} = {_toml(v)}" for w, v in table.items() if registry.is_known(w)]
    return "\n".join(lines) + "\n"


def _literal(p: Parameter) -> tuple[str, str]:
    """A fixed value for a parameter that is neither an image nor the workflow, and why."""
    text = p.name + " " + p.label
    if _SEED.search(text) and not _RANDOM.search(text):
        return "42", "seed fixed at 42, so runs repeat"
    if _RANDOM.search(text) and (isinstance(p.default, bool) or "bool" in p.python_type.lower()):
        return "false", "not randomized, so runs repeat"
    if p.choices:
        only = next((c for c in p.choices if re.search(r"result", str(c), re.I) and re.search(r"only", str(c), re.I)),
                    None)
        if only is not None:
            return _toml(only), "the result alone (no inputs beside it)"
    if p.has_default and isinstance(p.default, bool | int | float | str):
        return _toml(p.default), "its default"
    if p.has_value and isinstance(p.value, bool | int | float | str):
        return _toml(p.value), "its value in the app (its /config; the API describes no default)"
    if p.choices and isinstance(p.choices[0], str | int | float):
        return _toml(p.choices[0]), "its first choice (no default)"
    return '""', "FIXME: no default; set a value"


def _toml(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value) if value == value and value not in (float("inf"), float("-inf")) else "0"
    return json.dumps(str(value), ensure_ascii=True)  # a JSON string is a valid TOML basic string


def _comment(text: str) -> str:
    """Service text inside a TOML comment: one line, no control characters."""
    return re.sub(r"[\x00-\x1f\x7f-\x9f]", " ", str(text))[:200]


def _short(choices: tuple[object, ...]) -> str:
    shown = ", ".join(str(c) for c in choices[:8])
    return shown + (f", ... ({len(choices)} in all)" if len(choices) > 8 else "")


def _name_from(src: str) -> str:
    tail = src.rstrip("/").rsplit("/", 1)[-1] if "/" in src else src
    tail = re.sub(r"^https?:", "", tail)
    name = re.sub(r"[^a-z0-9._-]+", "-", tail.lower()).strip("-.") or "endpoint"
    return name[:40] if re.match(r"^[a-z0-9]", name) else ("e-" + name)[:40]
