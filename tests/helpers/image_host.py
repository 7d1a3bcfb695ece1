"""A web server on loopback that serves images by URL, and everything else a URL in a dataset may do.

It stands for the image hosts a catalogue's manifest names. It counts every request per path and keeps
each request's headers, so a test can assert that a URL was fetched once and that no credential ever
left. Routes:

    /img/NAME          an image made from NAME (PNG; NAME ending .jpg gives a JPEG, .gif a GIF)
    /small/NAME        a 60x60 PNG (the service refuses it: kept, marked invalid)
    /status/CODE       that HTTP status
    /html              a web page (200, not an image)
    /redirect?to=URL   302 to URL
    /cookie            sets a cookie, then 302 to /img/cookie.png
    /slow              declares 100 kB, then sends a byte every 0.2 s
    /endless           streams bytes until the client hangs up (no length declared)
    /drop-once/NAME    hangs up without answering the first time, then serves an image
    /drop              hangs up without answering, every time
    /stats             {"hits": requests so far} (for a host run in its own process)

`python -m tests.helpers.image_host` serves until killed and prints its port (benchmarks run it in its own
process, so that serving does not share the measured process's interpreter lock).
"""

from __future__ import annotations

import collections
import hashlib
import http.server
import io
import json
import threading
import urllib.parse
from dataclasses import dataclass, field
from typing import Any

from PIL import Image, ImageDraw


def image_bytes(name: str, size: tuple[int, int] = (150, 200)) -> bytes:
    """A small picture that differs with `name` (format from its extension: .jpg, .gif, else PNG)."""
    digest = hashlib.sha256(name.encode()).digest()
    img = Image.new("RGB", size, (digest[0], digest[1], digest[2]))
    ImageDraw.Draw(img).rectangle((size[0] // 4, size[1] // 4, size[0] * 3 // 4, size[1] * 3 // 4),
                                  fill=(digest[3], digest[4], digest[5]))
    buffer = io.BytesIO()
    fmt = "JPEG" if name.endswith(".jpg") else "GIF" if name.endswith(".gif") else "PNG"
    img.save(buffer, fmt)
    return buffer.getvalue()


@dataclass
class ImageHost:
    host: str
    port: int
    hits: collections.Counter = field(default_factory=collections.Counter)
    requests: list[dict[str, Any]] = field(default_factory=list)
    server: Any = None
    stopping: threading.Event = field(default_factory=threading.Event)

    def url(self, path: str) -> str:
        return f"http://{self.host}:{self.port}{path}"

    def close(self) -> None:
        self.stopping.set()
        self.server.shutdown()
        self.server.server_close()


def start_image_host(host: str = "127.0.0.1", keep_headers: bool = True) -> ImageHost:
    state = ImageHost(host, 0)
    cache: dict[str, bytes] = {}
    lock = threading.Lock()

    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"  # keep-alive, as real image hosts and CDNs do
        disable_nagle_algorithm = True  # headers and body go out at once (else a 40 ms delayed-ACK stall each)

        def do_GET(self) -> None:  # noqa: N802 (the stdlib's name)
            parsed = urllib.parse.urlsplit(self.path)
            with lock:
                state.hits[parsed.path] += 1
                if keep_headers:
                    state.requests.append({"path": self.path,
                                           "headers": {k.lower(): v for k, v in self.headers.items()}})
            route = parsed.path
            if route.startswith("/img/"):
                name = route[len("/img/"):]
                with lock:
                    body = cache.get(name) or cache.setdefault(name, image_bytes(name))
                self._send(200, body, "image/gif" if name.endswith(".gif") else "image/png")
            elif route.startswith("/small/"):
                self._send(200, image_bytes(route, (60, 60)), "image/png")
            elif route.startswith("/status/"):
                code = int(route.rsplit("/", 1)[1])
                self._send(code, b"no such image", "text/plain")
            elif route == "/stats":  # for a host in another process (benchmarks)
                served = sum(n for path, n in state.hits.items() if path != "/stats")
                self._send(200, json.dumps({"hits": served}).encode(), "application/json")
            elif route.startswith("/drop-once/") and state.hits[route] == 1:  # hangs up once, then serves
                self.close_connection = True
            elif route.startswith("/drop-once/"):
                self._send(200, image_bytes(route), "image/png")
            elif route == "/drop":  # hangs up without an answer, every time
                self.close_connection = True
            elif route == "/html":
                self._send(200, b"<html><body><h1>Please sign in</h1></body></html>", "text/html")
            elif route == "/redirect":
                target = urllib.parse.parse_qs(parsed.query)["to"][0]
                self._send(302, b"", "text/plain", {"location": target})
            elif route == "/cookie":
                self._send(302, b"", "text/plain", {"location": "/img/cookie.png",
                                                    "set-cookie": "session=secret-cookie; Path=/"})
            elif route == "/slow":
                self._trickle()
            elif route == "/endless":
                self._endless()
            else:
                self._send(404, b"not found", "text/plain")

        def _send(self, code: int, body: bytes, kind: str, headers: dict[str, str] | None = None) -> None:
            self.send_response(code)
            self.send_header("content-type", kind)
            self.send_header("content-length", str(len(body)))
            for key, value in (headers or {}).items():
                self.send_header(key, value)
            self.end_headers()
            self.wfile.write(body)

        def _trickle(self) -> None:
            self.send_response(200)
            self.send_header("content-type", "image/png")
            self.send_header("content-length", "100000")
            self.end_headers()
            try:
                while not state.stopping.wait(0.2):
                    self.wfile.write(b"\x89")
                    self.wfile.flush()
            except OSError:  # the client hung up: what a deadline does
                pass
            self.close_connection = True

        def _endless(self) -> None:
            self.send_response(200)
            self.send_header("content-type", "image/png")
            self.send_header("connection", "close")
            self.end_headers()
            chunk = b"\x89PNG\r\n\x1a\n" + b"\0" * 65536
            try:
                while not state.stopping.is_set():
                    self.wfile.write(chunk)
            except OSError:
                pass
            self.close_connection = True

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer((host, 0), Handler)
    server.daemon_threads = True
    state.server, state.port = server, server.server_address[1]
    threading.Thread(target=server.serve_forever, name="image-host", daemon=True).start()
    return state


if __name__ == "__main__":
    import time

    served = start_image_host(keep_headers=False)
    print(served.port, flush=True)
    while True:
        time.sleep(3600)
