"""A Gradio try-on app as a `Service`: one call turned into an Outcome (an image, or an error kind and message).

Built on gradio_client. The call's shape (API name, argument order, ImageEditor values, which output
holds the image) comes from the run's endpoint profile (`services.profiles`), checked against the
endpoint's own API description when connecting. The service is untrusted input: its answer is read
by `services.answer` (no local path it names is opened), its files are downloaded by
`vton_eval.http_fetch` (the token goes to the endpoint's own origin only, every download has a
deadline), and one deadline covers the whole call: upload, queue, processing and download.

An ImageEditor's background and layers are sent as PNG files of the call's own, as a browser's editor
sends them (`services.editor`). A file answer with no URL (Gradio up to 4.16) is downloaded from the endpoint's own
file route, `{root}/file=` (`{root}/gradio_api/file=` from Gradio 5 on), as gradio_client does.

Two things keep the per-call cost low on a busy machine (the guide's figures, bench/dispatch.py, measure it): one
shared SSL context (httpx otherwise reloads the CA bundle on every one of the several requests a
call makes, about 200 ms of CPU per call), and downloading the output through our own pooled HTTP
client instead of a fresh connection and a temporary file.
"""

from __future__ import annotations

import concurrent.futures
import os
import threading
import time
from collections.abc import Callable
from typing import Any

import httpx

from vton_eval.http_fetch import (
    ClientGuard,
    Credentials,
    Fetcher,
    FetchTooLarge,
    endpoint_reach,
    origin_of,
)
from vton_eval.outcome import Outcome
from vton_eval.secrets import clean_message
from vton_eval.services import CallInputs
from vton_eval.services.api import Endpoint, read_api, with_config_values
from vton_eval.services.classify import classify_exception, retry_after_s
from vton_eval.services.connection import Connection, cancel_in_background
from vton_eval.services.editor import EditorFiles
from vton_eval.services.endpoints import EndpointError, EndpointStopped, check_endpoint_text
from vton_eval.services.gradio_answer import AnswerReading, elapsed_ms
from vton_eval.services.gradio_call import GradioCall
from vton_eval.services.profiles import DEFAULT_PROFILE, Profile, load_profile
from vton_eval.services.spaces import resolve_space

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")

_POLL_S = 0.02
_SSL_CONTEXT = httpx.create_ssl_context()
# Connecting fetches the app's config and API description; a Space that is building can keep
# gradio_client waiting for ever, so the whole connection has its own deadline.
DEFAULT_OPEN_TIMEOUT_S = 120.0


