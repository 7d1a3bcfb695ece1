"""Checks that compare the output with the person image pixel by pixel (at work scale): did the
service change anything, only where the product goes, and did it change that place at all.

All of them read one "changed" map: pixels whose CIELAB colour moved by more than
`analysis.delta_e` between person and output.
"""

from __future__ import annotations

import numpy as np

from vton_eval.checks import measures
from vton_eval.checks.results import HARD, SOFT, CheckResult

# Below this share of the image, "outside the region" is too small to judge (a mask covering
# almost everything); preservation then passes with no value.
_MIN_OUTSIDE = 0.01


def noop(changed: np.ndarray, core: np.ndarray, min_changed: float, min_region: float) -> CheckResult:
    """`noop` (hard): the output is not the person image (nearly) unchanged.

    Fails when under `min_changed` of all pixels changed AND under `min_region` of the product
    region did. Either is enough to pass: glasses are well under 1 % of a full-body photo but
    change a good part of their region; a product pasted elsewhere changes the image but not the
    region (that is `placement`'s business, not a no-op). Value: share of all pixels changed.
    """
    overall = float(changed.mean())
    in_region = float(changed[core].mean()) if core.any() else 0.0
    passed = overall >= min_changed or in_region >= min_region
    if passed:
        detail = f"{overall:.2%} of the pixels changed, {in_region:.1%} of the product region"
    else:
        detail = (
            f"the output is the person image unchanged: {overall:.3%} of the pixels changed (limit {min_changed:.2%}), "
            f"{in_region:.2%} of the product region (limit {min_region:.1%})"
        )
    return CheckResult("noop", overall, min_changed, passed, HARD, detail)


def escalating(
    name: str, value: float, soft_limit: float, hard_limit: float, higher_is_worse: bool, describe: str,
    hard_word: str = "repainted", box: tuple[float, float, float, float] | None = None,
) -> CheckResult:
    """One value judged against a soft limit and a stricter hard one: the result carries the
    severity and limit of the worst verdict reached (hard when the hard limit is crossed)."""

    def crossed(limit: float) -> bool:
        return value > limit if higher_is_worse else value < limit

    if crossed(hard_limit):
        detail = f"{hard_word}: {describe} (hard limit {_fmt(name, hard_limit)})"
        return CheckResult(name, value, hard_limit, False, HARD, detail, box)
    passed = not crossed(soft_limit)
    return CheckResult(name, value, soft_limit, passed, SOFT, f"{describe} (limit {_fmt(name, soft_limit)})", box)


_escalating = escalating


def _fmt(name: str, value: float) -> str:
    return f"{value:.0%}" if name.endswith("share") or name == "background" else f"{value:.2f}"


def preservation(
    changed: np.ndarray,
    ssim: np.ndarray,
    zone: np.ndarray,
    max_changed: float,
    repaint_share: float,
    min_ssim: float,
    repaint_ssim: float,
) -> list[CheckResult]:
    """`preservation.changed_share` and `preservation.ssim`: the person photo is kept outside the
    product region (outside the grown `zone`).

    changed_share: share of outside pixels whose colour clearly changed (catches colour shifts,
    a new background, relighting). ssim: mean SSIM of lightness outside (catches blur, re-rendered
    texture, shifted content that keeps colours). Each is a soft flag past its moderate limit and
    a hard failure ("repainted") past its extreme one.
    """
    outside = ~zone
    if outside.mean() < _MIN_OUTSIDE:
        detail = "the product region covers almost the whole image: nothing outside it to compare"
        return [
            CheckResult("preservation.changed_share", None, max_changed, True, SOFT, detail),
            CheckResult("preservation.ssim", None, min_ssim, True, SOFT, detail),
        ]
    share = float(changed[outside].mean())
    mean_ssim = float(ssim[outside].mean())
    return [
        _escalating(
            "preservation.changed_share", share, max_changed, repaint_share, True,
            f"{share:.0%} of the pixels outside the product region changed",
        ),
        _escalating(
            "preservation.ssim", mean_ssim, min_ssim, repaint_ssim, False,
            f"SSIM outside the product region is {mean_ssim:.2f}",
        ),
    ]


