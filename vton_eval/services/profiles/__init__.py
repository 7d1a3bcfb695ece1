"""Endpoint profiles: how one of our cases becomes a call of one try-on service.

A profile is data: a TOML text (the built-in ones ship beside this module, a person's own is a file)
loaded into a `Profile`. The format, and what each field means, is the README's "Profiles" section;
in short:

    name = "ootd-dc"
    api_name = "/process_dc"
    args = ["{person}", "{product}", "{workflow}", 1, 20, 2.0, 42]
    output = 0
    max_megapixels = 0
    [workflows]
    top = "Upper-body"

Placeholders in `args`: `{person}`, `{product}`, `{mask}`, `{workflow}`. An image placeholder may end
in `:editor` (sent as an ImageEditor value `{"background": file, "layers": [], "composite": null}`) or
`:editor+mask` (the same, with the case's mask as its one layer, or a blank layer when the case has
none: what the editor sends when nothing was drawn). Anything else is a literal.

Every decision about how a case is sent lives here (`Profile.plan`), so what the run records before
sending (`runner.create`) and what the service sends (`services.gradio`) cannot disagree.
"""

from __future__ import annotations

import difflib
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from types import MappingProxyType
from typing import Any

from vton_eval import workflows as registry
from vton_eval.errors import InvalidValue

DEFAULT_PROFILE = "sm4ll"
BUILT_IN = ("sm4ll", "idm-vton", "catvton", "ootdiffusion", "leffa", "omnitry", "kolors")

IMAGE_ROLES = ("person", "product", "mask")
MASK_FALLBACKS = ("person", "blank", "none")  # what {mask} becomes for a case without a mask
_PLACEHOLDER = re.compile(r"^\{(?P<name>[a-z_]+)\}(?::(?P<mod>[a-z+_]+))?$")
_LOOKS_LIKE_PLACEHOLDER = re.compile(r"^\{[^{}]*\}(:.*)?$")
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,39}$")
_FIELDS = ("name", "api_name", "args", "output", "max_megapixels", "message_output", "workflows_from_endpoint",
           "description", "workflows", "missing_mask")
MAX_PROFILE_BYTES = 64 * 1024


class ProfileError(InvalidValue):
    """A profile that cannot be used, with where (line) and why."""


@dataclass(frozen=True)
class Arg:
    """One positional argument: an image of the case, the workflow's value, or a literal."""

    kind: str  # "image", "workflow" or "literal"
    role: str | None = None  # image: person, product or mask
    editor: bool = False  # image: sent as an ImageEditor value
    layer_mask: bool = False  # editor: the mask (or a blank layer) as its one layer
    value: Any = None  # literal

    def describe(self) -> str:
        if self.kind == "literal":
            return repr(self.value)
        if self.kind == "workflow":
            return "{workflow}"
        return "{" + str(self.role) + "}" + (":editor+mask" if self.layer_mask else ":editor" if self.editor else "")


@dataclass(frozen=True)
class CallPlan:
    """How one case is sent: the workflow's value, what stands in for a missing mask, and the notes a run
    records about what it sends differently from the case's own files."""

    workflow_value: Any
    mask: str  # "mask" (the case's), "person", "blank" or "none"
    notes: tuple[str, ...] = ()


