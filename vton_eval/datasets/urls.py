"""Images a manifest names by URL: fetched once into a local content-addressed cache, then used like files.

A URL in a dataset is untrusted input, like a service's answer:
- only http(s), and no credential is ever sent: the fetcher (vton_eval.http_fetch) is given none, a URL
  with a user name or password is refused (httpx would turn it into a Basic auth header), and so is a
  redirect to one; redirects are followed one hop at a time and each hop is checked again (scheme,
  user info, and a public address may not send us to a private or loopback one);
- every download has a deadline and a size cap;
- what answers is kept only if it is an image (by its first bytes); a 404 page, a login form or any
  other text is reported, not cached.

The cache is content-addressed (`objects/ab/<sha256>.<ext>`), with one small index file per URL
(`index/ab/<sha256 of the URL>.json`), both written atomically. A URL found in the index is not
fetched again (`refresh` fetches anyway); failures are not cached, so a later load tries again. One
load asks for each distinct URL once, whatever the number of rows naming it, so a run (which loads
its dataset once and copies the cached files into its artifact store) never fetches a URL twice.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import io
import ipaddress
import json
import os
import re
import threading
import time
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass
from pathlib import Path

import httpx

from vton_eval.datasets.sidecar import atomic_write_text
from vton_eval.http_fetch import Fetcher, FetchRefused, FetchTimeout, FetchTooLarge
from vton_eval.secrets import clean_message
from vton_eval.textsafe import cap

CACHE_ENV = "VTON_EVAL_URL_CACHE"
_ANY_SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.\-]*://")
_MAGIC: tuple[tuple[bytes, int, str], ...] = (
    (b"\xff\xd8\xff", 0, "jpg"), (b"\x89PNG\r\n\x1a\n", 0, "png"), (b"GIF87a", 0, "gif"), (b"GIF89a", 0, "gif"),
    (b"BM", 0, "bmp"), (b"II*\x00", 0, "tif"), (b"MM\x00*", 0, "tif"),
)


def looks_like_url(text: str) -> bool:
    """`scheme://...`: a URL (of any scheme), as opposed to a path."""
    return bool(_ANY_SCHEME.match(text))


def is_http_url(text: str) -> bool:
    return text[:8].lower().startswith(("http://", "https://"))


def default_cache_root() -> Path:
    """$VTON_EVAL_URL_CACHE, else $XDG_CACHE_HOME/vton-eval/urls, else ~/.cache/vton-eval/urls."""
    if os.environ.get(CACHE_ENV):
        return Path(os.environ[CACHE_ENV]).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "vton-eval" / "urls"


@dataclass(frozen=True)
class UrlLimits:
    max_bytes: int = 50 * 1024 * 1024
    timeout_s: float = 30.0
    workers: int = 16


@dataclass(frozen=True)
class UrlFailure:
    """Why a URL gave no image: `url_failed` (no usable answer) or `url_not_image`."""

    reason: str
    message: str


def shown_url(url: str, limit: int = 300) -> str:
    """A URL as we may show it: no user info, no control characters, no token, bounded length."""
    text = url
    try:
        parsed = httpx.URL(url)
        if parsed.userinfo:
            text = str(parsed.copy_with(username=None, password=None)).replace("://", "://***@", 1)
    except Exception:  # unparseable: shown as written, cleaned
        pass
    return cap(clean_message(text) or "", limit)


def check_url(url: str) -> str | None:
    """Why this URL is not fetched at all (None when it may be)."""
    try:
        parsed = httpx.URL(url)
    except Exception:
        return "not a valid URL"
    if parsed.scheme.lower() not in ("http", "https"):
        return "only http(s) URLs are fetched"
    if not parsed.host:
        return "the URL has no host"
    if parsed.userinfo:
        return "a URL with a user name or password is not fetched (no credential is ever sent)"
    return None


def is_private_host(host: str) -> bool:
    """Loopback, private, link-local or otherwise non-public addresses (by name or literal)."""
    host = host.strip("[]").lower()
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        ip = ipaddress.ip_address(host)
    except ValueError:
        return False
    return ip.is_private or ip.is_loopback or ip.is_link_local or ip.is_reserved or ip.is_unspecified \
        or ip.is_multicast


def check_redirect(source: httpx.URL, target: httpx.URL) -> None:
    """Each hop is checked again: no user info, and a public address may not send us to a private one
    (the dataset named a public image; a redirect into this machine's network is not what it named)."""
    if target.userinfo:
        raise FetchRefused("a redirect to an address with a user name or password is not followed")
    if target.host and is_private_host(target.host) and not is_private_host(source.host or ""):
        raise FetchRefused(f"a redirect from {source.host} to the private address {target.host} is not followed")


def sniff_extension(data: bytes) -> str | None:
    """The image format of these bytes by their signature (None: not an image we can name)."""
    for magic, offset, ext in _MAGIC:
        if data[offset:offset + len(magic)] == magic:
            return ext
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "webp"
    if data[4:8] == b"ftyp" and data[8:12] in (b"avif", b"avis", b"heic", b"heix", b"mif1"):
        return "avif" if data[8:11] == b"avi" else "heic"
    try:  # rarer formats: let Pillow name them (identifying reads the header only)
        from PIL import Image

        with Image.open(io.BytesIO(data)) as img:
            return (img.format or "").lower() or None
    except Exception:
        return None


class UrlCache:
    """The local cache of images fetched by URL. Thread-safe; each `resolve` call uses its own fetcher."""

    def __init__(self, root: Path | None = None, limits: UrlLimits | None = None) -> None:
        self.root = Path(root) if root is not None else default_cache_root()
        self.limits = limits or UrlLimits()
        self.fetched = 0  # downloads made by this object (benchmarks and tests read it)
        self._lock = threading.Lock()

    def _index_path(self, url: str) -> Path:
        key = hashlib.sha256(url.encode("utf-8")).hexdigest()
        return self.root / "index" / key[:2] / f"{key}.json"

    def cached(self, url: str) -> Path | None:
        """The cached file of a URL fetched before, if it is still there."""
        try:
            entry = json.loads(self._index_path(url).read_text(encoding="utf-8"))
            if entry.get("url") != url:
                return None
            path = self.root / entry["object"]
        except (OSError, ValueError, KeyError, TypeError):
            return None
        return path if path.is_file() else None

    def resolve(self, urls: Iterable[str], refresh: bool = False,
                progress: Callable[[int, int], None] | None = None) -> dict[str, Path | UrlFailure]:
        """Each distinct URL -> its cached file (fetched now if needed) or why it has none. Never raises for
        one URL: every failure is an answer, so one bad URL hides no other."""
        wanted = list(dict.fromkeys(urls))
        out: dict[str, Path | UrlFailure] = {}
        missing = []
        for url in wanted:
            refused = check_url(url)
            if refused:
                out[url] = UrlFailure("url_failed", f"{shown_url(url)}: {refused}")
                continue
            hit = None if refresh else self.cached(url)
            if hit is not None:
                out[url] = hit
            else:
                missing.append(url)
        if progress is not None:
            progress(len(out), len(wanted))
        if not missing:
            return out
        fetcher = Fetcher(credentials=None, connect_timeout_s=min(15.0, self.limits.timeout_s),
                          read_timeout_s=self.limits.timeout_s, max_connections=max(4, 2 * self.limits.workers),
                          redirect_check=check_redirect)
        try:
            with ThreadPoolExecutor(max_workers=max(1, self.limits.workers), thread_name_prefix="vton-url") as pool:
                futures = {pool.submit(self._fetch, fetcher, url): url for url in missing}
                for future in as_completed(futures):
                    out[futures[future]] = future.result()
                    if progress is not None:
                        progress(len(out), len(wanted))
        finally:
            fetcher.close()
        return out

    def _fetch(self, fetcher: Fetcher, url: str) -> Path | UrlFailure:
        with self._lock:
            self.fetched += 1
        limits = self.limits
        deadline = time.monotonic() + limits.timeout_s
        try:
            try:
                data = fetcher.fetch(url, max_bytes=limits.max_bytes, deadline=deadline)
            except (httpx.ConnectError, httpx.RemoteProtocolError, httpx.ReadError):
                # A kept-alive connection the server closed, a reset under load: one more try, same deadline.
                data = fetcher.fetch(url, max_bytes=limits.max_bytes, deadline=deadline)
        except FetchTooLarge:
            return UrlFailure("url_failed", f"{shown_url(url)}: larger than the limit of {limits.max_bytes:,} bytes")
        except FetchTimeout:
            return UrlFailure("url_failed", f"{shown_url(url)}: no complete answer within {limits.timeout_s:g} s")
        except FetchRefused as exc:
            return UrlFailure("url_failed", f"{shown_url(url)}: {clean_message(str(exc))}")
        except httpx.HTTPStatusError as exc:
            return UrlFailure("url_failed", f"{shown_url(url)}: answered HTTP {exc.response.status_code}")
        except Exception as exc:  # connection refused, reset, DNS, TLS...: the URL does not answer
            detail = cap(clean_message(str(exc)) or type(exc).__name__, 300)
            return UrlFailure("url_failed", f"{shown_url(url)}: does not answer ({detail})")
        ext = sniff_extension(data)
        if ext is None:
            return UrlFailure("url_not_image", f"{shown_url(url)}: answered {len(data):,} bytes that are not an image")
        return self._store(url, data, ext)

    def _store(self, url: str, data: bytes, ext: str) -> Path:
        sha = hashlib.sha256(data).hexdigest()
        rel = f"objects/{sha[:2]}/{sha}.{ext}"
        target = self.root / rel
        if not target.is_file():
            target.parent.mkdir(parents=True, exist_ok=True)
            _atomic_write_bytes(target, data)
        index = self._index_path(url)
        index.parent.mkdir(parents=True, exist_ok=True)
        atomic_write_text(index, json.dumps({
            "url": url, "object": rel, "sha256": sha, "bytes": len(data),
            "fetched_at": dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")}) + "\n")
        return target


def _atomic_write_bytes(target: Path, data: bytes) -> None:
    tmp = target.with_name(f".tmp-{os.getpid()}-{threading.get_ident()}-{target.name}")
    tmp.write_bytes(data)
    os.replace(tmp, target)
