"""Small synthetic runs seeded through the store's own writers, for the gate and `latest` tests: one result
per case dict, with real image files in the artifact store for the outputs the Markdown report shows."""

from __future__ import annotations

import datetime as dt
import io
import os
import socket

import numpy as np
from PIL import Image

from vton_eval.runner.settings import RunSettings
from vton_eval.store import Database
from vton_eval.store.runs import insert_run
from vton_eval.store.writes import insert_cases, insert_results

T0 = dt.datetime(2026, 3, 1, 12, 0, 0)
ENDPOINT = "http://127.0.0.1:7860"


def png(colour: tuple[int, int, int], size: int = 96, stripe: int | None = None) -> bytes:
    img = Image.new("RGB", (size, size), colour)
    if stripe is not None:
        for x in range(size):
            for y in range(stripe, min(size, stripe + 30)):
                img.putpixel((x, y), (255 - colour[0], 255 - colour[1], 255 - colour[2]))
    buf = io.BytesIO()
    img.save(buf, "PNG")
    return buf.getvalue()


def seed_run(db: Database, run_id: str, cases: list[dict], *, dataset: str = "sample", endpoint: str = ENDPOINT,
             status: str = "finished", label: str | None = None, created: dt.datetime = T0,
             checked: bool = False) -> str:
    """A run with one result per case dict: {pair_id, workflow, status, kind?, message?, latency?, flags?,
    image?}. `checked` records that automatic checks ran (flags '' when none)."""
    store = db.artifacts
    person, _ = store.put_bytes(png((90, 120, 150)), "png")
    results, case_rows = [], []
    for i, c in enumerate(cases):
        output = sha = None
        if c["status"] == "ok":
            output, sha = store.put_bytes(c.get("image") or png((40 + i % 200, 80, 120)), "png")
        results.append({
            "run_id": run_id, "pair_id": c["pair_id"], "workflow": c["workflow"], "repeat": c.get("repeat", 1),
            "status": c["status"], "error_kind": c.get("kind"), "error_message": c.get("message"),
            "latency_ms": c.get("latency", 1000.0) if c["status"] == "ok" else 50.0, "attempts": 1,
            "output_path": output, "output_sha256": sha, "started_at": created, "finished_at": created,
        })
        case_rows.append({"run_id": run_id, "pair_id": c["pair_id"], "workflow": c["workflow"], "base_path": person,
                          "product_path": person})
    settings = RunSettings(dataset=f"datasets/{dataset}", endpoint=endpoint, label=label)

    def seed(con):  # a Writer: the store's one door for writes
        insert_run(con, {"run_id": run_id, "label": label, "endpoint": endpoint, "dataset": dataset,
                         "status": status, "created_at": created, "started_at": created,
                         "finished_at": created + dt.timedelta(minutes=5) if status == "finished" else None,
                         "total_cases": len(cases), "settings": settings.to_json(),
                         # A running run's process must be alive, else it reads as interrupted.
                         "pid": os.getpid() if status == "running" else None, "host": socket.gethostname()})
        insert_cases(con, case_rows)
        insert_results(con, results)
        for c in cases:  # flags through SQL: the writer's columns are someone else's moving target
            flag = c.get("flags", "" if checked and c["status"] == "ok" else None)
            con.execute('UPDATE results SET flags = ? WHERE run_id = ? AND pair_id = ? AND "repeat" = ?',
                        [flag, run_id, c["pair_id"], c.get("repeat", 1)])

    db.write(seed)
    return run_id


def suite(n: int, workflows: tuple[str, ...] = ("top", "dress"), errors: dict[str, str] | None = None,
          latency: float | np.ndarray = 1000.0, flags: set[str] | None = None) -> list[dict]:
    """n cases per workflow; `errors` maps pair ids to an error kind; `latency` scalar or one value per case."""
    errors, flags = errors or {}, flags or set()
    cases = []
    for w in workflows:
        for i in range(n):
            pid = f"{w}-{i:03d}"
            lat = float(latency[len(cases)]) if isinstance(latency, np.ndarray) else latency
            c = {"pair_id": pid, "workflow": w, "status": "error" if pid in errors else "ok", "latency": lat}
            if pid in errors:
                c.update(kind=errors[pid], message=f"{errors[pid]} happened")
            if pid in flags:
                c["flags"] = "size.resized;preservation.ssim"
            cases.append(c)
    return cases
