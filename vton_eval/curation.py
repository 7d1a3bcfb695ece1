"""Changing datasets as an act of a person: creating one, adding a pair, editing tags, importing a server folder.

These are the functions people act through (the Datasets page, `vton-eval datasets import`). Each takes the
`Actor` as a keyword argument, like every acting function: it needs the operator role, a refusal raises
AccessDenied, and the act or its refusal is written to the audit trail of `db` (the dashboard always gives its
store). Importing a folder on the server is allowed to someone not at the command line only from the folders the
roles file lists (`[datasets] import_roots`), since the new dataset shows that folder's images to everyone.

The files themselves are written by `vton_eval.datasets` (authoring, layouts), which knows nothing of people.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from vton_eval import access
from vton_eval.access import AccessConfig, Action, Actor
from vton_eval.datasets import authoring, layouts
from vton_eval.datasets.authoring import Upload
from vton_eval.datasets.layouts import ImportOptions, ImportReport
from vton_eval.store.base import Store


def check_import_source(db: Store | None, actor: Actor, source: Path, config: AccessConfig | None = None) -> None:
    """A server folder may be imported only from the roles file's `[datasets] import_roots`, unless the person is
    at the command line (their own shell reads their own disk) or alone at a dashboard without sign-in and no
    roots are configured. `source` is resolved (no `..`, no symbolic link out of a root)."""
    if actor.via == "cli":
        return
    config = config or access.load_config()
    roots = config.import_roots
    if not roots and not actor.signed_in:
        return
    if any(source.is_relative_to(root) for root in roots):
        return
    where = config.source or f"{access.config_path()} (there is none yet)"
    if roots:
        reason = (f"{source} is not inside a folder test sets may be imported from "
                  f"({', '.join(str(r) for r in roots)}: [datasets] import_roots in the roles file, {where})")
    else:
        reason = ("no server folder may be imported from the dashboard until an administrator lists the folders "
                  f"that hold test sets in [datasets] import_roots of the roles file, {where}")
    raise access.refuse(db, actor, Action.IMPORT_DATASET, reason, subject=str(source))


def create_dataset(root: Path, name: str, *, actor: Actor, db: Store | None = None) -> Path:
    """A new, empty dataset folder under `root` (see `authoring.create_dataset`)."""
    access.permit(db, actor, Action.CREATE_DATASET, subject=name)
    folder = authoring.create_dataset(root, name)
    access.record_act(db, actor, Action.CREATE_DATASET, subject=str(folder))
    return folder


def add_pair(folder: Path, workflow: str, base: Upload | str, product: Upload | str, mask: Upload | None = None,
             reference: Upload | None = None, pair_id: str | None = None, tags: str | list[str] = "", *,
             actor: Actor, db: Store | None = None) -> str:
    """Check the images and append a pair (see `authoring.add_pair`); returns its id."""
    access.permit(db, actor, Action.ADD_PAIR, subject=str(folder))
    added = authoring.add_pair(folder, workflow, base, product, mask, reference, pair_id, tags)
    access.record_act(db, actor, Action.ADD_PAIR, subject=f"{folder}#{added}", detail={"workflow": workflow})
    return added


def set_tags(folder: Path, changes: dict[str, str | list[str]], *, actor: Actor, db: Store | None = None) -> int:
    """Replace the tags of the named pairs (see `authoring.set_tags`); returns how many rows changed."""
    access.permit(db, actor, Action.SET_TAGS, subject=str(folder))
    changed = authoring.set_tags(folder, changes)
    if changed:
        access.record_act(db, actor, Action.SET_TAGS, subject=str(folder), detail={"pairs_changed": changed})
    return changed


def import_layout(layout: str, src: str | Path, into: str | Path, options: ImportOptions | None = None,
                  overwrite: bool = False, progress: Callable[[int, int], None] | None = None, *, actor: Actor,
                  db: Store | None = None) -> ImportReport:
    """Write a dataset for a VITON-HD or DressCode folder (see `layouts.import_layout`), once the actor may:
    their role, and (away from the command line) a source inside the configured import roots."""
    access.permit(db, actor, Action.IMPORT_DATASET, subject=str(src))
    check_import_source(db, actor, Path(src).expanduser().resolve())
    report = layouts.import_layout(layout, src, into, options, overwrite=overwrite, progress=progress)
    if report.written:
        access.record_act(db, actor, Action.IMPORT_DATASET, subject=str(report.folder),
                          detail={"layout": layout, "source": str(report.source), "pairs": report.pairs})
    return report
