"""Downloading a file a service (or a dataset) names, without trusting the name.

- Credentials (the endpoint's headers and cookies) go only to the endpoint's own origin (scheme,
  host, port), checked again at every redirect hop. httpx would strip only `Authorization` when a
  redirect leaves the origin, and gradio_client carries the token in `x-hf-authorization`, so
  redirects are followed here, one hop at a time. A file on another origin is fetched with no
  credential at all.
- A user name or password in an address is never sent anywhere: such an address (or a redirect to
  one) is refused, since httpx would turn it into an `Authorization: Basic` header for any host.
- Where a hop may go is decided by the address it reaches, not by how its host is spelt
  (`2130706433`, `0x7f000001`, `127.1` and a name resolving to 127.0.0.1 are all loopback): a
  `Reach` rule is asked before each request (with the name's resolved addresses) and again once
  connected (with the address actually reached, so a name that changes its answer in between gains
  nothing). `endpoint_reach` is the rule for a service's outputs: its own origin, or public addresses.
- Only http(s) is fetched; a `file:` or any other scheme is refused.
- Every transfer has a deadline and honours a stop flag, whatever the server does: the transfer
  runs in its own thread, and the caller stops waiting at the deadline or the stop and shuts the
  socket down. A server that sends one byte every 20 s cannot hold a run past its timeout.
- The size is capped while reading, so a never-ending body cannot fill the memory.
"""

from __future__ import annotations

import ipaddress
import socket
import threading
import time
import weakref
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

import httpx

from vton_eval.errors import VtonEvalError

MAX_REDIRECTS = 5
_WAIT_STEP_S = 0.05
# The most an endpoint's answer that is not an event stream may hold (its /config, its API description, an
# upload's receipt): a real app's config is well under a megabyte, and 200 MB of JSON costs about 1 GB to parse.
MAX_ANSWER_BYTES = 16 * 1024 * 1024


class FetchRefused(VtonEvalError):
    """The address or the answer is not something we download (scheme, redirects, size)."""


class FetchTooLarge(FetchRefused):
    """The body is larger than the limit."""


class FetchTimeout(VtonEvalError):
    """The transfer did not end before its deadline."""


class FetchStopped(VtonEvalError):
    """The caller's stop flag was set during the transfer."""


Origin = tuple[str, str, int]
Address = ipaddress.IPv4Address | ipaddress.IPv6Address
# Asked before each request (the addresses its host name resolves to) and once connected (the address reached):
# (url, its addresses, the address the previous hop reached or None for the first) -> None, or FetchRefused.
Reach = Callable[[httpx.URL, Sequence[Address], Address | None], None]


def origin_of(url: str | httpx.URL) -> Origin:
    """(scheme, host, port) with the scheme's default port made explicit."""
    u = httpx.URL(url)
    scheme = u.scheme.lower()
    port = u.port or {"http": 80, "https": 443}.get(scheme, 0)
    return scheme, (u.host or "").lower(), port


def _address(text: str) -> Address | None:
    try:
        address = ipaddress.ip_address(text.split("%", 1)[0])
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped  # ::ffff:127.0.0.1 is 127.0.0.1
    return address


def addresses_of(host: str, port: int = 80) -> list[Address]:
    """The addresses a host name (or any spelling of an address: 2130706433, 0x7f000001, 127.1) reaches, as
    the operating system resolves it for a connection; [] when it does not resolve."""
    try:
        infos = socket.getaddrinfo(host.strip("[]"), port, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError, ValueError):
        return []
    found = [_address(str(info[4][0])) for info in infos]
    return list(dict.fromkeys(a for a in found if a is not None))


def is_private(address: Address) -> bool:
    """Anything but a public internet address: loopback, private networks, link-local (cloud metadata),
    shared, reserved, unspecified, multicast."""
    return not address.is_global or address.is_multicast


def endpoint_reach(origin: Origin) -> Reach:
    """Where a service's output (and each redirect of it) may be downloaded from: the endpoint's own origin, or
    public addresses; never another private address (another service on the endpoint's machine or network)."""

    def check(url: httpx.URL, addresses: Sequence[Address], came_from: Address | None) -> None:
        if origin_of(url) == origin:
            return
        private = next((a for a in addresses if is_private(a)), None)
        if private is not None:
            raise FetchRefused(f"the output is at {_shown(url)}, a private address ({private}) other than the "
                               "endpoint's own origin: not downloaded")

    return check


