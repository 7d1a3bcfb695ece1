"""Images a manifest names by URL: fetched once into a local content-addressed cache, then used like files.

A URL in a dataset is untrusted input, like a service's answer:
- only http(s), and no credential is ever sent: the fetcher (vton_eval.http_fetch) is given none, a URL
  with a user name or password is refused (httpx would turn it into a Basic auth header), and so is a
  redirect to one; redirects are followed one hop at a time and each hop is checked again (scheme,
  user info, and a public address may not send us to a private or loopback one, judged by the address
  the host resolves to and the one actually reached, whatever its spelling);
- every download has a deadline and a size cap;
- what answers is kept only if it is an accepted image (JPEG, PNG or WEBP by its signature and header, as
  `vton_eval.images` reads them); a 404 page, a login form, a GIF, an EPS or any other file is reported, not
  cached.

The cache is content-addressed (`objects/ab/<sha256>.<ext>`), with one small index file per URL
(`index/ab/<sha256 of the URL>.json`), both written atomically. A URL found in the index is not
fetched again (`refresh` fetches anyway); failures are not cached, so a later load tries again. One
load asks for each distinct URL once, whatever the number of rows naming it, so a run (which loads
its dataset once and copies the cached files into its artifact store) never fetches a URL twice.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import re
import sys
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass
from pathlib import Path

import httpx

from vton_eval.datasets.sidecar import atomic_write_text
from vton_eval.http_fetch import Address, Fetcher, FetchRefused, FetchTimeout, FetchTooLarge, is_private
from vton_eval.images import ImageProblem, opened, signature_format
from vton_eval.secrets import clean_message
from vton_eval.textsafe import cap

CACHE_ENV = "VTON_EVAL_URL_CACHE"
_ANY_SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.\-]*://")


def looks_like_url(text: str) -> bool:
    """`scheme://...`: a URL (of any scheme), as opposed to a path."""
    return bool(_ANY_SCHEME.match(text))


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


def dataset_reach(url: httpx.URL, addresses: Sequence[Address], came_from: Address | None) -> None:
    """Where a dataset's URL may lead (a `Reach` rule, asked by address before and after each connection): the
    URL as the dataset names it goes where it points (an image server on this network is the dataset's own
    business), but a public address may not redirect us to a private one, however the host is spelt."""
    if came_from is None or is_private(came_from):
        return
    private = next((a for a in addresses if is_private(a)), None)
    if private is not None:
        raise FetchRefused(f"a redirect from the public address {came_from} to {url.host} (the private address "
                           f"{private}) is not followed")


_EXTENSIONS = {"JPEG": "jpg", "PNG": "png", "WEBP": "webp"}


def sniff_extension(data: bytes) -> str | None:
    """The extension of an accepted image (JPEG, PNG, WEBP: its signature, and a header its format's reader
    parses); None for anything else, which the cache does not keep."""
    fmt = signature_format(data[:16])
    if fmt not in _EXTENSIONS:
        return None
    try:
        with opened(data, max_pixels=sys.maxsize):  # the pixel limit is the validation's to apply, with its message
            return _EXTENSIONS[fmt]
    except ImageProblem:
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
                          reach=dataset_reach)
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
            named = signature_format(data[:16])
            if named is not None and named not in _EXTENSIONS:
                return UrlFailure("url_not_image", f"{shown_url(url)}: {named} images are not accepted (use JPG, PNG "
                                                   "or WEBP); nothing was kept")
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
