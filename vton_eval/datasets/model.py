"""What a loaded dataset is: its pairs, its problems, and the columns of a manifest."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from vton_eval.errors import VtonEvalError

COLUMNS: tuple[str, ...] = ("pair_id", "workflow", "base", "product", "mask", "reference", "tags")
REQUIRED_COLUMNS: tuple[str, ...] = ("pair_id", "workflow", "base", "product")
IMAGE_COLUMNS: tuple[str, ...] = ("base", "product", "mask", "reference")
# Image reasons that describe what the service refuses (format, size), not a broken dataset.
SERVICE_REFUSALS = frozenset({"format", "too_small", "too_large", "truncated", "not_an_image"})


class DatasetError(VtonEvalError):
    """The dataset cannot be read at all (no manifest, not a folder, a broken dataset.json)."""


@dataclass(frozen=True)
class Problem:
    """One thing wrong with a manifest. `line` is the file's line number (1 = header)."""

    line: int
    pair_id: str | None
    column: str | None
    reason: str
    message: str
    severity: str = "error"

    def __str__(self) -> str:
        where = f"line {self.line}"
        if self.pair_id:
            where += f" ({self.pair_id})"
        if self.column:
            where += f", {self.column}"
        return f"{where}: {self.severity}: {self.message}"

    def to_dict(self) -> dict[str, object]:
        return {"line": self.line, "pair_id": self.pair_id, "column": self.column, "reason": self.reason,
                "message": self.message, "severity": self.severity}


@dataclass(frozen=True)
class Pair:
    pair_id: str
    workflow: str
    base: Path
    product: Path
    mask: Path | None
    reference: Path | None
    tags: tuple[str, ...]
    line: int
    # Set when the service would refuse an input: the case is recorded as invalid_input.
    invalid_reason: str | None = None
    # (column, URL) for the inputs the manifest names by URL; their paths above are the cached copies.
    urls: tuple[tuple[str, str], ...] = ()

    @property
    def tags_text(self) -> str:
        return ";".join(self.tags)

    def source(self, column: str) -> str | None:
        """Where an input came from, as the manifest names it: its URL, or the local file."""
        for name, url in self.urls:
            if name == column:
                return url
        path = getattr(self, column)
        return str(path) if path is not None else None


@dataclass
class Dataset:
    """A dataset folder. `root` is the folder (its manifest.csv and sidecars live there; its name is
    the dataset's name); `image_root` is where its relative paths point (the folder itself, or the
    root its dataset.json declares, e.g. an imported VITON-HD tree)."""

    name: str
    root: Path
    manifest: Path
    pairs: list[Pair] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
    image_root: Path | None = None

    def __post_init__(self) -> None:
        if self.image_root is None:
            self.image_root = self.root

    @property
    def errors(self) -> list[Problem]:
        return [p for p in self.problems if p.severity == "error"]

    @property
    def row_errors(self) -> list[Problem]:
        """Errors that dropped a row (as opposed to image refusals kept as invalid pairs)."""
        kept = {(p.line, p.reason) for p in self.errors if p.reason in SERVICE_REFUSALS}
        return [p for p in self.errors if (p.line, p.reason) not in kept]

    @property
    def workflows(self) -> list[str]:
        return sorted({p.workflow for p in self.pairs})

    @property
    def tags(self) -> list[str]:
        return sorted({t for p in self.pairs for t in p.tags})
