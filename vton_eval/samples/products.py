"""Drawn product shots on a plain white background: glasses, shoes, tops and dresses.

Like a catalogue packshot: the product alone, centred, on white, so a try-on model (or the
sandbox's cut-out) can separate it from the background. Drawn at twice the size and downsampled
for smooth edges. Palettes stay clear of magenta, the sandbox's "inappropriate content" trigger.
"""

from __future__ import annotations

import random

from PIL import Image, ImageDraw

KINDS = ("glasses", "shoes", "top", "dress")
WHITE = (255, 255, 255)

FRAME_COLOURS = [(20, 20, 24), (110, 60, 30), (190, 150, 60), (30, 60, 130), (150, 30, 30), (90, 90, 96)]
LENS_TINTS = [None, (60, 60, 70), (90, 60, 40), (40, 70, 60)]
GLASSES_SHAPES = ("round", "rectangle", "aviator", "cat_eye")
SHOE_COLOURS = [(240, 240, 240), (30, 30, 30), (170, 40, 40), (60, 90, 160), (130, 85, 50), (70, 130, 80)]
SHOE_SHAPES = ("sneaker", "boot", "loafer")
GARMENT_COLOURS = [
    (40, 90, 170),
    (200, 60, 50),
    (60, 140, 90),
    (235, 190, 60),
    (30, 30, 40),
    (120, 170, 210),
    (230, 130, 60),
    (100, 70, 150),
    (150, 40, 70),
    (80, 150, 150),
]
TOP_SHAPES = ("tshirt", "tank", "long_sleeve")
DRESS_SHAPES = ("a_line", "sheath", "strappy")


def _darker(colour: tuple[int, int, int], factor: float = 0.7) -> tuple[int, int, int]:
    return tuple(int(c * factor) for c in colour)  # type: ignore[return-value]


def _glasses(rng: random.Random, seed: int) -> Image.Image:
    k, w, h = 2, 320, 140
    img = Image.new("RGB", (w * k, h * k), WHITE)
    d = ImageDraw.Draw(img)
    shape = GLASSES_SHAPES[seed % len(GLASSES_SHAPES)]
    frame = rng.choice(FRAME_COLOURS)
    tint = rng.choice(LENS_TINTS)
    line = 7 * k if shape != "aviator" else 5 * k
    cy, half_gap, lens_w, lens_h = 70 * k, 18 * k, 110 * k, 74 * k
    for side in (-1, 1):
        inner = w * k / 2 + side * half_gap
        outer = inner + side * lens_w
        x0, x1 = min(inner, outer), max(inner, outer)
        box = (x0, cy - lens_h / 2, x1, cy + lens_h / 2)
        if shape == "round":
            d.ellipse(box, fill=tint, outline=frame, width=line)
        elif shape == "rectangle":
            d.rounded_rectangle(box, radius=14 * k, fill=tint, outline=frame, width=line)
        elif shape == "aviator":
            # A teardrop: flat top, deep rounded bottom towards the outside.
            top = cy - lens_h / 2
            pts = [
                (x0, top),
                (x1, top),
                (x1 if side < 0 else x1 - 10 * k, cy + 10 * k),
                ((x0 + x1) / 2 + side * 14 * k, cy + lens_h / 2),
                (x0 if side > 0 else x0 + 10 * k, cy + 10 * k),
            ]
            d.polygon(pts, fill=tint, outline=frame, width=line)
        else:
            pts = [
                (x0, cy - lens_h / 2 + (0 if side < 0 else 14 * k)),
                (x1, cy - lens_h / 2 + (14 * k if side < 0 else 0)),
                (x1 - 8 * k, cy + lens_h / 2 - 8 * k),
                (x0 + 8 * k, cy + lens_h / 2 - 8 * k),
            ]
            d.polygon(pts, fill=tint, outline=frame, width=line)
        # Temple stub at the outer edge, as seen from the front.
        edge = x0 if side < 0 else x1
        d.line(
            [(edge, cy - lens_h / 2 + 10 * k), (edge + side * 12 * k, cy - lens_h / 2 + 6 * k)],
            fill=frame,
            width=line,
        )
    d.arc(
        (w * k / 2 - half_gap - 2 * k, cy - 22 * k, w * k / 2 + half_gap + 2 * k, cy + 6 * k),
        200,
        340,
        fill=frame,
        width=line,
    )
    return img.resize((w, h), Image.LANCZOS)


