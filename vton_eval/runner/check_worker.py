"""The check process: reads jobs as JSON lines on stdin, answers reports as JSON lines on stdout.

A plain child process (`python -m vton_eval.runner.check_worker`) rather than multiprocessing:
spawn would re-import the caller's main module (a user's script, Streamlit's bootstrap), and fork
would copy the runner's HTTP threads and locks.
"""

from __future__ import annotations

import hashlib
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


def _person(job: dict[str, Any], base: Image.Image) -> tuple[Any, dict[str, Any] | None]:
    """The person image's parse: sent with the job (the store's cache), made here before (this process's
    cache, by the file's SHA-256), or made now, in which case it also goes back to be stored."""
    from vton_eval import person
    from vton_eval.person.model import PersonParse

    sha = job.get("base_sha")
    if sha is None:
        return person.parse_image(base), None
    if job.get("person_parse"):
        try:
            person.remember(sha, PersonParse.from_json(job["person_parse"]))
        except (ValueError, KeyError, TypeError):  # an older format: parse again
            pass
    known = person.cached(sha)
    if known is not None:
        return known, None
    parse = person.parse_image(base, key=sha)
    if parse is None:  # no parser here: nothing to cache (a later worker with one will parse it)
        return None, None
    return parse, {"sha": sha, "parser": parse.parser, "found": parse.found, "parse": parse.to_json()}


# Reports of outputs judged before in this run, by the output's bytes and everything else the checks read: the
# checks are pure, and a service with a fixed seed answers a repeat (and every noop) with the same bytes.
_REPORTS: dict[tuple[Any, ...], dict[str, Any]] = {}
_REPORTS_KEPT = 4096


def judge(job: dict[str, Any]) -> dict[str, Any]:
    """One output's checks: {"report": ..., "person_parse": ... when the person was parsed here}."""
    from vton_eval import workflows
    from vton_eval.checks import run_checks
    from vton_eval.checks.results import HARD, CheckReport, CheckResult

    inputs = job["inputs"]
    workflow = workflows.adopt(job["workflow"])
    new_parse, key = None, None
    try:
        output = Path(inputs["output"]).read_bytes()
    except OSError as exc:
        report = CheckReport([CheckResult("decodes", 0.0, None, False, HARD, f"cannot read the output: {exc}")])
    else:
        key = (hashlib.sha256(output).hexdigest(), inputs["base"], inputs["product"], inputs.get("mask"),
               inputs.get("reference"), json.dumps(job["workflow"], sort_keys=True), job.get("thresholds"))
        known = _REPORTS.get(key)
        if known is not None:
            _thumbnail(output, inputs.get("thumbnail"))
            return {"report": known}
        base = _load(inputs["base"])
        parse, new_parse = _person(job, base)
        report = run_checks(output, base, _load(inputs["product"]), workflow,
                            _load(inputs.get("mask")), _load(inputs.get("reference")),
                            _thresholds(job.get("thresholds")), person=parse)
        _thumbnail(output, inputs.get("thumbnail"))
    answer: dict[str, Any] = {"report": {"results": [r.to_dict() for r in report.results]}}
    if key is not None and len(_REPORTS) < _REPORTS_KEPT:
        _REPORTS[key] = answer["report"]
    if new_parse is not None:
        answer["person_parse"] = new_parse
    return answer


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
            answer = {"id": job["id"], **judge(job)}
        except Exception as exc:  # report it for this job; the worker lives on for the next ones
            answer = {"id": job["id"], "error": f"{type(exc).__name__}: {exc}"}
        sys.stdout.write(json.dumps(answer) + "\n")
        sys.stdout.flush()


if __name__ == "__main__":
    main()