class GradioService:
    """A connected Gradio try-on app (a `Service`). Thread-safe: one instance serves all the workers of a run."""

    def __init__(
        self,
        src: str,
        token: str | None = None,
        connect_timeout_s: float = 15.0,
        read_timeout_s: float = 60.0,
        profile: Profile | None = None,
        open_timeout_s: float = DEFAULT_OPEN_TIMEOUT_S,
        on_note: Callable[[str], None] | None = None,
        require_api: bool = True,
    ) -> None:
        self.src = check_endpoint_text(src)
        self.profile = profile or load_profile(DEFAULT_PROFILE)
        if not isinstance(self.profile.call, GradioCall):
            raise EndpointError(f"the profile {self.profile.name} is for a {self.profile.kind} service, not a "
                                "Gradio app")
        self.shape: GradioCall = self.profile.call
        self.api_name = self.shape.api_name
        self.open_timeout_s = open_timeout_s
        self.on_note = on_note
        self.require_api = require_api  # False: connect to read the API only (inspection)
        # Read at connection: the endpoint's named APIs, and (profiles that read them) the workflows it offers.
        self.api: dict[str, Endpoint] = {}
        self.offered_workflows: list[str] | None = None
        self._outputs: int | None = None
        self._editor = EditorFiles()
        # Only a token given here is sent: nothing reads HF_TOKEN behind the caller's back (vton_eval.access
        # decides which endpoints may receive it).
        self._token = token or None
        self._connect_timeout_s = connect_timeout_s
        self._read_timeout_s = read_timeout_s
        # Above the server's 15 s heartbeat, so an idle SSE stream is not mistaken for a dead one.
        self._timeout = httpx.Timeout(read_timeout_s, connect=connect_timeout_s)
        self._conn: Connection | None = None
        self._fetcher: Fetcher | None = None
        self._lock = threading.Lock()

    def open(self, stop: threading.Event | None = None) -> GradioService:
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
                # An output (and each redirect of it) may be fetched from the endpoint's own origin or a public
                # address, never from another private one (a service naming 127.0.0.2 or the cloud's metadata).
                self._fetcher = Fetcher(
                    Credentials(origin_of(client.src), {**client.headers, **token_header}, dict(client.cookies)),
                    self._connect_timeout_s, self._read_timeout_s, verify=_SSL_CONTEXT,
                    reach=endpoint_reach(origin_of(client.src)))
                return self
        conn.close()  # another thread connected first
        return self

    def _connect(self, stop: threading.Event | None, deadline: float) -> Connection:
        from gradio_client import Client

        url = self.src
        if not url.startswith(("http://", "https://")):
            url = resolve_space(self.src, self._token, stop, deadline, on_note=self.on_note)
        # The client gets no token of its own (token=False: not even HF_TOKEN read behind our back);
        # the guard adds it to requests for this origin only.
        guard = ClientGuard(origin_of(url), self._token)

        def make_client() -> Any:
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
                kind, message = classify_exception(exc)
                if isinstance(exc, FetchTooLarge):  # its /config or API description, capped while read
                    message = str(exc)
                elif kind in ("server_error", "bad_output"):
                    message = f"{type(exc).__name__}: {exc}"
                raise EndpointError(clean_message(f"cannot connect to {self.src}: {message}")) from None
            try:
                self._check_origins(client)
            except BaseException:
                client.close()
                raise
            return client

        try:
            client = make_client()
        except BaseException:
            guard.shutdown()
            raise
        conn = Connection(client, guard, make_client)
        try:
            self._check(client)
        except BaseException:
            conn.close()
            raise
        return conn

    def _check_origins(self, client: Any) -> None:
        # The app's config chooses the path of every later request (api_prefix); requests carry the
        # token, so they must all stay on the origin we were pointed at.
        home = origin_of(client.src)
        for url in (client.src_prefixed, client.upload_url, client.sse_url, client.sse_data_url, client.api_url):
            if origin_of(url) != home:
                raise EndpointError(f"{self.src} is not usable: its configuration sends requests to another "
                                    f"origin ({origin_of(url)[1]}), where the token would follow")

    def _check(self, client: Any) -> None:
        try:
            self.api = with_config_values(read_api(client.view_api(print_info=False, return_format="dict") or {}),
                                          getattr(client, "config", None))
        except Exception as exc:
            raise EndpointError(clean_message(f"{self.src} does not describe its API: {type(exc).__name__}: {exc}")
                                ) from None
        if not self.require_api:
            return
        if self.api and self.api_name not in self.api:
            raise EndpointError(clean_message(
                f"{self.src} has no {self.api_name} endpoint (it has: {', '.join(sorted(self.api)) or 'none'}); "
                f"is {self.profile.name} the right profile? (`vton-eval endpoints inspect {self.src}`)"))
        endpoint = self.api.get(self.api_name)
        if endpoint is not None:
            self._check_shape(endpoint)

    def _check_shape(self, endpoint: Endpoint) -> None:
        """The profile's call must fit the endpoint's signature: a wrong profile fails the run at once, clearly,
        instead of failing every case with the service's confusion."""
        profile, shape, params = self.profile, self.shape, endpoint.parameters
        where = f"the profile {profile.name} sends {len(shape.args)} argument(s) to {self.api_name}"
        if len(shape.args) > len(params):
            raise EndpointError(clean_message(f"{where}, which takes {len(params)} "
                                              f"({', '.join(p.name for p in params)})"))
        missing = [p.name for p in params[len(shape.args):] if not p.has_default]
        if missing:
            raise EndpointError(clean_message(f"{where}; it also needs {', '.join(missing)}"))
        for position, (arg, param) in enumerate(zip(shape.args, params, strict=False), start=1):
            why = param.refuses(arg.value) if arg.kind == "literal" else None
            if why is not None:
                raise EndpointError(clean_message(
                    f"the profile {profile.name} sends {arg.describe()} as argument {position} of {self.api_name} "
                    f"({param.name or param.label}, a {param.component or 'component'}), which cannot take it: {why}; "
                    "nothing was sent"))
        self._outputs = len(endpoint.outputs) or None
        if self._outputs is not None and shape.output >= self._outputs:
            raise EndpointError(f"the profile {profile.name} reads output {shape.output} of {self.api_name}, "
                                f"which has {self._outputs} output(s) (counting from 0)")
        index = shape.workflow_arg
        if profile.workflows_from_endpoint and index is not None and index < len(params):
            choices = params[index].choices
            if choices:
                self.offered_workflows = [str(c) for c in choices]

    def close(self) -> None:
        with self._lock:
            fetcher, self._fetcher = self._fetcher, None
            conn, self._conn = self._conn, None
        if fetcher is not None:
            fetcher.close()
        if conn is not None:
            conn.close()
        self._editor.close()

    def discover_workflows(self, stop: threading.Event | None = None) -> list[str] | None:
        """The choices of the argument that receives {workflow}, for a profile that reads its workflows from the
        endpoint (None: it does not say); connects if not yet connected."""
        return self.open(stop=stop).offered_workflows

    def __enter__(self) -> GradioService:
        return self.open()

    def __exit__(self, *exc: object) -> None:
        self.close()

    def call(self, inputs: CallInputs, timeout_s: float = 300.0, stop: threading.Event | None = None) -> Outcome:
        """Submit one try-on and wait for it, at most `timeout_s` in all; never raises for service trouble."""
        from gradio_client import handle_file

        started = time.perf_counter()
        deadline = time.monotonic() + timeout_s
        if self._conn is None:
            try:
                self.open(stop=stop)
            except EndpointStopped as exc:
                return Outcome.error("cancelled", str(exc), elapsed_ms(started))
            except EndpointError as exc:
                return Outcome.error("connection", str(exc), elapsed_ms(started))
        conn, fetcher = self._conn, self._fetcher
        if conn is None or fetcher is None:  # closed meanwhile by the run ending
            return Outcome.error("cancelled", "the endpoint was closed before the call", elapsed_ms(started))
        copies: list[str] = []
        try:
            plan = self.profile.plan(inputs.workflow, inputs.mask is not None)
            paths = {"person": inputs.person, "product": inputs.product, "mask": inputs.mask}
            files = {role: handle_file(str(path)) for role, path in paths.items() if path is not None}
            editor_files = {}
            for role in self.shape.editor_roles(plan.mask):
                copies.append(self._editor.png(paths[role]))
                editor_files[role] = handle_file(copies[-1])
            blank = None
            if plan.mask == "blank":
                copies.append(self._editor.blank_layer(inputs.person))
                blank = handle_file(copies[-1])
            args = self.shape.arguments(plan.workflow_value, plan.mask, files, blank, editor_files)
        except Exception as exc:  # our own input file vanished or is unreadable: no retry will fix it
            self._editor.release(copies)
            return Outcome.error("invalid_input", clean_message(f"cannot read an input file: {exc}") or "",
                                 elapsed_ms(started))
        try:
            with conn.lease() as client:
                return self._send(conn, client, args, fetcher, started, deadline, stop, timeout_s)
        except EndpointError as exc:  # another client for an sse_v1 server could not connect
            return Outcome.error("connection", str(exc), elapsed_ms(started))
        finally:
            self._editor.release(copies)

    def _send(self, conn: Connection, client: Any, args: list[Any], fetcher: Fetcher, started: float,
              deadline: float, stop: threading.Event | None, timeout_s: float) -> Outcome:
        from gradio_client.utils import Status

        queue_ms: float | None = None
        try:
            job = client.submit(*args, api_name=self.api_name)
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
                    queue_ms = elapsed_ms(started)
            if done:
                break
            if time.monotonic() >= deadline:
                conn.spoil(client)
                cancel_in_background(job)
                return Outcome.error("timeout", f"no answer within {timeout_s:g} s", elapsed_ms(started), queue_ms)
            if stop is not None and stop.is_set():
                conn.spoil(client)
                cancel_in_background(job)
                return Outcome.error("cancelled", "the run was stopped before the call finished",
                                     elapsed_ms(started), queue_ms)
        try:
            value = job.result(timeout=0)
        except Exception as exc:
            outcome = self._error(exc, started, queue_ms)
            if outcome.error_kind in ("connection", "timeout"):
                conn.spoil(client)  # its event stream may be gone with the call
            return outcome
        reading = AnswerReading(self.shape, self._outputs, self.profile.name, fetcher, deadline, stop, timeout_s,
                                client.src_prefixed)
        return reading.outcome(value, started, queue_ms)

    def _error(self, exc: BaseException, started: float, queue_ms: float | None) -> Outcome:
        kind, message = classify_exception(exc)
        message = clean_message(message) or kind
        retry = retry_after_s(message) if kind == "rate_limited" else None
        return Outcome.error(kind, message, elapsed_ms(started), queue_ms, retry)


def make(endpoint: str, profile: Profile, *, token: str | None = None, call_timeout_s: float = 300.0,
         open_timeout_s: float = DEFAULT_OPEN_TIMEOUT_S, on_note: Callable[[str], None] | None = None) -> GradioService:
    """A Gradio service for the kinds table (`services.kinds`): reads above the server's 15 s heartbeat, capped
    by the call's own deadline."""
    return GradioService(endpoint, token=token, read_timeout_s=max(60.0, min(call_timeout_s, 300.0)), profile=profile,
                         open_timeout_s=open_timeout_s, on_note=on_note)


__all__ = ["GradioService", "make"]
