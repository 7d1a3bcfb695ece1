"""One call to a try-on endpoint, turned into an Outcome: an image, or an error kind and message.

Built on gradio_client. Two things keep the per-call cost low on a busy machine (DESIGN.md has
the measurements): one shared SSL context (httpx otherwise reloads the CA bundle on every one of
the several requests a call makes, about 200 ms of CPU per call), and downloading the output
through our own pooled HTTP client instead of a fresh connection and a temporary file.
"""

from __future__ import annotations

import concurrent.futures
import io
import os
import re
import threading
import time
from pathlib import Path
from typing import Any

import httpx
from PIL import Image

from vton_eval.classify import classify_exception, retry_after_s
from vton_eval.outcome import Outcome
from vton_eval.secrets import get_token, redact

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")

API_NAME = "/generate"
SPACE_ID = re.compile(r"^[A-Za-z0-9][\w.-]*/[\w.-]+$")
MAX_OUTPUT_BYTES = 64 * 1024 * 1024
_POLL_S = 0.02
_SSL_CONTEXT = httpx.create_ssl_context()


class OutputTooLarge(ValueError):
    """The service answered with more bytes than any try-on image needs."""


class EndpointError(Exception):
    """The endpoint cannot be used at all (unreachable, not a Gradio app, no /generate)."""


def check_endpoint_text(src: str) -> str:
    """Validate an endpoint given by a person: an http(s) URL or a Space id ('owner/name')."""
    src = (src or "").strip()
    if not src:
        raise ValueError("the endpoint is empty: give a URL (http://127.0.0.1:7860) or a Space id (owner/name)")
    if src.startswith(("http://", "https://")):
        url = httpx.URL(src)
        if not url.host:
            raise ValueError(f"{src!r} is not a valid URL (no host)")
        if url.userinfo:
            # A URL is stored with the run and shown on pages: credentials belong in HF_TOKEN.
            raise ValueError("the endpoint URL carries credentials; remove them and set HF_TOKEN instead")
        return src.rstrip("/")
    if SPACE_ID.match(src):
        return src
    raise ValueError(f"{src!r} is neither an http(s) URL nor a Space id like owner/name")


