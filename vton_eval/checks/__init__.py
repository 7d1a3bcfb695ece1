"""Cheap classical checks on a try-on output: is it a real answer or a silent failure?

A service can return an image and still have failed. Each output is judged against its inputs
(person image, product image, workflow, optional mask, optional reference) with numpy, Pillow
and scikit-image only, on downscaled copies (long side 384 px by default; ~50 ms for a 1 MP output on one core).

======================  ========  ====================================================================
check name              severity  fails when
======================  ========  ====================================================================
decodes                 hard      the output does not decode completely
size                    hard      the aspect ratio differs from the person image's ("wrong size")
size.resized            soft      same aspect, different pixel size (then compared at the person's size)
blank                   hard      (nearly) one colour: all black, all white, a flat fill
product_returned        hard      the output is the product image (as is, stretched, letterboxed, cropped)
noop                    hard      the person image came back (nearly) unchanged
preservation.           soft/hard a moderate / most share of the pixels outside the product region
  changed_share                   changed colour (hard = "repainted")
preservation.ssim       soft/hard structure outside the region degraded / lost (blur, re-render)
change_in_region        soft      the product region barely changed
placement               hard      the region barely changed but the image did: product put elsewhere
identity                soft/hard the face is not the person's (aligned faces; hard: pasted or blurred away)
body                    soft/hard a body part's landmarks moved (hard: a moved limb, another body)
body.scale              soft/hard the person's size changed (hard: rescaled or cropped)
background              soft/hard outside the person the photo changed (hard: replaced)
fidelity.colour         hard      the painted region's colours are not the product's (a different garment)
fidelity.texture        soft      the region's pattern is unlike the product's
reference.ssim / .psnr  soft      far from the reference image (only when one is given)
======================  ========  ====================================================================

Thresholds: `Thresholds` (see `vton_eval.checks.config` for the table of keys and defaults).
This package imports no UI library (streamlit, plotly, gradio).
"""

from vton_eval.checks.config import Thresholds
from vton_eval.checks.likeness import difference_image, similarity
from vton_eval.checks.results import HARD, SOFT, CheckReport, CheckResult
from vton_eval.checks.run import check_paths, run_checks

__all__ = [
    "HARD",
    "SOFT",
    "CheckReport",
    "CheckResult",
    "Thresholds",
    "check_paths",
    "difference_image",
    "run_checks",
    "similarity",
]
