"""An append-only journal of a run's results, so a received result survives `kill -9`.

A result is appended (and flushed to the OS) the moment it arrives, as `received` (its checks still
to come), and again as `final` (with its checks) before it is queued for the database; the
database write is batched and may lag. After a crash, `resume` replays the journal into the
database first (the last entry of a case wins; a `received` one is checked again); inserts skip
rows already there, so replaying twice duplicates nothing.
"""

from __future__ import annotations

import json
import os
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from vton_eval.records import CheckRow, Recorded, ResultRow, from_json_dict, to_json_dict

RECEIVED, FINAL = "received", "final"


def journal_path(artifact_root: Path, run_id: str) -> Path:
    return artifact_root / "journal" / f"{run_id}.jsonl"


@dataclass(frozen=True)
class Entry:
    stage: str  # RECEIVED: checks still to run; FINAL: as it goes to the database
    recorded: Recorded

    @property
    def key(self) -> tuple[str, int]:
        return self.recorded.result.key


def _encode(stage: str, recorded: Recorded) -> str:
    return json.dumps({"stage": stage, "result": to_json_dict(recorded.result),
                       "checks": [to_json_dict(c) for c in recorded.checks]}, ensure_ascii=False) + "\n"


def _decode(data: dict[str, Any]) -> Entry:
    if "stage" in data:
        result = from_json_dict(ResultRow, data["result"])
        checks = tuple(from_json_dict(CheckRow, c) for c in data.get("checks") or ())
        return Entry(data["stage"], Recorded(result, checks))
    # A journal written before typed records: one flat row, `_checked` False while its checks ran.
    result = from_json_dict(ResultRow, data)
    checks = tuple(from_json_dict(CheckRow, c) for c in data.get("_checks") or ())
    return Entry(RECEIVED if data.get("_checked") is False else FINAL, Recorded(result, checks))


class Journal:
    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()
        self._file = None

    def append(self, stage: str, recorded: Recorded) -> None:
        line = _encode(stage, recorded)
        with self._lock:
            if self._file is None:
                self.path.parent.mkdir(parents=True, exist_ok=True)
                self._file = self.path.open("a", encoding="utf-8")
            self._file.write(line)
            self._file.flush()

    def read(self) -> list[Entry]:
        """Every complete entry; a line torn by a crash mid-write is skipped."""
        if not self.path.exists():
            return []
        entries = []
        with self.path.open(encoding="utf-8", errors="replace") as f:
            for line in f:
                if not line.endswith("\n"):
                    break
                try:
                    entries.append(_decode(json.loads(line)))
                except (json.JSONDecodeError, KeyError, TypeError, ValueError):
                    continue
        return entries

    def latest(self) -> list[Entry]:
        """The last entry of each case (a final entry supersedes its received one)."""
        last: dict[tuple[str, int], Entry] = {}
        for entry in self.read():
            last[entry.key] = entry
        return list(last.values())

    def close(self) -> None:
        with self._lock:
            if self._file is not None:
                self._file.close()
                self._file = None

    def remove(self) -> None:
        self.close()
        try:
            os.remove(self.path)
        except FileNotFoundError:
            pass
