"""A hostile Gradio service with the Space's `/generate` signature, for tests only.

Its answer is chosen per test (`app.mode`): an image on another host, a redirect to one (or to
`app.target`, any address a test names), an output URL that is `app.target` itself, a path on the
caller's disk, a file by its path alone (as Gradio up to 4.16 answers; its own file route serves it),
base64, a data: URI, a download that never ends, an error message carrying markup, escapes or the token
it received, a huge image, a GIF. Its own file routes record the headers
they receive (the same-origin control). With `evil_prefix`, its /config points the API at another
host, as a hostile app could; with `huge_config`, its /config carries that many bytes more (streamed,
with no length declared unless `declare_length`).

Everything runs in-process on loopback through uvicorn, like the sandbox.
"""

import base64
import io
import json
import struct
import threading
import urllib.parse
import zlib
from typing import Any

import httpx
from PIL import Image

from tests.helpers.recorder import png_bytes
from tests.helpers.wait import wait_until

MARKUP_MESSAGE = ("[/red] [link=https://evil.example]click here[/link] [bold red]FAKE OK[/] "
                  "\x1b]0;pwned-title\x07\x1b[2J\x1b[31mred\x1b[0m done")


def huge_png_header(width: int = 12000, height: int = 12000) -> bytes:
    """A PNG whose header says width x height and whose data is one tiny (truncated) stream: if it is
    ever decoded, the decode fails; if its header is read first, it is refused as too large."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\0" * 64)) + chunk(b"IEND", b"")


def gif_bytes() -> bytes:
    """A GIF the size of the PNG answers: a format the Space does not answer with (nor accept)."""
    buf = io.BytesIO()
    Image.new("RGB", (160, 200), (200, 30, 30)).save(buf, format="GIF")
    return buf.getvalue()


BOMB_SIDE = 12960  # 168 megapixels


def png_bomb(side: int = BOMB_SIDE) -> bytes:
    """A real, complete PNG of side x side black pixels (grey, 8 bits): 168 MP that compress to about 170 KB."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    packer = zlib.compressobj(9)
    row = b"\0" * (side + 1)  # filter byte + one byte a pixel
    body = b"".join(packer.compress(row) for _ in range(side)) + packer.flush()
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", side, side, 8, 0, 0, 0, 0))
            + chunk(b"IDAT", body) + chunk(b"IEND", b""))


