"""Serve several sandbox signatures from one process, for a parent process that drives them.

    python -m vton_eval.sandbox.serve --profiles catvton,kolors [--host 127.0.0.1]

Each signature gets its own free port. Once all answer, one line goes to stdout, `READY ` and JSON:
`READY {"gradio": "4.16.0", "urls": {"catvton": "http://127.0.0.1:PORT", ...}}`; anything Gradio prints
goes to stderr (old versions print their URL even when told to be quiet). The servers stop when stdin
closes (the parent ended, whatever way) or on SIGTERM.

It needs only what the sandbox needs (Gradio, NumPy, Pillow, scikit-image; argparse rather than click),
so it runs in the compatibility suite's old-Gradio virtual environments with the repository on
PYTHONPATH (`make compat`, `compat/`).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import signal
import sys
import threading

READY = "READY "


def main(argv: list[str] | None = None) -> int:
    os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
    from vton_eval.sandbox.app import SandboxConfig, start_sandbox
    from vton_eval.sandbox.gradio_compat import version
    from vton_eval.sandbox.signatures import SIGNATURES

    parser = argparse.ArgumentParser(prog="python -m vton_eval.sandbox.serve", description=__doc__.splitlines()[0])
    parser.add_argument("--profiles", default=",".join(SIGNATURES), help="signatures to serve, comma-separated")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--concurrency", type=int, default=4)
    args = parser.parse_args(argv)
    names = [n.strip() for n in args.profiles.split(",") if n.strip()]
    unknown = [n for n in names if n not in SIGNATURES]
    if unknown or not names:
        parser.error(f"no sandbox signature {', '.join(unknown) or '(none given)'} (use {', '.join(SIGNATURES)})")

    handles = []
    try:
        with contextlib.redirect_stdout(sys.stderr):
            for name in names:
                handles.append(start_sandbox(SandboxConfig(profile=name, concurrency=args.concurrency),
                                             host=args.host))
        urls = {n: h.url for n, h in zip(names, handles, strict=True)}
        print(READY + json.dumps({"gradio": version(), "urls": urls}), flush=True)
        done = threading.Event()
        signal.signal(signal.SIGTERM, lambda *_: done.set())
        threading.Thread(target=lambda: (sys.stdin.read(), done.set()), name="stdin-watch", daemon=True).start()
        while not done.wait(0.5):
            pass
    finally:
        for handle in handles:
            handle.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
