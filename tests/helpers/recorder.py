"""A second host on loopback (127.0.0.2) that records every request it receives, headers included.

It stands for "some other server" a hostile service may point us at: a test asserts that no
credential ever reached it.
"""

from __future__ import annotations

import http.server
import io
import threading
from dataclasses import dataclass, field
from typing import Any

from PIL import Image


def png_bytes(size: tuple[int, int] = (160, 200), colour: tuple[int, int, int] = (10, 120, 200)) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", size, colour).save(buffer, "PNG")
    return buffer.getvalue()


@dataclass
class Recorder:
    host: str
    port: int
    requests: list[dict[str, Any]] = field(default_factory=list)
    server: Any = None

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def start_recorder(host: str = "127.0.0.2") -> Recorder:
    image = png_bytes()
    record = Recorder(host, 0)

    class Handler(http.server.BaseHTTPRequestHandler):
        def _any(self) -> None:
            record.requests.append({"method": self.command, "path": self.path,
                                    "headers": {k.lower(): v for k, v in self.headers.items()}})
            self.send_response(200)
            self.send_header("content-type", "image/png")
            self.send_header("content-length", str(len(image)))
            self.end_headers()
            self.wfile.write(image)

        do_GET = do_POST = _any

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer((host, 0), Handler)
    server.daemon_threads = True
    record.server, record.port = server, server.server_address[1]
    threading.Thread(target=server.serve_forever, name="header-recorder", daemon=True).start()
    return record
