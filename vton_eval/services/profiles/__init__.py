"""Endpoint profiles: how one of our cases becomes a call of one try-on service.

A profile is data: a TOML text (the built-in ones ship beside this module, a person's own is a file)
loaded into a `Profile`. The format, and what each field means, is the guide's "Endpoint profiles" (docs/services.md);
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
from vton_eval.services.kinds import DEFAULT_KIND, KINDS, CallShape

DEFAULT_PROFILE = "sm4ll"
# The built-in profiles are the TOML files beside this module (the default first): adding one is adding its file.
BUILT_IN = (DEFAULT_PROFILE, *sorted(p.name.removesuffix(".toml") for p in resources.files(__package__).iterdir()
                                     if p.name.endswith(".toml") and p.name != f"{DEFAULT_PROFILE}.toml"))

MASK_FALLBACKS = ("person", "blank", "none")  # what {mask} becomes for a case without a mask
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,39}$")
_FIELDS = ("name", "kind", "max_megapixels", "workflows_from_endpoint", "description", "workflows", "missing_mask")
MAX_PROFILE_BYTES = 64 * 1024


class ProfileError(InvalidValue):
    """A profile that cannot be used, with where (line) and why."""


@dataclass(frozen=True)
class CallPlan:
    """How one case is sent: the workflow's value, what stands in for a missing mask, and the notes a run
    records about what it sends differently from the case's own files."""

    workflow_value: Any
    mask: str  # "mask" (the case's), "person", "blank" or "none"
    notes: tuple[str, ...] = ()


@dataclass(frozen=True)
class Profile:
    """What the runner needs to know of a service (its workflows, missing-mask rules, size limit) and, in
    `call`, the shape of its calls, which only the service of its `kind` reads (`services.kinds`)."""

    name: str
    call: CallShape
    workflows: Mapping[str, Any]
    kind: str = DEFAULT_KIND
    max_megapixels: float = 0.0
    workflows_from_endpoint: bool = False
    missing_mask: Mapping[str, str] = field(default_factory=dict)
    description: str = ""
    text: str = ""  # the TOML it was read from: stored with a run, so a resume sends exactly the same
    source: str = ""  # "built-in" or the file it came from

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
        if has_mask and not self.call.uses_mask:
            notes.append(f"mask not sent: the profile {self.name} has no mask argument (the service masks by itself)")
            return CallPlan(self.value_for(workflow), "none", tuple(notes))
        if has_mask:
            return CallPlan(self.value_for(workflow), "mask")
        fallback = self.missing_mask.get(workflow, "none")
        if not self.call.uses_mask:
            return CallPlan(self.value_for(workflow), "none")
        if fallback == "person":
            notes.append(f"no mask: the person image is sent as the mask (the profile {self.name} says the "
                         f"service needs one for {workflow})")
        elif fallback == "blank" or (fallback == "none" and self.call.mask_cannot_be_left_out):
            fallback = "blank"
            notes.append("no mask: an empty editor layer is sent, so the service makes its own mask")
        return CallPlan(self.value_for(workflow), fallback, tuple(notes))

    def max_pixels(self) -> int | None:
        return int(self.max_megapixels * 1_000_000) if self.max_megapixels > 0 else None

    def summary(self) -> str:
        """One line: the call it makes."""
        return self.call.summary()


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

    kind_name = data.get("kind", DEFAULT_KIND)
    if kind_name not in KINDS:
        raise fail(f"kind must be one of {', '.join(KINDS)} (the kinds of service vton-eval calls)", "kind")
    kind = KINDS[kind_name]
    fields = (*_FIELDS, *kind.fields)
    unknown = [k for k in data if k not in fields]
    if unknown:
        close = difflib.get_close_matches(unknown[0], fields, n=1)
        hint = f" (did you mean {close[0]}?)" if close else ""
        raise fail(f"unknown field {unknown[0]!r}{hint}; fields are {', '.join(fields)}", unknown[0])
    name = data.get("name")
    if not isinstance(name, str) or not _NAME.match(name):
        raise fail("name must be text of letters, digits, '.', '-' or '_' (at most 40), e.g. name = \"my-vton\"",
                   "name")
    call = kind.parse_call(data, fail)
    megapixels = data.get("max_megapixels", 0)
    if isinstance(megapixels, bool) or not isinstance(megapixels, int | float) or megapixels < 0:
        raise fail("max_megapixels must be a number >= 0 (0: never resize)", "max_megapixels")
    live = data.get("workflows_from_endpoint", False)
    if not isinstance(live, bool):
        raise fail("workflows_from_endpoint must be true or false", "workflows_from_endpoint")
    if live and call.workflow_arg is None:
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
    return Profile(name, call, MappingProxyType(dict(table)), kind.name, float(megapixels), live,
                   MappingProxyType(dict(fallbacks)), description.strip(), text, source)


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


__all__ = ["BUILT_IN", "DEFAULT_PROFILE", "CallPlan", "Profile", "ProfileError", "built_in_text", "load_profile",
           "parse_profile"]
