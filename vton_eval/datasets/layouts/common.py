"""What every importer shares: its options, its problems (file and line), pair files read safely, and the
pairs it found before they are written."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from vton_eval.datasets.model import DatasetError
from vton_eval.textsafe import cap, strip_controls

PAIRS_CHOICES = ("paired", "unpaired")
MAX_PAIRS_FILE_BYTES = 64 * 1024 * 1024
MAX_LINE_SHOWN = 120


@dataclass(frozen=True)
class ImportOptions:
    split: str = "test"
    pairs: str = "unpaired"
    categories: tuple[str, ...] | None = None
    limit: int | None = None
    seed: int = 0
    # None: each layout's default (VITON-HD: its agnostic masks where present; DressCode: none).
    masks: bool | None = None

    def check(self) -> None:
        if self.pairs not in PAIRS_CHOICES:
            raise DatasetError(f"--pairs must be paired or unpaired, not {self.pairs!r}")
        if not self.split or not is_plain_name(self.split):
            raise DatasetError(f"--split must be a plain name such as test or train, not {self.split!r}")
        if self.limit is not None and self.limit < 1:
            raise DatasetError(f"--limit must be at least 1, not {self.limit}")


@dataclass(frozen=True)
class Layout:
    """One public test-set layout: what the command line's choices, the Datasets page's import form and the
    importer all read (one entry per layout in `layouts.LAYOUTS`)."""

    name: str  # as typed: `vton-eval datasets import NAME`
    title: str  # as shown
    scan: Callable[[Path, ImportOptions], Scan]
    example: str  # a typical folder, for a form's placeholder
    categories: tuple[str, ...] = ()  # the categories one may choose (none: the layout has none)
    masks: str = ""  # what asking for masks does
    masks_by_default: bool = False  # None options.masks: the layout's own default (True: where present)


@dataclass(frozen=True)
class ImportProblem:
    """A problem of the source tree: `file` is relative to the source, `line` 0 means the file as a whole."""

    file: str
    line: int
    message: str
    severity: str = "error"

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}" if self.line else self.file
        return f"{where}: {self.severity}: {self.message}"

    def to_dict(self) -> dict[str, object]:
        return {"file": self.file, "line": self.line, "message": self.message, "severity": self.severity}


@dataclass
class Candidate:
    """A pair found in the source, before sampling and writing. Paths are relative to the source (posix);
    `mask_from` is a label map to derive the mask from (when masks are asked for)."""

    pair_id: str
    workflow: str
    base: str
    product: str
    tags: tuple[str, ...]
    where: tuple[str, int]
    mask: str = ""
    reference: str = ""
    mask_from: tuple[str, tuple[int, ...], str] | None = None  # (label map, classes, mask file name)


@dataclass
class Scan:
    candidates: list[Candidate] = field(default_factory=list)
    problems: list[ImportProblem] = field(default_factory=list)
    files: list[str] = field(default_factory=list)  # the pair files read
    lines: int = 0


def is_plain_name(name: str) -> bool:
    """A single file or folder name: no separator, no parent reference, nothing hidden or empty."""
    return bool(name) and name not in (".", "..") and "/" not in name and "\\" not in name and "\x00" not in name \
        and name == name.strip()


def shown(text: str) -> str:
    return repr(cap(strip_controls(text, keep_newlines=False), MAX_LINE_SHOWN))


def read_pair_lines(src: Path, rel: str, scan: Scan) -> list[tuple[int, str, str]] | None:
    """(line number, person, garment) of a pair file under `src`; each malformed line is a problem. None when
    the file cannot be read (a problem says why)."""
    path = src / rel
    try:
        size = path.stat().st_size
        if size > MAX_PAIRS_FILE_BYTES:
            scan.problems.append(ImportProblem(rel, 0, f"{size:,} bytes: a pair file may have at most "
                                                       f"{MAX_PAIRS_FILE_BYTES:,}"))
            return None
        text = path.read_bytes().decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        scan.problems.append(ImportProblem(rel, 0, f"not UTF-8 text (byte {exc.start:,})"))
        return None
    except OSError as exc:
        scan.problems.append(ImportProblem(rel, 0, f"cannot be read: {exc.strerror or exc}"))
        return None
    scan.files.append(rel)
    out = []
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        scan.lines += 1
        parts = line.split()
        if len(parts) != 2:
            scan.problems.append(ImportProblem(rel, number, f"expected 'person.jpg garment.jpg', found {shown(line)}"))
            continue
        bad = [p for p in parts if not is_plain_name(p)]
        if bad:
            scan.problems.append(ImportProblem(rel, number, f"{shown(bad[0])} is not a file name (no folders, "
                                                            "no '..')"))
            continue
        out.append((number, parts[0], parts[1]))
    return out


def file_problem(src: Path, rel: str) -> str | None:
    """Why `rel` is not a usable file under `src` (None when it is): missing, or a link leading out of it."""
    target = (src / rel).resolve()
    if not target.is_relative_to(src):
        return f"{rel} leaves the source folder (a link to somewhere else)"
    if not target.is_file():
        return f"no such file: {rel}"
    return None


def accept_pair(src: Path, listing: str, number: int, pair_id: str, files: tuple[str, str], seen: dict[str, int],
                scan: Scan) -> bool:
    """Whether a listed pair is new and both its files are there; a repeat or a missing file is reported with
    the listing's line (and the pair left out)."""
    if pair_id in seen:
        scan.problems.append(ImportProblem(listing, number, f"the same pair as line {seen[pair_id]} (left out)",
                                           "warning"))
        return False
    missing = [why for rel in files if (why := file_problem(src, rel))]
    if missing:
        scan.problems.append(ImportProblem(listing, number, "; ".join(missing)))
        return False
    seen[pair_id] = number
    return True
