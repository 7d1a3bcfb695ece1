"""What one sandbox `/generate` call does: quota, input rules, injected faults, latency, the picture.

Kept apart from the Gradio wiring (`app.py`) so what a call does reads in one place. Gradio is imported
only when a call has to raise `gr.Error`, which is how a message reaches the client intact.

The input rules and the service's messages are `sandbox.rules`; they are checked first (each refusal is
immediate, without the configured latency).

Then, for calls that pass those rules, the injected faults, drawn from one seeded RNG in a fixed
order per call (error, bad output, hang, jitter) so a seed replays the same sequence whatever the
rates:

- hang: the call never returns (until the sandbox closes);
- server error, after the latency: "Internal server error: worker crashed (sandbox fault injection)";
- bad output, after the latency: a .webp file whose bytes do not decode;
- silent failures, after the latency: a valid image that is not a try-on. `noop_rate`: the
  person image comes back unchanged; `blank_rate`: a flat grey image of the person's size.
  (The automatic checks must catch these; they are what a broken model does.)
"""

from __future__ import annotations

import asyncio
import hashlib
import io
import os
import random
import shutil
import tempfile
import threading
import time
from collections import Counter, deque
from pathlib import Path
from typing import TYPE_CHECKING, Any

from PIL import Image

from vton_eval import workflows
from vton_eval.images import load_rgb
from vton_eval.quota import KeyedWindowCounter, parse_rate
from vton_eval.sandbox.lru import LRU
from vton_eval.sandbox.rules import (
    MISSING_IMAGES_MESSAGE,
    NSFW_MESSAGE,
    SERVER_ERROR_MESSAGE,
    SHUTDOWN_MESSAGE,
    judge,
    rate_limit_message,
    refusal,
    unknown_workflow_message,
    upload_path,
)

if TYPE_CHECKING:
    from vton_eval.sandbox.app import SandboxConfig

HANG_SECONDS = 24 * 3600.0
WEBP_OPTIONS = {"quality": 85, "method": 0}  # method 0: fastest encode (~10 ms at 512x768)
_OUTPUT_CACHE_SIZE = 256
_VERDICT_CACHE_SIZE = 2048