def _shoe(
    d: ImageDraw.ImageDraw, x0: float, y1: float, length: float, colour, shape: str, flip: bool, k: int
) -> None:
    """One shoe in side view, heel at x=0 and toe at x=length (mirrored when `flip`)."""

    def pt(x: float, y: float) -> tuple[float, float]:
        return (x0 + (length - x if flip else x), y1 - y)

    sole_h = 10 * k
    height = {"sneaker": 58 * k, "boot": 112 * k, "loafer": 40 * k}[shape]
    collar = {"sneaker": 0.34, "boot": 0.36, "loafer": 0.42}[shape] * length
    # Outline: rounded heel, the collar (opening), the instep sloping down to a rounded toe.
    upper = [
        pt(0.02 * length, sole_h),
        pt(0.0, 0.35 * height),
        pt(0.03 * length, 0.8 * height),
        pt(0.08 * length, height),
        pt(collar, 0.92 * height),
        pt(collar + 0.06 * length, 0.8 * height),
        pt(0.62 * length, 0.62 * height if shape != "boot" else 0.42 * height),
        pt(0.86 * length, 0.42 * height if shape != "boot" else 0.3 * height),
        pt(0.97 * length, 0.3 * height if shape != "boot" else 0.2 * height),
        pt(length, 0.12 * height),
        pt(0.98 * length, sole_h),
    ]
    d.polygon(upper, fill=colour)
    sole = (40, 40, 40) if sum(colour) > 600 else (236, 236, 230)
    left, right = sorted([pt(0, 0)[0], pt(length, 0)[0]])
    d.rounded_rectangle((left, y1 - sole_h - 2 * k, right, y1), radius=5 * k, fill=sole)
    if shape == "sneaker":
        lace = WHITE if sum(colour) < 600 else (40, 40, 40)
        for i in range(3):
            a = pt(collar + (0.08 + i * 0.08) * length, (0.86 - i * 0.1) * height)
            b = pt(collar + (0.12 + i * 0.08) * length, (0.7 - i * 0.1) * height)
            d.line([a, b], fill=lace, width=3 * k)
        d.line([pt(0.1 * length, 0.4 * height), pt(0.5 * length, 0.3 * height)], fill=lace, width=4 * k)
    elif shape == "loafer":
        d.line(
            [pt(0.55 * length, 0.55 * height), pt(0.8 * length, 0.42 * height)],
            fill=_darker(colour),
            width=4 * k,
        )
    else:
        d.line(
            [pt(0.04 * length, 0.55 * height), pt(0.4 * length, 0.55 * height)],
            fill=_darker(colour),
            width=3 * k,
        )


def _shoes(rng: random.Random, seed: int) -> Image.Image:
    k, w, h = 2, 320, 160
    img = Image.new("RGB", (w * k, h * k), WHITE)
    d = ImageDraw.Draw(img)
    shape = SHOE_SHAPES[seed % len(SHOE_SHAPES)]
    colour = rng.choice(SHOE_COLOURS)
    length = 140 * k
    # A pair seen from the side, toes pointing outwards: left shoe mirrored.
    _shoe(d, 14 * k, 146 * k, length, colour, shape, True, k)
    _shoe(d, w * k - 14 * k - length, 146 * k, length, colour, shape, False, k)
    return img.resize((w, h), Image.LANCZOS)


def _top(rng: random.Random, seed: int) -> Image.Image:
    k, w, h = 2, 320, 300
    img = Image.new("RGB", (w * k, h * k), WHITE)
    d = ImageDraw.Draw(img)
    shape = TOP_SHAPES[seed % len(TOP_SHAPES)]
    colour = rng.choice(GARMENT_COLOURS)
    cx = w * k / 2
    sh, hem, half_body, neck = 30 * k, 280 * k, 96 * k, 36 * k
    if shape == "tank":
        body = [
            (cx - 70 * k, sh),
            (cx - 48 * k, sh),
            (cx - 36 * k, sh + 55 * k),
            (cx + 36 * k, sh + 55 * k),
            (cx + 48 * k, sh),
            (cx + 70 * k, sh),
            (cx + half_body, sh + 95 * k),
            (cx + half_body - 4 * k, hem),
            (cx - half_body + 4 * k, hem),
            (cx - half_body, sh + 95 * k),
        ]
        d.polygon(body, fill=colour)
    else:
        shoulder = 64 * k
        for side in (-1, 1):
            if shape == "tshirt":
                sleeve = [
                    (cx + side * shoulder, sh),
                    (cx + side * 150 * k, sh + 70 * k),
                    (cx + side * 126 * k, sh + 104 * k),
                    (cx + side * half_body, sh + 74 * k),
                ]
            else:
                sleeve = [
                    (cx + side * shoulder, sh),
                    (cx + side * 156 * k, sh + 225 * k),
                    (cx + side * 132 * k, sh + 236 * k),
                    (cx + side * half_body, sh + 86 * k),
                ]
            d.polygon(sleeve, fill=colour)
        body = [
            (cx - half_body, sh + 22 * k),
            (cx - shoulder, sh),
            (cx + shoulder, sh),
            (cx + half_body, sh + 22 * k),
            (cx + half_body - 4 * k, hem),
            (cx - half_body + 4 * k, hem),
        ]
        d.polygon(body, fill=colour)
        d.chord((cx - neck, sh - 24 * k, cx + neck, sh + 30 * k), 0, 180, fill=WHITE)
        d.arc((cx - neck, sh - 24 * k, cx + neck, sh + 30 * k), 0, 180, fill=_darker(colour), width=5 * k)
    # A simple print or stripes, so tops are told apart at a glance.
    if rng.random() < 0.5:
        stripe = _darker(colour, 0.6)
        for y in range(sh + 110 * k, hem - 10 * k, 36 * k):
            d.rectangle((cx - half_body + 6 * k, y, cx + half_body - 6 * k, y + 12 * k), fill=stripe)
    else:
        mark = WHITE if sum(colour) < 450 else (40, 40, 40)
        d.ellipse((cx - 26 * k, sh + 95 * k, cx + 26 * k, sh + 147 * k), fill=mark)
    return img.resize((w, h), Image.LANCZOS)