@dataclass(frozen=True)
class Profile:
    name: str
    api_name: str
    args: tuple[Arg, ...]
    workflows: Mapping[str, Any]
    output: int = 0
    max_megapixels: float = 0.0
    message_output: int | None = None
    workflows_from_endpoint: bool = False
    missing_mask: Mapping[str, str] = field(default_factory=dict)
    description: str = ""
    text: str = ""  # the TOML it was read from: stored with a run, so a resume sends exactly the same
    source: str = ""  # "built-in" or the file it came from

    # -- what it sends -----------------------------------------------------------------------

    @property
    def uses_mask(self) -> bool:
        return any(a.kind == "image" and a.role == "mask" or a.layer_mask for a in self.args)

    @property
    def workflow_arg(self) -> int | None:
        """The position of the argument that receives {workflow} (whose choices name what the endpoint offers)."""
        return next((i for i, a in enumerate(self.args) if a.kind == "workflow"), None)

    def supports(self, workflow: str) -> bool:
        return workflow in self.workflows

    def unsupported_reason(self, workflow: str, offered: list[str] | None = None) -> str | None:
        """Why a case of `workflow` is not sent (None: it is). `offered`: what a live endpoint's dropdown lists."""
        if offered is not None and self.workflows_from_endpoint:
            if workflow in offered:
                return None
            return (f"the endpoint does not offer the workflow {workflow!r} (its workflow choices: "
                    f"{', '.join(offered) or 'none'}); not sent")
        if workflow in self.workflows:
            return None
        return (f"the profile {self.name} does not support the workflow {workflow!r} (it supports: "
                f"{', '.join(self.workflows) or 'none'}); not sent")

    def value_for(self, workflow: str) -> Any:
        """What {workflow} becomes: the profile's value, or the name itself for a workflow a live endpoint offers."""
        return self.workflows.get(workflow, workflow)

    def plan(self, workflow: str, has_mask: bool) -> CallPlan:
        """How a case of `workflow` (with or without a mask) is sent, and what differs from the case."""
        notes = []
        if has_mask and not self.uses_mask:
            notes.append(f"mask not sent: the profile {self.name} has no mask argument (the service masks by itself)")
            return CallPlan(self.value_for(workflow), "none", tuple(notes))
        if has_mask:
            return CallPlan(self.value_for(workflow), "mask")
        fallback = self.missing_mask.get(workflow, "none")
        if not self.uses_mask:
            return CallPlan(self.value_for(workflow), "none")
        if fallback == "person":
            notes.append(f"no mask: the person image is sent as the mask (the profile {self.name} says the "
                         f"service needs one for {workflow})")
        elif fallback == "blank" or (fallback == "none" and any(a.layer_mask for a in self.args)):
            # An editor layer cannot be left out: an empty layer is what the editor sends when nothing is drawn.
            fallback = "blank"
            notes.append("no mask: an empty editor layer is sent, so the service makes its own mask")
        return CallPlan(self.value_for(workflow), fallback, tuple(notes))

    def editor_roles(self, plan: CallPlan) -> set[str]:
        """The case's files that go inside an ImageEditor value (its background, or the file sent as its layer)."""
        roles = set()
        for arg in self.args:
            if arg.kind != "image" or not arg.editor:
                continue
            if arg.role != "mask":
                roles.add(str(arg.role))
            if (arg.layer_mask or arg.role == "mask") and plan.mask in ("mask", "person"):
                roles.add(plan.mask)
        return roles

    def arguments(self, plan: CallPlan, files: Mapping[str, Any], blank: Any = None,
                  editor_files: Mapping[str, Any] | None = None) -> list[Any]:
        """The positional arguments of one call. `files` maps person/product/mask to what the client sends
        for that file (gradio_client's handle_file of it); `blank` is a blank layer of the person's size;
        `editor_files` what to send instead inside an ImageEditor value (a PNG of the file, see
        `editor_roles`)."""
        def pick(table: Mapping[str, Any], editor: bool) -> Any:
            chosen = {**table, **(editor_files or {})} if editor else table
            return {"mask": chosen.get("mask"), "person": chosen["person"], "blank": blank, "none": None}[plan.mask]

        out: list[Any] = []
        for arg in self.args:
            if arg.kind == "literal":
                out.append(arg.value)
            elif arg.kind == "workflow":
                out.append(plan.workflow_value)
            elif arg.editor:
                mask = pick(files, editor=True)
                layers = [mask] if arg.layer_mask and mask is not None else []
                background = mask if arg.role == "mask" else (editor_files or {}).get(str(arg.role),
                                                                                       files[str(arg.role)])
                out.append({"background": background, "layers": layers, "composite": None})
            else:
                out.append(pick(files, editor=False) if arg.role == "mask" else files[str(arg.role)])
        return out

    def max_pixels(self) -> int | None:
        return int(self.max_megapixels * 1_000_000) if self.max_megapixels > 0 else None

    def summary(self) -> str:
        """One line: the call it makes."""
        return f"{self.api_name}({', '.join(a.describe() for a in self.args)}) -> output {self.output}"


# -- loading ---------------------------------------------------------------------------------


def built_in_text(name: str) -> str:
    if name not in BUILT_IN:
        raise ProfileError(f"no built-in profile {name!r} (built in: {', '.join(BUILT_IN)})")
    return resources.files(__package__).joinpath(f"{name}.toml").read_text(encoding="utf-8")


