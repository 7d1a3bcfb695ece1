"""Drawn full-body people on plain light backgrounds: stand-ins for model photos.

The figures follow the proportions `vton_eval.body` assumes when no face is found (about
7.5 heads tall, eyes at 6.5 % of the height, shoulders at 17 %, knees near 72 %, soles at 100 %),
so the sandbox places products where a viewer expects them. Drawing happens at twice the size and
is downsampled, which gives anti-aliased edges and keeps the output deterministic.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from PIL import Image, ImageDraw

SKIN_TONES = [(255, 219, 186), (241, 194, 150), (224, 172, 125), (198, 134, 90), (141, 85, 54), (96, 60, 40)]
HAIR_COLOURS = [(35, 28, 24), (80, 50, 30), (140, 90, 45), (200, 160, 90), (120, 40, 25), (60, 60, 64)]
CLOTHES = [
    (52, 101, 164),
    (204, 82, 60),
    (72, 140, 90),
    (230, 180, 60),
    (90, 70, 140),
    (40, 40, 48),
    (120, 160, 190),
    (170, 60, 90),
    (200, 120, 50),
    (70, 120, 120),
]
TROUSERS = [(40, 50, 80), (60, 60, 60), (110, 90, 70), (30, 30, 34), (80, 100, 130)]
SHOES = [(30, 30, 30), (110, 70, 40), (200, 200, 205), (150, 40, 40)]
BACKGROUNDS = [(242, 242, 238), (234, 240, 246), (246, 238, 230), (238, 244, 236), (244, 240, 248)]
POSES = ("arms_down", "a_pose", "hands_on_hips")
HAIR_STYLES = ("short", "long", "bun")


@dataclass(frozen=True)
class PersonLayout:
    """Where the drawn figure's parts are, in output pixels (for building masks)."""

    top: float
    height: float
    cx: float
    size: tuple[int, int]

    def y(self, fraction: float) -> float:
        return self.top + fraction * self.height

    def dress_polygon(self) -> list[tuple[float, float]]:
        """A garment-shaped region from the shoulders to just below the knees."""
        u, cx = self.height, self.cx
        return [
            (cx - 0.125 * u, self.y(0.165)),
            (cx + 0.125 * u, self.y(0.165)),
            (cx + 0.11 * u, self.y(0.30)),
            (cx + 0.16 * u, self.y(0.74)),
            (cx - 0.16 * u, self.y(0.74)),
            (cx - 0.11 * u, self.y(0.30)),
        ]

    def torso_polygon(self) -> list[tuple[float, float]]:
        u, cx = self.height, self.cx
        return [
            (cx - 0.14 * u, self.y(0.165)),
            (cx + 0.14 * u, self.y(0.165)),
            (cx + 0.12 * u, self.y(0.46)),
            (cx - 0.12 * u, self.y(0.46)),
        ]


def _ellipse(draw: ImageDraw.ImageDraw, cx: float, cy: float, rx: float, ry: float, fill) -> None:
    draw.ellipse((cx - rx, cy - ry, cx + rx, cy + ry), fill=fill)


def _limb(draw: ImageDraw.ImageDraw, points: list[tuple[float, float]], width: float, fill) -> None:
    draw.line(points, fill=fill, width=max(1, round(width)), joint="curve")
    r = width / 2
    for x, y in (points[0], points[-1]):
        _ellipse(draw, x, y, r, r, fill)


def person_layout(seed: int, size: tuple[int, int] = (384, 768)) -> PersonLayout:
    """The layout `draw_person(seed, size)` draws, without drawing it."""
    rng = random.Random(seed)
    width, height = size
    figure_h = height * rng.uniform(0.80, 0.90)
    top = rng.uniform(0.03 * height, height - figure_h - 0.02 * height)
    cx = width / 2 + rng.uniform(-0.06, 0.06) * width
    return PersonLayout(top=top, height=figure_h, cx=cx, size=size)


def draw_person(seed: int, size: tuple[int, int] = (384, 768)) -> Image.Image:
    """A cartoon person standing on a plain light background, varied by `seed` (RGB)."""
    image, _ = draw_person_with_layout(seed, size)
    return image


