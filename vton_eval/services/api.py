"""An endpoint's API as gradio_client describes it (`view_api(return_format="dict")`), read as data.

The description comes from the service, so it is untrusted text: nothing here evaluates it, and
every string is kept as the service wrote it (callers escape it where they show it).
"""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass, field
from typing import Any

_LITERAL = re.compile(r"^Literal\[(?P<body>.*)\]$", re.S)


@dataclass(frozen=True)
class Parameter:
    name: str
    label: str
    component: str
    python_type: str
    has_default: bool
    default: Any
    choices: tuple[Any, ...] = ()

    @property
    def is_image(self) -> bool:
        return self.component.lower() in ("image", "imageeditor", "file", "sketchpad", "paint", "imagemask")

    @property
    def is_editor(self) -> bool:
        return self.component.lower() in ("imageeditor", "sketchpad", "paint", "imagemask")


@dataclass(frozen=True)
class Output:
    label: str
    component: str
    python_type: str

    @property
    def is_image(self) -> bool:
        return self.component.lower() in ("image", "gallery", "imageeditor", "file")


@dataclass(frozen=True)
class Endpoint:
    api_name: str
    parameters: tuple[Parameter, ...]
    outputs: tuple[Output, ...] = field(default=())


def read_api(info: Any) -> dict[str, Endpoint]:
    """The named endpoints of a `view_api` dict (anything malformed is skipped, not trusted)."""
    named = info.get("named_endpoints") if isinstance(info, dict) else None
    if not isinstance(named, dict):
        return {}
    out = {}
    for api_name, spec in named.items():
        if not isinstance(api_name, str) or not isinstance(spec, dict):
            continue
        params = tuple(_parameter(p) for p in spec.get("parameters") or [] if isinstance(p, dict))
        outputs = tuple(_output(r) for r in spec.get("returns") or [] if isinstance(r, dict))
        out[api_name] = Endpoint(api_name, params, outputs)
    return out


def _text(value: Any) -> str:
    return value if isinstance(value, str) else ""


def _parameter(p: dict[str, Any]) -> Parameter:
    python_type = p.get("python_type")
    type_text = _text(python_type.get("type")) if isinstance(python_type, dict) else _text(python_type)
    return Parameter(_text(p.get("parameter_name")) or _text(p.get("label")), _text(p.get("label")),
                     _text(p.get("component")), type_text, bool(p.get("parameter_has_default")),
                     p.get("parameter_default"), tuple(choices_of(p)))


def _output(r: dict[str, Any]) -> Output:
    python_type = r.get("python_type")
    type_text = _text(python_type.get("type")) if isinstance(python_type, dict) else _text(python_type)
    return Output(_text(r.get("label")), _text(r.get("component")), type_text)


def choices_of(p: dict[str, Any]) -> list[Any]:
    """A parameter's choices: its JSON schema's `enum`, else the `Literal[...]` of its Python type."""
    schema = p.get("type")
    if isinstance(schema, dict):
        enum = schema.get("enum")
        if isinstance(enum, list) and all(isinstance(v, str | int | float) for v in enum):
            return list(enum)
    python_type = p.get("python_type")
    text = _text(python_type.get("type")) if isinstance(python_type, dict) else ""
    match = _LITERAL.match(text.strip())
    if match:
        try:
            value = ast.literal_eval(f"[{match.group('body')}]")  # literals only: no code is evaluated
        except (ValueError, SyntaxError, MemoryError, RecursionError):
            return []
        if all(isinstance(v, str | int | float) for v in value):
            return value
    return []
