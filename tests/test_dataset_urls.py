"""Images by URL: fetched once into a content-addressed cache with limits, no credential sent, every bad row named,
and a run that copies them into its artifact store without fetching anything twice."""

from __future__ import annotations

import hashlib
import ipaddress
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from vton_eval.datasets import load_dataset
from vton_eval.datasets.urls import UrlCache, UrlLimits, dataset_reach
from vton_eval.http_fetch import FetchRefused, addresses_of, is_private
from vton_eval.runner import RunSettings, create_run, execute_run
from vton_eval.store.reads import reading

from .helpers.image_host import image_bytes, start_image_host
from .helpers.paths import REPO

TOKEN = "hf_urlsShouldNeverSeeThis123"


@pytest.fixture()
def host():
    server = start_image_host()
    yield server
    server.close()


def _manifest(folder: Path, rows: list[str]) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "manifest.csv").write_text("pair_id,workflow,base,product,mask,reference,tags\n" + "\n".join(rows) + "\n",
                                         encoding="utf-8")
    return folder


def test_validate_names_every_row_whose_url_fails_and_sends_no_credential(host, tmp_path, monkeypatch):
    monkeypatch.setenv("HF_TOKEN", TOKEN)
    u = host.url
    person = u("/img/person.jpg")
    rows = [
        f"ok,top,{person},{u('/img/top.png')},,,",                                    # 2: fine
        f"missing,top,{person},{u('/status/404')},,,",                                 # 3: HTTP 404
        f"page,top,{person},{u('/html')},,,",                                          # 4: not an image
        f"refused,top,http://127.0.0.1:9/img/a.png,{u('/img/top.png')},,,",           # 5: nothing listens
        f"slow,top,{u('/slow')},{u('/img/top.png')},,,",                               # 6: past the deadline
        f"endless,top,{u('/endless')},{u('/img/top.png')},,,",                         # 7: past the size cap
        f"file,top,{u('/redirect?to=file:///etc/passwd')},{u('/img/top.png')},,,",     # 8: a redirect to a file
        f"userinfo,top,http://bob:pw@{host.host}:{host.port}/img/x.png,{u('/img/top.png')},,,",  # 9
        f"relay,top,{u('/redirect?to=http://eve:pw@127.0.0.1:9/x.png')},{u('/img/top.png')},,,",  # 10
        f"gif,top,{person},{u('/img/anim.gif')},,,",                                   # 11: a GIF: not kept
        f"small,top,{person},{u('/small/p')},,,",                                      # 12: kept, too small
        f"cookie,top,{u('/cookie')},{u('/img/top.png')},{u('/img/mask.png')},{person},",  # 13: fine
    ]
    folder = _manifest(tmp_path / "urls", rows)
    proc = subprocess.run([sys.executable, "-m", "vton_eval", "datasets", "validate", str(folder),
                           "--url-cache", str(tmp_path / "cache"), "--url-timeout", "3", "--url-max-bytes", "3000000"],
                          capture_output=True, text=True, cwd=REPO, timeout=120, env={**_env(), "HF_TOKEN": TOKEN})
    assert proc.returncode == 1
    named = {int(line.split("line ")[1].split(" ")[0]) for line in proc.stderr.splitlines() if "line " in line}
    assert named == {3, 4, 5, 6, 7, 8, 9, 10, 11, 12}, proc.stderr
    for text in ("HTTP 404", "not an image", "does not answer", "within 3 s", "larger than the limit",
                 "only http(s)", "user name or password", "GIF images are not accepted", "under the minimum"):
        assert text in proc.stderr, text
    assert "bob" not in proc.stderr + proc.stdout  # the user info of a URL is never repeated
    assert "3 usable pairs" in proc.stdout  # ok, small, cookie
    cached = [p.suffix for p in (tmp_path / "cache" / "objects").rglob("*") if p.is_file()]
    assert cached and set(cached) <= {".png", ".jpg"}  # only accepted images are kept: no GIF, no page
    for request in host.requests:  # no credential of any kind reached the host, at any hop
        assert not {"authorization", "cookie", "x-hf-authorization"} & set(request["headers"]), request
        assert TOKEN not in str(request)
    assert host.hits["/img/cookie.png"] == 1 and host.hits["/img/person.jpg"] == 1  # three rows, one fetch


def _env() -> dict[str, str]:
    import os

    return {k: v for k, v in os.environ.items() if k != "HF_TOKEN"}


