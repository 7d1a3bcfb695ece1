"""Every tunable number of the output checks, in one object, with per-workflow overrides.

Defaults (``Thresholds()``); the "hard" / "soft" column is the severity of the verdict the
threshold drives ("-" for analysis parameters that shape the measurements themselves):

=====================================  ======  =======  ================================================================
key                                    sev.    default  meaning
=====================================  ======  =======  ================================================================
analysis.work_side                     -       384      long side (px) of the downscaled copies the pixel checks run on
                                                        (averages out resampling noise; keeps 1 MP at ~50 ms)
analysis.delta_e                       -       10       CIELAB deltaE (CIE76) above which a pixel counts as "changed";
                                                        ~2 is just noticeable, 10 is a clearly different colour
analysis.blur                          -       1.5      box-blur radius (work-scale px) applied to both images before
                                                        the colour comparison: removes JPEG/WebP ringing and chroma
                                                        bleeding (a q75 re-encode then changes ~0 % of the pixels)
region.mask_dilation                   -       0.02     how far a mask is grown before "outside" begins, as a share of
                                                        the long side (try-ons spill a little past a hand-drawn mask)
region.box_padding                     -       0.15     padding added on each side of a body-geometry box before
                                                        "outside" begins, as a share of the box's width / height
size.max_aspect_error                  hard    0.01     relative aspect-ratio difference (output vs person) above which
                                                        the output is the "wrong size"
blank.min_detail_share                 hard    0.05     least share of pixels that must differ (deltaE) from the
                                                        output's dominant colour (so: one colour, or mostly black /
                                                        white / one colour); lowered to half the person image's own
                                                        share for a sparse person image
product_returned.max_similarity        hard    0.9      thumbnail correlation with the product image at or above which
                                                        (and above the correlation with the person) the output is the
                                                        product image returned as is
noop.min_changed_share                 hard    0.002    least share of all pixels that must change ...
noop.min_region_changed                hard    0.02     ... unless at least this share of the product region changed;
                                                        below both the output is the person unchanged
preservation.max_changed_share         soft    0.1      share of the pixels outside the product region allowed to change
                                                        (dress, top: 0.15: garments move hair, arms and hems)
preservation.repaint_share             hard    0.5      share of the pixels outside the region changed from which the
                                                        photo counts as repainted
preservation.min_ssim                  soft    0.85     least mean SSIM (of L*) outside the product region
preservation.repaint_ssim              hard    0.65     mean SSIM outside the region under which the photo counts as
                                                        repainted (blurred, re-rendered: structure lost)
change_in_region.min_changed_share     soft    0.03     least share of the product region (undilated mask / unpadded
                                                        box) that must change
placement.min_inside_share             hard    0.25     when the product region barely changed (change_in_region
                                                        failed), least share of all changed pixels that must lie in
                                                        the grown region; under it the product went somewhere else
reference.min_ssim                     soft    0.75     least SSIM (of L*) against the reference image, if given
reference.min_psnr                     soft    20       least PSNR (dB, RGB) against the reference image, if given
identity.min_similarity                soft    0.7      least likeness of the aligned faces (person image vs output,
                                                        inside the face oval; eyewear: outside the glasses' region):
                                                        the lower of their SSIM and the share of fine detail kept
identity.hard_similarity               hard    0.5      under it the face is another person's, pasted, or blurred
                                                        beyond recognition ("identity lost")
body.max_shift                         soft    0.2      most a body part's landmarks may move (median, in torso lengths;
                                                        those inside the product region are left out)
body.hard_shift                        hard    0.4      past it the body changed: a moved limb, another body, a cropped
                                                        or rescaled person
body.max_scale_change                  soft    0.1      most the person's size may change (spread of the landmarks both
                                                        images see outside the product region, output over person
                                                        image, relative)
body.hard_scale_change                 hard    0.2      past it the person was rescaled or cropped ("rescaled")
background.max_changed_share           soft    0.05     share of the background (outside both images' person masks and
                                                        the product's zone) allowed to change colour
background.repaint_share               hard    0.4      past it the background was replaced
background.person_margin               -       0.03     how far the person masks are grown before "background" begins,
                                                        as a share of the long side (hair, soft mask edges)
fidelity.min_colour                    hard    0.45     least share of colours (Bhattacharyya coefficient of CIELAB
                                                        histograms) the painted region has in common with the product
                                                        image; under it the garment is not the product sent
                                                        (eyewear 0.3, footwear 0.35: small, partly hidden products)
fidelity.min_texture                   soft    0.3      least likeness of pattern (edge-pixel shares, product scaled to
                                                        the region) between the region and the product image
=====================================  ======  =======  ================================================================

Per-workflow defaults (garments allow more change around their region) are part of each workflow's
entry in `vton_eval.workflows`.

Overrides come as a dict (or its JSON text): top-level keys apply to every workflow, a workflow
name maps to that workflow's own keys, e.g.
``{"preservation.max_changed_share": 0.2, "top": {"preservation.max_changed_share": 0.3}}``.
Precedence, lowest first: defaults, built-in per-workflow defaults, override for all workflows,
override for one workflow (so a top-level override also replaces a built-in per-workflow value).
Unknown keys and workflows raise ValueError.
"""