class HostileApp:
    def __init__(self, other_host: str, evil_prefix: str | None = None, huge_config: int = 0,
                 declare_length: bool = False) -> None:
        self.other_host = other_host
        self.evil_prefix = evil_prefix
        self.huge_config = huge_config
        self.declare_length = declare_length
        self.config_bytes_sent = 0
        self.mode = "same_origin"
        self.secret_path = ""
        self.target = ""  # the address "redirect_to" redirects to and "url_to" answers with
        self.file_requests: list[dict[str, Any]] = []
        self.slow_started = threading.Event()
        self._closing = threading.Event()
        self.server: Any = None
        self.thread: threading.Thread | None = None
        self.url = ""

    # -- what /generate answers -----------------------------------------------------------

    def answer(self, request_headers: dict[str, str]) -> Any:
        import gradio as gr

        own, mode, image = self.url, self.mode, png_bytes()
        b64 = base64.b64encode(image).decode()
        answers = {
            "same_origin": {"url": f"{own}/files/image.png", "path": "/tmp/gradio/x/image.png"},
            "external_url": {"url": f"{self.other_host}/out.png", "path": "/tmp/gradio/x/image.png"},
            "redirect": {"url": f"{own}/files/bounce"},
            "path_only": {"path": "/tmp/gradio/0123abcd/image.png", "url": None},
            "redirect_to": {"url": f"{own}/files/bounce-to"},
            "url_to": {"url": self.target},
            "local_path": {"path": self.secret_path, "meta": {"_type": "gradio.FileData"}},
            "plain_path": self.secret_path,
            "dev_zero": "/dev/zero",
            "file_url": {"url": "file:///etc/passwd"},
            "base64": b64,
            "data_uri": f"data:image/png;base64,{b64}",
            "raw_json": {"data": [b64]},
            "slow": {"url": f"{own}/files/slow"},
            "huge": {"url": f"{own}/files/huge.png"},
            "text": "Sorry, your image could not be processed today.",
            "gif_file": {"url": f"{own}/files/anim.gif", "path": "/tmp/gradio/x/anim.gif"},
            "gif_base64": f"data:image/gif;base64,{base64.b64encode(gif_bytes()).decode()}",
        }
        if mode in answers:
            value = answers[mode]
            # gr.JSON parses a string it is given: encode one, so the client receives the string itself.
            return json.dumps(value) if isinstance(value, str) else value
        if mode == "markup_error":
            raise gr.Error(MARKUP_MESSAGE, print_exception=False)
        if mode == "big_error":
            raise gr.Error("x" * 1_000_000, print_exception=False)
        if mode == "token_echo":
            received = request_headers.get("x-hf-authorization", "")
            echoed = urllib.parse.quote(received).replace("_", "%5F")  # as a URL would carry it: hf%5F...
            raise gr.Error(f"Invalid credentials for https://api.example/check?auth={echoed}", print_exception=False)
        raise AssertionError(f"unknown mode {mode}")

    # -- serving ---------------------------------------------------------------------------

    def build(self) -> Any:
        import gradio as gr
        from fastapi import FastAPI, Request
        from fastapi.responses import JSONResponse, RedirectResponse, Response, StreamingResponse

        app = FastAPI()

        def record(request: Request) -> None:
            self.file_requests.append({"path": request.url.path, "headers": dict(request.headers)})

        @app.get("/files/image.png")
        def image(request: Request) -> Response:
            record(request)
            return Response(png_bytes(), media_type="image/png")

        @app.get("/files/anim.gif")
        def gif(request: Request) -> Response:
            record(request)
            return Response(gif_bytes(), media_type="image/gif")

        @app.get("/gradio_api/file={path:path}")
        def served_file(path: str, request: Request) -> Response:
            record(request)  # its own file route (Gradio 5+'s), before Gradio's: any path it is asked for
            return Response(png_bytes(), media_type="image/png")

        @app.get("/files/bounce")
        def bounce(request: Request) -> Response:
            record(request)
            return RedirectResponse(f"{self.other_host}/bounced.png", status_code=302)

        @app.get("/files/bounce-to")
        def bounce_to(request: Request) -> Response:
            record(request)
            return Response(status_code=302, headers={"location": self.target})

        @app.get("/files/huge.png")
        def huge(request: Request) -> Response:
            record(request)
            return Response(huge_png_header(), media_type="image/png")

        @app.get("/files/slow")
        def slow(request: Request) -> StreamingResponse:
            record(request)
            self.slow_started.set()

            def drip():
                yield png_bytes()[:8]
                # One byte every 20 s: never ends, never idle long enough for a read timeout.
                while not self._closing.wait(20):
                    yield b"\0"

            return StreamingResponse(drip(), media_type="image/png")

        if self.evil_prefix is not None:
            @app.get("/config")
            def config() -> JSONResponse:
                real = httpx.get(f"{self.url}/real/config", timeout=10).json()
                real["api_prefix"] = self.evil_prefix
                return JSONResponse(real)

        if self.huge_config:
            @app.get("/config")
            def big_config() -> Response:
                real = httpx.get(f"{self.url}/real/config", timeout=10).json()
                real["api_prefix"] = "/real/gradio_api/"  # (the app's own, at the path it is mounted on)
                head, tail = json.dumps(real)[:-1] + ', "padding": "', '"}'
                size = len(head) + self.huge_config // 65536 * 65536 + len(tail)

                def body():
                    yield head.encode()
                    for _ in range(self.huge_config // 65536):
                        self.config_bytes_sent += 65536
                        yield b"x" * 65536
                    yield tail.encode()

                headers = {"content-length": str(size)} if self.declare_length else {}
                return StreamingResponse(body(), media_type="application/json", headers=headers)

        def generate(base, product, workflow, mask, request: gr.Request):
            return self.answer({k.lower(): v for k, v in request.headers.items()})

        with gr.Blocks() as demo:
            base = gr.Image(type="filepath")
            product = gr.Image(type="filepath")
            workflow = gr.Textbox()
            mask = gr.Image(type="filepath")
            out = gr.JSON()
            gr.Button().click(generate, [base, product, workflow, mask], out, api_name="generate", preprocess=False)
        demo.queue(default_concurrency_limit=8)
        moved = self.evil_prefix is not None or self.huge_config
        return gr.mount_gradio_app(app, demo, path="/real" if moved else "/")

    def start(self) -> "HostileApp":
        import uvicorn

        from .servers import free_port

        port = free_port()
        self.url = f"http://127.0.0.1:{port}"
        config = uvicorn.Config(self.build(), host="127.0.0.1", port=port, log_level="error", lifespan="on")
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, name="hostile-app", daemon=True)
        self.thread.start()
        wait_until(lambda: self.server.started, what="the hostile app to start")
        return self

    def close(self) -> None:
        self._closing.set()
        self.server.should_exit = True
        if self.thread is not None:
            self.thread.join(timeout=10)

