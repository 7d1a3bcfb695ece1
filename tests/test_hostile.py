"""A service under test is untrusted input: hostile answers through the real gradio_client and a real run.

The hostile app (tests/helpers/hostile.py) has the Space's `/generate` signature; a second host on
127.0.0.2 records every header it receives. The token is fake.
"""

from __future__ import annotations

import base64
import csv
import io
import os
import subprocess
import sys
import threading
import time
import urllib.parse

import duckdb
import pytest
from PIL import Image

from vton_eval.services import CallInputs, EndpointError
from vton_eval.services.gradio import GradioService

from .helpers.hostile import MARKUP_MESSAGE, HostileApp
from .helpers.paths import REPO, SAMPLE
from .helpers.recorder import start_recorder

TOKEN = "hf_FakeHostileToken0123456789abcd"


@pytest.fixture(scope="module")
def recorder():
    rec = start_recorder("127.0.0.2")
    yield rec
    rec.close()


@pytest.fixture(scope="module")
def hostile(recorder, tmp_path_factory):
    secret = tmp_path_factory.mktemp("secret") / "secret.png"
    Image.new("RGB", (220, 220), (7, 7, 7)).save(secret)
    app = HostileApp(recorder.url).start()
    app.secret_path = str(secret)
    yield app
    app.close()


@pytest.fixture()
def endpoint(hostile, recorder):
    recorder.requests.clear()
    hostile.file_requests.clear()
    with GradioService(hostile.url, token=TOKEN) as ep:
        yield ep


def _pair() -> tuple[str, str]:
    with open(SAMPLE / "manifest.csv", encoding="utf-8") as f:
        row = next(r for r in csv.DictReader(f) if r["workflow"] == "top")
    return str(SAMPLE / row["base"]), str(SAMPLE / row["product"])


def _carries_token(headers: dict[str, str]) -> bool:
    return any(TOKEN[3:] in v or "bearer" in v.lower() for v in headers.values())


def test_the_token_goes_to_the_endpoint_origin_and_an_output_elsewhere_on_this_network_is_not_fetched(
        endpoint, hostile, recorder):
    hostile.mode = "same_origin"
    outcome = endpoint.call(CallInputs(*_pair(), "top"), timeout_s=30)
    assert outcome.status == "ok", outcome.error_message
    assert Image.open(io.BytesIO(outcome.output)).size == (160, 200)
    # The control: the endpoint's own origin did receive the token...
    own = [r for r in hostile.file_requests if r["path"] == "/files/image.png"]
    assert own and own[0]["headers"].get("x-hf-authorization") == f"Bearer {TOKEN}"
    # ...while an output on another private address (127.0.0.2), named directly or by a redirect, is refused
    # before anything is sent there: it may be any service of this machine or network.
    for mode in ("external_url", "redirect"):
        hostile.mode = mode
        outcome = endpoint.call(CallInputs(*_pair(), "top"), timeout_s=30)
        assert (outcome.status, outcome.error_kind) == ("error", "bad_output"), (mode, outcome.error_message)
        assert "a private address (127.0.0.2) other than the endpoint's own origin" in outcome.error_message
    assert not recorder.requests


def test_credentials_reach_no_other_origin_even_where_downloading_is_allowed(hostile, recorder):
    """The Fetcher's own rule, with a `reach` that lets it go anywhere (a public address would): the other origin
    gets no header, no cookie, at any hop."""
    from vton_eval.http_fetch import Credentials, Fetcher, origin_of

    fetcher = Fetcher(Credentials(origin_of(hostile.url), {"x-hf-authorization": f"Bearer {TOKEN}"},
                                  {"session": "s3cret"}))
    recorder.requests.clear()
    hostile.file_requests.clear()
    try:
        for url in (f"{recorder.url}/direct.png", f"{hostile.url}/files/bounce", f"{hostile.url}/files/image.png"):
            assert Image.open(io.BytesIO(fetcher.fetch(url, 1_000_000, time.monotonic() + 30))).size == (160, 200)
    finally:
        fetcher.close()
    assert {r["path"] for r in recorder.requests} == {"/direct.png", "/bounced.png"}
    for request in recorder.requests:
        assert not _carries_token(request["headers"]) and "cookie" not in request["headers"], request
    own = [r["headers"] for r in hostile.file_requests]
    assert all(h.get("x-hf-authorization") == f"Bearer {TOKEN}" and "s3cret" in h.get("cookie", "") for h in own)


def _loopback_spellings(port: int) -> list[str]:
    return [f"http://{host}:{port}/img/stolen.png" for host in
            ("2130706433", "0x7f000001", "127.1", "localhost", "127.0.0.1", "[::ffff:127.0.0.1]",
             "[::ffff:7f00:1]")]


