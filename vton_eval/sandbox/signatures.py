"""The sandbox's signatures: each try-on service's API as its public app code declares it, served locally.

One signature per built-in profile, written from the service's own app (not from our profile, so a
test of a profile against its signature proves the profile, not a copy of it): the same API name,
the same components in the same order (ImageEditor dicts, radios, sliders), the same output shape
(one image, a tuple, a gallery) and the same habits (CatVTON puts the inputs beside the result unless
asked for the result only; Kolors answers trouble in a text output instead of raising). Inside each,
the sandbox's usual work (`SandboxService.generate`: quota, input rules, faults, the composite).

Gradio preprocesses the inputs as it does for the real apps (same component types: `type="pil"`,
`"numpy"`, `"filepath"`, an ImageEditor dict), so what fails inside Gradio for a real app fails here too:
CatVTON's ImageEditor re-saves an uploaded background as RGBA in the upload's own format, which a JPEG
cannot hold. What a handler is handed becomes files for the service through `handed.HandedFiles`. Only
the SM4LL signature takes its uploads unprocessed (`preprocess=False`): the Space's code is not public,
and its documented refusals of a GIF or a corrupt upload are messages of its own, which Gradio's
decoding would pre-empt with an anonymous error.

The code runs under every Gradio the compatibility suite serves (4.16 to current); the few differences
go through `gradio_compat`. No `from __future__ import annotations` here: Gradio finds the `gr.Request`
parameter of a handler through its evaluated annotation.
"""

import asyncio
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from vton_eval.sandbox.gradio_compat import supported
from vton_eval.sandbox.handed import HandedFiles
from vton_eval.sandbox.rules import refusal, upload_path
from vton_eval.sandbox.service import SandboxService

# Apps launched with show_error=True (CatVTON's app.py): an exception's own message reaches the client.
SHOWS_ERRORS = frozenset({"catvton"})

# The services' own category values (from their apps) and the workflow the sandbox draws for each.
CATVTON_TYPES = {"upper": "top", "lower": "bottom", "overall": "dress"}
OOTD_CATEGORIES = {"Upper-body": "top", "Lower-body": "bottom", "Dress": "dress"}
LEFFA_GARMENTS = {"upper_body": "top", "lower_body": "bottom", "dresses": "dress"}
OMNITRY_CLASSES = ("top clothes", "bottom clothes", "dress", "shoe", "earrings", "bracelet", "necklace", "ring",
                   "sunglasses", "glasses", "belt", "bag", "hat", "tie", "bow tie")
OMNITRY_DRAWN = {"top clothes": "top", "bottom clothes": "bottom", "dress": "dress", "shoe": "footwear",
                 "sunglasses": "eyewear", "glasses": "eyewear"}
CATVTON_SHOW = ("result only", "input & result", "input & mask & result")


def _client(request: Any) -> str:
    return request.client.host if request is not None and request.client else "unknown"


def _category(value: Any, table: dict[str, str], what: str) -> str:
    if value not in table:
        raise refusal(f"Unknown {what} {str(value)!r}. Choose one of: {', '.join(table)}.")
    return table[value]


def build(name: str, service: SandboxService) -> None:
    """Add signature `name`'s components and events to the Blocks being built."""
    BUILDERS[name](service, HandedFiles(service.output_dir / "handed"))


def _sm4ll(service: SandboxService, files: HandedFiles) -> None:
    import gradio as gr

    async def generate(base, product, workflow, mask, request: gr.Request):
        return await service.generate(base, product, workflow, mask, client=_client(request))

    gr.Markdown("### VTON sandbox: SM4LL-VTON\nThe Space's `/generate` API; a fake try-on (the product pasted on "
                "the person), optional injected faults.")
    with gr.Row():
        base = gr.Image(label="Person image", type="filepath", image_mode=None, sources=["upload"])
        product = gr.Image(label="Product image", type="filepath", image_mode=None, sources=["upload"])
        mask = gr.Image(label="Mask (optional)", type="filepath", image_mode=None, sources=["upload"])
    workflow = gr.Dropdown(choices=list(service.offered), value=service.offered[0], label="Workflow",
                           allow_custom_value=True)
    button = gr.Button("Generate", variant="primary")
    output = gr.Image(label="Result", type="filepath", **supported(gr.Image, format="webp"))
    button.click(generate, inputs=[base, product, workflow, mask], outputs=output, api_name="generate",
                 preprocess=False)


