"""Changing datasets is an operator's act (vton_eval.curation): a viewer's or reviewer's attempt is refused and
audited, whatever the page offered; a folder on the server is imported only from the roles file's import roots;
and the Datasets page offers the changes to operators only."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from vton_eval import access, curation
from vton_eval.access import AccessConfigError, AccessDenied, actor_from_claims, local_actor
from vton_eval.analytics.audit import audit_log
from vton_eval.datasets import load_dataset
from vton_eval.datasets.authoring import Upload
from vton_eval.datasets.layouts import ImportOptions
from vton_eval.samples.trees import make_viton_hd_tree
from vton_eval.store import Database

from .helpers.pages import sql, visible_text
from .helpers.paths import APP, SAMPLE
from .helpers.recorder import png_bytes

ISSUER = "https://id.example.com"
ROLES = """
[roles]
operator = ["olga@example.com"]
reviewer = ["rita@example.com"]
viewer = ["vic@example.com"]
"""


def person(sub: str, email: str) -> dict:
    return {"is_logged_in": True, "sub": sub, "iss": ISSUER, "email": email, "email_verified": True}


@pytest.fixture()
def roles(tmp_path, monkeypatch):
    path = tmp_path / "access.toml"
    path.write_text(ROLES, encoding="utf-8")
    monkeypatch.setenv(access.ACCESS_ENV, str(path))
    return path


@pytest.fixture()
def library(tmp_path):
    """A datasets folder with one dataset (two sample pairs), and a VITON-HD tree elsewhere on the server."""
    root = tmp_path / "datasets"
    folder = curation.create_dataset(root, "mine", actor=local_actor(via="cli"))
    person_png, product_png = (SAMPLE / "persons" / "figure_01.png").read_bytes(), png_bytes((160, 200))
    for _ in range(2):
        curation.add_pair(folder, "top", Upload("p.png", person_png), Upload("q.png", product_png),
                          actor=local_actor(via="cli"))
    return root, folder, make_viton_hd_tree(tmp_path / "server" / "VITON-HD", 3)


def _manifest(folder: Path) -> bytes:
    return (folder / "manifest.csv").read_bytes()


def test_a_viewer_or_reviewer_changes_no_dataset_and_every_attempt_is_audited(roles, library, file_db):
    root, folder, tree = library
    before = _manifest(folder)
    upload = Upload("p.png", png_bytes())
    viewer, reviewer = (actor_from_claims(person(s, e)) for s, e in (("v1", "vic@example.com"),
                                                                     ("r1", "rita@example.com")))
    for who in (viewer, reviewer):
        attempts = {
            "create_dataset": lambda who=who: curation.create_dataset(root, "theirs", actor=who, db=file_db),
            "add_pair": lambda who=who: curation.add_pair(folder, "top", upload, upload, actor=who, db=file_db),
            "set_tags": lambda who=who: curation.set_tags(folder, {"pair-001": "hacked"}, actor=who, db=file_db),
            "import_dataset": lambda who=who: curation.import_layout("viton-hd", tree, root / "stolen", actor=who,
                                                                     db=file_db),
        }
        for attempt in attempts.values():
            with pytest.raises(AccessDenied, match="needs the operator role"):
                attempt()
    assert _manifest(folder) == before and sorted(p.name for p in root.iterdir()) == ["mine"]
    refused = audit_log(file_db)
    assert sorted({r["action"] for r in refused}) == ["add_pair", "create_dataset", "import_dataset", "set_tags"]
    assert len(refused) == 8 and {r["outcome"] for r in refused} == {"refused"}
    assert {r["role"] for r in refused} == {"viewer", "reviewer"}
    with pytest.raises(TypeError, match="Actor"):
        curation.set_tags(folder, {"pair-001": "x"}, actor="olga@example.com", db=file_db)  # a name is no actor

    olga = actor_from_claims(person("o1", "olga@example.com"))
    made = curation.create_dataset(root, "hers", actor=olga, db=file_db)
    pair = curation.add_pair(made, "top", upload, Upload("q.png", png_bytes((150, 150))), tags="new", actor=olga,
                             db=file_db)
    assert curation.set_tags(made, {pair: "new;checked"}, actor=olga, db=file_db) == 1
    done = [(r["actor"], r["action"]) for r in reversed(audit_log(file_db)) if r["outcome"] == "done"]
    assert done == [("olga@example.com", "create_dataset"), ("olga@example.com", "add_pair"),
                    ("olga@example.com", "set_tags")]
    assert load_dataset(made).pairs[0].tags == ("new", "checked")


def test_a_server_folder_is_imported_only_from_the_configured_roots(roles, library, file_db, tmp_path):
    root, _, tree = library
    olga = actor_from_claims(person("o1", "olga@example.com"))
    # No roots configured: a signed-in operator imports nothing (the page says where they are configured).
    with pytest.raises(AccessDenied, match=r"\[datasets\] import_roots of the roles file"):
        curation.import_layout("viton-hd", tree, root / "vh", actor=olga, db=file_db)
    allowed = tmp_path / "server"
    roles.write_text(ROLES + f'\n[datasets]\nimport_roots = ["{allowed}"]\n', encoding="utf-8")
    os.utime(roles, ns=(1, 1))
    # Outside the roots: the whole disk, a sibling, `..` out of a root, a symbolic link out of one.
    elsewhere = make_viton_hd_tree(tmp_path / "private" / "VITON-HD", 2)
    (allowed / "link").symlink_to(elsewhere)
    for source in ("/", str(elsewhere), f"{allowed}/../private/VITON-HD", str(allowed / "link")):
        with pytest.raises(AccessDenied, match="is not inside a folder test sets may be imported from"):
            curation.import_layout("viton-hd", source, root / "vh", actor=olga, db=file_db)
    assert not (root / "vh").exists()
    report = curation.import_layout("viton-hd", tree, root / "vh", ImportOptions(limit=2), actor=olga, db=file_db)
    assert report.written and report.pairs == 2
    trail = [(r["action"], r["outcome"]) for r in reversed(audit_log(file_db, action="import_dataset"))]
    assert trail == [("import_dataset", "refused")] * 5 + [("import_dataset", "done")]
    # At the command line (the person's own shell reads their own disk), the roots do not apply.
    assert curation.import_layout("viton-hd", elsewhere, root / "cli", actor=local_actor(via="cli")).written


def test_import_roots_in_the_roles_file_are_checked(tmp_path):
    path = tmp_path / "access.toml"
    for text, message in [('[datasets]\nimport_roots = ["relative/dir"]', "is not an absolute folder path"),
                          ('[datasets]\nimport_roots = ["/"]', "the whole file system"),
                          ('[datasets]\nimport_root = ["/data"]', "did you mean 'import_roots'"),
                          ('[datasets]\nimport_roots = "/data"', "must be a list of folders")]:
        path.write_text(text, encoding="utf-8")
        os.utime(path, ns=(len(text), len(text)))
        with pytest.raises(AccessConfigError, match=message):
            access.load_config(path)


# -- the page ---------------------------------------------------------------------------------------------------

AUTH = {"redirect_uri": "http://127.0.0.1:8501/oauth2callback", "cookie_secret": "test-cookie-secret-0123456789",
        "client_id": "vton-eval-test", "client_secret": "unused",
        "server_metadata_url": "http://localhost:1/.well-known/openid-configuration"}


def _page_as(email: str | None, monkeypatch, tmp_path, root: Path):
    from streamlit.testing.v1 import AppTest

    monkeypatch.setenv("VTON_EVAL_DB", str(tmp_path / "results.duckdb"))
    monkeypatch.setenv("VTON_EVAL_DATASETS", str(root))
    at = AppTest.from_file(APP, default_timeout=60)
    at.secrets["auth"] = AUTH
    at.user = person(email.split("@")[0], email) if email else {"is_logged_in": False}
    at.run()
    at.switch_page("views/datasets.py").run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def test_the_datasets_page_offers_a_viewer_no_change(roles, library, monkeypatch, tmp_path):
    root, folder, _ = library
    at = _page_as("vic@example.com", monkeypatch, tmp_path, root)
    assert not at.tabs  # no "Create from images", no "Import a test set"
    assert "need the operator role" in visible_text(at)
    assert at.dataframe and "mine" in at.dataframe[0].value["dataset"].tolist()  # reading: yes
    at.segmented_control(key="ds_view").set_value("Tags").run()
    assert not at.get("data_editor") and at.dataframe[-1].value["tags"].tolist() == ["", ""]
    keys = {b.key for b in at.button if b.key}
    assert not keys & {"ds_save_tags", "ds_add_tag", "ds_remove_tag", "dsi_go", "dsc_add", "dsc_add_many"}
    assert not Database(tmp_path / "results.duckdb").exists() or not sql(
        Database(tmp_path / "results.duckdb"), "SELECT * FROM audit WHERE outcome = 'done'")

    at = _page_as("olga@example.com", monkeypatch, tmp_path, root)
    assert [t.label for t in at.tabs] == ["Datasets", "Create from images", "Import a test set"]
