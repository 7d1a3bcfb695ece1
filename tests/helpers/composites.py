"""Clean try-on composites placed from ground truth, never from the checks' own body geometry.

On a drawn person the truth is the drawing's own layout (where its eyes, torso, dress and feet
were drawn); on the astronaut photo it is boxes measured by hand on the picture. So a clean
composite passing the checks shows that `vton_eval.body` finds the right region, rather than
agreeing with itself.
"""

from __future__ import annotations

from PIL import Image

from vton_eval import workflows
from vton_eval.samples.people import PersonLayout
from vton_eval.sandbox.composite import cutout, fit_box

Box = tuple[float, float, float, float]

# The astronaut (scikit-image's 512x512 portrait), measured on the picture: the eyes, the suit's
# torso from the shoulders down, and (the portrait has no feet) a band along the bottom edge.
ASTRONAUT_BOXES: dict[str, Box] = {
    "eyewear": (172, 88, 272, 128),
    "top": (40, 178, 372, 500),
    "dress": (40, 178, 372, 512),
    "footwear": (92, 424, 356, 512),
}


def _bbox(points: list[tuple[float, float]]) -> Box:
    xs, ys = [p[0] for p in points], [p[1] for p in points]
    return min(xs), min(ys), max(xs), max(ys)


def layout_box(layout: PersonLayout, workflow: str) -> Box:
    """Where `workflow`'s product belongs on a drawn person, from what was drawn."""
    half = 0.09 * layout.height
    if workflow == "eyewear":
        return layout.cx - half, layout.y(0.04), layout.cx + half, layout.y(0.095)
    if workflow == "footwear":
        return layout.cx - 1.6 * half, layout.y(0.91), layout.cx + 1.6 * half, layout.y(1.0)
    if workflow == "top":
        return _bbox(layout.torso_polygon())
    if workflow == "dress":
        return _bbox(layout.dress_polygon())
    raise ValueError(f"no ground truth for {workflow!r}")


def composite_at(base: Image.Image, product: Image.Image, workflow: str, box: Box) -> Image.Image:
    """The product's cut-out fitted into `box` (aspect kept, hung as the workflow hangs it) on `base`."""
    piece = cutout(product)
    fx0, fy0, fx1, fy1 = fit_box(piece.size, box, workflows.get(workflow).anchor)
    piece = piece.resize((fx1 - fx0, fy1 - fy0), Image.BILINEAR)
    canvas = base.convert("RGB")
    canvas.paste(piece.convert("RGB"), (fx0, fy0), piece.getchannel("A"))
    return canvas
