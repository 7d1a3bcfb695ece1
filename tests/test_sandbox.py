"""The sandbox: the fake try-on itself, and a real server on loopback called by the real gradio_client.

The session's server (tests/conftest.py) serves these tests; each mutates its live config and the
`live` fixture restores it. Queue limits and hangs need their own short-lived servers.
"""

from __future__ import annotations

import io
import json
import subprocess
import sys
import time
from pathlib import Path

import httpx
import numpy as np
import pytest
from click.testing import CliRunner
from gradio_client import Client, handle_file
from gradio_client.exceptions import AppError
from gradio_client.utils import QueueError
from PIL import Image, features
from skimage import data

from vton_eval.body import product_region
from vton_eval.cli.sandbox_cmd import parse_latency, sandbox
from vton_eval.images import ImageProblem, inspect_image
from vton_eval.samples import draw_person, draw_product, inappropriate_product
from vton_eval.samples.people import draw_person_with_layout
from vton_eval.sandbox import (
    MISSING_IMAGES_MESSAGE,
    NSFW_MESSAGE,
    SERVER_ERROR_MESSAGE,
    SandboxConfig,
    start_sandbox,
    tryon_composite,
)
from vton_eval.sandbox.service import SandboxService

KIND = {"eyewear": "glasses", "footwear": "shoes", "dress": "dress", "top": "top"}
REPO = Path(__file__).resolve().parents[1]


def _changed(a: Image.Image, b: Image.Image) -> np.ndarray:
    return (np.asarray(a, dtype=np.int16) != np.asarray(b, dtype=np.int16)).any(axis=2)


# -- the compositor (no server) --------------------------------------------------------------


@pytest.mark.parametrize("workflow", ["eyewear", "footwear", "dress", "top"])
def test_composite_changes_the_person_only_where_the_product_goes(workflow):
    person, layout = draw_person_with_layout(3)
    out = tryon_composite(person, draw_product(KIND[workflow], 1), workflow)
    assert out.size == person.size and out.mode == "RGB"
    x0, y0, x1, y1 = product_region(person, workflow)
    changed = _changed(person, out)
    inside = np.zeros_like(changed)
    inside[max(0, y0 - 2) : y1 + 2, max(0, x0 - 2) : x1 + 2] = True
    assert not changed[~inside].any(), "pixels changed outside the product region"
    assert changed[inside].mean() > 0.1, "the product is (nearly) absent"
    # The region sits on the body part the workflow names (drawn figures have a known layout).
    body_y = {"eyewear": 0.065, "top": 0.3, "dress": 0.6, "footwear": 0.98}[workflow]
    assert y0 <= layout.y(body_y) <= y1
    assert x0 <= layout.cx <= x1


def test_eyewear_follows_a_detected_face_on_a_photo():
    astronaut = Image.fromarray(data.astronaut())
    x0, y0, x1, y1 = product_region(astronaut, "eyewear")
    # Her eyes are around (195, 105) and (245, 105) in the 512x512 photo.
    assert x0 < 195 and x1 > 245 and y0 < 105 < y1
    assert x1 - x0 < 200


def test_composite_is_fast_enough_for_a_benchmark():
    person = draw_person(5, size=(512, 768))
    product = draw_product("dress", 2)
    tryon_composite(person, product, "dress")  # loads the face detector
    timings = []
    for _ in range(3):
        started = time.perf_counter()
        tryon_composite(person, product, "dress")
        timings.append(time.perf_counter() - started)
    assert min(timings) < 0.2  # ~25 ms measured; loose so a busy CI box does not flake


def test_mask_places_the_product_in_its_box_and_a_fake_mask_is_ignored():
    person = draw_person(2)
    product = draw_product("dress", 0)
    mask = Image.new("L", person.size, 0)
    mask.paste(255, (40, 300, 200, 700))
    assert product_region(person, "dress", mask) == (40, 300, 200, 700)
    changed = _changed(person, tryon_composite(person, product, "dress", mask))
    ys, xs = np.nonzero(changed)
    assert xs.min() >= 40 and xs.max() < 200 and ys.min() >= 300 and ys.max() < 700
    # Clients that have no mask send the base image, or an all-white one: both mean "no mask".
    unmasked = product_region(person, "dress")
    assert product_region(person, "dress", person) == unmasked
    assert product_region(person, "dress", Image.new("L", person.size, 255)) == unmasked


def test_fault_draws_replay_with_the_same_seed():
    def draws(seed: int) -> list[tuple]:
        service = SandboxService(SandboxConfig(seed=seed, error_rate=0.5, bad_output_rate=0.3, jitter=0.5))
        try:
            return [service._draw_faults("top") for _ in range(12)]
        finally:
            service.remove_files()

    assert draws(7) == draws(7)
    assert draws(7) != draws(8)
    assert {d[1] for d in draws(7)} == {True, False}


