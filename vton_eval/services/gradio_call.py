"""The shape of a Gradio call, as a profile writes it: API name, positional arguments, which output holds the image.

This is the part of a profile only a Gradio service reads (`services.gradio`); what the runner needs
(the workflows, what stands in for a missing mask, the size limit) stays on `Profile`. Data only: no
Gradio, no network.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

IMAGE_ROLES = ("person", "product", "mask")
FIELDS = ("api_name", "args", "output", "message_output")
_PLACEHOLDER = re.compile(r"^\{(?P<name>[a-z_]+)\}(?::(?P<mod>[a-z+_]+))?$")
_LOOKS_LIKE_PLACEHOLDER = re.compile(r"^\{[^{}]*\}(:.*)?$")

# fail(message, key) -> the exception to raise (a ProfileError naming the line of `key`).
Fail = Callable[[str, str], Exception]


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
class GradioCall:
    """How a case's files and workflow become the positional arguments of one Gradio endpoint."""

    api_name: str
    args: tuple[Arg, ...]
    output: int = 0
    message_output: int | None = None

    # -- what the runner asks of any call shape ---------------------------------------------------

    @property
    def uses_mask(self) -> bool:
        return any(a.kind == "image" and a.role == "mask" or a.layer_mask for a in self.args)

    @property
    def mask_cannot_be_left_out(self) -> bool:
        """An editor layer cannot be left out: an empty layer is what the editor sends when nothing is drawn."""
        return any(a.layer_mask for a in self.args)

    @property
    def workflow_arg(self) -> int | None:
        """The position of the argument that receives {workflow} (whose choices name what the endpoint offers)."""
        return next((i for i, a in enumerate(self.args) if a.kind == "workflow"), None)

    def summary(self) -> str:
        """One line: the call it makes."""
        return f"{self.api_name}({', '.join(a.describe() for a in self.args)}) -> output {self.output}"

    # -- what the Gradio service sends ---------------------------------------------------------------

    def editor_roles(self, mask: str) -> set[str]:
        """The case's files that go inside an ImageEditor value (its background, or the file sent as its layer),
        given what the plan sends as the mask ("mask", "person", "blank" or "none")."""
        roles = set()
        for arg in self.args:
            if arg.kind != "image" or not arg.editor:
                continue
            if arg.role != "mask":
                roles.add(str(arg.role))
            if (arg.layer_mask or arg.role == "mask") and mask in ("mask", "person"):
                roles.add(mask)
        return roles

    def arguments(self, workflow_value: Any, mask: str, files: Mapping[str, Any], blank: Any = None,
                  editor_files: Mapping[str, Any] | None = None) -> list[Any]:
        """The positional arguments of one call. `files` maps person/product/mask to what the client sends
        for that file (gradio_client's handle_file of it); `mask` is what the plan sends as the mask;
        `blank` is a blank layer of the person's size; `editor_files` what to send instead inside an
        ImageEditor value (a PNG of the file, see `editor_roles`)."""
        def pick(table: Mapping[str, Any], editor: bool) -> Any:
            chosen = {**table, **(editor_files or {})} if editor else table
            return {"mask": chosen.get("mask"), "person": chosen["person"], "blank": blank, "none": None}[mask]

        out: list[Any] = []
        for arg in self.args:
            if arg.kind == "literal":
                out.append(arg.value)
            elif arg.kind == "workflow":
                out.append(workflow_value)
            elif arg.editor:
                layer = pick(files, editor=True)
                layers = [layer] if arg.layer_mask and layer is not None else []
                background = layer if arg.role == "mask" else (editor_files or {}).get(str(arg.role),
                                                                                        files[str(arg.role)])
                out.append({"background": background, "layers": layers, "composite": None})
            else:
                out.append(pick(files, editor=False) if arg.role == "mask" else files[str(arg.role)])
        return out


def parse(data: Mapping[str, Any], fail: Fail) -> GradioCall:
    """The call shape from a profile's TOML table; `fail(message, key)` makes the error naming its line."""
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
    return GradioCall(api_name, args, output, message_output)


def _args(value: Any, fail: Callable[[str], Exception]) -> tuple[Arg, ...]:
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


def _index(value: Any, name: str, fail: Callable[[str], Exception]) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise fail(f"{name} must be the position of an output, counting from 0")
    return value
