"""The check process: reads jobs as JSON lines on stdin, answers reports as JSON lines on stdout.

A plain child process (`python -m vton_eval.runner.check_worker`) rather than multiprocessing:
spawn would re-import the caller's main module (a user's script, Streamlit's bootstrap), and fork
would copy the runner's HTTP threads and locks.
"""

from __future__ import annotations

import json
import os
import sys
from functools import lru_cache
from pathlib import Path
from typing import Any

from PIL import Image

from vton_eval.artifacts import write_thumbnail
from vton_eval.images import decoded


@lru_cache(maxsize=64)
def _image(path: str, mtime: float) -> Image.Image:
    # Inputs repeat across cases (one person, many products): decode each once.
    return decoded(path)  # the image rules (format by signature, pixel limit) hold for every input


def _load(path: str | None) -> Image.Image | None:
    if not path:
        return None
    return _image(path, Path(path).stat().st_mtime)


@lru_cache(maxsize=8)
def _thresholds(text: str | None) -> Any:
    from vton_eval.checks import Thresholds

    return Thresholds.from_overrides(text) if text else Thresholds()


def judge(job: dict[str, Any]) -> dict[str, Any]:
    from vton_eval import workflows
    from vton_eval.checks import run_checks
    from vton_eval.checks.results import HARD, CheckReport, CheckResult

    inputs = job["inputs"]
    workflow = workflows.adopt(job["workflow"])
    try:
        output = Path(inputs["output"]).read_bytes()
    except OSError as exc:
        report = CheckReport([CheckResult("decodes", 0.0, None, False, HARD, f"cannot read the output: {exc}")])
    else:
        report = run_checks(output, _load(inputs["base"]), _load(inputs["product"]), workflow,
                            _load(inputs.get("mask")), _load(inputs.get("reference")),
                            _thresholds(job.get("thresholds")))
        _thumbnail(output, inputs.get("thumbnail"))
    return {"results": [r.to_dict() for r in report.results]}


def _thumbnail(output: bytes, target: str | None) -> None:
    # Made here, where the output is at hand, to keep image work out of the dispatching process.
    if not target or Path(target).exists():
        return
    try:
        image = decoded(output)
    except Exception:  # an undecodable output has no thumbnail; its grid cell shows the error
        return
    write_thumbnail(image, Path(target))


def make_thumbnails(items: list[list[str]]) -> int:
    """Grid thumbnails of a run's inputs; an input that does not decode simply has none."""
    made = 0
    for source, target in items:
        if Path(target).exists():
            continue
        try:
            write_thumbnail(Path(source), Path(target))
            made += 1
        except Exception:  # a refused input (a GIF, a truncated file): its grid cell says why instead
            continue
    return made


def main() -> None:
    # Checks must never slow the calls: below normal priority they use only the CPU that the
    # dispatching process (and a service on the same machine) leave idle, and catch up at the end.
    try:
        os.nice(10)
    except OSError:  # not permitted here: run at normal priority
        pass
    for line in sys.stdin:
        job = json.loads(line)
        if "thumbnails" in job:
            answer = {"id": job["id"], "thumbnails": make_thumbnails(job["thumbnails"])}
            sys.stdout.write(json.dumps(answer) + "\n")
            sys.stdout.flush()
            continue
        try:
            answer = {"id": job["id"], "report": judge(job)}
        except Exception as exc:  # report it for this job; the worker lives on for the next ones
            answer = {"id": job["id"], "error": f"{type(exc).__name__}: {exc}"}
        sys.stdout.write(json.dumps(answer) + "\n")
        sys.stdout.flush()


if __name__ == "__main__":
    main()
