"""An append-only journal of finished cases, so a received result survives `kill -9`.

Each finished case is appended (and flushed to the OS) before it is queued for the database;
the database write is batched and may lag. After a crash, `resume` replays the journal into the
database first; inserts ignore rows already there, so replaying twice duplicates nothing.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import threading
from pathlib import Path
from typing import Any


def journal_path(artifact_root: Path, run_id: str) -> Path:
    return artifact_root / "journal" / f"{run_id}.jsonl"


def _default(value: Any) -> Any:
    if isinstance(value, dt.datetime):
        return {"$dt": value.isoformat()}
    raise TypeError(f"cannot journal {type(value).__name__}")


def _hook(obj: dict[str, Any]) -> Any:
    if set(obj) == {"$dt"}:
        return dt.datetime.fromisoformat(obj["$dt"])
    return obj


class Journal:
    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()
        self._file = None

    def append(self, row: dict[str, Any]) -> None:
        line = json.dumps(row, default=_default, ensure_ascii=False) + "\n"
        with self._lock:
            if self._file is None:
                self.path.parent.mkdir(parents=True, exist_ok=True)
                self._file = self.path.open("a", encoding="utf-8")
            self._file.write(line)
            self._file.flush()

    def read(self) -> list[dict[str, Any]]:
        """Every complete entry; a line torn by a crash mid-write is skipped."""
        if not self.path.exists():
            return []
        rows = []
        with self.path.open(encoding="utf-8", errors="replace") as f:
            for line in f:
                if not line.endswith("\n"):
                    break
                try:
                    rows.append(json.loads(line, object_hook=_hook))
                except json.JSONDecodeError:
                    continue
        return rows

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
