"""Which build of vton-eval wrote a row: stored with every run, verdict and preference.

When a bug is found in how something was recorded (a button stored the wrong pick), the rows that
bug wrote can be told apart from the others and corrected. The version is the package's, plus the
git commit when vton-eval runs from a checkout (`0.1.0+g1a2b3c4d5e6f`), since a fix between two
releases would otherwise carry the same number.
"""

from __future__ import annotations

import functools
import subprocess
from importlib import metadata
from pathlib import Path

_REPO = Path(__file__).resolve().parents[1]


def _commit() -> str | None:
    if not (_REPO / ".git").exists():  # an installed package, not a checkout
        return None
    try:
        done = subprocess.run(["git", "-C", str(_REPO), "rev-parse", "--short=12", "HEAD"], capture_output=True,
                              text=True, timeout=5)
    except (OSError, subprocess.SubprocessError):  # no git on this machine: the version alone
        return None
    sha = done.stdout.strip()
    return sha if done.returncode == 0 and sha.isalnum() else None


@functools.cache
def tool_version() -> str:
    """This build's version, e.g. '0.1.0+g1a2b3c4d5e6f' (computed once per process)."""
    try:
        version = metadata.version("vton-eval")
    except metadata.PackageNotFoundError:
        version = "unknown"
    commit = _commit()
    return f"{version}+g{commit}" if commit else version
