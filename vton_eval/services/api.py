"""An endpoint's API as gradio_client describes it (`view_api(return_format="dict")`), read as data.

The description comes from the service, so it is untrusted text: nothing here evaluates it, and
every string is kept as the service wrote it (callers escape it where they show it).

Gradio up to 4.x describes no defaults (`/info` names parameters by label only); the app's `/config`
has each input component's value, which `with_config_values` adds as `Parameter.value` (what the app's
page starts with, not a default the server applies: a call must still send every argument).
"""

from __future__ import annotations

import ast
import dataclasses
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
    has_value: bool = False  # the component's value in the app's /config (see `with_config_values`)
    value: Any = None

    @property
    def is_image(self) -> bool:
        return self.component.lower() in ("image", "imageeditor", "file", "sketchpad", "paint", "imagemask")

    @property
    def is_editor(self) -> bool:
        return self.component.lower() in ("imageeditor", "sketchpad", "paint", "imagemask")

    @property
    def kind(self) -> str:
        """What a value of it is: "number", "bool", "text" or "other" (images, files, anything else)."""
        python_type = self.python_type.strip().lower()
        component = self.component.lower()
        if python_type in ("float", "int", "number") or component in ("slider", "number"):
            return "number"
        if python_type == "bool" or component == "checkbox":
            return "bool"
        if python_type == "str" or component in ("textbox", "text"):
            return "text"
        return "other"

    def refuses(self, value: Any) -> str | None:
        """Why `value` cannot be a value of this parameter (None: it can be, as far as its description says)."""
        kind = self.kind
        if kind == "number" and (isinstance(value, bool) or not isinstance(value, int | float)):
            return "a number is expected"
        if kind == "bool" and not isinstance(value, bool):
            return "true or false is expected"
        if self.choices and not any(_same(value, choice) for choice in self.choices):
            shown = ", ".join(repr(c) for c in self.choices[:8]) + (", ..." if len(self.choices) > 8 else "")
            return f"it must be one of its choices ({shown})"
        return None


def _same(value: Any, choice: Any) -> bool:
    """Equal as values of a component: 1 and 1.0 are, True and 1 are not."""
    if isinstance(value, bool) or isinstance(choice, bool):
        return isinstance(value, bool) and isinstance(choice, bool) and value == choice
    return value == choice


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


def with_config_values(endpoints: dict[str, Endpoint], config: Any) -> dict[str, Endpoint]:
    """`endpoints` with each parameter's component value from the app's `/config` (an input's value, as the page
    starts with it). Matched by the event's `api_name` and its input components in order; an endpoint whose
    inputs do not match its parameters one for one is left as it is."""
    if not isinstance(config, dict):
        return endpoints
    components = {c.get("id"): c for c in config.get("components") or [] if isinstance(c, dict)}
    events = [d for d in config.get("dependencies") or [] if isinstance(d, dict) and isinstance(d.get("api_name"), str)]
    out = dict(endpoints)
    for name, endpoint in endpoints.items():
        event = next((d for d in events if "/" + d["api_name"].lstrip("/") == name), None)
        inputs = event.get("inputs") if event is not None else None
        if not isinstance(inputs, list):
            continue
        found = [components.get(i) if isinstance(i, int | str) else None for i in inputs]
        if any(c is None for c in found):
            continue
        shown = [c for c in found if c.get("type") != "state"]  # the API leaves session state out
        if len(shown) != len(endpoint.parameters):
            continue
        params = []
        for param, component in zip(endpoint.parameters, shown, strict=True):
            props = component.get("props") if isinstance(component.get("props"), dict) else {}
            value = props.get("value")
            if isinstance(value, bool | int | float | str) and not param.is_image:
                param = dataclasses.replace(param, has_value=True, value=value)
            params.append(param)
        out[name] = Endpoint(name, tuple(params), endpoint.outputs)
    return out
