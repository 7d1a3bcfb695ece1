"""One call through the real gradio_client to a real sandbox: every error kind produced and classified."""

from __future__ import annotations

import io
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from PIL import Image

from vton_eval.samples import inappropriate_product
from vton_eval.sandbox import NSFW_MESSAGE, SandboxConfig, start_sandbox
from vton_eval.services import CallInputs, EndpointError, check_endpoint_text
from vton_eval.services.classify import classify_message, retry_after_s
from vton_eval.services.gradio import GradioService

from .helpers.paths import REPO, SAMPLE
from .helpers.servers import free_port
from .helpers.wait import wait_until


def _pair(workflow: str = "top") -> tuple[Path, Path]:
    import csv

    with open(SAMPLE / "manifest.csv", encoding="utf-8") as f:
        row = next(r for r in csv.DictReader(f) if r["workflow"] == workflow)
    return SAMPLE / row["base"], SAMPLE / row["product"]


@pytest.fixture()
def endpoint(live_sandbox):
    with GradioService(live_sandbox.url) as ep:
        yield ep


def test_ok_outcome_has_the_image_latency_and_queue_time(endpoint):
    base, product = _pair("top")
    outcome = endpoint.call(CallInputs(base, product, "top"), timeout_s=30)
    assert outcome.status == "ok", outcome.error_message
    with Image.open(io.BytesIO(outcome.output)) as img:
        assert img.format == "WEBP"
        assert img.size == Image.open(base).size == (outcome.output_width, outcome.output_height)
    assert outcome.latency_ms > 0 and outcome.queue_ms is not None and outcome.queue_ms <= outcome.latency_ms


def test_latency_is_the_wall_time_of_the_call(endpoint, live_sandbox):
    live_sandbox.config.latency = 0.4
    base, product = _pair("dress")
    started = time.perf_counter()
    outcome = endpoint.call(CallInputs(base, product, "dress"), timeout_s=30)
    wall_ms = (time.perf_counter() - started) * 1000
    assert outcome.status == "ok"
    assert 400 <= outcome.latency_ms <= wall_ms + 1


def test_nsfw_rejection(endpoint, tmp_path):
    base, _ = _pair()
    product = tmp_path / "p.png"
    inappropriate_product().save(product)
    outcome = endpoint.call(CallInputs(base, product, "top"), timeout_s=30)
    assert (outcome.status, outcome.error_kind, outcome.error_message) == ("error", "nsfw_rejected", NSFW_MESSAGE)
    assert not outcome.transient


def test_invalid_input_sent_anyway_is_classified(endpoint, tmp_path):
    base, product = _pair()
    gif = tmp_path / "b.gif"
    Image.open(base).save(gif, "GIF")
    outcome = endpoint.call(CallInputs(gif, product, "top"), timeout_s=30)
    assert outcome.error_kind == "invalid_input" and "GIF" in outcome.error_message
    outcome = endpoint.call(CallInputs(base, product, "hat"), timeout_s=30)
    assert outcome.error_kind == "invalid_input" and "Unknown workflow" in outcome.error_message


def test_rate_limited_with_the_wait_the_service_asked_for(endpoint, live_sandbox):
    live_sandbox.config.rate_limit = "2/min"
    base, product = _pair()
    kinds = [endpoint.call(CallInputs(base, product, "top"), timeout_s=30).error_kind for _ in range(2)]
    assert kinds == [None, None]
    refused = endpoint.call(CallInputs(base, product, "top"), timeout_s=30)
    assert refused.error_kind == "rate_limited" and refused.transient
    assert refused.retry_after_s is not None and 0 < refused.retry_after_s <= 60


def test_server_error_and_bad_output(endpoint, live_sandbox):
    base, product = _pair()
    live_sandbox.config.error_rate = 1.0
    outcome = endpoint.call(CallInputs(base, product, "top"), timeout_s=30)
    assert outcome.error_kind == "server_error" and "worker crashed" in outcome.error_message
    live_sandbox.config.error_rate = 0.0
    live_sandbox.config.bad_output_rate = 1.0
    outcome = endpoint.call(CallInputs(base, product, "top"), timeout_s=30)
    assert outcome.error_kind == "bad_output" and "not a decodable image" in outcome.error_message