from __future__ import annotations

import difflib
import json
import math
from collections.abc import Mapping
from typing import Any

from vton_eval import workflows

DEFAULTS: dict[str, float] = {
    "analysis.work_side": 384,
    "analysis.delta_e": 10.0,
    "analysis.blur": 1.5,
    "region.mask_dilation": 0.02,
    "region.box_padding": 0.15,
    "size.max_aspect_error": 0.01,
    "blank.min_detail_share": 0.05,
    "product_returned.max_similarity": 0.9,
    "noop.min_changed_share": 0.002,
    "noop.min_region_changed": 0.02,
    "preservation.max_changed_share": 0.1,
    "preservation.repaint_share": 0.5,
    "preservation.min_ssim": 0.85,
    "preservation.repaint_ssim": 0.65,
    "change_in_region.min_changed_share": 0.03,
    "placement.min_inside_share": 0.25,
    "reference.min_ssim": 0.75,
    "reference.min_psnr": 20.0,
    "identity.min_similarity": 0.7,
    "identity.hard_similarity": 0.5,
    "body.max_shift": 0.2,
    "body.hard_shift": 0.4,
    "body.max_scale_change": 0.1,
    "body.hard_scale_change": 0.2,
    "background.max_changed_share": 0.05,
    "background.repaint_share": 0.4,
    "background.person_margin": 0.03,
    "fidelity.min_colour": 0.45,
    "fidelity.min_texture": 0.3,
}


def _unknown(kind: str, name: str, known: tuple[str, ...] | list[str]) -> ValueError:
    close = difflib.get_close_matches(name, known, n=1)
    hint = f" (did you mean {close[0]!r}?)" if close else ""
    return ValueError(f"unknown {kind} {name!r}{hint}; known: {', '.join(known)}")


# Below this the work-scale copies are too small for SSIM windows and body geometry.
_MIN_WORK_SIDE = 64


def _number(key: str, value: Any) -> float:
    # bool is an int subclass; `true` in a JSON override is a mistake, not 1.0.
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value) or value < 0:
        raise ValueError(f"threshold {key!r} must be a finite non-negative number, got {value!r}")
    if key.endswith("analysis.work_side") and value < _MIN_WORK_SIDE:
        raise ValueError(f"threshold {key!r} must be at least {_MIN_WORK_SIDE} (px), got {value!r}")
    return float(value)


def _check_key(key: str) -> None:
    if key not in DEFAULTS:
        raise _unknown("threshold key", key, list(DEFAULTS))


def _check_workflow(workflow: str) -> None:
    if not workflows.is_known(workflow):
        raise _unknown("workflow", workflow, workflows.names())


def _registry_defaults() -> dict[str, Mapping[str, float]]:
    return {name: workflows.get(name).check_defaults for name in workflows.names()}