def draw_person_with_layout(
    seed: int, size: tuple[int, int] = (384, 768)
) -> tuple[Image.Image, PersonLayout]:
    layout = person_layout(seed, size)
    rng = random.Random(seed * 7919 + 1)
    skin = rng.choice(SKIN_TONES)
    hair = rng.choice(HAIR_COLOURS)
    shirt = rng.choice(CLOTHES)
    trousers = rng.choice(TROUSERS)
    shoes = rng.choice(SHOES)
    background = rng.choice(BACKGROUNDS)
    pose = POSES[seed % len(POSES)]
    hair_style = HAIR_STYLES[(seed // len(POSES)) % len(HAIR_STYLES)]

    k = 2  # supersampling factor
    canvas = Image.new("RGB", (size[0] * k, size[1] * k), background)
    draw = ImageDraw.Draw(canvas)
    u = layout.height * k
    cx = layout.cx * k

    def y(fraction: float) -> float:
        return layout.y(fraction) * k

    # Long hair falls behind the neck and shoulders, so it is drawn before everything else.
    if hair_style == "long":
        draw.rounded_rectangle((cx - 0.06 * u, y(0.02), cx + 0.06 * u, y(0.2)), radius=0.03 * u, fill=hair)
    # Legs and shoes first, so the shirt hem overlaps the waist.
    leg_w = 0.062 * u
    for side in (-1, 1):
        hip_x = cx + side * 0.045 * u
        ankle_x = cx + side * 0.05 * u
        _limb(draw, [(hip_x, y(0.47)), (ankle_x, y(0.935))], leg_w, trousers)
        # Low shoes, toes turned out: a product pair pasted over them hides them.
        toe_x = ankle_x + side * 0.03 * u
        draw.rounded_rectangle(
            (
                min(ankle_x - 0.032 * u, toe_x - 0.045 * u),
                y(0.952),
                max(ankle_x + 0.032 * u, toe_x + 0.045 * u),
                y(1.0),
            ),
            radius=0.02 * u,
            fill=shoes,
        )
    draw.polygon(
        [(cx - 0.1 * u, y(0.42)), (cx + 0.1 * u, y(0.42)), (cx + 0.1 * u, y(0.52)), (cx - 0.1 * u, y(0.52))],
        fill=trousers,
    )

    # Arms, behind the torso at the shoulder.
    arm_w = 0.048 * u
    for side in (-1, 1):
        shoulder = (cx + side * 0.11 * u, y(0.185))
        if pose == "arms_down":
            elbow, hand = (cx + side * 0.135 * u, y(0.31)), (cx + side * 0.14 * u, y(0.44))
        elif pose == "a_pose":
            elbow, hand = (cx + side * 0.16 * u, y(0.30)), (cx + side * 0.21 * u, y(0.42))
        else:
            elbow, hand = (cx + side * 0.2 * u, y(0.31)), (cx + side * 0.1 * u, y(0.44))
        _limb(draw, [shoulder, elbow, hand], arm_w, skin)
        _limb(
            draw,
            [shoulder, ((shoulder[0] + elbow[0]) / 2, (shoulder[1] + elbow[1]) / 2)],
            arm_w * 1.25,
            shirt,
        )
        _ellipse(draw, hand[0], hand[1], 0.028 * u, 0.03 * u, skin)

    # Neck, torso (shirt), and a collar line.
    draw.rectangle((cx - 0.02 * u, y(0.11), cx + 0.02 * u, y(0.18)), fill=skin)
    draw.polygon(
        [
            (cx - 0.12 * u, y(0.17)),
            (cx + 0.12 * u, y(0.17)),
            (cx + 0.1 * u, y(0.47)),
            (cx - 0.1 * u, y(0.47)),
        ],
        fill=shirt,
    )
    draw.chord((cx - 0.03 * u, y(0.15), cx + 0.03 * u, y(0.19)), 0, 180, fill=skin)

    # Head: hair behind, face, hair on top, eyes, mouth.
    head_cy, head_rx, head_ry = y(0.068), 0.047 * u, 0.056 * u
    if hair_style == "bun":
        _ellipse(draw, cx, y(0.016), 0.026 * u, 0.016 * u, hair)
    _ellipse(draw, cx, head_cy, head_rx, head_ry, skin)
    draw.chord(
        (cx - 0.052 * u, y(0.0 if hair_style != "bun" else 0.012), cx + 0.052 * u, y(0.095)),
        180,
        360,
        fill=hair,
    )
    for side in (-1, 1):
        _ellipse(draw, cx + side * 0.018 * u, y(0.065), 0.0065 * u, 0.0065 * u, (30, 30, 36))
        _ellipse(draw, cx + side * 0.016 * u, y(0.063), 0.002 * u, 0.002 * u, (250, 250, 250))
    draw.arc(
        (cx - 0.015 * u, y(0.085), cx + 0.015 * u, y(0.105)),
        20,
        160,
        fill=(150, 60, 60),
        width=max(1, round(0.004 * u)),
    )

    return canvas.resize(size, Image.LANCZOS), layout


def person_mask(layout: PersonLayout, region: str) -> Image.Image:
    """A white-on-black mask of the figure's `region` ("dress" or "top"), the size of the image."""
    mask = Image.new("L", (layout.size[0] * 2, layout.size[1] * 2), 0)
    polygon = layout.dress_polygon() if region == "dress" else layout.torso_polygon()
    ImageDraw.Draw(mask).polygon([(x * 2, y * 2) for x, y in polygon], fill=255)
    return mask.resize(layout.size, Image.LANCZOS).point(lambda v: 255 if v >= 128 else 0)
