"""Stand-ins for services the sandbox does not imitate, for tests only (the outside world's behaviour):

- `QuotaApp`: the SM4LL `/generate` signature answering ZeroGPU quota refusals (the texts Spaces send,
  HTML included) for its first calls, then try-ons;
- `CustomShapeApp`: a try-on service whose call shape no built-in profile has: the category first, the
  person as an ImageEditor with the mask as its layer, a strength, and the image inside a gallery that
  is the second of two outputs. It records the size of each person image it receives.

Both serve in-process on a free loopback port, like the sandbox, and draw the sandbox's composite.
No `from __future__ import annotations`: Gradio reads handler annotations.
"""

import shutil
import tempfile
import threading
from pathlib import Path
from typing import Any

from PIL import Image

from vton_eval.images import load_rgb
from vton_eval.sandbox.app import wait_answering
from vton_eval.sandbox.composite import tryon_composite

from .servers import free_port

ZEROGPU_LONG = ("You have exceeded your GPU quota (60s requested vs. 0s left). "
                '<a style="white-space: nowrap" href="https://huggingface.co/settings/billing/subscription">Subscribe '
                "to Pro</a> to get more ZeroGPU quota. Try again in 23:51:22")
ZEROGPU_SHORT = "You have exceeded your free GPU quota (60s requested vs. 12s left). Please retry in 0:00:01"


def _path(value: Any) -> str | None:
    if isinstance(value, dict):
        return value.get("path")
    return value if isinstance(value, str) else None


class _Served:
    def __init__(self) -> None:
        self.demo: Any = None
        self.url = ""
        self.out = Path(tempfile.mkdtemp(prefix="vton-test-service-"))
        self._count = 0
        self._lock = threading.Lock()

    def _launch(self, demo: Any) -> None:
        port = free_port()
        demo.queue(default_concurrency_limit=4)
        # _frontend=False: not Gradio's 3 s reachability check, which a loaded machine misses; wait_answering waits
        demo.launch(server_name="127.0.0.1", server_port=port, prevent_thread_lock=True, quiet=True, ssr_mode=False,
                    allowed_paths=[str(self.out)], _frontend=False)
        wait_answering(f"http://127.0.0.1:{port}/")
        self.demo, self.url = demo, f"http://127.0.0.1:{port}"

    def _composite(self, person: str, product: str, workflow: str, mask: str | None) -> str:
        image = tryon_composite(load_rgb(Path(person)), load_rgb(Path(product)), workflow,
                                Image.open(mask) if mask else None)
        with self._lock:
            self._count += 1
            target = self.out / f"out-{self._count}.webp"
        image.save(target, format="WEBP")
        return str(target)

    def close(self) -> None:
        if self.demo is not None:
            self.demo.close(verbose=False)
        shutil.rmtree(self.out, ignore_errors=True)  # its answers' images: a run copies what it keeps

    def __enter__(self):
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class QuotaApp(_Served):
    """`/generate(base, product, workflow, mask)`: raises the queued refusal texts first, then answers."""

    def __init__(self, refusals: list[str]) -> None:
        super().__init__()
        import gradio as gr

        self.refusals = list(refusals)
        self.calls = 0

        def generate(base, product, workflow, mask):
            with self._lock:
                self.calls += 1
                refusal = self.refusals.pop(0) if self.refusals else None
            if refusal is not None:
                raise gr.Error(refusal, print_exception=False)
            return self._composite(_path(base), _path(product), workflow, None)

        with gr.Blocks() as demo:
            images = [gr.Image(type="filepath") for _ in range(2)]
            workflow = gr.Dropdown(choices=["eyewear", "footwear", "dress", "top"], value="top")
            mask = gr.Image(type="filepath")
            out = gr.Image(type="filepath")
            gr.Button().click(generate, [images[0], images[1], workflow, mask], out, api_name="generate",
                              preprocess=False)
        self._launch(demo)


CUSTOM_CATEGORIES = {"TOP": "top", "ONE-PIECE": "dress", "LEGS": "bottom"}


class CustomShapeApp(_Served):
    """`/swap(category, garment, model, strength) -> (status text, gallery)`; `model` is an ImageEditor whose
    first layer, when it is not blank, is the mask."""

    def __init__(self) -> None:
        super().__init__()
        import gradio as gr

        self.received: list[dict[str, Any]] = []

        def swap(category, garment, model, strength):
            if category not in CUSTOM_CATEGORIES:
                raise gr.Error(f"unknown category {category}")
            editor = model if isinstance(model, dict) else {}
            person = _path(editor.get("background"))
            layers = editor.get("layers") or []
            mask = _path(layers[0]) if layers else None
            if mask is not None and Image.open(mask).convert("L").getextrema()[0] == \
                    Image.open(mask).convert("L").getextrema()[1]:
                mask = None  # a blank layer: nothing drawn
            with Image.open(person) as image:
                self.received.append({"category": category, "size": image.size, "mask": mask is not None,
                                      "strength": strength})
            return "done", [self._composite(person, _path(garment), CUSTOM_CATEGORIES[category], mask)]

        with gr.Blocks() as demo:
            category = gr.Radio(choices=list(CUSTOM_CATEGORIES), value="TOP", label="Category")
            garment = gr.Image(type="filepath", label="Garment")
            model = gr.ImageEditor(type="filepath", label="Model")
            strength = gr.Slider(0, 1, value=0.5, label="Strength")
            status = gr.Textbox(label="Status")
            gallery = gr.Gallery(label="Results")
            gr.Button().click(swap, [category, garment, model, strength], [status, gallery], api_name="swap",
                              preprocess=False)
        self._launch(demo)