class Thresholds:
    """Threshold values for all workflows: defaults, plus per-workflow values that win over them.

    Immutable in use: `with_overrides` returns a new object. See the module docstring for the table
    of keys, meanings and defaults.
    """

    def __init__(
        self,
        values: Mapping[str, float] | None = None,
        per_workflow: Mapping[str, Mapping[str, float]] | None = None,
    ) -> None:
        self._values: dict[str, float] = dict(DEFAULTS)
        # Per-workflow values; a workflow without an entry takes its registry defaults (so one
        # registered after this object was made is covered too).
        self._per_workflow: dict[str, dict[str, float]] = {}
        source_per_workflow = _registry_defaults() if per_workflow is None else per_workflow
        for key, value in (values or {}).items():
            _check_key(key)
            self._values[key] = _number(key, value)
        for workflow, overrides in source_per_workflow.items():
            _check_workflow(workflow)
            self._per_workflow[workflow] = {}
            for key, value in overrides.items():
                _check_key(key)
                self._per_workflow[workflow][key] = _number(f"{workflow}.{key}", value)

    @classmethod
    def from_overrides(cls, overrides: Mapping[str, Any] | str | None = None) -> Thresholds:
        """Defaults with `overrides` applied (a dict, its JSON text, or None for the defaults)."""
        return cls().with_overrides(overrides)

    def with_overrides(self, overrides: Mapping[str, Any] | str | None) -> Thresholds:
        """A copy with `overrides` applied; raises ValueError on unknown keys or bad values."""
        if overrides is None:
            return self
        if isinstance(overrides, str):
            try:
                overrides = json.loads(overrides)
            except json.JSONDecodeError as exc:
                raise ValueError(f"threshold overrides are not valid JSON: {exc}") from None
        if not isinstance(overrides, Mapping):
            raise ValueError(f"threshold overrides must be a mapping, got {type(overrides).__name__}")
        values = dict(self._values)
        per_workflow = {w: dict(self._workflow_values(w)) for w in workflows.names()}
        for key, value in overrides.items():
            if workflows.is_known(key):
                if not isinstance(value, Mapping):
                    raise ValueError(f"overrides for workflow {key!r} must be a mapping of threshold keys to numbers")
                for sub_key, sub_value in value.items():
                    _check_key(sub_key)
                    per_workflow[key][sub_key] = _number(f"{key}.{sub_key}", sub_value)
            elif isinstance(value, Mapping):
                error = _unknown("workflow", key, workflows.names())
                raise ValueError(f"{error} (nested objects are one workflow's overrides; keys are dotted)")
            else:
                _check_key(key)
                values[key] = _number(key, value)
                # An explicit value for every workflow replaces the built-in per-workflow ones...
                for workflow_values in per_workflow.values():
                    workflow_values.pop(key, None)
        # ...but not per-workflow values given in the same override (applied above, in any order).
        for key, value in overrides.items():
            if workflows.is_known(key):
                per_workflow[key].update({k: float(v) for k, v in value.items()})
        return Thresholds(values, per_workflow)

    def get(self, workflow: str, key: str) -> float:
        """The value of `key` for `workflow`; ValueError for an unknown key or workflow."""
        _check_key(key)
        _check_workflow(workflow)
        return self._workflow_values(workflow).get(key, self._values[key])

    def _workflow_values(self, workflow: str) -> Mapping[str, float]:
        if workflow in self._per_workflow:
            return self._per_workflow[workflow]
        return workflows.get(workflow).check_defaults

    def for_workflow(self, workflow: str) -> dict[str, float]:
        """Every key's effective value for `workflow`."""
        return {key: self.get(workflow, key) for key in DEFAULTS}

    def to_dict(self) -> dict[str, Any]:
        """All values in the override format: every key at top level, plus per-workflow differences.

        `Thresholds.from_overrides(t.to_dict())` equals `t`.
        """
        out: dict[str, Any] = dict(self._values)
        for workflow in workflows.names():
            differing = {k: v for k, v in self._workflow_values(workflow).items() if v != self._values[k]}
            if differing:
                out[workflow] = differing
        return out

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2, sort_keys=False)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Thresholds):
            return NotImplemented
        return all(self.for_workflow(w) == other.for_workflow(w) for w in workflows.names())

    def __hash__(self) -> int:
        return hash(json.dumps(self.to_dict(), sort_keys=True))

    def __repr__(self) -> str:
        return f"Thresholds({self.to_dict()!r})"