class Endpoint:
    """A connected try-on service. Thread-safe: one instance serves all the workers of a run."""

    def __init__(
        self,
        src: str,
        token: str | None = None,
        connect_timeout_s: float = 15.0,
        read_timeout_s: float = 60.0,
        api_name: str = API_NAME,
    ) -> None:
        self.src = check_endpoint_text(src)
        self.api_name = api_name
        self._token = token if token is not None else get_token()
        # Above the server's 15 s heartbeat, so an idle SSE stream is not mistaken for a dead one.
        self._timeout = httpx.Timeout(read_timeout_s, connect=connect_timeout_s)
        self._client: Any = None
        self._http: httpx.Client | None = None
        self._lock = threading.Lock()

    def open(self) -> Endpoint:
        """Connect (fetch the app's config) and check it has the endpoint; raise EndpointError."""
        from gradio_client import Client

        with self._lock:
            if self._client is not None:
                return self
            try:
                client = Client(
                    self.src,
                    token=self._token,
                    download_files=False,
                    httpx_kwargs={"timeout": self._timeout},
                    ssl_verify=_SSL_CONTEXT,
                    verbose=False,
                )
            except Exception as exc:  # gradio_client raises many types here; all mean "cannot use it"
                kind, message = classify_exception(exc)
                if kind == "server_error":
                    message = f"{type(exc).__name__}: {exc}"
                raise EndpointError(redact(f"cannot connect to {self.src}: {message}")) from None
            names = {name for name in (client.view_api(print_info=False, return_format="dict") or {})
                     .get("named_endpoints", {})}
            if names and self.api_name not in names:
                raise EndpointError(
                    f"{self.src} has no {self.api_name} endpoint (it has: {', '.join(sorted(names)) or 'none'})"
                )
            self._http = httpx.Client(
                headers=dict(client.headers), timeout=self._timeout, verify=_SSL_CONTEXT,
                limits=httpx.Limits(max_connections=64, max_keepalive_connections=32),
                follow_redirects=True,
            )
            self._client = client
        return self

    def close(self) -> None:
        with self._lock:
            if self._http is not None:
                self._http.close()
            self._http = None
            client, self._client = self._client, None
        if client is not None:
            try:
                client.close()
            except Exception:  # best effort: closing a client whose server died must not fail a run
                pass

    def __enter__(self) -> Endpoint:
        return self.open()

    def __exit__(self, *exc: object) -> None:
        self.close()

    def call(
        self,
        base: Path,
        product: Path,
        workflow: str,
        mask: Path | None = None,
        timeout_s: float = 300.0,
        stop: threading.Event | None = None,
    ) -> Outcome:
        """Submit one try-on and wait for it, at most `timeout_s`; never raises for service trouble."""
        from gradio_client import handle_file
        from gradio_client.utils import Status

        if self._client is None:
            try:
                self.open()
            except EndpointError as exc:
                return Outcome.error("connection", str(exc))
        started = time.perf_counter()
        queue_ms: float | None = None
        try:
            job = self._client.submit(
                handle_file(str(base)), handle_file(str(product)), workflow,
                handle_file(str(mask)) if mask else None, api_name=self.api_name,
            )
        except Exception as exc:
            return self._error(exc, started, None)
        deadline = started + timeout_s
        running = (Status.PROCESSING, Status.ITERATING, Status.PROGRESS, Status.FINISHED)
        while True:
            done, _ = concurrent.futures.wait([job], timeout=_POLL_S if queue_ms is None else 0.25)
            now = time.perf_counter()
            if queue_ms is None:
                try:
                    code = job.status().code
                except Exception:
                    code = None
                if code in running:
                    queue_ms = (now - started) * 1000.0
            if done:
                break
            if now >= deadline:
                job.cancel()
                return Outcome.error("timeout", f"no answer within {timeout_s:g} s", (now - started) * 1000.0,
                                     queue_ms)
            if stop is not None and stop.is_set():
                job.cancel()
                return Outcome.error("cancelled", "the run was stopped before the call finished",
                                     (now - started) * 1000.0, queue_ms)
        try:
            value = job.result(timeout=0)
        except Exception as exc:
            return self._error(exc, started, queue_ms)
        return self._decode(value, started, queue_ms)

    def _error(self, exc: BaseException, started: float, queue_ms: float | None) -> Outcome:
        kind, message = classify_exception(exc)
        message = redact(message) or kind
        retry = retry_after_s(message) if kind == "rate_limited" else None
        return Outcome.error(kind, message, (time.perf_counter() - started) * 1000.0, queue_ms, retry)

    def _decode(self, value: Any, started: float, queue_ms: float | None) -> Outcome:
        if isinstance(value, list | tuple):
            value = value[0] if value else None
        url = value.get("url") if isinstance(value, dict) else None
        path = value.get("path") if isinstance(value, dict) else value if isinstance(value, str) else None
        if not url and not path:
            return Outcome.error("bad_output", f"the service returned no image (got {type(value).__name__})",
                                 (time.perf_counter() - started) * 1000.0, queue_ms)
        try:
            data = self._fetch(url) if url else Path(path).read_bytes()
        except OutputTooLarge as exc:
            return Outcome.error("bad_output", str(exc), (time.perf_counter() - started) * 1000.0, queue_ms)
        except Exception as exc:
            kind, message = classify_exception(exc)
            return Outcome.error(kind, f"downloading the output failed: {redact(message)}",
                                 (time.perf_counter() - started) * 1000.0, queue_ms)
        try:
            with Image.open(io.BytesIO(data)) as img:
                img.load()
                width, height = img.size
        except Exception as exc:
            return Outcome.error("bad_output", f"the output is not a decodable image ({len(data)} bytes: {exc})",
                                 (time.perf_counter() - started) * 1000.0, queue_ms)
        return Outcome.ok(data, width, height, (time.perf_counter() - started) * 1000.0, queue_ms)

    def _fetch(self, url: str) -> bytes:
        assert self._http is not None
        with self._http.stream("GET", url) as response:
            response.raise_for_status()
            chunks, size = [], 0
            for chunk in response.iter_bytes():
                size += len(chunk)
                if size > MAX_OUTPUT_BYTES:
                    raise OutputTooLarge(f"the output is larger than {MAX_OUTPUT_BYTES // 2**20} MB")
                chunks.append(chunk)
        return b"".join(chunks)
