"""What hostile input costs now that it is refused early: a decompression bomb in a dataset's gallery, and an
endpoint whose /config is tens of megabytes.

1. A 168-megapixel PNG of about 170 KB (`tests.helpers.hostile.png_bomb`), thumbnailed as the Datasets gallery
   does (`ArtifactStore.thumbnail_for`), in a fresh process each time: its peak memory growth and time, beside a
   1-megapixel photo's thumbnail (the control), and beside what decoding the bomb costs (Pillow's own open and
   load: what a thumbnail used to do).
2. Connecting to an endpoint (`GradioService.open`, what Inspect, launch and Try one pair do) whose /config
   carries 1 MB more (the control) or 40 MB more, streamed with no length declared: peak memory growth of a fresh
   process, and how many bytes the server got to send before we hung up.

Usage: .venv/bin/python bench/hostile.py
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from pathlib import Path

# Run as a script, Python puts bench/ first on the path; the repository root goes there instead.
REPO = Path(__file__).resolve().parents[1]
sys.path[0] = str(REPO)

_MEASURE = """
import time


def status(key):
    with open("/proc/self/status") as f:
        return next(int(line.split()[1]) for line in f if line.startswith(key + ":"))


with open("/proc/self/clear_refs", "w") as f:  # the peak (VmHWM) starts again from what is resident now
    f.write("5")
before = status("VmRSS")
started = time.perf_counter()
outcome = "ok"
try:
{body}
except Exception as exc:
    outcome = type(exc).__name__
elapsed = time.perf_counter() - started
grown = (status("VmHWM") - before) / 1024
print(f"{{grown:.0f}} {{elapsed * 1000:.0f}} {{outcome}}")
"""


def _fresh(setup: str, body: str) -> tuple[float, float, str]:
    """(peak memory growth in MB, milliseconds, outcome) of `body` in a fresh interpreter, after `setup`."""
    script = setup + "\n" + _MEASURE.format(body="\n".join("    " + line for line in body.splitlines()))
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, cwd=REPO, timeout=600)
    if out.returncode != 0:
        raise SystemExit(out.stderr)
    grown, ms, outcome = out.stdout.split()
    return float(grown), float(ms), outcome


def thumbnails(folder: Path) -> None:
    from PIL import Image

    from tests.helpers.hostile import png_bomb

    bomb = folder / "bomb.png"
    bomb.write_bytes(png_bomb())
    photo = folder / "photo.jpg"
    Image.effect_noise((1000, 1000), 60).convert("RGB").save(photo, quality=90)
    setup = ("from pathlib import Path\nfrom vton_eval.artifacts import ArtifactStore\n"
             f"store = ArtifactStore(Path({str(folder / 'r.duckdb')!r}))\nfrom PIL import Image")
    print(f"1. thumbnails ({bomb.stat().st_size / 1024:.0f} KB file declaring 168 MP), each in a fresh process")
    print(f"   {'':53} {'memory +MB':>10} {'time':>8}  outcome")
    for label, body in (("1 MP photo, thumbnail (the control)", f"store.thumbnail_for(Path({str(photo)!r}))"),
                        ("168 MP bomb, thumbnail (refused from its header)",
                         f"store.thumbnail_for(Path({str(bomb)!r}))"),
                        ("168 MP bomb, decoded by Pillow (what it used to cost)",
                         f"Image.MAX_IMAGE_PIXELS = None\nImage.open({str(bomb)!r}).convert('RGB')")):
        grown, ms, outcome = _fresh(setup, body)
        print(f"   {label:53} {grown:10.0f} {ms:6.0f} ms  {outcome}")


def configs() -> None:
    from tests.helpers.hostile import HostileApp
    from tests.helpers.recorder import start_recorder

    recorder = start_recorder("127.0.0.2")
    print("2. connecting to an endpoint whose /config is padded (no length declared), in a fresh process")
    print(f"   {'':50} {'memory +MB':>10} {'time':>8}  outcome            server sent")
    try:
        connect = "GradioService({url!r}).open().close()"
        whole = "httpx.get({url!r} + '/config', timeout=120).json()"
        for label, padding, body in (("1 MB more (the control)", 1 << 20, connect), ("40 MB more", 40 << 20, connect),
                                     ("40 MB more, read and parsed (what it used to cost)", 40 << 20, whole)):
            app = HostileApp(recorder.url, huge_config=padding).start()
            try:
                setup = "import httpx, gradio_client\nfrom vton_eval.services.gradio import GradioService"
                grown, ms, outcome = _fresh(setup, body.format(url=app.url))
                sent = app.config_bytes_sent / 2**20
            finally:
                app.close()
            print(f"   {label:50} {grown:4.0f} {ms:6.0f} ms  {outcome:18} {sent:5.1f} MB")
    finally:
        recorder.close()


def main() -> None:
    os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
    print(f"load average {os.getloadavg()[0]:.1f}")
    with tempfile.TemporaryDirectory() as tmp:
        thumbnails(Path(tmp))
    configs()


if __name__ == "__main__":
    main()
