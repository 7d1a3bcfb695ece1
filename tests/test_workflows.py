"""A workflow is one registry entry: a test registers one and follows it through planning, a run, the
automatic checks, the Overview page and the gate, with no other change anywhere."""

from __future__ import annotations

import csv
import json
import shutil

from streamlit.testing.v1 import AppTest

from vton_eval import workflows
from vton_eval.gate import gate
from vton_eval.runner import RunSettings, create_run, execute_run
from vton_eval.workflows import BodyRegion, Placement, Workflow

from .helpers.paths import REPO, SAMPLE

# A new workflow states its landmarks: a hat sits on the head, above the brows and between the ears.
HAT = Workflow("hat", "hat", Placement(span=(0.0, 0.12), width=0.2), "top", "head", ("hat askew",),
               {"preservation.max_changed_share": 0.12},
               body=BodyRegion(("face.brows", "left_ear", "right_ear"), ("face.oval",), 0.15, 0.1, False))


def _hat_dataset(root):
    """Five sample people, each with a sample product, as the new workflow."""
    with open(SAMPLE / "manifest.csv", encoding="utf-8") as f:
        rows = [r for r in csv.DictReader(f) if r["workflow"] == "top"][:5]
    root.mkdir()
    lines = ["pair_id,workflow,base,product,mask,reference,tags"]
    for i, row in enumerate(rows):
        for column in ("base", "product"):
            shutil.copy(SAMPLE / row[column], root / f"{column}{i}.png")
        lines.append(f"hat-{i},hat,base{i}.png,product{i}.png,,,headwear")
    (root / "manifest.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return root


def test_a_registered_workflow_flows_through_planning_a_run_checks_overview_and_the_gate(db, tmp_path, monkeypatch):
    from vton_eval.sandbox import SandboxConfig, start_sandbox

    # The service offers the new workflow too (its dropdown lists it): the sm4ll profile reads that.
    with workflows.registered(HAT), start_sandbox(SandboxConfig(workflows=["top", "hat"])) as sandbox:
        dataset = str(_hat_dataset(tmp_path / "hats"))
        runs = []
        for label in ("v1", "v2"):
            run_id = create_run(db, RunSettings(dataset=dataset, endpoint=sandbox.url, workflows=["hat"], repeats=2,
                                                label=label))
            assert execute_run(db, run_id).status == "finished"
            runs.append(run_id)
        with db.connect(read_only=True) as con:
            workflows_seen = con.execute("SELECT DISTINCT workflow FROM results").fetchall()
            checked = con.execute("SELECT count(DISTINCT pair_id) FROM checks WHERE workflow = 'hat'").fetchone()[0]
            statuses = dict(con.execute("SELECT status, count(*) FROM results WHERE run_id = ? GROUP BY 1",
                                        [runs[1]]).fetchall())
            failed = con.execute("SELECT pair_id, error_kind, error_message FROM results WHERE run_id = ? "
                                 "AND status = 'error'", [runs[1]]).fetchall()
        assert workflows_seen == [("hat",)]
        assert checked == 5  # judged by the check worker, a process that learnt the workflow from its jobs
        # The sandbox places by rough geometry; the checks see the person. On four people they agree: clean
        # outputs. On the cameraman (in profile, leaning) the sandbox's hat lands in the sky above his head,
        # and the checks, reading his landmarks, say so.
        assert statuses.get("ok") == 8, failed
        assert {(pair, kind) for pair, kind, _ in failed} == {("hat-0", "silent_failure")}
        assert all("placement" in message for _, _, message in failed)

        monkeypatch.setenv("VTON_EVAL_DB", db.location)
        at = AppTest.from_file(str(REPO / "dashboard" / "app.py"), default_timeout=60)
        at.run()
        assert not at.exception, [e.value for e in at.exception]
        chart = next(c for c in at.get("plotly_chart") if "errors_chart" in c.proto.id)
        labels = next(t for t in json.loads(chart.proto.spec)["data"] if t.get("meta") == "counts")
        assert list(labels["x"]) == ["hat"] and list(labels["text"]) == ["2 of 10"]  # the two misplaced hats

        result = gate(db, runs[1], runs[0])
        assert {w.workflow for w in result.workflows} == {"hat", "overall"} and result.exit_code == 0, result.reasons
    assert not workflows.is_known("hat")