def _idm_vton(service: SandboxService, files: HandedFiles) -> None:
    """yisol/IDM-VTON: an ImageEditor person (auto-mask of the upper body, or the drawn layer), -> (image, mask).
    Gradio hands it PIL images (the editor's background and layers, the garment)."""
    import gradio as gr

    async def start_tryon(dict, garm_img, garment_des, is_checked, is_checked_crop, denoise_steps, seed,  # noqa: A002
                          request: gr.Request):
        editor = dict if isinstance(dict, type({})) else {}
        mask = None
        if not is_checked:  # the app reads the first drawn layer
            layers = editor.get("layers") or []
            if not layers:
                raise refusal("list index out of range")
            mask = layers[0]
        person, garment, mask = await asyncio.to_thread(
            lambda: [files.path(v) for v in (editor.get("background"), garm_img, mask)])
        result = await service.generate(person, garment, "top", mask, client=_client(request))
        return result, result

    gr.Markdown("## IDM-VTON (sandbox)")
    imgs = gr.ImageEditor(sources="upload", type="pil", label="Human. Mask with pen or use auto-masking")
    is_checked = gr.Checkbox(label="Yes", info="Use auto-generated mask", value=True)
    is_checked_crop = gr.Checkbox(label="Yes", info="Use auto-crop & resizing", value=False)
    garm_img = gr.Image(label="Garment", sources="upload", type="pil")
    prompt = gr.Textbox(placeholder="Description of garment", show_label=False)
    image_out = gr.Image(label="Output")
    masked_img = gr.Image(label="Masked image output")
    denoise_steps = gr.Number(label="Denoising Steps", minimum=20, maximum=40, value=30, step=1)
    seed = gr.Number(label="Seed", minimum=-1, maximum=2147483647, step=1, value=42)
    gr.Button("Try-on").click(start_tryon, [imgs, garm_img, prompt, is_checked, is_checked_crop, denoise_steps, seed],
                              [image_out, masked_img], api_name="tryon")


def _one_colour(layer: Any) -> bool:
    path = upload_path(layer)
    if path is None:
        return True
    with Image.open(path) as image:
        return len(np.unique(np.asarray(image.convert("L")))) == 1


def _catvton(service: SandboxService, files: HandedFiles) -> None:
    """Zheng-Chong/CatVTON: the editor's first layer is the mask (one colour: none), cloth type; no api_name.
    Gradio hands it file paths (the editor's background and layers re-saved by Gradio, the cloth)."""
    import gradio as gr

    async def submit_function(person_image, cloth_image, cloth_type, num_inference_steps, guidance_scale, seed,
                              show_type, request: gr.Request):
        editor = person_image if isinstance(person_image, dict) else {}
        layers = editor.get("layers") or []
        if not layers:  # the app indexes layers[0]; the editor always sends one
            raise refusal("list index out of range")
        workflow = _category(cloth_type, CATVTON_TYPES, "cloth type")
        mask = None if await asyncio.to_thread(_one_colour, layers[0]) else layers[0]
        result = await service.generate(editor.get("background"), cloth_image, workflow, mask, client=_client(request))
        if show_type == "result only":
            return result
        return await asyncio.to_thread(service.beside_inputs, result, editor.get("background"), cloth_image)

    gr.Markdown("# CatVTON (sandbox)")
    person_image = gr.ImageEditor(interactive=True, label="Person Image", type="filepath")
    cloth_image = gr.Image(interactive=True, label="Condition Image", type="filepath")
    cloth_type = gr.Radio(label="Try-On Cloth Type", choices=list(CATVTON_TYPES), value="upper")
    num_inference_steps = gr.Slider(label="Inference Step", minimum=10, maximum=100, step=5, value=50)
    guidance_scale = gr.Slider(label="CFG Strenth", minimum=0.0, maximum=7.5, step=0.5, value=2.5)
    seed = gr.Slider(label="Seed", minimum=-1, maximum=10000, step=1, value=42)
    show_type = gr.Radio(label="Show Type", choices=list(CATVTON_SHOW), value="input & mask & result")
    result_image = gr.Image(interactive=False, label="Result")
    gr.Button("Submit").click(submit_function, [person_image, cloth_image, cloth_type, num_inference_steps,
                                                guidance_scale, seed, show_type], result_image)


