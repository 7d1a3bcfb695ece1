"""The sandbox Gradio app: a try-on service's API served locally (by default the SM4LL-VTON Space's
`/generate`; `profile` picks another service's signature, see `vton_eval.sandbox.signatures`).

`start_sandbox()` serves it in-process on loopback and returns a handle whose `config` is read on
every call, so a test can switch faults, latency or the rate limit on a live server. Only
`concurrency` and `max_queue` are fixed at start (they configure Gradio's queue).

The SM4LL signature's inputs are declared as `gr.Image` (so the browser UI and the API info look like
the Space's) but its event runs with `preprocess=False`: the handler gets the uploaded file exactly as
sent (a FileData dict with its path). `gr.Image(type="filepath")` would hand over the original file
too, but it opens every upload with PIL first, so an undecodable upload would fail inside Gradio with
an anonymous error instead of our message. The other services' signatures preprocess as their apps do
(`vton_eval.sandbox.signatures`).

The input rules, the exact refusal messages and the fault triggers are listed in
`vton_eval.sandbox.service`.

This module does not import gradio at import time (only `build_demo` / `start_sandbox` do), and
note: no `from __future__ import annotations` here, because Gradio finds the `gr.Request`
parameter of the handler through its evaluated annotation.
"""

import contextlib
import os
import socket
import threading
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from vton_eval import workflows
from vton_eval.body import warm_up
from vton_eval.errors import VtonEvalError
from vton_eval.quota import parse_rate
from vton_eval.sandbox.gradio_compat import supported
from vton_eval.sandbox.service import SandboxService
from vton_eval.sandbox.signatures import SHOWS_ERRORS

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")


@dataclass
class SandboxConfig:
    """How the sandbox behaves. Mutate the fields of a running sandbox's config to change it."""

    latency: float = 0.0  # seconds of service time per call (processing time included)
    latency_by_workflow: dict[str, float] = field(default_factory=dict)
    jitter: float = 0.0  # latency is scaled by a uniform factor in [1 - jitter, 1 + jitter]
    error_rate: float = 0.0  # share of calls that fail with a server error
    seed: int | None = None  # seeds the fault and jitter draws; None = different every run
    bad_output_rate: float = 0.0  # share of calls that return an undecodable .webp
    noop_rate: float = 0.0  # share of calls that return the person image unchanged (a silent failure)
    blank_rate: float = 0.0  # share of calls that return a flat grey image (a silent failure)
    hang: bool = False  # every call hangs until the sandbox closes
    hang_rate: float = 0.0  # share of calls that hang
    rate_limit: str | None = None  # per client IP, e.g. "30/h"
    concurrency: int = 4  # calls served at once (fixed at start)
    max_queue: int | None = None  # queued calls beyond which Gradio refuses (fixed at start)
    # Answer this many more calls, then hold every further call until the limit is raised or
    # cleared (None): lets a test stop or kill a run at a known point, whatever the machine's load.
    answer_limit: int | None = None
    profile: str = "sm4ll"  # whose API signature it serves (fixed at start)
    # What the SM4LL workflow dropdown lists (fixed at start); None: every workflow of the registry. A name
    # the registry does not know is drawn with a generic entry (the whole figure).
    workflows: list[str] | None = None

    def latency_for(self, workflow: str) -> float:
        return self.latency_by_workflow.get(workflow, self.latency)

    def validate(self) -> None:
        """Raise ValueError naming the first setting that makes no sense."""
        for name in ("error_rate", "bad_output_rate", "hang_rate", "noop_rate", "blank_rate"):
            value = getattr(self, name)
            if not 0.0 <= value <= 1.0:
                raise ValueError(f"{name} must be between 0 and 1, got {value}")
        if not 0.0 <= self.jitter <= 1.0:
            raise ValueError(f"jitter must be between 0 and 1, got {self.jitter}")
        if self.latency < 0:
            raise ValueError(f"latency must be >= 0 seconds, got {self.latency}")
        for workflow, value in self.latency_by_workflow.items():
            if not workflows.is_known(workflow):
                raise ValueError(f"latency for unknown workflow {workflow!r} (use {', '.join(workflows.names())})")
            if value < 0:
                raise ValueError(f"latency for {workflow} must be >= 0 seconds, got {value}")
        if self.rate_limit:
            parse_rate(self.rate_limit)
        if self.concurrency < 1:
            raise ValueError(f"concurrency must be at least 1, got {self.concurrency}")
        if self.max_queue is not None and self.max_queue < 1:
            raise ValueError(f"max_queue must be at least 1, got {self.max_queue}")
        from vton_eval.sandbox.signatures import SIGNATURES

        if self.profile not in SIGNATURES:
            raise ValueError(f"no sandbox signature {self.profile!r} (use {', '.join(SIGNATURES)})")
        if self.workflows is not None:
            if not self.workflows:
                raise ValueError("the workflow list is empty")
            for name in self.workflows:
                if not workflows.is_known(name):
                    try:
                        workflows.generic(name)
                    except VtonEvalError as exc:
                        raise ValueError(str(exc)) from None

    def describe(self) -> list[str]:
        """The active settings, one short line each, for people reading a console."""
        latency = f"{self.latency:g} s"
        if self.latency_by_workflow:
            latency += (
                " (" + ", ".join(f"{w} {v:g} s" for w, v in sorted(self.latency_by_workflow.items())) + ")"
            )
        if self.jitter:
            latency += f", jitter +-{self.jitter:.0%}"
        lines = [f"signature: {self.profile}", f"latency: {latency}", f"concurrency: {self.concurrency}"]
        if self.profile == "sm4ll" and self.workflows is not None:
            lines.append(f"workflows offered: {', '.join(self.workflows)}")
        if self.max_queue is not None:
            lines.append(f"max queue: {self.max_queue}")
        faults = [
            f"{name} {rate:.0%}"
            for name, rate in (
                ("server errors", self.error_rate),
                ("bad outputs", self.bad_output_rate),
                ("hangs", self.hang_rate),
                ("unchanged outputs", self.noop_rate),
                ("blank outputs", self.blank_rate),
            )
            if rate
        ]
        if self.hang:
            faults.append("every call hangs")
        lines.append("faults: " + (", ".join(faults) if faults else "none"))
        if faults and self.seed is not None:
            lines[-1] += f" (seed {self.seed})"
        lines.append(f"rate limit: {self.rate_limit + ' per IP' if self.rate_limit else 'off'}")
        return lines