def load_profile(spec: str | None) -> Profile:
    """A profile by built-in name or TOML file path (None: the default). Raises ProfileError."""
    spec = (spec or DEFAULT_PROFILE).strip()
    if spec in BUILT_IN:
        return parse_profile(built_in_text(spec), "built-in")
    path = Path(spec).expanduser()
    if path.suffix.lower() != ".toml" and not path.exists():
        close = difflib.get_close_matches(spec, BUILT_IN, n=1)
        hint = f" (did you mean {close[0]}?)" if close else ""
        raise ProfileError(f"no profile {spec!r}: give a built-in name ({', '.join(BUILT_IN)}) or a .toml file{hint}")
    try:
        if path.exists() and not path.is_file() and not path.is_dir():
            # A device or a pipe (/dev/zero) could be read for ever: a profile is a file.
            raise ProfileError(f"profile {path} is not a regular file")
        with path.open("rb") as handle:
            data = handle.read(MAX_PROFILE_BYTES + 1)
        if len(data) > MAX_PROFILE_BYTES:
            raise ProfileError(f"profile {path} is larger than {MAX_PROFILE_BYTES // 1024} KB; is it a profile?")
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise ProfileError(f"profile {path} is not UTF-8 text") from None
    except OSError as exc:
        raise ProfileError(f"cannot read profile {path}: {exc.strerror or exc}") from None
    return parse_profile(text, str(path))


def parse_profile(text: str, source: str = "text") -> Profile:
    """A profile from its TOML text; ProfileError names the line and the reason of the first problem."""
    where = "built-in profile" if source == "built-in" else f"profile {source}"
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ProfileError(f"{where}: not valid TOML: {_toml_reason(exc)}") from None
    except RecursionError:  # arrays or tables nested thousands deep: Python's parser gives up
        raise ProfileError(f"{where}: not a usable profile: its values are nested too deeply") from None

    def fail(message: str, key: str | None = None, table: str | None = None) -> ProfileError:
        line = _line_of(text, key, table) if key else None
        return ProfileError(f"{where}{f', line {line}' if line else ''}: {message}")

    unknown = [k for k in data if k not in _FIELDS]
    if unknown:
        close = difflib.get_close_matches(unknown[0], _FIELDS, n=1)
        hint = f" (did you mean {close[0]}?)" if close else ""
        raise fail(f"unknown field {unknown[0]!r}{hint}; fields are {', '.join(_FIELDS)}", unknown[0])
    name = data.get("name")
    if not isinstance(name, str) or not _NAME.match(name):
        raise fail("name must be text of letters, digits, '.', '-' or '_' (at most 40), e.g. name = \"my-vton\"",
                   "name")
    api_name = data.get("api_name")
    if not isinstance(api_name, str) or not re.match(r"^/[\w./-]+$", api_name):
        raise fail('api_name must be the endpoint\'s API name starting with "/", e.g. api_name = "/generate"',
                   "api_name")
    args = _args(data.get("args"), lambda m: fail(m, "args"))
    output = _index(data.get("output", 0), "output", lambda m: fail(m, "output"))
    message_output = data.get("message_output")
    if message_output is not None:
        message_output = _index(message_output, "message_output", lambda m: fail(m, "message_output"))
        if message_output == output:
            raise fail("message_output must name another output than `output`", "message_output")
    megapixels = data.get("max_megapixels", 0)
    if isinstance(megapixels, bool) or not isinstance(megapixels, int | float) or megapixels < 0:
        raise fail("max_megapixels must be a number >= 0 (0: never resize)", "max_megapixels")
    live = data.get("workflows_from_endpoint", False)
    if not isinstance(live, bool):
        raise fail("workflows_from_endpoint must be true or false", "workflows_from_endpoint")
    if live and not any(a.kind == "workflow" for a in args):
        raise fail("workflows_from_endpoint needs a {workflow} argument (its choices are what the endpoint offers)",
                   "workflows_from_endpoint")
    description = data.get("description", "")
    if not isinstance(description, str):
        raise fail("description must be text", "description")
    table = data.get("workflows", {})
    if not isinstance(table, dict):
        raise fail("[workflows] must be a table: our workflow = the value the service expects", "workflows")
    for workflow, value in table.items():
        if not registry.is_known(workflow):
            raise fail(f"unknown workflow {workflow!r} in [workflows] (ours are {', '.join(registry.names())})",
                       workflow, "workflows")
        if isinstance(value, bool) or not isinstance(value, str | int | float):
            raise fail(f"the value of {workflow} in [workflows] must be text or a number", workflow, "workflows")
    if not table and not live:
        raise fail("[workflows] is empty: list the workflows the service supports (unlisted ones are not sent)",
                   "workflows")
    fallbacks = data.get("missing_mask", {})
    if not isinstance(fallbacks, dict):
        raise fail("[missing_mask] must be a table: workflow = \"person\", \"blank\" or \"none\"", "missing_mask")
    for workflow, value in fallbacks.items():
        if workflow not in table and not (live and registry.is_known(workflow)):
            raise fail(f"[missing_mask] names {workflow!r}, which [workflows] does not list", workflow, "missing_mask")
        if value not in MASK_FALLBACKS:
            raise fail(f"[missing_mask] {workflow} must be one of {', '.join(MASK_FALLBACKS)}", workflow,
                       "missing_mask")
    return Profile(name, api_name, args, MappingProxyType(dict(table)), output, float(megapixels), message_output,
                   live, MappingProxyType(dict(fallbacks)), description.strip(), text, source)


