"""One call to a try-on endpoint, turned into an Outcome: an image, or an error kind and message.

Built on gradio_client. The service is untrusted input: its answer is read by `vton_eval.answer`
(no local path it names is opened), its files are downloaded by `vton_eval.http_fetch` (the token
goes to the endpoint's own origin only, every download has a deadline), and one deadline covers
the whole call: upload, queue, processing and download.

Two things keep the per-call cost low on a busy machine (DESIGN.md has the measurements): one
shared SSL context (httpx otherwise reloads the CA bundle on every one of the several requests a
call makes, about 200 ms of CPU per call), and downloading the output through our own pooled HTTP
client instead of a fresh connection and a temporary file.
"""

from __future__ import annotations

import concurrent.futures
import os
import re
import threading
import time
from pathlib import Path
from typing import Any

import httpx

from vton_eval.answer import BadAnswer, answer_image, image_size
from vton_eval.classify import classify_exception, retry_after_s
from vton_eval.errors import VtonEvalError
from vton_eval.http_fetch import (
    ClientGuard,
    Credentials,
    Fetcher,
    FetchRefused,
    FetchStopped,
    FetchTimeout,
    origin_of,
)
from vton_eval.outcome import Outcome
from vton_eval.secrets import clean_message, get_token

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")

API_NAME = "/generate"
SPACE_ID = re.compile(r"^[A-Za-z0-9][\w.-]*/[\w.-]+$")
_POLL_S = 0.02
_SSL_CONTEXT = httpx.create_ssl_context()
# Connecting fetches the app's config and API description; a Space that is building can keep
# gradio_client waiting for ever, so the whole connection has its own deadline.
DEFAULT_OPEN_TIMEOUT_S = 120.0


class EndpointError(VtonEvalError):
    """The endpoint cannot be used at all (unreachable, not a Gradio app, no such API)."""


class EndpointStopped(EndpointError):
    """The caller stopped while the connection was being made."""


_SPACE_WAITING = {"BUILDING", "APP_STARTING", "RUNNING_BUILDING", "SLEEPING", "PAUSED_WAKING"}
_SPACE_BROKEN = {"BUILD_ERROR", "RUNTIME_ERROR", "CONFIG_ERROR", "NO_APP_FILE", "PAUSED", "STOPPED", "DELETING"}
_SPACE_POLL_S = 5.0


def resolve_space(space_id: str, token: str | None, stop: threading.Event | None, deadline: float) -> str:
    """The URL a Space id serves its app at, once the Space runs; waits for a building or sleeping Space
    until `deadline` (gradio_client would wait for ever). Raises EndpointError."""
    import huggingface_hub

    while True:
        try:
            info = huggingface_hub.space_info(space_id, token=token or False)
        except Exception as exc:  # not found, private without a token, no network...
            raise EndpointError(clean_message(f"cannot find the Space {space_id}: {type(exc).__name__}: {exc}")
                                ) from None
        stage = str(getattr(getattr(info, "runtime", None), "stage", "") or "").upper()
        if stage in _SPACE_BROKEN:
            raise EndpointError(f"the Space {space_id} is not running (state {stage}); its owner must restart it")
        if info.host and stage not in _SPACE_WAITING:
            return str(info.host)
        remaining = deadline - time.monotonic()
        if remaining <= _SPACE_POLL_S:
            raise EndpointError(f"the Space {space_id} is still {stage.lower() or 'starting'}; try again in a few "
                                "minutes")
        if stop is not None and stop.wait(_SPACE_POLL_S):
            raise EndpointStopped(f"stopped while waiting for the Space {space_id} to start")
        if stop is None:
            time.sleep(_SPACE_POLL_S)


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


def _elapsed_ms(started: float) -> float:
    return (time.perf_counter() - started) * 1000.0