@pytest.mark.parametrize("mode", ["redirect_to", "url_to"])
def test_an_output_or_its_redirect_reaches_no_spelling_of_loopback_but_the_endpoints_own(endpoint, hostile, mode):
    """A server of this machine (here an image host on 127.0.0.1, another port than the endpoint's) is not the
    endpoint, however its address is spelt: decided by the address the name resolves to and the one reached."""
    from .helpers.image_host import start_image_host

    other = start_image_host("127.0.0.1")
    try:
        for target in _loopback_spellings(other.port):
            hostile.mode, hostile.target = mode, target
            outcome = endpoint.call(CallInputs(*_pair(), "top"), timeout_s=30)
            assert outcome.error_kind == "bad_output", (target, outcome.status, outcome.error_message)
            assert "private address (127.0.0.1) other than the endpoint's own origin" in outcome.error_message
        assert not other.requests
    finally:
        other.close()


def test_user_info_in_an_address_is_never_sent_anywhere(endpoint, hostile, recorder):
    """httpx turns `user:pass@` into `Authorization: Basic` for whatever host it names; such an address is
    refused, at the first hop or any later one, on another origin or the endpoint's own."""
    own_port = hostile.url.rsplit(":", 1)[1]
    for mode, target in (("redirect_to", f"http://alice:hunter2pw@127.0.0.2:{recorder.port}/x.png"),
                         ("url_to", f"http://alice:hunter2pw@127.0.0.2:{recorder.port}/x.png"),
                         ("redirect_to", f"http://alice:hunter2pw@127.0.0.1:{own_port}/files/image.png")):
        hostile.mode, hostile.target = mode, target
        hostile.file_requests.clear()
        outcome = endpoint.call(CallInputs(*_pair(), "top"), timeout_s=30)
        assert outcome.error_kind == "bad_output" and "user name or password" in outcome.error_message, target
        assert "hunter2pw" not in outcome.error_message and "alice" not in outcome.error_message
        assert not any("authorization" in r["headers"] for r in hostile.file_requests)
    assert not recorder.requests


def test_an_app_whose_config_points_elsewhere_is_refused_before_the_token_leaks(recorder):
    evil = HostileApp(recorder.url, evil_prefix=f"{recorder.url}/gradio_api/").start()
    recorder.requests.clear()
    try:
        with pytest.raises(EndpointError, match="another origin|cannot connect"):
            GradioService(evil.url, token=TOKEN).open()
    finally:
        evil.close()
    assert recorder.requests  # gradio_client did follow the config to the other host...
    for request in recorder.requests:  # ...without the token
        assert not _carries_token(request["headers"]), request


@pytest.mark.parametrize("mode", ["path_only", "local_path"])
def test_a_file_answered_by_its_path_is_downloaded_from_the_services_own_file_route(endpoint, hostile, mode):
    # Gradio up to 4.16 answers {"path": ..., "url": null}; the path is on the service's disk, so it is asked of
    # the service (as gradio_client does), never opened on ours: a path to our secret file brings the service's
    # answer, not the secret.
    hostile.mode = mode
    outcome = endpoint.call(CallInputs(*_pair(), "top"), timeout_s=30)
    assert outcome.status == "ok", outcome.error_message
    assert (outcome.output_width, outcome.output_height) == (160, 200)  # the secret is 220x220
    path = hostile.secret_path if mode == "local_path" else "/tmp/gradio/0123abcd/image.png"
    asked = [r for r in hostile.file_requests if r["path"].startswith("/gradio_api/file=")]
    assert [urllib.parse.unquote(r["path"]) for r in asked] == [f"/gradio_api/file={path}"]
    assert asked[0]["headers"].get("x-hf-authorization") == f"Bearer {TOKEN}"  # its own origin: the token goes


@pytest.mark.parametrize("mode, says", [
    ("plain_path", "never opened"), ("dev_zero", "never opened"),
    ("file_url", "only http(s)"), ("text", "neither an image URL nor base64"),
])
def test_a_path_or_text_named_by_the_service_is_bad_output_and_nothing_local_is_read(endpoint, hostile, mode, says):
    hostile.mode = mode
    outcome = endpoint.call(CallInputs(*_pair(), "top"), timeout_s=30)
    assert (outcome.status, outcome.error_kind) == ("error", "bad_output"), outcome.error_message
    assert says in outcome.error_message and not outcome.transient
    assert outcome.output is None


@pytest.mark.parametrize("mode", ["base64", "data_uri", "raw_json"])
def test_the_spaces_documented_base64_answer_is_an_image(endpoint, hostile, mode):
    hostile.mode = mode
    outcome = endpoint.call(CallInputs(*_pair(), "top"), timeout_s=30)
    assert outcome.status == "ok", outcome.error_message
    assert (outcome.output_width, outcome.output_height) == (160, 200)
    assert Image.open(io.BytesIO(outcome.output)).format == "PNG"


