"""A crossfade for people looking at results: the output over the person, at a chosen share."""

from __future__ import annotations

from pathlib import Path

from PIL import Image

from vton_eval.images import load_rgb


def blend(person: Path, output: Path, share: float) -> Image.Image:
    """The output over the person at `share` (0 = person only, 1 = output only), at the person's size.

    Dragging `share` shows exactly what changed: what moves is what the service painted.
    """
    base = load_rgb(person)
    out = load_rgb(output)
    if out.size != base.size:
        out = out.resize(base.size, Image.Resampling.LANCZOS)
    return Image.blend(base, out, max(0.0, min(1.0, share)))