def _ootdiffusion(service: SandboxService, files: HandedFiles) -> None:
    """levihsu/OOTDiffusion: /process_hd (upper body) and /process_dc (with a category), each -> a gallery."""
    import gradio as gr

    async def process_hd(vton_img, garm_img, n_samples, n_steps, image_scale, seed, request: gr.Request):
        result = await service.generate(vton_img, garm_img, "top", None, client=_client(request))
        return [result] * max(1, int(n_samples or 1))

    async def process_dc(vton_img, garm_img, category, n_samples, n_steps, image_scale, seed, request: gr.Request):
        workflow = _category(category, OOTD_CATEGORIES, "garment category")
        result = await service.generate(vton_img, garm_img, workflow, None, client=_client(request))
        return [result] * max(1, int(n_samples or 1))

    gr.Markdown("# OOTDiffusion (sandbox)")
    for dc in (False, True):
        vton_img = gr.Image(label="Model", sources="upload", type="filepath")
        garm_img = gr.Image(label="Garment", sources="upload", type="filepath")
        category = gr.Dropdown(label="Garment category (important option!!!)", choices=list(OOTD_CATEGORIES),
                               value="Upper-body") if dc else None
        gallery = gr.Gallery(label="Output", show_label=False, preview=True)
        n_samples = gr.Slider(label="Images", minimum=1, maximum=4, value=1, step=1)
        n_steps = gr.Slider(label="Steps", minimum=20, maximum=40, value=20, step=1)
        image_scale = gr.Slider(label="Guidance scale", minimum=1.0, maximum=5.0, value=2.0, step=0.1)
        seed = gr.Slider(label="Seed", minimum=-1, maximum=2147483647, step=1, value=-1)
        inputs = [vton_img, garm_img, *([category] if dc else []), n_samples, n_steps, image_scale, seed]
        gr.Button("Run").click(process_dc if dc else process_hd, inputs, [gallery])


def _leffa(service: SandboxService, files: HandedFiles) -> None:
    """franciszzj/Leffa: leffa_predict_vt(...) -> (image, mask, densepose); pose transfer beside it."""
    import gradio as gr

    async def leffa_predict_vt(src_image_path, ref_image_path, ref_acceleration, step, scale, seed, vt_model_type,
                               vt_garment_type, vt_repaint, preprocess_garment, request: gr.Request):
        if vt_model_type not in ("viton_hd", "dress_code"):
            raise refusal(f"Invalid model type: {vt_model_type}")
        workflow = _category(vt_garment_type, LEFFA_GARMENTS, "garment type")
        result = await service.generate(src_image_path, ref_image_path, workflow, None, client=_client(request))
        return result, result, result

    async def leffa_predict_pt(src_image_path, ref_image_path, ref_acceleration, step, scale, seed):
        raise refusal("pose transfer is not part of the sandbox")

    gr.Markdown("## Leffa (sandbox)")
    vt_src_image = gr.Image(sources=["upload"], type="filepath", label="Person Image")
    vt_ref_image = gr.Image(sources=["upload"], type="filepath", label="Garment Image")
    vt_gen_image = gr.Image(label="Generated Image")
    vt_model_type = gr.Radio(label="Model Type", choices=[("VITON-HD (Recommended)", "viton_hd"),
                                                         ("DressCode (Experimental)", "dress_code")], value="viton_hd")
    vt_garment_type = gr.Radio(label="Garment Type", choices=[("Upper", "upper_body"), ("Lower", "lower_body"),
                                                             ("Dress", "dresses")], value="upper_body")
    vt_ref_acceleration = gr.Radio(label="Accelerate Reference UNet", choices=[("True", True), ("False", False)],
                                   value=False)
    vt_repaint = gr.Radio(label="Repaint Mode", choices=[("True", True), ("False", False)], value=False)
    vt_preprocess = gr.Checkbox(label="Preprocess Garment Image (PNG only)", value=False)
    vt_step = gr.Number(label="Inference Steps", minimum=30, maximum=100, step=1, value=30)
    vt_scale = gr.Number(label="Guidance Scale", minimum=0.1, maximum=5.0, step=0.1, value=2.5)
    vt_seed = gr.Number(label="Random Seed", minimum=-1, maximum=2147483647, step=1, value=42)
    vt_mask = gr.Image(label="Generated Mask")
    vt_densepose = gr.Image(label="Generated DensePose")
    gr.Button("Generate").click(leffa_predict_vt, [vt_src_image, vt_ref_image, vt_ref_acceleration, vt_step, vt_scale,
                                                   vt_seed, vt_model_type, vt_garment_type, vt_repaint, vt_preprocess],
                                [vt_gen_image, vt_mask, vt_densepose])
    pt_ref_image = gr.Image(sources=["upload"], type="filepath", label="Person Image")
    pt_src_image = gr.Image(sources=["upload"], type="filepath", label="Target Pose Person Image")
    pt_gen_image = gr.Image(label="Generated Image")
    pt_ref_acceleration = gr.Radio(label="Accelerate Reference UNet", choices=[("True", True), ("False", False)],
                                   value=False)
    pt_step = gr.Number(label="Inference Steps", value=30)
    pt_scale = gr.Number(label="Guidance Scale", value=2.5)
    pt_seed = gr.Number(label="Random Seed", value=42)
    gr.Button("Generate").click(leffa_predict_pt, [pt_src_image, pt_ref_image, pt_ref_acceleration, pt_step, pt_scale,
                                                   pt_seed], [pt_gen_image])