@dataclass(frozen=True)
class Credentials:
    """What may be sent to one origin only: headers (the token among them) and cookies."""

    origin: Origin
    headers: Mapping[str, str] = field(default_factory=dict)
    cookies: Mapping[str, str] = field(default_factory=dict)

    def for_url(self, url: httpx.URL) -> dict[str, str]:
        if origin_of(url) != self.origin:
            return {}
        headers = dict(self.headers)
        if self.cookies:
            headers["cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        return headers


class _CappedStream(httpx.SyncByteStream):
    """A response body that stops with FetchTooLarge past `limit` bytes, before the caller holds it all."""

    def __init__(self, inner: httpx.SyncByteStream, limit: int, what: str) -> None:
        self._inner = inner
        self._limit = limit
        self._what = what

    def __iter__(self):  # type: ignore[override]
        seen = 0
        for chunk in self._inner:
            seen += len(chunk)
            if seen > self._limit:
                raise FetchTooLarge(f"{self._what} is larger than {self._limit // 2**20} MB; it was not read")
            yield chunk

    def close(self) -> None:
        self._inner.close()


class ClientGuard(httpx.Auth):
    """What every request gradio_client makes goes through (it is the client's `auth`; its
    `httpx_kwargs` reach every request it sends).

    - The token is added to requests for the endpoint's origin only. The client itself holds no
      token, so whatever URL the app's configuration or an answer names, the token stays home.
    - An answer that is not an event stream (the app's /config, its API description) is capped at
      `max_answer_bytes` while it is read, before gradio_client parses it.
    - Each connection is remembered, so `shutdown()` can end them all at once: gradio_client reads
      its event stream in threads of its own with no way to stop them, and a stream the server
      keeps alive with heartbeats would otherwise hold a stopped run (and its process's exit) open.
    """

    def __init__(self, origin: Origin, token: str | None, header: str = "x-hf-authorization",
                 max_answer_bytes: int = MAX_ANSWER_BYTES) -> None:
        self.origin = origin
        self.max_answer_bytes = max_answer_bytes
        self._token = token
        self._header = header
        self._sockets: weakref.WeakSet[socket.socket] = weakref.WeakSet()
        self._lock = threading.Lock()
        self._closed = False

    def auth_flow(self, request: httpx.Request):  # type: ignore[override]
        if self._closed:
            # The one error gradio_client's stream reader takes quietly (anything else, it prints).
            raise httpx.RemoteProtocolError("the endpoint was closed", request=request)
        if self._token and origin_of(request.url) == self.origin:
            request.headers[self._header] = f"Bearer {self._token}"
        response = yield request
        if "text/event-stream" not in response.headers.get("content-type", ""):
            what = f"the endpoint's answer to {request.url.path or '/'}"
            declared = response.headers.get("content-length", "")
            if declared.isdigit() and int(declared) > self.max_answer_bytes:
                response.close()
                raise FetchTooLarge(f"{what} is {int(declared):,} bytes, over {self.max_answer_bytes // 2**20} MB; "
                                    "it was not read")
            response.stream = _CappedStream(response.stream, self.max_answer_bytes, what)  # type: ignore[arg-type]
        stream = response.extensions.get("network_stream")
        sock = stream.get_extra_info("socket") if stream is not None else None
        if sock is not None:
            with self._lock:
                self._sockets.add(sock)
            if self._closed:
                _Transfer._shutdown(sock)

    def shutdown(self) -> None:
        """End every connection the client holds (the run is over); later requests fail at once."""
        with self._lock:
            self._closed = True
            sockets = list(self._sockets)
        for sock in sockets:
            _Transfer._shutdown(sock)


class _Transfer:
    """One download in its own thread; `abort` shuts its socket so a blocked read ends at once."""

    def __init__(self) -> None:
        self.data: bytes | None = None
        self.error: BaseException | None = None
        self.done = threading.Event()
        self._sock: socket.socket | None = None
        self._aborted = False
        self._lock = threading.Lock()

    def attach(self, response: httpx.Response) -> None:
        stream = response.extensions.get("network_stream")
        sock = stream.get_extra_info("socket") if stream is not None else None
        with self._lock:
            self._sock = sock
            aborted = self._aborted
        if aborted:
            self._shutdown(sock)

    def abort(self) -> None:
        with self._lock:
            self._aborted = True
            sock = self._sock
        self._shutdown(sock)

    @property
    def aborted(self) -> bool:
        return self._aborted

    @staticmethod
    def _shutdown(sock: socket.socket | None) -> None:
        if sock is None:
            return
        try:
            sock.shutdown(socket.SHUT_RDWR)
        except OSError:  # already closed
            pass


class Fetcher:
    """Downloads over one pooled client. Thread-safe; `close()` when done."""

    def __init__(self, credentials: Credentials | None = None, connect_timeout_s: float = 15.0,
                 read_timeout_s: float = 60.0, verify: object = True, max_connections: int = 64,
                 user_agent: str = "vton-eval", reach: Reach | None = None) -> None:
        self.credentials = credentials
        # Where each hop may go, by address (None: anywhere, e.g. a dataset's own URL on this machine).
        self.reach = reach
        self.connect_timeout_s = connect_timeout_s
        self.read_timeout_s = read_timeout_s
        # No default headers, no redirects, and requests built by hand: the client's cookie jar is
        # never merged into a request, so nothing one server set reaches another.
        self._client = httpx.Client(
            verify=verify, follow_redirects=False, headers={"user-agent": user_agent},
            limits=httpx.Limits(max_connections=max_connections, max_keepalive_connections=max_connections // 2),
        )

    def close(self) -> None:
        self._client.close()

    def fetch(self, url: str, max_bytes: int, deadline: float | None = None,
              stop: threading.Event | None = None) -> bytes:
        """The body at `url` (following redirects by hand). `deadline` is a time.monotonic() value.

        Raises FetchRefused / FetchTooLarge (the answer is unusable), FetchTimeout, FetchStopped, or the
        httpx error of the transfer (connection refused, HTTP 404...).
        """
        transfer = _Transfer()
        thread = threading.Thread(target=self._run, args=(transfer, url, max_bytes, deadline),
                                  name="vton-fetch", daemon=True)
        thread.start()
        while not transfer.done.wait(_WAIT_STEP_S):
            if stop is not None and stop.is_set():
                transfer.abort()
                raise FetchStopped("the download was stopped")
            if deadline is not None and time.monotonic() >= deadline:
                transfer.abort()
                raise FetchTimeout("the download did not finish before the deadline")
        if transfer.error is not None:
            raise transfer.error
        assert transfer.data is not None
        return transfer.data

    def _timeout(self, deadline: float | None) -> httpx.Timeout:
        remaining = float("inf") if deadline is None else max(0.01, deadline - time.monotonic())
        read = min(self.read_timeout_s, remaining)
        return httpx.Timeout(read, connect=min(self.connect_timeout_s, remaining))

    def _run(self, transfer: _Transfer, url: str, max_bytes: int, deadline: float | None) -> None:
        try:
            transfer.data = self._download(transfer, url, max_bytes, deadline)
        except BaseException as exc:  # handed to the waiting caller
            transfer.error = exc
        finally:
            transfer.done.set()

    def _download(self, transfer: _Transfer, url: str, max_bytes: int, deadline: float | None) -> bytes:
        current = httpx.URL(url)
        came_from: Address | None = None
        for _ in range(MAX_REDIRECTS + 1):
            if current.scheme.lower() not in ("http", "https") or not current.host:
                raise FetchRefused(f"only http(s) addresses are downloaded, not {_shown(current)}")
            if current.userinfo:
                raise FetchRefused(f"an address with a user name or password ({_shown(current)}) is not fetched: "
                                   "no credential is ever sent")
            if self.reach is not None:
                self.reach(current, addresses_of(current.host, origin_of(current)[2]), came_from)
            headers = self.credentials.for_url(current) if self.credentials is not None else {}
            request = httpx.Request("GET", current, headers=headers,
                                    extensions={"timeout": self._timeout(deadline).as_dict()})
            response = self._client.send(request, stream=True)
            try:
                transfer.attach(response)
                reached = _peer(response)
                if self.reach is not None and reached is not None:
                    self.reach(current, [reached], came_from)
                came_from = reached
                if response.is_redirect:
                    try:
                        current = current.join(response.headers.get("location", ""))
                    except httpx.InvalidURL:
                        raise FetchRefused("a redirect names an address that is not a valid URL") from None
                    continue
                response.raise_for_status()
                declared = response.headers.get("content-length", "")
                if declared.isdigit() and int(declared) > max_bytes:
                    raise FetchTooLarge(f"the file is {int(declared):,} bytes, over the limit of {max_bytes:,}")
                chunks, size = [], 0
                for chunk in response.iter_bytes():
                    size += len(chunk)
                    if size > max_bytes:
                        raise FetchTooLarge(f"the file is larger than the limit of {max_bytes:,} bytes")
                    chunks.append(chunk)
                return b"".join(chunks)
            finally:
                response.close()
        raise FetchRefused(f"more than {MAX_REDIRECTS} redirects")


def _peer(response: httpx.Response) -> Address | None:
    """The address the response came from (where the connection actually went)."""
    stream = response.extensions.get("network_stream")
    try:
        peer = stream.get_extra_info("server_addr") if stream is not None else None
    except Exception:  # a transport that cannot say
        return None
    return _address(str(peer[0])) if peer else None


def _shown(url: httpx.URL) -> str:
    """An address as we may show it: scheme and host only (a path or query could carry anything)."""
    return f"{url.scheme}://{url.host}" if url.host else f"a {url.scheme or 'schemeless'} address"
