"""A second kind of service, for the seam's test: a plain REST try-on endpoint (not Gradio).

`POST {endpoint}{path}` with JSON `{"person": base64, "product": base64, "category": "<the workflow's value>"}`
answers the try-on as PNG bytes, or an error status with a JSON `{"error": "..."}`. This module is what a new
kind of service costs: its call shape (parsed from the profile's own fields, data only), its `Service`, and the
kinds table's line (`KIND`); the runner, the store and the pages do not change. `RestTryOn` is the outside
world: such a service, served on loopback by the standard library.
"""

from __future__ import annotations

import base64
import io
import json
import re
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
from PIL import Image

from vton_eval.images import load_rgb
from vton_eval.outcome import Outcome
from vton_eval.sandbox.composite import tryon_composite
from vton_eval.services import CallInputs, EndpointError, Profile
from vton_eval.services.kinds import ServiceKind

FIELDS = ("path",)


@dataclass(frozen=True)
class RestCall:
    path: str

    uses_mask = False
    mask_cannot_be_left_out = False
    workflow_arg = None

    def summary(self) -> str:
        return f"POST {self.path} (person, product, category) -> PNG"


def parse(data: Mapping[str, Any], fail: Callable[[str, str], Exception]) -> RestCall:
    path = data.get("path")
    if not isinstance(path, str) or not re.match(r"^/[\w./-]*$", path):
        raise fail('path must be the endpoint\'s path, e.g. path = "/tryon"', "path")
    return RestCall(path)


class RestService:
    def __init__(self, src: str, profile: Profile, timeout_s: float) -> None:
        self.src, self.profile, self.offered_workflows = src.rstrip("/"), profile, None
        self._timeout_s = timeout_s
        self._client: httpx.Client | None = None

    def open(self, stop: threading.Event | None = None) -> RestService:
        if self._client is None:
            self._client = httpx.Client(timeout=self._timeout_s, follow_redirects=False)
            try:
                self._client.get(self.src + "/")
            except httpx.HTTPError as exc:
                raise EndpointError(f"{self.src} does not answer: {exc}") from None
        return self

    def discover_workflows(self, stop: threading.Event | None = None) -> list[str] | None:
        return None  # a REST endpoint has no dropdown to read

    def call(self, inputs: CallInputs, timeout_s: float = 300.0, stop: threading.Event | None = None) -> Outcome:
        started = time.perf_counter()
        body = {"person": base64.b64encode(inputs.person.read_bytes()).decode(),
                "product": base64.b64encode(inputs.product.read_bytes()).decode(),
                "category": self.profile.value_for(inputs.workflow)}
        try:
            answer = self.open()._client.post(self.src + self.profile.call.path, json=body,  # type: ignore[union-attr]
                                              timeout=timeout_s)
        except httpx.TimeoutException:
            return Outcome.error("timeout", f"no answer within {timeout_s:g} s", _ms(started))
        except httpx.HTTPError as exc:
            return Outcome.error("connection", str(exc), _ms(started))
        if answer.status_code != 200:
            said = answer.json().get("error", "") if answer.headers.get("content-type") == "application/json" else ""
            kind = "rate_limited" if answer.status_code == 429 else "server_error"
            return Outcome.error(kind, said or f"HTTP {answer.status_code}", _ms(started))
        try:
            with Image.open(io.BytesIO(answer.content)) as image:
                width, height = image.size
        except OSError:
            return Outcome.error("bad_output", "the answer is not an image", _ms(started))
        return Outcome.ok(answer.content, width, height, _ms(started), None)

    def close(self) -> None:
        if self._client is not None:
            self._client.close()
            self._client = None


def _ms(started: float) -> float:
    return (time.perf_counter() - started) * 1000.0


def make(endpoint: str, profile: Profile, *, token: str | None = None, call_timeout_s: float = 300.0,
         open_timeout_s: float = 30.0, on_note: Callable[[str], None] | None = None) -> RestService:
    return RestService(endpoint, profile, min(call_timeout_s, open_timeout_s))


KIND = ServiceKind("rest", "a plain REST try-on endpoint (tests)", FIELDS, parse, f"{__name__}:make")


class RestTryOn:
    """The outside world: a REST try-on service on loopback. It refuses the category "refuse" with a 500 and
    counts the calls it answered."""

    def __init__(self) -> None:
        self.calls: list[str] = []
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def do_GET(self) -> None:  # noqa: N802
                self.send_response(200)
                self.end_headers()

            def do_POST(self) -> None:  # noqa: N802
                data = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                owner.calls.append(data["category"])
                if data["category"] == "refuse":
                    self._answer(500, b'{"error": "the model cannot do that category"}', "application/json")
                    return
                person = load_rgb(base64.b64decode(data["person"]))
                product = load_rgb(base64.b64decode(data["product"]))
                out = io.BytesIO()
                tryon_composite(person, product, "top").save(out, "PNG")
                self._answer(200, out.getvalue(), "image/png")

            def _answer(self, status: int, body: bytes, kind: str) -> None:
                self.send_response(status)
                self.send_header("Content-Type", kind)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