def change_in_region(changed: np.ndarray, core: np.ndarray, min_share: float) -> CheckResult:
    """`change_in_region` (soft): the product region itself changed (the product is there).

    Soft on its own, because a product very close to what the person already wears changes
    few pixels; `placement` turns it hard when the change went somewhere else instead.
    """
    share = float(changed[core].mean()) if core.any() else 0.0
    if share >= min_share:
        detail = f"{share:.0%} of the product region changed"
        return CheckResult("change_in_region", share, min_share, True, SOFT, detail)
    detail = f"only {share:.1%} of the product region changed (at least {min_share:.0%} expected)"
    return CheckResult("change_in_region", share, min_share, False, SOFT, detail)


def placement(
    changed: np.ndarray,
    core: np.ndarray,
    zone: np.ndarray,
    min_region: float,
    min_changed: float,
    min_inside: float,
) -> CheckResult:
    """`placement` (hard): the change is where the product goes, not somewhere else.

    Value: share of all changed pixels that lie in the grown region. Judged only when the region
    itself barely changed (under `min_region`, the change_in_region limit) while the image did
    change (at least `min_changed`, the noop limit): then a value under `min_inside` means the
    product was put elsewhere (glasses on the feet). A product in place plus edits elsewhere is
    not a placement error; preservation reports those edits.
    """
    total = int(changed.sum())
    inside = float(changed[zone].sum()) / total if total else None
    region_share = float(changed[core].mean()) if core.any() else 0.0
    overall = float(changed.mean())
    if inside is None or overall < min_changed:
        detail = f"too little changed to judge placement ({overall:.2%} of the image)"
        return CheckResult("placement", inside, min_inside, True, HARD, detail)
    if region_share >= min_region:
        detail = f"the product region changed ({region_share:.0%}); {inside:.0%} of all changed pixels lie in it"
        return CheckResult("placement", inside, min_inside, True, HARD, detail)
    if inside < min_inside:
        detail = (
            f"the product seems to be placed elsewhere: {overall:.1%} of the image changed but only "
            f"{inside:.0%} of that in the product region (limit {min_inside:.0%}), "
            f"which barely changed ({region_share:.1%})"
        )
        return CheckResult("placement", inside, min_inside, False, HARD, detail)
    detail = f"{inside:.0%} of the changed pixels lie in the product region"
    return CheckResult("placement", inside, min_inside, True, HARD, detail)


def reference(
    out_small: np.ndarray,
    out_l: np.ndarray,
    ref_small: np.ndarray,
    ref_l: np.ndarray,
    min_ssim: float,
    min_psnr: float,
) -> list[CheckResult]:
    """`reference.ssim` and `reference.psnr` (soft): closeness to a known-good output.

    SSIM of lightness (`out_l`, `ref_l`: L* planes), PSNR over RGB (`out_small`, `ref_small`).
    Both at work scale, which is what a viewer compares and ignores sub-pixel resampling; PSNR is
    therefore higher than a full-resolution PSNR would be. Identical images give PSNR 100 dB.
    """
    ssim = float(measures.ssim_map(out_l, ref_l).mean())
    psnr = measures.psnr(out_small, ref_small)
    return [
        CheckResult(
            "reference.ssim", ssim, min_ssim, ssim >= min_ssim, SOFT,
            f"SSIM with the reference is {ssim:.3f} (at least {min_ssim:.2f} expected)",
        ),
        CheckResult(
            "reference.psnr", psnr, min_psnr, psnr >= min_psnr, SOFT,
            f"PSNR with the reference is {psnr:.1f} dB (at least {min_psnr:.0f} dB expected)",
        ),
    ]