# -- the server --------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def files(tmp_path_factory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("sandbox-inputs")
    paths = {name: root / f"{name}.png" for name in ("person", "product", "tiny", "magenta")}
    draw_person(1).save(paths["person"])
    draw_product("top", 2).save(paths["product"])
    draw_product("top", 2).resize((60, 60)).save(paths["tiny"])
    inappropriate_product().save(paths["magenta"])
    paths["corrupt"] = root / "corrupt.png"
    paths["corrupt"].write_bytes(b"\x89PNG\r\n\x1a\n" + b"not really a png" * 20)
    paths["gif"] = root / "person.gif"
    draw_person(1).save(paths["gif"])
    if features.check("avif"):
        paths["avif"] = root / "person.avif"
        draw_person(1).save(paths["avif"])
    return paths


@pytest.fixture()
def live(live_sandbox):
    """The session's sandbox (tests/conftest.py), with its config restored after the test."""
    return live_sandbox


def _client(url: str, tmp_path: Path, **kwargs) -> Client:
    return Client(url, verbose=False, download_files=str(tmp_path), httpx_kwargs={"timeout": 60}, **kwargs)


@pytest.fixture()
def client(live, tmp_path) -> Client:
    return _client(live.url, tmp_path)


def _call(
    client: Client, files: dict[str, Path], workflow: str = "top", base="person", product="product", mask=None
):
    args = [
        handle_file(str(files[base])) if base else None,
        handle_file(str(files[product])) if product else None,
        workflow,
        handle_file(str(files[mask])) if mask else None,
    ]
    return client.submit(*args, api_name="/generate").result(timeout=30)


def test_generate_returns_a_webp_try_on_the_size_of_the_person(live, client, files):
    path = _call(client, files, "top")
    assert path.endswith(".webp")
    with Image.open(path) as out:
        assert out.format == "WEBP"
        assert out.size == Image.open(files["person"]).size
        out_rgb = out.convert("RGB")
    expected = tryon_composite(Image.open(files["person"]), Image.open(files["product"]), "top")
    # WebP is lossy: close to the local composite, not equal.
    assert np.abs(np.asarray(out_rgb, dtype=np.int16) - np.asarray(expected, dtype=np.int16)).mean() < 4


def test_repeated_calls_and_the_base_as_mask_reuse_one_rendering(live, client, files):
    _call(client, files, "eyewear")
    rendered = live.stats.get("rendered", 0)
    _call(client, files, "eyewear")
    _call(client, files, "eyewear", mask="person")  # the client's "no mask" fallback
    assert live.stats.get("rendered", 0) == rendered


@pytest.mark.parametrize(
    "case, message",
    [
        ("gif", "Invalid person image: GIF images are not accepted (use JPG, PNG or WEBP)"),
        ("avif", "Invalid person image: AVIF images are not accepted (use JPG, PNG or WEBP)"),
        ("tiny", "Invalid product image: image is 60x60, under the minimum of 100x100"),
        ("corrupt", "Invalid person image: ..."),  # Pillow words the rest
        ("no_product", MISSING_IMAGES_MESSAGE),
        ("workflow", "Unknown workflow 'hat'. Choose one of: eyewear, footwear, dress, top, bottom."),
        ("magenta", NSFW_MESSAGE),
    ],
)
def test_refusals_arrive_as_app_errors_with_the_service_message(live, client, files, case, message):
    if case == "avif" and "avif" not in files:
        pytest.skip("this Pillow build cannot write AVIF")
    kwargs = {
        "gif": {"base": "gif"},
        "avif": {"base": "avif"},
        "tiny": {"product": "tiny"},
        "corrupt": {"base": "corrupt"},
        "no_product": {"product": None},
        "workflow": {"workflow": "hat"},
        "magenta": {"product": "magenta"},
    }[case]
    with pytest.raises(AppError) as caught:
        _call(client, files, **kwargs)
    if message.endswith("..."):
        assert str(caught.value).startswith(message.removesuffix("..."))
    else:
        assert str(caught.value) == message


def test_raw_http_api_answers_with_a_webp_url_or_an_error_event(live, files):
    with httpx.Client(base_url=live.url, timeout=30) as http:
        uploads = [
            ("files", (p.name, p.read_bytes(), "image/png")) for p in (files["person"], files["magenta"])
        ]
        person_path, magenta_path = http.post("/gradio_api/upload", files=uploads).json()

        def call(product_path: str) -> tuple[str, object]:
            payload = {
                "data": [
                    {"path": person_path, "meta": {"_type": "gradio.FileData"}},
                    {"path": product_path, "meta": {"_type": "gradio.FileData"}},
                    "top",
                    None,
                ]
            }
            event_id = http.post("/gradio_api/call/generate", json=payload).json()["event_id"]
            lines = http.get(f"/gradio_api/call/generate/{event_id}").text.splitlines()
            final = [
                i for i, line in enumerate(lines) if line.startswith("event: ") and "heartbeat" not in line
            ][-1]
            return lines[final].removeprefix("event: "), json.loads(lines[final + 1].removeprefix("data: "))

        upload = http.post("/gradio_api/upload", files=[("files", ("t.png", files["product"].read_bytes()))])
        kind, result = call(upload.json()[0])
        assert kind == "complete"
        assert result[0]["url"].endswith(".webp")
        download = http.get(result[0]["url"]).raise_for_status()
        assert Image.open(io.BytesIO(download.content)).format == "WEBP"
        kind, error = call(magenta_path)
        assert kind == "error"
        assert NSFW_MESSAGE in json.dumps(error)


