"""Where things are: the repository, its sample dataset, the dashboard's entry script."""

from __future__ import annotations

from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
SAMPLE = REPO / "datasets" / "sample"
APP = str(REPO / "dashboard" / "app.py")