def test_cancelled_by_our_stop(endpoint, live_sandbox):
    live_sandbox.config.latency = 3.0
    base, product = _pair()
    stop = threading.Event()
    threading.Timer(0.3, stop.set).start()
    started = time.perf_counter()
    outcome = endpoint.call(CallInputs(base, product, "top"), timeout_s=30, stop=stop)
    assert outcome.error_kind == "cancelled"
    assert time.perf_counter() - started < 2.0


def test_timeout_on_a_hung_call():
    with start_sandbox(SandboxConfig(hang=True)) as sb, GradioService(sb.url) as ep:
        base, product = _pair()
        started = time.perf_counter()
        outcome = ep.call(CallInputs(base, product, "top"), timeout_s=1.0)
        assert outcome.error_kind == "timeout" and outcome.transient
        assert 1.0 <= time.perf_counter() - started < 3.0


def test_queue_full():
    with start_sandbox(SandboxConfig(latency=1.5, concurrency=1, max_queue=1)) as sb, GradioService(sb.url) as ep:
        base, product = _pair()
        outcomes = []
        inputs = CallInputs(base, product, "top")
        threads = [threading.Thread(target=lambda: outcomes.append(ep.call(inputs, timeout_s=20))) for _ in range(4)]
        threads[0].start()
        # The first call is being served (one worker, 1.5 s): of the three that follow, one waits in the
        # one-place queue and the others find it full.
        wait_until(lambda: sb.stats.get("calls", 0) >= 1, what="the first call to be served")
        for t in threads[1:]:
            t.start()
        for t in threads:
            t.join()
        kinds = sorted(o.error_kind or "ok" for o in outcomes)
        assert "queue_full" in kinds and "ok" in kinds, kinds


def _listening(port: int) -> bool:
    with socket.socket() as s:
        return s.connect_ex(("127.0.0.1", port)) == 0


def test_connection_refused_and_server_killed_mid_call():
    dead = f"http://127.0.0.1:{free_port()}"
    with pytest.raises(EndpointError, match="cannot connect"):
        GradioService(dead).open()
    assert GradioService(dead).call(CallInputs(*_pair(), "top"), timeout_s=5).error_kind == "connection"

    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "vton_eval", "sandbox", "--port", str(port), "--latency", "5"],
                            cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        wait_until(lambda: _listening(port), what="the sandbox process to listen", interval=0.2)
        ep = GradioService(f"http://127.0.0.1:{port}").open()
        threading.Timer(1.0, proc.kill).start()
        outcome = ep.call(CallInputs(*_pair(), "top"), timeout_s=30)
        assert outcome.error_kind == "connection", (outcome.error_kind, outcome.error_message)
    finally:
        proc.kill()
        proc.wait()


def test_classification_of_messages_from_the_real_space():
    assert classify_message("Product image contains inappropriate content. Please use a different image.") \
        == "nsfw_rejected"
    assert classify_message("You have exceeded your GPU quota (60s requested vs. 0s left). Try again in 0:12:00") \
        == "rate_limited"
    assert retry_after_s("You have exceeded your GPU quota. Try again in 0:12:00") == 720
    assert retry_after_s("Rate limit exceeded: 30 requests per hour per IP. Try again in 123 s.") == 123
    assert classify_message("Please upload both a person image and a product image.") == "invalid_input"
    assert classify_message("CUDA out of memory") == "server_error"


def test_endpoint_text_is_checked():
    assert check_endpoint_text("sm4ll-VTON/sm4ll-VTON-Demo") == "sm4ll-VTON/sm4ll-VTON-Demo"
    assert check_endpoint_text("http://127.0.0.1:7860/") == "http://127.0.0.1:7860"
    for bad in ("", "not a url", "ftp://x", "http://"):
        with pytest.raises(ValueError):
            check_endpoint_text(bad)
