"""The gate as a Markdown report: what a reviewer opens from the CI artifacts or a PR comment.

Images go into `<report stem>_files/` next to the report (`report.md` -> `report_files/`) and are
linked with relative paths, so the folder can be uploaded and browsed as is. Everything that came
from the service or from people (error messages, labels, endpoints, pair ids) is escaped: a
message like `<img src=x onerror=...>` shows as text.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from vton_eval.gate.changes import CaseChange, Changes, find_changes, thumbnail
from vton_eval.gate.model import CANNOT_JUDGE, OVERALL, PASS, GateResult
from vton_eval.gate.text import (
    VERDICT_TEXT,
    change_text,
    interval_text,
    md_escape,
    threshold_text,
    value_text,
)
from vton_eval.store.base import Store

TITLE = {PASS: "PASS", "regression": "FAIL", CANNOT_JUDGE: "CANNOT JUDGE"}


def _when(value: Any) -> str:
    return value.strftime("%Y-%m-%d %H:%M UTC") if hasattr(value, "strftime") else "-"


def _runs_table(result: GateResult) -> list[str]:
    lines = ["| | run | label | endpoint | dataset | status | created | finished | results |",
             "|---|---|---|---|---|---|---|---|---|"]
    for role, run in (("candidate", result.candidate),
                      (f"baseline ({result.baseline_source})", result.baseline)):
        if run is None:
            lines.append(f"| {role} | - | | | | | | | |")
            continue
        lines.append(
            f"| {role} | {md_escape(run['run_id'])} | {md_escape(run.get('label') or '')} | "
            f"{md_escape(run['endpoint'])} | {md_escape(run['dataset'])} | {run['status']} | "
            f"{_when(run.get('created_at'))} | {_when(run.get('finished_at'))} | {run.get('done', '-')} |")
    return lines


def _workflow_section(wc: Any) -> list[str]:
    title = "All workflows" if wc.workflow == OVERALL else f"Workflow {md_escape(wc.workflow)}"
    lines = [f"### {title}: {VERDICT_TEXT.get(wc.verdict, wc.verdict)} ({wc.cases} shared cases)", "",
             "| criterion | baseline | candidate | change | 95 % interval | allowed | verdict |",
             "|---|---|---|---|---|---|---|"]
    for c in wc.criteria:
        verdict = VERDICT_TEXT.get(c.verdict, c.verdict)
        if c.is_regression:
            verdict = f"**{verdict}**"
        lines.append(f"| {c.name} | {value_text(c, 'baseline')} | {value_text(c, 'candidate')} | {change_text(c)} | "
                     f"{interval_text(c)} | {threshold_text(c)} | {verdict} |")
    lines.append("")
    lines += [f"- {c.name}: {md_escape(c.reason, limit=600)}" for c in wc.criteria]
    return [*lines, ""]


def _image_cell(db: Store, relpath: str | None, files: Path, size: int, alt: str) -> str:
    name = thumbnail(db, relpath, files, size)
    return f"![{alt}]({files.name}/{name})" if name else "-"


def _side(row: dict[str, Any], prefix: str) -> str:
    if row[f"{prefix}_status"] == "ok":
        latency = row[f"{prefix}_latency"]
        return "ok" + (f", {latency / 1000:.1f} s" if latency is not None else "")
    kind = md_escape(row[f"{prefix}_kind"] or "error")
    return f"**{kind}**: {md_escape(row[f'{prefix}_message'] or '', limit=160)}"


def _cases_table(db: Store, cases: list[CaseChange], files: Path, size: int, similarity: bool) -> list[str]:
    head = "| case | workflow | change | baseline | candidate | person | baseline output | candidate output |"
    lines = [head, "|---|---|---|---|---|---|---|---|"]
    for c in cases:
        r = c.row
        change = c.change
        if similarity and c.similarity:
            change += f" (SSIM {c.similarity['ssim']:.2f}, {c.similarity['changed_share'] * 100:.0f} % changed)"
        lines.append(
            f"| {md_escape(c.pair_id)} #{c.repeat} | {md_escape(c.workflow)} | {change} | {_side(r, 'b')} | "
            f"{_side(r, 'c')} | {_image_cell(db, r['person'], files, size, 'person')} | "
            f"{_image_cell(db, r['b_output'], files, size, 'baseline output')} | "
            f"{_image_cell(db, r['c_output'], files, size, 'candidate output')} |")
    return [*lines, ""]


def _new_kinds(result: GateResult, changes: Changes | None) -> list[str]:
    rows = [(w.workflow, k, n) for w in result.workflows if w.workflow != OVERALL for k, n in w.new_error_kinds.items()]
    if not rows:
        return []
    lines = ["## New error kinds", "",
             "Error kinds the candidate has and the baseline has not (a warning: they fail the gate only "
             "through the error-rate rule).", "",
             "| workflow | kind | cases | example message |", "|---|---|---|---|"]
    for wf, kind, n in rows:
        example = changes.candidate_kinds.get((wf, kind), (0, None))[1] if changes else None
        lines.append(f"| {md_escape(wf)} | {md_escape(kind)} | {n} | {md_escape(example or '', limit=200)} |")
    return [*lines, ""]


def markdown_text(result: GateResult, db: Store, files: Path, top_n: int = 10, thumb_size: int = 160,
                  max_compare: int = 200) -> str:
    """The report as text; writes the thumbnails it links into `files`."""
    t = result.thresholds
    out = [f"# vton-eval gate: {TITLE[result.verdict]}", "", md_escape(result.summary(), limit=2000), ""]
    out += ["## Runs", "", *_runs_table(result), ""]
    if result.reasons:
        heading = "Why it cannot judge" if result.verdict == CANNOT_JUDGE else "Regressions"
        out += [f"## {heading}", "", *[f"- {md_escape(r, limit=600)}" for r in result.reasons], ""]
    if result.warnings:
        out += ["## Warnings", "", *[f"- {md_escape(w, limit=600)}" for w in result.warnings], ""]
    if result.verdict == CANNOT_JUDGE:
        return "\n".join(out)
    out += ["## Criteria", "",
            f"Allowed: error rate +{t.max_error_rate_increase * 100:.1f} pp, p95 latency "
            f"+{t.max_p95_increase * 100:.0f} %, flag rate +{t.max_flag_rate_increase * 100:.1f} pp. A criterion "
            f"fails only when its whole {t.confidence * 100:.0f} % interval is beyond the allowed change (rates: "
            "Newcombe hybrid score interval of the difference; p95: seeded bootstrap of the ratio). Minimum "
            f"{t.min_cases} shared cases per workflow, {t.min_ok_calls} ok calls per run for a p95.", ""]
    for wc in result.workflows:
        out += _workflow_section(wc)
    changes = None
    if result.candidate_id and result.baseline_id:
        changes = find_changes(db, result.candidate_id, result.baseline_id, top_n, max_compare)
    out += _new_kinds(result, changes)
    if changes is None:
        return "\n".join(out)
    out += ["## Cases that changed most", ""]
    shown = len(changes.status_changes)
    out += [f"### Status changes ({shown} shown of {changes.status_changes_total})", ""]
    out += _cases_table(db, changes.status_changes, files, thumb_size, False) if shown else ["None.", ""]
    out += ["### Outputs least similar to the baseline's", ""]
    if not changes.ok_ok_different:
        return "\n".join([*out, "None: every case ok in both runs got the same output bytes.", ""])
    sample = " (a deterministic sample)" if changes.compared < changes.ok_ok_different else ""
    out += [f"{len(changes.output_changes)} shown; {changes.compared} of {changes.ok_ok_different} cases ok in both "
            f"runs with different outputs compared{sample}, ranked by max(1 - SSIM, changed share).", ""]
    out += _cases_table(db, changes.output_changes, files, thumb_size, True)
    return "\n".join(out)


def write_markdown(result: GateResult, path: str | os.PathLike[str], db: Store, top_n: int = 10,
                   thumb_size: int = 160, max_compare: int = 200) -> Path:
    """Write the Markdown report and its thumbnails (`<stem>_files/` beside it); return the report's path."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    files = target.with_name(f"{target.stem}_files")
    text = markdown_text(result, db, files, top_n, thumb_size, max_compare)
    tmp = target.with_name(f".{target.name}.tmp")
    tmp.write_text(text + "\n", encoding="utf-8")
    tmp.replace(target)
    return target