def build_demo(service: SandboxService) -> Any:
    """The Gradio Blocks app around `service`, with its config's signature (queue configured from its config)."""
    import gradio as gr

    from vton_eval.sandbox import signatures

    with gr.Blocks(title=f"VTON sandbox ({service.config.profile})") as demo:
        signatures.build(service.config.profile, service)
    demo.queue(default_concurrency_limit=service.config.concurrency, max_size=service.config.max_queue)
    # Gradio 6.31 rebuilds a pandas summary of up to 10,000 past events after every call (for its
    # monitoring page; GRADIO_ANALYTICS_CACHE_FREQUENCY defaults to 1): measured at ~5 ms of
    # server CPU per call, ~15 ms once 10,000 events are kept. Refresh it rarely, keep fewer events.
    queue = getattr(demo, "_queue", None)
    if queue is not None and hasattr(queue, "ANAYLTICS_CACHE_FREQUENCY"):
        queue.ANAYLTICS_CACHE_FREQUENCY = 1000
        queue.ANALYTICS_MAX_EVENTS = 2000
    return demo


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return sock.getsockname()[1]


def port_available(port: int, host: str = "127.0.0.1") -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        try:
            sock.bind((host, port))
        except OSError:
            return False
        return True


class SandboxHandle:
    """A running sandbox. `url` is its address; `config` is live; `close()` stops it."""

    def __init__(self, demo: Any, service: SandboxService, host: str, port: int,
                 known: contextlib.ExitStack | None = None) -> None:
        self.demo = demo
        self._known = known or contextlib.ExitStack()
        self.service = service
        self.host = host
        self.port = port
        self.url = f"http://{host}:{port}"

    @property
    def config(self) -> SandboxConfig:
        return self.service.config

    @property
    def stats(self) -> dict[str, int]:
        """Calls served so far by outcome (calls, ok, rendered, invalid_input, ...)."""
        return dict(self.service.stats)

    @property
    def calls(self) -> list[dict[str, Any]]:
        """Every call received so far: {'t', 'client', 'workflow', 'base', 'product'} (hashes)."""
        return list(self.service.calls)

    @property
    def output_dir(self) -> Path:
        return self.service.output_dir

    def hold_after(self, answers: int | None) -> None:
        """Answer `answers` more calls, then hold the rest (None: answer everything again)."""
        self.service.hold_after(answers)

    @property
    def held_now(self) -> int:
        """Calls being held by `hold_after` at this moment."""
        return self.service.held_now

    def close(self) -> None:
        """End hung and sleeping calls, stop the server and free the port; idempotent."""
        self.service.close()
        self.demo.close(verbose=False)
        self.service.remove_files()
        self._known.close()

    def __enter__(self) -> "SandboxHandle":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def start_sandbox(
    config: SandboxConfig | None = None,
    port: int | None = None,
    host: str = "127.0.0.1",
) -> SandboxHandle:
    """Serve the sandbox in this process (background threads) and return once it answers.

    `port=None` picks a free port. Raises ValueError for a bad config and OSError when the port
    is taken.
    """
    config = config or SandboxConfig()
    config.validate()
    known = contextlib.ExitStack()
    if config.workflows:
        # The sandbox draws a workflow it offers but the registry does not know with a generic entry, while it
        # serves (a test's process goes on after it).
        known.enter_context(workflows.offered(config.workflows))
    try:
        return _start(config, port, host, known)
    except BaseException:
        known.close()
        raise