@pytest.mark.parametrize("mode", ["gif_file", "gif_base64"])
def test_an_answer_in_another_image_format_is_bad_output(endpoint, hostile, mode):
    """An output is a decodable JPEG, PNG or WEBP: a GIF that decodes is not kept as an image of unknown kind."""
    hostile.mode = mode
    outcome = endpoint.call(CallInputs(*_pair(), "top"), timeout_s=30)
    assert (outcome.status, outcome.error_kind) == ("error", "bad_output"), outcome.error_message
    assert "GIF" in outcome.error_message and "JPEG, PNG or WEBP" in outcome.error_message
    assert outcome.output is None and not outcome.transient


def test_an_image_too_large_is_refused_from_its_header(endpoint, hostile):
    hostile.mode = "huge"
    outcome = endpoint.call(CallInputs(*_pair(), "top"), timeout_s=30)
    assert outcome.error_kind == "bad_output"
    assert "12000x12000" in outcome.error_message and "not decoded" in outcome.error_message


def test_a_download_that_never_ends_stops_at_the_call_deadline_and_at_a_stop(endpoint, hostile):
    hostile.mode = "slow"
    started = time.monotonic()
    outcome = endpoint.call(CallInputs(*_pair(), "top"), timeout_s=3)
    assert outcome.error_kind == "timeout"
    assert time.monotonic() - started < 20  # the server would stream for ever

    hostile.slow_started.clear()
    stop = threading.Event()
    threading.Thread(target=lambda: (hostile.slow_started.wait(30), stop.set()), daemon=True).start()
    started = time.monotonic()
    outcome = endpoint.call(CallInputs(*_pair(), "top"), timeout_s=600, stop=stop)
    assert outcome.error_kind == "cancelled" and "download" in outcome.error_message
    assert time.monotonic() - started < 20


def _run(hostile: HostileApp, db: str, *extra: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "HF_TOKEN": TOKEN}
    return subprocess.run([sys.executable, "-m", "vton_eval", "run", "--dataset", str(SAMPLE), "--endpoint",
                           hostile.url, "--workflows", "top", "--no-checks", "--db", db, *extra],
                          cwd=REPO, env=env, capture_output=True, text=True, timeout=180)


def _results(db: str) -> list[tuple]:
    con = duckdb.connect(db, read_only=True)
    try:
        return con.execute("SELECT status, error_kind, error_message, attempts FROM results").fetchall()
    finally:
        con.close()


def test_a_run_records_hostile_answers_truthfully_and_never_retries_them(hostile, recorder, tmp_path):
    recorder.requests.clear()
    hostile.mode = "redirect"  # to another private address: bad_output, one attempt, nothing sent there
    proc = _run(hostile, str(tmp_path / "redirect.duckdb"))
    assert proc.returncode == 0, proc.stderr
    rows = _results(str(tmp_path / "redirect.duckdb"))
    assert rows and {(r[1], r[3]) for r in rows} == {("bad_output", 1)}
    assert not recorder.requests

    hostile.mode = "base64"  # the seed's documented success: ok at the first attempt
    proc = _run(hostile, str(tmp_path / "b64.duckdb"))
    assert proc.returncode == 0, proc.stderr
    assert {(r[0], r[3]) for r in _results(str(tmp_path / "b64.duckdb"))} == {("ok", 1)}

    hostile.mode = "plain_path"  # not an image: bad_output, one attempt, no retry spent on it
    proc = _run(hostile, str(tmp_path / "path.duckdb"))
    assert proc.returncode == 0, proc.stderr
    assert {(r[1], r[3]) for r in _results(str(tmp_path / "path.duckdb"))} == {("bad_output", 1)}

    hostile.mode = "gif_file"  # an image, but not one the Space answers with: bad_output, nothing stored
    proc = _run(hostile, str(tmp_path / "gif.duckdb"))
    assert proc.returncode == 0, proc.stderr
    assert {(r[1], r[3]) for r in _results(str(tmp_path / "gif.duckdb"))} == {("bad_output", 1)}
    assert not list((tmp_path / "gif.artifacts").rglob("*.bin"))