class Endpoint:
    """A connected try-on service. Thread-safe: one instance serves all the workers of a run."""

    def __init__(
        self,
        src: str,
        token: str | None = None,
        connect_timeout_s: float = 15.0,
        read_timeout_s: float = 60.0,
        api_name: str = API_NAME,
        open_timeout_s: float = DEFAULT_OPEN_TIMEOUT_S,
    ) -> None:
        self.src = check_endpoint_text(src)
        self.api_name = api_name
        self.open_timeout_s = open_timeout_s
        self._token = token if token is not None else get_token()
        self._connect_timeout_s = connect_timeout_s
        self._read_timeout_s = read_timeout_s
        # Above the server's 15 s heartbeat, so an idle SSE stream is not mistaken for a dead one.
        self._timeout = httpx.Timeout(read_timeout_s, connect=connect_timeout_s)
        self._conn: _Connection | None = None
        self._fetcher: Fetcher | None = None
        self._lock = threading.Lock()

    def open(self, stop: threading.Event | None = None) -> Endpoint:
        """Connect (fetch the app's config) and check it has the endpoint; raise EndpointError.

        Ends within `open_timeout_s`, or soon after `stop` is set, whatever the server does.
        """
        with self._lock:
            if self._conn is not None:
                return self
        box: dict[str, Any] = {}
        done = threading.Event()
        abandoned = threading.Event()
        deadline = time.monotonic() + self.open_timeout_s

        def connect() -> None:
            try:
                conn = self._connect(stop, deadline)
                if abandoned.is_set():  # nobody waits for it any more
                    conn.close()
                else:
                    box["conn"] = conn
            except BaseException as exc:  # handed to the waiting caller
                box["error"] = exc
            finally:
                done.set()

        threading.Thread(target=connect, name="vton-connect", daemon=True).start()
        while not done.wait(0.05):
            if stop is not None and stop.is_set():
                abandoned.set()
                raise EndpointStopped(f"stopped while connecting to {self.src}")
            if time.monotonic() >= deadline:
                abandoned.set()
                raise EndpointError(f"cannot connect to {self.src}: no answer within {self.open_timeout_s:g} s "
                                    "(a Space that is building or asleep can take minutes; try again later)")
        if "error" in box:
            raise box["error"]
        conn = box["conn"]
        with self._lock:
            if self._conn is None:
                self._conn = conn
                token_header = {"x-hf-authorization": f"Bearer {self._token}"} if self._token else {}
                client = conn.client
                self._fetcher = Fetcher(
                    Credentials(origin_of(client.src), {**client.headers, **token_header}, dict(client.cookies)),
                    self._connect_timeout_s, self._read_timeout_s, verify=_SSL_CONTEXT)
                return self
        conn.close()  # another thread connected first
        return self

    def _connect(self, stop: threading.Event | None, deadline: float) -> _Connection:
        from gradio_client import Client

        url = self.src
        if not url.startswith(("http://", "https://")):
            url = resolve_space(self.src, self._token, stop, deadline)
        # The client gets no token of its own (token=False: not even HF_TOKEN read behind our back);
        # the guard adds it to requests for this origin only.
        guard = ClientGuard(origin_of(url), self._token)
        try:
            client = Client(
                url,
                token=False,
                download_files=False,
                httpx_kwargs={"timeout": self._timeout, "auth": guard},
                ssl_verify=_SSL_CONTEXT,
                verbose=False,
            )
        except Exception as exc:  # gradio_client raises many types here; all mean "cannot use it"
            guard.shutdown()
            kind, message = classify_exception(exc)
            if kind in ("server_error", "bad_output"):
                message = f"{type(exc).__name__}: {exc}"
            raise EndpointError(clean_message(f"cannot connect to {self.src}: {message}")) from None
        conn = _Connection(client, guard)
        try:
            self._check(client)
        except BaseException:
            conn.close()
            raise
        return conn

    def _check(self, client: Any) -> None:
        # The app's config chooses the path of every later request (api_prefix); requests carry the
        # token, so they must all stay on the origin we were pointed at.
        home = origin_of(client.src)
        for url in (client.src_prefixed, client.upload_url, client.sse_url, client.sse_data_url, client.api_url):
            if origin_of(url) != home:
                raise EndpointError(f"{self.src} is not usable: its configuration sends requests to another "
                                    f"origin ({origin_of(url)[1]}), where the token would follow")
        try:
            names = set((client.view_api(print_info=False, return_format="dict") or {}).get("named_endpoints", {}))
        except Exception as exc:
            raise EndpointError(clean_message(f"{self.src} does not describe its API: {type(exc).__name__}: {exc}")
                                ) from None
        if names and self.api_name not in names:
            raise EndpointError(clean_message(
                f"{self.src} has no {self.api_name} endpoint (it has: {', '.join(sorted(names)) or 'none'})"))

    def close(self) -> None:
        with self._lock:
            fetcher, self._fetcher = self._fetcher, None
            conn, self._conn = self._conn, None
        if fetcher is not None:
            fetcher.close()
        if conn is not None:
            conn.close()

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
        """Submit one try-on and wait for it, at most `timeout_s` in all; never raises for service trouble."""
        from gradio_client import handle_file
        from gradio_client.utils import Status

        started = time.perf_counter()
        deadline = time.monotonic() + timeout_s
        if self._conn is None:
            try:
                self.open(stop=stop)
            except EndpointStopped as exc:
                return Outcome.error("cancelled", str(exc), _elapsed_ms(started))
            except EndpointError as exc:
                return Outcome.error("connection", str(exc), _elapsed_ms(started))
        conn, fetcher = self._conn, self._fetcher
        if conn is None or fetcher is None:  # closed meanwhile by the run ending
            return Outcome.error("cancelled", "the endpoint was closed before the call", _elapsed_ms(started))
        queue_ms: float | None = None
        try:
            args = [handle_file(str(base)), handle_file(str(product)), workflow,
                    handle_file(str(mask)) if mask else None]
        except Exception as exc:  # our own input file vanished or is unreadable: no retry will fix it
            return Outcome.error("invalid_input", clean_message(f"cannot read an input file: {exc}") or "",
                                 _elapsed_ms(started))
        try:
            job = conn.client.submit(*args, api_name=self.api_name)
        except Exception as exc:
            return self._error(exc, started, None)
        running = (Status.PROCESSING, Status.ITERATING, Status.PROGRESS, Status.FINISHED)
        while True:
            done, _ = concurrent.futures.wait([job], timeout=_POLL_S if queue_ms is None else 0.25)
            if queue_ms is None:
                try:
                    code = job.status().code
                except Exception:
                    code = None
                if code in running:
                    queue_ms = _elapsed_ms(started)
            if done:
                break
            if time.monotonic() >= deadline:
                _cancel_in_background(job)
                return Outcome.error("timeout", f"no answer within {timeout_s:g} s", _elapsed_ms(started), queue_ms)
            if stop is not None and stop.is_set():
                _cancel_in_background(job)
                return Outcome.error("cancelled", "the run was stopped before the call finished",
                                     _elapsed_ms(started), queue_ms)
        try:
            value = job.result(timeout=0)
        except Exception as exc:
            return self._error(exc, started, queue_ms)
        return self._decode(value, fetcher, started, queue_ms, deadline, stop, timeout_s)

    def _error(self, exc: BaseException, started: float, queue_ms: float | None) -> Outcome:
        kind, message = classify_exception(exc)
        message = clean_message(message) or kind
        retry = retry_after_s(message) if kind == "rate_limited" else None
        return Outcome.error(kind, message, _elapsed_ms(started), queue_ms, retry)

    def _decode(self, value: Any, fetcher: Fetcher, started: float, queue_ms: float | None, deadline: float,
                stop: threading.Event | None, timeout_s: float) -> Outcome:
        from vton_eval.answer import MAX_OUTPUT_BYTES

        def fetch(url: str) -> bytes:
            return fetcher.fetch(url, MAX_OUTPUT_BYTES, deadline=deadline, stop=stop)

        try:
            data = answer_image(value, fetch)
            width, height = image_size(data)
        except (BadAnswer, FetchRefused) as exc:
            return Outcome.error("bad_output", clean_message(str(exc)) or "bad output", _elapsed_ms(started), queue_ms)
        except FetchTimeout:
            return Outcome.error("timeout", f"no answer within {timeout_s:g} s (the download of the output was "
                                 "still running)", _elapsed_ms(started), queue_ms)
        except FetchStopped:
            return Outcome.error("cancelled", "the run was stopped during the download of the output",
                                 _elapsed_ms(started), queue_ms)
        except Exception as exc:
            kind, message = classify_exception(exc)
            return Outcome.error(kind, f"downloading the output failed: {clean_message(message)}",
                                 _elapsed_ms(started), queue_ms)
        return Outcome.ok(data, width, height, _elapsed_ms(started), queue_ms)


def _cancel_in_background(job: Any) -> None:
    """Tell the server to drop the job without waiting: the cancel request may hang like the call did."""
    threading.Thread(target=_cancel_quietly, args=(job,), name="vton-cancel", daemon=True).start()


def _cancel_quietly(job: Any) -> None:
    try:
        job.cancel()
    except Exception:  # best effort: the job ends when the server notices the closed stream
        pass


class _Connection:
    """A gradio_client Client and the guard its requests go through; closing ends both."""

    def __init__(self, client: Any, guard: ClientGuard) -> None:
        self.client = client
        self.guard = guard

    def close(self) -> None:
        try:
            self.client.close()
        except Exception:  # best effort: closing a client whose server died must not fail a run
            pass
        self.guard.shutdown()


__all__ = ["API_NAME", "Endpoint", "EndpointError", "EndpointStopped", "check_endpoint_text"]