def _omnitry(service: SandboxService, files: HandedFiles) -> None:
    """Kunbyte-AI/OmniTry: generate(person, object, object class (15), steps, guidance, seed) -> image. Gradio
    hands it PIL images."""
    import gradio as gr

    async def generate(person_image, object_image, object_class, steps, guidance_scale, seed, request: gr.Request):
        if object_class not in OMNITRY_CLASSES:
            raise refusal(f"'{object_class}'")  # the app's KeyError on its object map
        if object_class not in OMNITRY_DRAWN:
            raise refusal(f"the sandbox does not draw a {object_class} (it draws: {', '.join(OMNITRY_DRAWN)})")
        person, product = await asyncio.to_thread(lambda: [files.path(v) for v in (person_image, object_image)])
        return await service.generate(person, product, OMNITRY_DRAWN[object_class], None, client=_client(request))

    gr.Markdown("# Demo of OmniTry (sandbox)")
    person_image = gr.Image(type="pil", label="Person Image")
    object_image = gr.Image(type="pil", label="Object Image")
    object_class = gr.Dropdown(label="Object Class", choices=list(OMNITRY_CLASSES))
    image_out = gr.Image(type="pil", label="Output")
    guidance_scale = gr.Slider(label="Guidance scale", minimum=1, maximum=50, value=30, step=0.1)
    steps = gr.Slider(label="Steps", minimum=1, maximum=50, value=20, step=1)
    seed = gr.Number(label="Seed", value=-1, precision=0)
    gr.Button("Submit").click(generate, inputs=[person_image, object_image, object_class, steps, guidance_scale, seed],
                              outputs=[image_out])


def _garment_workflow(product: Any) -> str:
    """Kolors has no category: the sandbox reads a tall garment as a dress, anything else as a top."""
    path = upload_path(product)
    if path is None:
        return "top"
    from vton_eval.images import load_rgb
    from vton_eval.sandbox.composite import cutout

    piece = cutout(load_rgb(Path(path)))
    return "dress" if piece.height > 1.6 * piece.width else "top"


def _kolors(service: SandboxService, files: HandedFiles) -> None:
    """Kolors VTO mirror: start_tryon(person, garment, seed, randomize) -> (image, seed, response text); trouble is
    answered in the text, with no image, not raised. Gradio hands it NumPy arrays."""
    import gradio as gr

    async def start_tryon(person_img, garment_img, seed, randomize_seed, request: gr.Request):
        if person_img is None or garment_img is None:
            return None, None, "Empty image"
        person, garment = await asyncio.to_thread(lambda: [files.path(v) for v in (person_img, garment_img)])
        try:
            workflow = await asyncio.to_thread(_garment_workflow, garment)
            result = await service.generate(person, garment, workflow, None, client=_client(request))
        except gr.Error as exc:
            return None, seed, exc.message
        return result, seed, "Success"

    gr.Markdown("# Kolors virtual try-on (sandbox)")
    imgs = gr.Image(label="Person image", sources="upload", type="numpy")
    garm_img = gr.Image(label="Garment image", sources="upload", type="numpy")
    image_out = gr.Image(label="Result")
    seed = gr.Slider(label="Seed", minimum=0, maximum=999999, step=1, value=0)
    randomize_seed = gr.Checkbox(label="Random seed", value=True)
    seed_used = gr.Number(label="Seed used")
    result_info = gr.Text(label="Response")
    gr.Button("Run").click(start_tryon, inputs=[imgs, garm_img, seed, randomize_seed],
                           outputs=[image_out, seed_used, result_info], api_name="tryon")


# One builder per service, named as its built-in profile; the list of signatures is this table's keys.
BUILDERS: dict[str, Callable[[SandboxService, HandedFiles], None]] = {
    "sm4ll": _sm4ll, "idm-vton": _idm_vton, "catvton": _catvton, "ootdiffusion": _ootdiffusion,
    "leffa": _leffa, "omnitry": _omnitry, "kolors": _kolors,
}
SIGNATURES = tuple(BUILDERS)