def test_rate_limit_counts_per_client_ip(live, client, files, tmp_path):
    live.config.rate_limit = "3/min"
    for _ in range(3):
        _call(client, files, "eyewear")
    with pytest.raises(
        AppError, match=r"Rate limit exceeded: 3 requests per minute per IP\. Try again in \d+ s\."
    ):
        _call(client, files, "eyewear")
    other = _client(live.url, tmp_path / "other", headers={"X-Forwarded-For": "10.0.0.2"})
    assert _call(other, files, "eyewear").endswith(".webp")


def test_error_rate_one_fails_every_call_with_the_fault_message(live, client, files):
    live.config.error_rate = 1.0
    with pytest.raises(AppError) as caught:
        _call(client, files)
    assert str(caught.value) == SERVER_ERROR_MESSAGE


def test_bad_output_rate_one_returns_an_undecodable_webp(live, client, files):
    live.config.bad_output_rate = 1.0
    path = _call(client, files)
    assert path.endswith(".webp")
    with pytest.raises(ImageProblem):
        inspect_image(path)
    with pytest.raises((OSError, SyntaxError, ValueError)), Image.open(path) as img:
        img.load()


def test_latency_is_the_service_time_of_a_call(live, client, files):
    live.config.latency = 0.3
    live.config.latency_by_workflow = {"dress": 0.6}
    for workflow, floor in (("top", 0.3), ("dress", 0.6)):
        started = time.perf_counter()
        _call(client, files, workflow)
        assert time.perf_counter() - started >= floor


def test_a_full_queue_refuses_with_queue_error(files, tmp_path):
    with start_sandbox(SandboxConfig(concurrency=1, max_queue=1, latency=0.6)) as small:
        client = _client(small.url, tmp_path)
        args = (handle_file(str(files["person"])), handle_file(str(files["product"])), "top", None)
        jobs = [client.submit(*args, api_name="/generate") for _ in range(5)]
        outcomes = []
        for job in jobs:
            try:
                outcomes.append(job.result(timeout=30))
            except QueueError:
                outcomes.append("queue_full")
        assert "queue_full" in outcomes
        assert any(str(o).endswith(".webp") for o in outcomes)


def test_a_hung_call_times_out_and_close_still_returns_promptly(files, tmp_path):
    small = start_sandbox(SandboxConfig(hang=True))
    try:
        client = _client(small.url, tmp_path)
        job = client.submit(
            handle_file(str(files["person"])),
            handle_file(str(files["product"])),
            "top",
            None,
            api_name="/generate",
        )
        with pytest.raises(TimeoutError):
            job.result(timeout=1)
        assert not job.done()
    finally:
        started = time.perf_counter()
        small.close()
        assert time.perf_counter() - started < 5
    with pytest.raises(Exception):  # noqa: B017 - any ending will do, as long as it ends
        job.result(timeout=10)


# -- the command line --------------------------------------------------------------------------


def test_cli_rejects_bad_settings_with_clear_messages():
    runner = CliRunner()
    result = runner.invoke(sandbox, ["--error-rate", "1.5"])
    assert result.exit_code == 2 and "must be a fraction between 0 and 1" in result.output
    result = runner.invoke(sandbox, ["--latency", "0.5,hat=2"])
    assert result.exit_code == 2 and "unknown workflow 'hat'" in result.output
    result = runner.invoke(sandbox, ["--rate-limit", "lots"])
    assert result.exit_code == 2 and "N/h" in result.output
    assert parse_latency("0.5,top=2,dress=3") == (0.5, {"top": 2.0, "dress": 3.0})
    assert parse_latency("1") == (1.0, {})


def test_cli_reports_a_busy_port_in_one_line(live):
    result = CliRunner().invoke(sandbox, ["--port", str(live.port)])
    assert result.exit_code == 1
    assert f"port {live.port} is already in use" in result.output
    assert "Traceback" not in result.output


def test_compositor_and_samples_do_not_import_gradio():
    code = "import sys, vton_eval.sandbox.composite, vton_eval.samples; assert 'gradio' not in sys.modules"
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO)
    assert proc.returncode == 0, proc.stderr