def _dress(rng: random.Random, seed: int) -> Image.Image:
    k, w, h = 2, 260, 420
    img = Image.new("RGB", (w * k, h * k), WHITE)
    d = ImageDraw.Draw(img)
    shape = DRESS_SHAPES[seed % len(DRESS_SHAPES)]
    colour = rng.choice(GARMENT_COLOURS)
    cx, top, waist, hem = w * k / 2, 20 * k, 150 * k, 405 * k
    flare = {"a_line": 122 * k, "sheath": 82 * k, "strappy": 110 * k}[shape]
    if shape == "strappy":
        for side in (-1, 1):
            d.line([(cx + side * 34 * k, top), (cx + side * 46 * k, top + 45 * k)], fill=colour, width=6 * k)
        bodice = [
            (cx - 64 * k, top + 40 * k),
            (cx + 64 * k, top + 40 * k),
            (cx + 56 * k, waist),
            (cx - 56 * k, waist),
        ]
    else:
        bodice = [
            (cx - 70 * k, top),
            (cx - 28 * k, top),
            (cx, top + 34 * k),
            (cx + 28 * k, top),
            (cx + 70 * k, top),
            (cx + 56 * k, waist),
            (cx - 56 * k, waist),
        ]
        for side in (-1, 1):  # cap sleeves
            d.polygon(
                [
                    (cx + side * 70 * k, top),
                    (cx + side * 94 * k, top + 32 * k),
                    (cx + side * 66 * k, top + 48 * k),
                ],
                fill=colour,
            )
    d.polygon(bodice, fill=colour)
    d.polygon([(cx - 56 * k, waist), (cx + 56 * k, waist), (cx + flare, hem), (cx - flare, hem)], fill=colour)
    if rng.random() < 0.6:
        d.rectangle((cx - 57 * k, waist - 8 * k, cx + 57 * k, waist + 6 * k), fill=_darker(colour, 0.6))
    # Pleats: darker lines fanning out from the waist.
    for i in range(-2, 3):
        d.line(
            [(cx + i * 20 * k, waist + 10 * k), (cx + i * flare * 0.35, hem - 6 * k)],
            fill=_darker(colour, 0.85),
            width=3 * k,
        )
    return img.resize((w, h), Image.LANCZOS)


_DRAWERS = {"glasses": _glasses, "shoes": _shoes, "top": _top, "dress": _dress}


def draw_product(kind: str, seed: int) -> Image.Image:
    """A product shot of `kind` (glasses, shoes, top or dress) on white, varied by `seed` (RGB)."""
    if kind not in _DRAWERS:
        raise ValueError(f"unknown product kind {kind!r} (expected one of {', '.join(KINDS)})")
    return _DRAWERS[kind](random.Random(f"{kind}:{seed}"), seed)


def inappropriate_product(size: tuple[int, int] = (256, 256)) -> Image.Image:
    """An image the sandbox refuses as inappropriate: mostly pure magenta (#FF00FF), with a small
    white frame and a dark square so it still looks like a picture rather than a flat fill."""
    width, height = size
    img = Image.new("RGB", size, (255, 0, 255))
    d = ImageDraw.Draw(img)
    border = max(1, min(width, height) // 16)
    d.rectangle((0, 0, width - 1, height - 1), outline=WHITE, width=border)
    d.rectangle((width * 0.4, height * 0.4, width * 0.6, height * 0.6), fill=(40, 40, 40))
    return img
