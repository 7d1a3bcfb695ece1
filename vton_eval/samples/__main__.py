"""Regenerate the shipped sample dataset: `python -m vton_eval.samples [DEST]`."""

from __future__ import annotations

import sys
from pathlib import Path

from vton_eval.samples.dataset import dataset_bytes, make_sample_dataset

# datasets/sample/ at the repository root (this file is vton_eval/samples/__main__.py).
DEFAULT_DEST = Path(__file__).resolve().parents[2] / "datasets" / "sample"


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) > 1 or (args and args[0] in ("-h", "--help")):
        print("usage: python -m vton_eval.samples [DEST]  (default: datasets/sample)")
        return 0 if args and args[0] in ("-h", "--help") else 2
    dest = Path(args[0]) if args else DEFAULT_DEST
    manifest = make_sample_dataset(dest)
    rows = manifest.read_text(encoding="utf-8").count("\n") - 1
    print(f"wrote {manifest} ({rows} pairs, {dataset_bytes(dest) / 1e6:.2f} MB)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