def _start(config: SandboxConfig, port: int | None, host: str, known: contextlib.ExitStack) -> SandboxHandle:
    if port is not None:
        if not port_available(port, host):
            raise OSError(f"port {port} is already in use on {host}")
        return _launch(config, port, host, known)
    for attempt in range(5):
        # A port found free can be taken before the server binds it (another process starting a server
        # at the same moment, as parallel test workers do): try another.
        try:
            return _launch(config, free_port(host), host, known)
        except OSError:
            if attempt == 4:
                raise
    raise AssertionError("unreachable")


def _launch(config: SandboxConfig, port: int, host: str, known: contextlib.ExitStack) -> SandboxHandle:
    service = SandboxService(config)
    # What the first call would otherwise load, loaded while Gradio starts: the first calls of a new sandbox
    # (the demo's baseline) must not be the slow ones.
    warming = threading.Thread(target=_warm_up, name="sandbox-warm-up", daemon=True)
    warming.start()
    demo = build_demo(service)
    try:
        demo.launch(
            server_name=host,
            server_port=port,
            prevent_thread_lock=True,
            quiet=True,
            show_error=config.profile in SHOWS_ERRORS,
            allowed_paths=[str(service.output_dir)],
            # Gradio's own check that the new server answers allows one 3 s request and then refuses to start
            # ("When localhost is not accessible, a shareable link must be created"): a loaded machine misses
            # it. `_frontend=False` skips only that check (Gradio 4.16 to current); we wait ourselves.
            **supported(demo.launch, ssr_mode=False, _frontend=False),
        )
        wait_answering(f"http://{host}:{port}/")
        # Ready means answering at its usual pace: a first call that waited for the detector would make the first
        # run measured on a new sandbox look slow (the demo's baseline, which the gate compares with).
        warming.join()
    except BaseException:
        try:
            demo.close(verbose=False)  # launch may fail after its server started (Gradio's reachability check)
        except Exception:
            pass
        service.remove_files()
        raise
    return SandboxHandle(demo, service, host, port, known)


def _warm_up() -> None:
    warm_up()  # the face detector, with its scikit-image and SciPy imports: about 1 s
    try:
        # Gradio wraps every event in a Matplotlib backend switch (`matplotlib.use`, which imports pyplot) when
        # Matplotlib is installed (mediapipe brings it): 1.3 s on an idle core, 3 s for the first 8 calls under load.
        import matplotlib.backends.backend_agg  # noqa: F401
        import matplotlib.pyplot  # noqa: F401
    except ImportError:
        pass


def wait_answering(url: str, deadline_s: float = 120.0) -> None:
    """Return once `url` answers an HTTP request (any status), or raise OSError after `deadline_s`: the server
    is up when `launch` returns, but a loaded machine can take seconds to answer its first request."""
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # a loopback server, never a proxy
    ends = time.monotonic() + deadline_s
    while True:
        try:
            with opener.open(urllib.request.Request(url, method="HEAD"), timeout=10):
                return
        except urllib.error.HTTPError:
            return  # it answered
        except OSError as exc:
            if time.monotonic() >= ends:
                raise OSError(f"the server at {url} did not answer within {deadline_s:.0f} s: {exc}") from None
            time.sleep(0.2)