def test_cached_urls_are_not_fetched_again_failures_are(host, tmp_path):
    u = host.url
    folder = _manifest(tmp_path / "ds", [f"a,top,{u('/img/p.jpg')},{u('/img/g.png')},,,",
                                         f"b,top,{u('/img/p.jpg')},{u('/status/503')},,,"])
    cache = UrlCache(tmp_path / "cache", UrlLimits(timeout_s=5))
    first = load_dataset(folder, url_cache=cache)
    assert [p.pair_id for p in first.pairs] == ["a"] and [p.line for p in first.errors] == [3]
    pair = first.pairs[0]
    assert pair.base.read_bytes() == image_bytes("p.jpg") and pair.base.suffix == ".jpg"
    assert pair.base.is_relative_to(tmp_path / "cache") and pair.source("base") == u("/img/p.jpg")
    assert pair.base.name.startswith(hashlib.sha256(image_bytes("p.jpg")).hexdigest())  # content-addressed
    hits = dict(host.hits)
    again = load_dataset(folder, url_cache=UrlCache(tmp_path / "cache"))
    assert [p.base for p in again.pairs] == [pair.base]
    assert host.hits["/img/p.jpg"] == hits["/img/p.jpg"] == 1 and host.hits["/img/g.png"] == 1
    assert host.hits["/status/503"] == 2  # a failure is not cached: tried again
    load_dataset(folder, url_cache=UrlCache(tmp_path / "cache"), refresh_urls=True)
    assert host.hits["/img/p.jpg"] == 2


def test_a_run_copies_url_inputs_into_its_artifacts_and_never_fetches_a_url_twice(host, live_sandbox, db, tmp_path,
                                                                                   monkeypatch):
    monkeypatch.setenv("VTON_EVAL_URL_CACHE", str(tmp_path / "cache"))
    live_sandbox.config.error_rate = 1.0  # every call fails and is sent again: retries reuse the copies
    u = host.url
    rows = [f"p{i},top,{u('/img/person.jpg')},{u(f'/img/top{i}.png')},,{u('/img/person.jpg')},url" for i in range(4)]
    folder = _manifest(tmp_path / "ds", rows)
    settings = RunSettings(dataset=str(folder), endpoint=live_sandbox.url, repeats=2, concurrency=4, retries=1,
                           backoff_s=0.01, checks=False)
    run_id = create_run(db, settings)
    report = execute_run(db, run_id)
    assert report.status == "finished"
    assert host.hits == {"/img/person.jpg": 1, **{f"/img/top{i}.png": 1 for i in range(4)}}
    with reading(db) as read:
        cases = read.rows("SELECT pair_id, base_path, product_path, reference_path, base_source, product_source "
                          "FROM cases WHERE run_id = ? ORDER BY pair_id", [run_id])
        attempts = read.rows("SELECT attempts FROM results WHERE run_id = ?", [run_id])
    assert [a["attempts"] for a in attempts] == [2] * 8  # 16 calls, 4 pairs x 2 repeats, each sent twice
    for i, case in enumerate(cases):
        assert case["base_source"] == u("/img/person.jpg") and case["product_source"] == u(f"/img/top{i}.png")
        assert db.artifacts.abspath(case["product_path"]).read_bytes() == image_bytes(f"top{i}.png")
        assert db.artifacts.abspath(case["base_path"]).is_relative_to(db.artifacts.root)


def test_a_public_address_redirects_to_no_private_one_however_it_is_spelt():
    """Decided by the address a host resolves to (and, once connected, the one reached), never by its text."""
    public = ipaddress.ip_address("93.184.216.34")

    def hop(target: str, came_from=public) -> None:
        url = httpx.URL(target)
        dataset_reach(url, addresses_of(url.host, url.port or 80), came_from)

    hop("http://93.184.216.35/a.png")  # public to public: fine
    hop("http://127.0.0.1:8001/b", came_from=ipaddress.ip_address("127.0.0.1"))  # a dataset served on this machine
    hop("http://127.0.0.1:8001/b", came_from=None)  # the URL the dataset itself names: where it points
    for target in ("http://127.0.0.1/x", "http://2130706433/x", "http://0x7f000001/x", "http://127.1/x",
                   "http://localhost/x", "http://[::1]/x", "http://[::ffff:127.0.0.1]/x", "http://169.254.169.254/x",
                   "http://10.0.0.5/x", "http://0.0.0.0/x"):
        with pytest.raises(FetchRefused, match="private address"):
            hop(target)
    assert is_private(ipaddress.ip_address("192.168.1.2")) and not is_private(public)


def test_a_connection_dropped_once_is_tried_again_one_always_dropped_is_named(host, tmp_path):
    u = host.url
    folder = _manifest(tmp_path / "ds", [f"a,top,{u('/drop-once/p.png')},{u('/img/g.png')},,,",
                                         f"b,top,{u('/img/p.jpg')},{u('/drop')},,,"])
    ds = load_dataset(folder, url_cache=UrlCache(tmp_path / "cache", UrlLimits(timeout_s=5)))
    assert [p.pair_id for p in ds.pairs] == ["a"] and host.hits["/drop-once/p.png"] == 2
    assert [(p.line, p.column) for p in ds.errors] == [(3, "product")] and "does not answer" in ds.errors[0].message
    assert host.hits["/drop"] == 2  # one more try, then named
