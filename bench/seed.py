"""Big databases for the dashboard benchmarks, written straight through the store (Arrow batches).

`seed(db_path, runs, cases_per_run)` makes runs of a synthetic dataset whose rows share a few
dozen real images (outputs, inputs, thumbnails) in the artifact store, so pages render real
thumbnails without writing a million files.
"""

from __future__ import annotations

import datetime as dt
import io
from pathlib import Path

import numpy as np
import pyarrow as pa

from vton_eval.artifacts import ArtifactStore
from vton_eval.samples import draw_person, draw_product
from vton_eval.store import Database
from vton_eval.store.runs import insert_run
from vton_eval.store.summaries import refresh_summaries

WORKFLOWS = np.array(["eyewear", "footwear", "dress", "top"])
KINDS = np.array(["server_error", "timeout", "rate_limited", "nsfw_rejected", "bad_output", "silent_failure",
                  "connection"])
MESSAGES = {
    "server_error": "Internal server error: worker crashed on node {n}",
    "timeout": "no answer within {n} s",
    "rate_limited": "Rate limit exceeded: 30 requests per hour per IP. Try again in {n} s.",
    "nsfw_rejected": "Product image contains inappropriate content. Please use a different image.",
    "bad_output": "the output is not a decodable image ({n} bytes: cannot identify image file)",
    "silent_failure": "noop: the output is the person image unchanged",
    "connection": "connection failed: [Errno 111] Connection refused",
}
# Arrow schemas of the two tables: a million rows go in as columns, faster than any row-wise path.
RESULT_SCHEMA = pa.schema([
    ("run_id", pa.string()), ("pair_id", pa.string()), ("workflow", pa.string()), ("repeat", pa.int32()),
    ("status", pa.string()), ("error_kind", pa.string()), ("error_message", pa.string()),
    ("latency_ms", pa.float64()), ("queue_ms", pa.float64()), ("attempts", pa.int32()),
    ("output_path", pa.string()), ("output_sha256", pa.string()), ("output_width", pa.int32()),
    ("output_height", pa.int32()), ("started_at", pa.timestamp("us")), ("finished_at", pa.timestamp("us")),
    ("flags", pa.string()), ("checks", pa.string()),
])
CASE_SCHEMA = pa.schema([(name, pa.string()) for name in (
    "run_id", "pair_id", "workflow", "tags", "base_path", "product_path", "mask_path", "reference_path",
    "base_source", "product_source", "invalid_reason")])
TAGS = np.array(["photo;portrait", "drawn;full-body", "drawn;full-body;masked", "photo;side-view"])


def _images(store: ArtifactStore, n: int = 24) -> tuple[list[str], list[str], list[str]]:
    persons, products, outputs = [], [], []
    kinds = ["glasses", "shoes", "dress", "top"]
    for i in range(n):
        buf = io.BytesIO()
        person = draw_person(i)
        person.save(buf, "PNG")
        persons.append(store.put_bytes(buf.getvalue(), "png")[0])
        buf = io.BytesIO()
        draw_product(kinds[i % 4], i).save(buf, "PNG")
        products.append(store.put_bytes(buf.getvalue(), "png")[0])
        buf = io.BytesIO()
        person.rotate(2 + i % 5).save(buf, "WEBP", quality=80)
        outputs.append(store.put_bytes(buf.getvalue(), "webp")[0])
    for rel in persons + products + outputs:
        store.thumbnail(rel)
    return persons, products, outputs


def seed(db_path: Path, runs: int = 200, cases_per_run: int = 5000, seed_value: int = 1) -> list[str]:
    """Write `runs` runs of `cases_per_run` results each; return the run ids, oldest first."""
    db = Database(db_path)
    db.ensure()
    store = ArtifactStore(db.path)
    persons, products, outputs = _images(store)
    rng = np.random.default_rng(seed_value)
    start = dt.datetime(2026, 1, 1)
    run_ids = []
    pair_ids = np.array([f"p{i:06d}" for i in range(cases_per_run)])
    workflows = WORKFLOWS[np.arange(cases_per_run) % 4]
    img = np.arange(cases_per_run) % len(persons)
    cases_template = {
        "pair_id": pair_ids, "workflow": workflows, "tags": TAGS[np.arange(cases_per_run) % len(TAGS)],
        "base_path": np.array(persons)[img], "product_path": np.array(products)[img],
        "mask_path": np.array([None] * cases_per_run), "reference_path": np.array([None] * cases_per_run),
        "base_source": np.array(persons)[img], "product_source": np.array(products)[img],
        "invalid_reason": np.array([None] * cases_per_run),
    }
    with db.connect() as con:
        for r in range(runs):
            run_id = f"bench-{r:04d}"
            created = start + dt.timedelta(hours=6 * r)
            error_rate = 0.03 + 0.04 * rng.random()
            insert_run(con, {
                "run_id": run_id, "label": f"v{r // 20}.{r % 20}", "endpoint": "http://127.0.0.1:7860",
                "dataset": "bench", "status": "finished", "created_at": created, "started_at": created,
                "finished_at": created + dt.timedelta(minutes=30), "updated_at": created + dt.timedelta(minutes=30),
                "workflows": "dress,eyewear,footwear,top", "concurrency": 8, "repeats": 1, "retries": 2,
                "timeout_s": 300.0, "total_cases": cases_per_run, "settings": "{}",
            })
            errors = rng.random(cases_per_run) < error_rate
            kinds = np.where(errors, KINDS[rng.integers(0, len(KINDS), cases_per_run)], None)
            n = rng.integers(1, 500, cases_per_run)
            messages = [MESSAGES[k].format(n=v) if k else None for k, v in zip(kinds, n, strict=True)]
            latency = rng.lognormal(np.log(1500), 0.35, cases_per_run) * (1 + (workflows == "dress") * 0.5)
            finished = np.array([created + dt.timedelta(seconds=i * 0.4) for i in range(cases_per_run)],
                                dtype="datetime64[us]")
            has_output = ~errors | (kinds == "silent_failure")
            results = pa.table({
                "run_id": np.full(cases_per_run, run_id), "pair_id": pair_ids, "workflow": workflows,
                "repeat": np.ones(cases_per_run, dtype=np.int32),
                "status": np.where(errors, "error", "ok"), "error_kind": kinds, "error_message": messages,
                "latency_ms": latency, "queue_ms": latency * 0.1, "attempts": np.ones(cases_per_run, dtype=np.int32),
                "output_path": np.where(has_output, np.array(outputs)[img], None),
                "output_sha256": np.array([None] * cases_per_run),
                "output_width": np.full(cases_per_run, 384, np.int32),
                "output_height": np.full(cases_per_run, 768, np.int32),
                "started_at": finished, "finished_at": finished,
                "flags": np.where(rng.random(cases_per_run) < 0.05, "preservation.changed_share", None),
                "checks": np.array([None] * cases_per_run),
            }, schema=RESULT_SCHEMA)
            cases = pa.table({"run_id": np.full(cases_per_run, run_id), **cases_template}, schema=CASE_SCHEMA)
            con.register("_r", results)
            con.register("_c", cases)
            con.execute(f"INSERT INTO results ({', '.join(RESULT_SCHEMA.names)}) SELECT * FROM _r".replace(
                "repeat", '"repeat"'))
            con.execute(f"INSERT INTO cases ({', '.join(CASE_SCHEMA.names)}) SELECT * FROM _c")
            refresh_summaries(con, [run_id])  # as every writer of results does
            con.unregister("_r")
            con.unregister("_c")
            run_ids.append(run_id)
    return run_ids