def _args(value: Any, fail: Any) -> tuple[Arg, ...]:
    if not isinstance(value, list) or not value:
        raise fail('args must be a non-empty list, e.g. args = ["{person}", "{product}", "{workflow}", 42]')
    out = []
    for i, item in enumerate(value, start=1):
        if isinstance(item, str) and _LOOKS_LIKE_PLACEHOLDER.match(item.strip()):
            match = _PLACEHOLDER.match(item.strip())
            name, mod = (match.group("name"), match.group("mod")) if match else (None, None)
            if name not in (*IMAGE_ROLES, "workflow"):
                raise fail(f"argument {i}: unknown placeholder {item!r} (use {{person}} {{product}} {{mask}} "
                           "{workflow}, an image one optionally followed by :editor or :editor+mask)")
            if name == "workflow":
                if mod:
                    raise fail(f"argument {i}: {{workflow}} takes no :{mod}")
                out.append(Arg("workflow"))
                continue
            if mod not in (None, "editor", "editor+mask"):
                raise fail(f"argument {i}: unknown modifier :{mod} (use :editor or :editor+mask)")
            if mod == "editor+mask" and name == "mask":
                raise fail(f"argument {i}: {{mask}}:editor+mask would send the mask as its own layer; use {{mask}}")
            out.append(Arg("image", name, editor=mod is not None, layer_mask=mod == "editor+mask"))
        elif isinstance(item, dict | list):
            raise fail(f"argument {i}: a table or list is not a supported literal (use text, a number or a boolean)")
        else:
            out.append(Arg("literal", value=item))
    roles = [a.role for a in out if a.kind == "image"]
    for needed in ("person", "product"):
        if needed not in roles:
            raise fail(f"args has no {{{needed}}}: a try-on sends the {needed} image")
    return tuple(out)


def _index(value: Any, name: str, fail: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise fail(f"{name} must be the position of an output, counting from 0")
    return value


def _toml_reason(exc: tomllib.TOMLDecodeError) -> str:
    message = str(exc)
    match = re.search(r"\(at line (\d+), column (\d+)\)", message)
    if match:
        reason = message[: match.start()].strip()
        return f"line {match.group(1)}, column {match.group(2)}: {reason.lower() if reason else 'syntax error'}"
    return message


def _line_of(text: str, key: str, table: str | None = None) -> int | None:
    """The line where `key` is set (inside `[table]` when given), for error messages; tomllib gives none."""
    current = None
    header = re.compile(r"^\s*\[\s*([^\]]+?)\s*\]")
    setting = re.compile(r"^\s*(\"?)" + re.escape(key) + r"\1\s*=")
    for number, line in enumerate(text.splitlines(), start=1):
        found = header.match(line)
        if found:
            current = found.group(1)
            if table is None and current == key:
                return number
            continue
        if current == table and setting.match(line):
            return number
    return None


__all__ = ["BUILT_IN", "DEFAULT_PROFILE", "Arg", "CallPlan", "Profile", "ProfileError", "built_in_text",
           "load_profile", "parse_profile"]