def test_markup_and_escapes_from_the_service_reach_the_terminal_as_plain_text(hostile, tmp_path):
    hostile.mode = "markup_error"
    db = str(tmp_path / "markup.duckdb")
    proc = _run(hostile, db, "--retries", "0")
    assert proc.returncode == 0, proc.stderr  # a service's text cannot crash the summary
    assert "Traceback" not in proc.stderr and "MarkupError" not in proc.stderr
    assert "\x1b]" not in proc.stderr and "\x1b[2J" not in proc.stderr and "\x07" not in proc.stderr
    assert "[/red]" in proc.stderr and "[link=https://evil.example]" in proc.stderr  # shown, not interpreted
    listed = subprocess.run([sys.executable, "-m", "vton_eval", "runs", "--db", db], cwd=REPO, capture_output=True,
                            text=True, timeout=60)
    assert listed.returncode == 0 and "\x1b]" not in listed.stdout
    stored = _results(db)[0][2]
    assert "[/red]" in stored and "\x1b" not in stored  # kept as data, control characters dropped
    assert MARKUP_MESSAGE.startswith("[/red]")


def test_the_token_is_scrubbed_in_any_encoding_and_long_messages_are_capped(hostile, tmp_path):
    hostile.mode = "token_echo"  # the server echoes the token it received, percent-encoded (hf%5F...)
    db = str(tmp_path / "echo.duckdb")
    proc = _run(hostile, db, "--retries", "0")
    assert proc.returncode == 0, proc.stderr
    encoded = urllib.parse.quote(TOKEN).replace("_", "%5F")
    for message in [r[2] for r in _results(db)] + [proc.stderr, proc.stdout]:
        assert TOKEN not in message and encoded not in message and TOKEN[3:] not in message
    for path in [tmp_path / "echo.duckdb", *(tmp_path / "echo.artifacts").rglob("*")]:
        if path.is_file():
            data = path.read_bytes()
            assert TOKEN[3:].encode() not in data and encoded.encode() not in data, path

    hostile.mode = "big_error"  # a 1 MB message
    db = str(tmp_path / "big.duckdb")
    # One call at a time: gradio_client 2.7 itself sometimes loses one of several concurrent calls whose
    # error messages are this large (CancelledError), which is not what this test is about.
    proc = _run(hostile, db, "--retries", "0", "--concurrency", "1")
    assert proc.returncode == 0, proc.stderr
    message = _results(db)[0][2]
    assert len(message) < 8300 and "1,000,000 characters in all" in message


def test_a_dataset_whose_text_carries_escapes_prints_safely(tmp_path):
    folder = tmp_path / "ds"
    folder.mkdir()
    person = Image.open(_pair()[0])
    person.save(folder / "p.png")
    person.save(folder / "q.png")
    (folder / "manifest.csv").write_text(
        "pair_id,workflow,base,product,mask,reference,tags\n"
        "evil\x1b]0;title\x07[/red],top,p.png,q.png,,,\n"
        "two,hat[bold],p.png,q.png,,,\n", encoding="utf-8")
    proc = subprocess.run([sys.executable, "-m", "vton_eval", "datasets", "validate", str(folder)], cwd=REPO,
                          capture_output=True, text=True, timeout=60)
    assert "Traceback" not in proc.stderr
    assert "\x1b" not in proc.stdout + proc.stderr and "\x07" not in proc.stdout + proc.stderr
    assert "hat[bold]" in proc.stdout + proc.stderr


def test_base64_of_the_token_is_scrubbed_too(monkeypatch):
    from vton_eval.secrets import redact

    monkeypatch.setenv("HF_TOKEN", TOKEN)
    for shift in (b"", b"a", b"ab"):
        text = base64.b64encode(shift + TOKEN.encode() + b" trailing").decode()
        assert base64.b64encode(TOKEN.encode()).decode()[4:20] not in redact(text)


@pytest.mark.parametrize("declare_length", [False, True])
def test_an_endpoint_config_too_large_is_refused_while_it_is_read(recorder, declare_length):
    """A 40 MB /config (200 MB took the dashboard to 1 GB): connecting, inspecting, launching and Try one pair all
    go through the same connection, which stops reading past 16 MB, before anything is parsed. A config of a
    normal size (the control, 1 MB) connects."""
    from vton_eval.services.inspection import inspect_endpoint

    normal = HostileApp(recorder.url, huge_config=1 << 20, declare_length=declare_length).start()
    huge = HostileApp(recorder.url, huge_config=40 << 20, declare_length=declare_length).start()
    try:
        with GradioService(normal.url, token=TOKEN) as service:
            assert "/generate" in service.api
        for connect in (lambda: GradioService(huge.url, token=TOKEN).open(),
                        lambda: inspect_endpoint(huge.url, token=TOKEN, open_timeout_s=60)):
            huge.config_bytes_sent = 0
            with pytest.raises(EndpointError, match=r"answer to /config .*(larger than|over) 16 MB; it was not read"):
                connect()
            assert huge.config_bytes_sent < 30 << 20  # the rest was never even sent: we hung up
    finally:
        normal.close()
        huge.close()
