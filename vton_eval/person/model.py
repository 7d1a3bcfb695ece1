"""What the person parser found in one image: pose landmarks, a person mask, a face mesh.

A `PersonParse` is plain data (numpy arrays in the parsed image's pixels) and travels as JSON: to the
check worker and back, and into the store's parse cache (`person_parses`), so each person image is
parsed once per store.
"""

from __future__ import annotations

import base64
import io
import json
from dataclasses import dataclass
from typing import Any

import numpy as np
from PIL import Image

from vton_eval import workflows

FORMAT = 1

# MediaPipe Pose's 33 landmarks, in its order: the names a workflow's region rule uses.
POSE_NAMES: tuple[str, ...] = workflows.POSE_LANDMARKS
POSE_INDEX = {name: i for i, name in enumerate(POSE_NAMES)}

# Face mesh (468 points) groups, by MediaPipe's canonical indices ("left" is the person's left).
FACE_GROUPS: dict[str, tuple[int, ...]] = {
    "face.left_eye": (263, 249, 390, 373, 374, 380, 381, 382, 362, 466, 388, 387, 386, 385, 384, 398),
    "face.right_eye": (33, 7, 163, 144, 145, 153, 154, 155, 133, 246, 161, 160, 159, 158, 157, 173),
    "face.left_brow": (276, 283, 282, 295, 285, 300, 293, 334, 296, 336),
    "face.right_brow": (46, 53, 52, 65, 55, 70, 63, 105, 66, 107),
    "face.oval": (10, 338, 297, 332, 284, 251, 389, 356, 454, 323, 361, 288, 397, 365, 379, 378, 400, 377, 152,
                  148, 176, 149, 150, 136, 172, 58, 132, 93, 234, 127, 162, 21, 54, 103, 67, 109),
    "face.mouth": (61, 291, 0, 17, 13, 14),
    "face.nose": (1, 2, 4, 5, 6),
}
FACE_GROUPS["face.eyes"] = FACE_GROUPS["face.left_eye"] + FACE_GROUPS["face.right_eye"]
FACE_GROUPS["face.brows"] = FACE_GROUPS["face.left_brow"] + FACE_GROUPS["face.right_brow"]
# What a face group falls back to when there is a pose but no face mesh (a small or turned face).
FACE_FALLBACK: dict[str, tuple[str, ...]] = {
    "face.eyes": ("left_eye_inner", "left_eye", "left_eye_outer", "right_eye_inner", "right_eye", "right_eye_outer"),
    "face.brows": (),
    "face.oval": ("left_ear", "right_ear", "nose", "mouth_left", "mouth_right"),
}
# A landmark counts as seen at or above this visibility (MediaPipe's likelihood of being in view).
VISIBLE = 0.5


@dataclass(frozen=True)
class PersonParse:
    """One image's parse. `found` is False when no person was found (then only `size` and `parser` say
    anything). Coordinates are pixels of the parsed image (`size` = width, height)."""

    size: tuple[int, int]
    found: bool
    parser: str
    pose: np.ndarray | None = None  # (33, 3): x, y, visibility
    mask: np.ndarray | None = None  # bool (h, w), the person's pixels, at a reduced size
    face: np.ndarray | None = None  # (468, 2): x, y of the face mesh, when a face was found

    def point(self, name: str) -> tuple[float, float, float]:
        """A pose landmark by name: (x, y, visibility)."""
        x, y, v = self.pose[POSE_INDEX[name]]  # type: ignore[index]
        return float(x), float(y), float(v)

    def points(self, names: tuple[str, ...] | list[str]) -> np.ndarray:
        """(n, 2) pixel coordinates of named points: pose names, or face groups ("face.eyes"), which fall
        back to the pose's face points when there is no face mesh."""
        out: list[np.ndarray] = []
        for name in names:
            if name.startswith("face."):
                if self.face is not None:
                    out.append(self.face[list(FACE_GROUPS[name])])
                elif self.pose is not None and FACE_FALLBACK.get(name):
                    out.append(self.pose[[POSE_INDEX[n] for n in FACE_FALLBACK[name]], :2])
            elif self.pose is not None:
                out.append(self.pose[POSE_INDEX[name], :2][None])
        return np.concatenate(out) if out else np.zeros((0, 2))

    def person_mask(self, size: tuple[int, int]) -> np.ndarray | None:
        """The person mask resized to `size` (width, height), bool; None without a mask."""
        if self.mask is None:
            return None
        image = Image.fromarray(self.mask.astype(np.uint8) * 255)
        return np.asarray(image.resize(size, Image.BILINEAR)) >= 128

    def torso_length(self) -> float | None:
        """Shoulder centre to hip centre in pixels (the body's unit), else 1.6 shoulder widths."""
        if self.pose is None:
            return None
        shoulders = (self.pose[11, :2] + self.pose[12, :2]) / 2
        hips = (self.pose[23, :2] + self.pose[24, :2]) / 2
        length = float(np.linalg.norm(hips - shoulders))
        width = float(np.linalg.norm(self.pose[11, :2] - self.pose[12, :2]))
        return max(length, 1.6 * width, 1.0)

    def scaled(self, size: tuple[int, int]) -> PersonParse:
        """The same parse in the pixels of an image of `size` (the same photo at another size)."""
        sx, sy = size[0] / self.size[0], size[1] / self.size[1]
        pose = face = None
        if self.pose is not None:
            pose = self.pose.copy()
            pose[:, 0] *= sx
            pose[:, 1] *= sy
        if self.face is not None:
            face = self.face * np.array([sx, sy])
        return PersonParse(size, self.found, self.parser, pose, self.mask, face)

    def to_json(self) -> str:
        data: dict[str, Any] = {"format": FORMAT, "parser": self.parser, "size": list(self.size),
                                "found": self.found}
        if self.pose is not None:
            data["pose"] = [[round(float(x), 1), round(float(y), 1), round(float(v), 3)] for x, y, v in self.pose]
        if self.face is not None:
            data["face"] = [[round(float(x), 1), round(float(y), 1)] for x, y in self.face]
        if self.mask is not None:
            buf = io.BytesIO()
            Image.fromarray(self.mask).convert("1").save(buf, "PNG", optimize=True)
            data["mask"] = base64.b64encode(buf.getvalue()).decode("ascii")
        return json.dumps(data, separators=(",", ":"))

    @classmethod
    def from_json(cls, text: str | dict[str, Any]) -> PersonParse:
        data = json.loads(text) if isinstance(text, str) else text
        if data.get("format") != FORMAT:
            raise ValueError(f"unknown person parse format {data.get('format')!r}")
        mask = None
        if data.get("mask"):
            mask = np.asarray(Image.open(io.BytesIO(base64.b64decode(data["mask"]))).convert("L")) >= 128
        pose = np.asarray(data["pose"], dtype=np.float64) if data.get("pose") else None
        face = np.asarray(data["face"], dtype=np.float64) if data.get("face") else None
        return cls(tuple(data["size"]), bool(data["found"]), str(data["parser"]), pose, mask, face)  # type: ignore[arg-type]