class SandboxService:
    """The state behind one sandbox app: live config, quota counters, RNG, caches."""

    def __init__(self, config: SandboxConfig, output_dir: Path | None = None) -> None:
        self.config = config
        self.output_dir = Path(output_dir or tempfile.mkdtemp(prefix="vton-sandbox-"))
        self.output_dir.mkdir(parents=True, exist_ok=True)
        # What the workflow dropdown lists (the SM4LL signature): fixed at start, like a deployed Space's.
        self.offered: tuple[str, ...] = tuple(config.workflows or workflows.names())
        self.stats: Counter[str] = Counter()
        # Every call received (time, client, input hashes): tests check what was sent and when.
        self.calls: deque[dict[str, Any]] = deque(maxlen=100_000)
        self._closing = threading.Event()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._rng_lock = threading.Lock()
        self._rng_seed: int | None = config.seed
        self._rng = random.Random(config.seed)
        # A separate stream, so enabling silent faults does not shift the other faults' sequence.
        self._silent_seed: int | None = config.seed
        self._silent_rng = random.Random(None if config.seed is None else config.seed + 1)
        self._limiter: tuple[str, KeyedWindowCounter] | None = None
        self._verdicts = LRU(_VERDICT_CACHE_SIZE)
        self._outputs = LRU(_OUTPUT_CACHE_SIZE, on_evict=lambda path: shutil.rmtree(Path(path).parent, True))
        self._bad_count = 0
        self._let_through = 0  # calls let past `answer_limit` since it was last set
        self.held_now = 0  # calls being held at this moment

    # -- lifecycle -------------------------------------------------------------------------

    def close(self) -> None:
        """Wake every sleeping or hung call so the server can stop; idempotent."""
        self._closing.set()
        loop, stop = self._loop, self._stop
        if loop is not None and stop is not None and not loop.is_closed():
            try:
                loop.call_soon_threadsafe(stop.set)
            except RuntimeError:  # the loop closed in between
                pass

    def remove_files(self) -> None:
        shutil.rmtree(self.output_dir, ignore_errors=True)

    async def _sleep(self, seconds: float) -> None:
        """Sleep, but return at once when the sandbox closes."""
        if seconds <= 0 or self._closing.is_set():
            return
        loop = asyncio.get_running_loop()
        if self._loop is not loop or self._stop is None:
            self._loop, self._stop = loop, asyncio.Event()
            if self._closing.is_set():
                self._stop.set()
        try:
            await asyncio.wait_for(self._stop.wait(), timeout=seconds)
        except TimeoutError:
            pass

    def hold_after(self, answers: int | None) -> None:
        self._let_through = 0
        self.config.answer_limit = answers

    async def _wait_for_turn(self) -> None:
        """Hold the call while `answer_limit` calls have already been let through."""
        held = False
        try:
            while (self.config.answer_limit is not None and self._let_through >= self.config.answer_limit
                   and not self._closing.is_set()):
                if not held:
                    held = True
                    self.stats["held"] += 1
                    self.held_now += 1
                await self._sleep(0.02)
        finally:
            # Gradio cancels a held call whose client went away: it is no longer held.
            if held:
                self.held_now -= 1
        self._let_through += 1

    # -- per-call decisions ----------------------------------------------------------------

    def _check_rate(self, client: str) -> None:
        text = self.config.rate_limit
        if not text:
            return
        if self._limiter is None or self._limiter[0] != text:
            try:
                rate = parse_rate(text)
            except ValueError as exc:
                raise refusal(f"Sandbox misconfigured: {exc}") from None
            # A new setting starts with fresh counts (tests switch it on and off).
            self._limiter = (text, KeyedWindowCounter(rate))
        counter = self._limiter[1]
        wait = counter.try_take(client)
        if wait > 0:
            self.stats["rate_limited"] += 1
            raise refusal(rate_limit_message(counter.rate, wait))

    def _draw_faults(self, workflow: str) -> tuple[bool, bool, bool, float]:
        """(hang, server error, bad output, service time in seconds) for one call."""
        cfg = self.config
        with self._rng_lock:
            if cfg.seed != self._rng_seed:
                self._rng, self._rng_seed = random.Random(cfg.seed), cfg.seed
            r_error, r_bad, r_hang, r_jitter = (self._rng.random() for _ in range(4))
        latency = cfg.latency_for(workflow)
        if cfg.jitter > 0:
            latency *= 1.0 - cfg.jitter + 2.0 * cfg.jitter * r_jitter
        hang = cfg.hang or r_hang < cfg.hang_rate
        return hang, r_error < cfg.error_rate, r_bad < cfg.bad_output_rate, max(0.0, latency)

    def _verdicts_for(self, files: list[tuple[str, str, bytes]]) -> list[str | None]:
        """Refusal messages for (role, sha, bytes) triples, judged once per distinct file."""
        out = []
        for role, sha, data in files:
            key = (sha, role)
            verdict = self._verdicts.get(key)
            if verdict is None:
                verdict = (judge(data, role, check_content=role == "product"),)
                self._verdicts.put(key, verdict)
            out.append(verdict[0])
        return out

    def _render(self, key: str, base: bytes, product: bytes, workflow: str, mask: bytes | None) -> str:
        from vton_eval.sandbox.composite import tryon_composite

        mask_image = Image.open(io.BytesIO(mask)) if mask is not None else None
        result = tryon_composite(load_rgb(base), load_rgb(product), workflow, mask_image)
        # Named like the Space's outputs (<folder>/image.webp), so clients see the same file names.
        path = self.output_dir / key / "image.webp"
        path.parent.mkdir(exist_ok=True)
        # Write then rename: two concurrent first calls for the same key must not see half a file.
        tmp = path.with_suffix(f".{threading.get_ident()}.tmp")
        result.save(tmp, format="WEBP", **WEBP_OPTIONS)
        os.replace(tmp, path)
        return str(path)

    def _draw_silent_fault(self) -> str | None:
        cfg = self.config
        if not (cfg.noop_rate or cfg.blank_rate):
            return None
        with self._rng_lock:
            if cfg.seed != self._silent_seed:  # a new seed replays from the start, as the other faults do
                self._silent_seed = cfg.seed
                self._silent_rng = random.Random(None if cfg.seed is None else cfg.seed + 1)
            r = self._silent_rng.random()
        if r < cfg.noop_rate:
            return "noop"
        if r < cfg.noop_rate + cfg.blank_rate:
            return "blank"
        return None

    def _degraded(self, kind: str, base_sha: str, base: bytes) -> str:
        path = self.output_dir / f"{kind}-{base_sha[:32]}" / "image.webp"
        if not path.exists():
            person = load_rgb(base)
            image = person if kind == "noop" else Image.new("RGB", person.size, (128, 128, 128))
            path.parent.mkdir(exist_ok=True)
            tmp = path.with_suffix(f".{threading.get_ident()}.tmp")
            image.save(tmp, format="WEBP", **WEBP_OPTIONS)
            os.replace(tmp, path)
        return str(path)

    def beside_inputs(self, result: str, person: Any, product: Any) -> str:
        """The result with the inputs in a column on its left (what CatVTON shows unless asked for the result
        only): a wider image than the person's."""
        target = self.output_dir / ("beside-" + hashlib.sha256(result.encode()).hexdigest()[:32]) / "image.webp"
        if not target.exists():
            image = Image.open(result).convert("RGB")
            width, height = image.size
            column = Image.new("RGB", (width // 2, height), (255, 255, 255))
            for i, source in enumerate((person, product)):
                piece = load_rgb(Path(upload_path(source) or ""))
                piece.thumbnail((width // 2, height // 2))
                column.paste(piece, (0, i * height // 2))
            canvas = Image.new("RGB", (width + width // 2 + 5, height), (255, 255, 255))
            canvas.paste(column, (0, 0))
            canvas.paste(image, (width // 2 + 5, 0))
            target.parent.mkdir(exist_ok=True)
            tmp = target.with_suffix(f".{threading.get_ident()}.tmp")
            canvas.save(tmp, format="WEBP", **WEBP_OPTIONS)
            os.replace(tmp, target)
        return str(target)

    def _bad_output(self) -> str:
        self._bad_count += 1
        path = self.output_dir / f"bad-{self._bad_count}" / "image.webp"
        path.parent.mkdir(exist_ok=True)
        # A RIFF/WEBP header over garbage: looks like a WebP by name and magic, decodes as nothing.
        garbage = random.Random(self._bad_count).randbytes(512)
        path.write_bytes(b"RIFF" + (520).to_bytes(4, "little") + b"WEBPVP8 " + garbage)
        return str(path)

    # -- the endpoint ----------------------------------------------------------------------

    async def generate(
        self, base: Any, product: Any, workflow: Any, mask: Any, client: str = "unknown"
    ) -> str:
        """Serve one call; return the path of a .webp, or raise gr.Error with the service's message."""
        started = time.monotonic()
        self.stats["calls"] += 1
        entry: dict[str, Any] = {"t": time.time(), "client": client, "workflow": workflow}
        self.calls.append(entry)
        await self._wait_for_turn()
        self._check_rate(client)
        base_path, product_path, mask_path = upload_path(base), upload_path(product), upload_path(mask)
        if base_path is None or product_path is None:
            self.stats["invalid_input"] += 1
            raise refusal(MISSING_IMAGES_MESSAGE)
        if workflow not in self.offered or not workflows.is_known(workflow):
            self.stats["invalid_input"] += 1
            raise refusal(unknown_workflow_message(workflow, self.offered))

        files = [("person", base_path), ("product", product_path)]
        if mask_path is not None:
            files.append(("mask", mask_path))
        loaded = []
        for role, path in files:
            data = Path(path).read_bytes()
            loaded.append((role, hashlib.sha256(data).hexdigest(), data))
        entry["base"], entry["product"] = loaded[0][1], loaded[1][1]
        entry["mask"] = loaded[2][1] if len(loaded) > 2 else None
        if any(self._verdicts.get((sha, role)) is None for role, sha, _ in loaded):
            verdicts = await asyncio.to_thread(self._verdicts_for, loaded)
        else:
            verdicts = self._verdicts_for(loaded)
        for verdict in verdicts:
            if verdict is not None:
                self.stats["nsfw_rejected" if verdict == NSFW_MESSAGE else "invalid_input"] += 1
                raise refusal(verdict)

        hang, fail, bad, service_time = self._draw_faults(workflow)
        if hang:
            self.stats["hung"] += 1
            await self._sleep(HANG_SECONDS)
            raise refusal(SHUTDOWN_MESSAGE)

        if fail or bad:
            result = None
        else:
            # Clients send the base image as a mask when they have none: same bytes, no mask.
            (_, base_sha, base_bytes), (_, product_sha, product_bytes) = loaded[:2]
            mask_sha, mask_bytes = "-", None
            if len(loaded) > 2 and loaded[2][1] != base_sha:
                mask_sha, mask_bytes = loaded[2][1], loaded[2][2]
            key = hashlib.sha256(f"{base_sha}:{product_sha}:{workflow}:{mask_sha}".encode()).hexdigest()[:40]
            result = self._outputs.get(key)
            if result is None or not Path(result).exists():
                result = await asyncio.to_thread(
                    self._render, key, base_bytes, product_bytes, workflow, mask_bytes
                )
                self._outputs.put(key, result)
                self.stats["rendered"] += 1

        await self._sleep(service_time - (time.monotonic() - started))
        if self._closing.is_set():
            raise refusal(SHUTDOWN_MESSAGE)
        if fail:
            self.stats["server_error"] += 1
            raise refusal(SERVER_ERROR_MESSAGE)
        if bad:
            self.stats["bad_output"] += 1
            return self._bad_output()
        degraded = self._draw_silent_fault()
        if degraded is not None:
            self.stats[degraded] += 1
            return await asyncio.to_thread(self._degraded, degraded, loaded[0][1], loaded[0][2])
        self.stats["ok"] += 1
        return result
