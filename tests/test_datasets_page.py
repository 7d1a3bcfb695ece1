"""The Datasets page, headless with AppTest: the datasets found, the gallery and its filters, the validation report,
tags, a dataset made from uploads (each image checked as it is added) and an import from a folder on the server."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest
from PIL import Image

from vton_eval.datasets import load_dataset
from vton_eval.datasets.layouts import ImportOptions, import_layout
from vton_eval.samples.trees import make_dresscode_tree, make_viton_hd_tree

from .helpers.image_host import start_image_host
from .helpers.pages import as_read, texts
from .helpers.paths import SAMPLE

HOSTILE_ID = "<img src=x onerror=alert(1)>"
HOSTILE_TAG = "**bold**[link](http://evil.example)"


@pytest.fixture()
def host():
    server = start_image_host()
    yield server
    server.close()


@pytest.fixture()
def library(tmp_path, monkeypatch, host) -> Path:
    """A datasets folder with an imported DressCode tree (masks), a VITON-HD sample and a dataset by URL."""
    root = tmp_path / "datasets"
    trees = tmp_path / "trees"
    import_layout("dresscode", make_dresscode_tree(trees / "DressCode", 2), root / "dc",
                  ImportOptions(pairs="paired", masks=True))
    import_layout("viton-hd", make_viton_hd_tree(trees / "VITON-HD", 6), root / "vh", ImportOptions(limit=4, seed=1))
    urls = root / "web"
    urls.mkdir()
    (urls / "manifest.csv").write_text(
        "pair_id,workflow,base,product,mask,reference,tags\n"
        f"\"{HOSTILE_ID}\",top,{host.url('/img/p.jpg')},{host.url('/img/g.png')},,,\"{HOSTILE_TAG}\"\n"
        f"gone,top,{host.url('/img/p.jpg')},{host.url('/status/404')},,,\n", encoding="utf-8")
    monkeypatch.setenv("VTON_EVAL_DATASETS", str(root))
    monkeypatch.setenv("VTON_EVAL_URL_CACHE", str(tmp_path / "url-cache"))
    return root


def _said(elements) -> list[str]:
    """What boxes say, markdown escapes off (text from people and files is escaped in them)."""
    return [as_read(e.value) for e in elements]


def _errors(at) -> list[str]:
    return _said(at.error)


def _open(open_page, tmp_path, tab: str | None = None):
    at = open_page(tmp_path / "none.duckdb", "datasets")  # no database is needed for datasets
    if tab:
        at.session_state["ds_tab"] = tab
        at.run()
    return at


def test_datasets_are_listed_with_counts_per_workflow_paired_or_not_and_last_validation(library, tmp_path,
                                                                                           open_page):
    at = _open(open_page, tmp_path)
    table = at.dataframe[0].value.set_index("dataset")
    assert table.loc["dc", ["pairs", "workflows", "paired", "unpaired", "source", "validated"]].tolist() == [
        6, "bottom 2 · dress 2 · top 2", 6, 0, "dresscode", "never"]
    assert table.loc["vh", ["pairs", "paired", "unpaired", "urls"]].tolist() == [4, 0, 4, 0]
    assert table.loc["web", ["pairs", "urls", "source"]].tolist() == [2, 2, "by hand"]

    at.selectbox(key="ds_pick").set_value(str(library / "dc")).run()
    assert len(at.image) == 6 * 3  # person, product and derived mask of each pair
    # The gallery reads in the dataset's order, row by row (not column by column: 1, 5, 2, 6, 3, 4).
    order = [p.pair_id for p in load_dataset(library / "dc").pairs]
    assert [t.value.split(" · ")[0] for t in at.text if t.value.split(" · ")[0] in order] == order
    at.multiselect(key="ds_wf").set_value(["bottom"]).run()
    assert "2 of 6 pairs" in texts(at) and len(at.image) == 2 * 3
    shown = [t.value.split(" · ")[1] for t in at.text if t.value.startswith(("upper_body-", "lower_body-", "dresses-"))]
    assert shown == ["bottom", "bottom"]
    at.multiselect(key="ds_wf").set_value([])
    at.multiselect(key="ds_tags").set_value(["category:dresses"]).run()
    assert "2 of 6 pairs" in texts(at)

    at.segmented_control(key="ds_view").set_value("Validation").run()
    assert any("Not validated yet" in i.value for i in at.info)
    at.button(key="ds_validate").click().run()
    assert not at.exception
    assert [m.value for m in at.metric][:3] == ["6", "0", "0"] and any("No problem" in s for s in _said(at.success))
    record = json.loads((library / "dc" / "validation.json").read_text())
    assert record["pairs"] == 6 and record["errors"] == 0
    at.run()
    when = record["validated_at"][:16].replace("T", " ")
    assert at.dataframe[0].value.set_index("dataset").loc["dc", "validated"].startswith(f"{when} UTC · 0 error(s)")


def test_the_validation_report_names_bad_urls_and_hostile_text_stays_text(library, host, tmp_path, open_page):
    at = _open(open_page, tmp_path)
    at.selectbox(key="ds_pick").set_value(str(library / "web")).run()
    shown = [t.value for t in at.text]
    assert f"{HOSTILE_ID} · top" in shown and HOSTILE_TAG in shown  # st.text: shown as written, never markup
    assert not any("<img" in m.value or "](http" in m.value for m in at.markdown)
    at.segmented_control(key="ds_view").set_value("Validation").run()
    at.button(key="ds_validate").click().run()
    problems = at.dataframe[-1].value
    assert problems[["line", "pair_id", "column", "severity"]].values.tolist() == [[3, "gone", "product", "error"]]
    assert "HTTP 404" in problems["message"].iloc[0]
    assert host.hits["/img/p.jpg"] == 1  # browsing and validating: one fetch
    at.run()
    assert "1 error(s)" in at.dataframe[0].value.set_index("dataset").loc["web", "validated"]


def test_tags_are_edited_one_by_one_and_for_every_pair_shown(library, tmp_path, open_page):
    at = _open(open_page, tmp_path)
    at.selectbox(key="ds_pick").set_value(str(library / "vh")).run()
    at.segmented_control(key="ds_view").set_value("Tags").run()
    at.text_input(key="ds_bulk_tag").set_value("hard case").run()
    at.button(key="ds_add_tag").click().run()
    assert any("Tags of 4 pair(s) changed" in s for s in _said(at.success))
    pairs = load_dataset(library / "vh", check_images=False).pairs
    assert all(p.tags[-1] == "hard case" and "source:viton-hd" in p.tags for p in pairs)
    at.button(key="ds_remove_tag").click().run()
    assert all("hard case" not in p.tags for p in load_dataset(library / "vh", check_images=False).pairs)


def _png(colour: tuple[int, int, int], size=(160, 220), fmt="PNG") -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", size, colour).save(buffer, fmt)
    return buffer.getvalue()


def test_a_dataset_is_made_from_uploads_each_image_checked_as_it_is_added(library, tmp_path, open_page):
    at = _open(open_page, tmp_path, "Create from images")
    at.text_input(key="dsc_name").set_value("../escape")  # a form: the value goes with the click
    at.button(key="FormSubmitter:dsc_new-Create dataset").click().run()
    assert any("a dataset name is" in e for e in _errors(at)) and not (tmp_path / "escape").exists()
    at.text_input(key="dsc_name").set_value("spring")
    at.button(key="FormSubmitter:dsc_new-Create dataset").click().run()
    assert (library / "spring" / "manifest.csv").is_file()
    assert at.selectbox(key="dsc_target").value == str(library / "spring")

    person = (SAMPLE / "persons" / "astronaut.jpg").read_bytes()
    # A GIF renamed .png is refused the moment it is added, by its bytes.
    at.file_uploader(key="dsc_base_0").set_value(("person.png", _png((1, 2, 3), fmt="GIF"), "image/png")).run()
    assert any("person image 'person.png' cannot be used" in e and "GIF" in e for e in _errors(at))
    assert at.button(key="dsc_add").disabled
    at.file_uploader(key="dsc_base_0").set_value(("person.jpg", person, "image/jpeg"))
    at.file_uploader(key="dsc_product_0").set_value(("top.png", _png((200, 10, 10)), "image/png"))
    at.file_uploader(key="dsc_mask_0").set_value(("tiny.png", _png((255, 255, 255), (40, 40)), "image/png")).run()
    assert any("mask image 'tiny.png' cannot be used" in e and "under the minimum" in e for e in _errors(at))
    at.file_uploader(key="dsc_mask_0").set_value(("m.png", _png((255, 255, 255)), "image/png"))
    at.text_input(key="dsc_tags").set_value("catalogue;spring").run()
    assert any("✓" in c.value and "512×512 JPEG" in c.value for c in at.caption)
    at.button(key="dsc_add").click().run()
    assert any("Pair pair-001 added to spring" in s for s in _said(at.success)), texts(at)

    # Many at once: the person already in the dataset is stored once; every person with every product.
    at.radio(key="dsc_mode").set_value("Many pairs at once").run()
    at.file_uploader(key="dsc_people_1").set_value([("a.jpg", person, "image/jpeg")])
    at.file_uploader(key="dsc_products_1").set_value([("g.png", _png((0, 90, 0)), "image/png"),
                                                      ("b.png", _png((0, 0, 90)), "image/png")]).run()
    assert at.button(key="dsc_add_many").disabled  # in order needs as many products as people
    at.radio(key="dsc_pairing").set_value("Every person with every product").run()
    at.button(key="dsc_add_many").click().run()
    assert any("2 pair(s) added to spring" in s for s in _said(at.success)), texts(at)
    ds = load_dataset(library / "spring")
    assert not ds.problems and [p.pair_id for p in ds.pairs] == ["pair-001", "pair-002", "pair-003"]
    assert ds.pairs[0].mask is not None and ds.pairs[0].tags == ("catalogue", "spring")
    assert len({p.base for p in ds.pairs}) == 1 and len(list((library / "spring" / "images").iterdir())) == 5


def test_a_test_set_is_imported_from_a_folder_on_the_server_and_validated(library, tmp_path, open_page):
    src = make_dresscode_tree(tmp_path / "more" / "DressCode", 3, categories=("lower_body", "dresses"))
    (src / "dresses" / "test_pairs_unpaired.txt").write_text("020000_0.jpg missing_1.jpg\nnot a pair line\n")
    at = _open(open_page, tmp_path, "Import a test set")
    at.selectbox(key="dsi_layout").set_value("dresscode").run()
    at.text_input(key="dsi_source").set_value(str(src))
    at.text_input(key="dsi_name").set_value("dc-lower")
    at.multiselect(key="dsi_categories").set_value(["lower_body", "dresses"])
    at.checkbox(key="dsi_masks_dresscode").check().run()
    at.button(key="dsi_go").click().run()
    assert not at.exception
    assert any("imported 3 pairs" in w for w in _said(at.warning)), texts(at)  # with errors: a warning, not success
    problems = at.dataframe[-1].value
    assert problems[["file", "line", "severity"]].values.tolist() == [
        ["dresses/test_pairs_unpaired.txt", 1, "error"], ["dresses/test_pairs_unpaired.txt", 2, "error"]]
    assert any("Validation: dc-lower: 3 usable pairs (bottom 3)" in t.value for t in at.text)
    assert at.session_state["ds_pick"] == str(library / "dc-lower")
    at.button(key="dsi_go").click().run()  # the same name again: refused, the dataset is kept
    assert any("already holds a dataset" in e for e in _errors(at))
    at.text_input(key="dsi_source").set_value(str(tmp_path / "nowhere"))
    at.text_input(key="dsi_name").set_value("other").run()
    at.button(key="dsi_go").click().run()
    assert any("is not a folder" in e for e in _errors(at)) and not at.exception


def test_a_viton_hd_folder_is_imported_with_its_agnostic_masks_only_when_it_has_them(library, tmp_path, open_page):
    """The page's defaults: masks when the folder has agnostic-mask/, none (and no error) when it has not."""
    at = _open(open_page, tmp_path, "Import a test set")
    for name, masks in (("vh-bare", False), ("vh-masked", True)):
        src = make_viton_hd_tree(tmp_path / name / "VITON-HD", 3, masks=masks)
        at.text_input(key="dsi_source").set_value(str(src))
        at.text_input(key="dsi_name").set_value(name).run()
        assert at.checkbox(key="dsi_masks_viton-hd").value  # left as it is
        at.button(key="dsi_go").click().run()
        assert not _errors(at) and not at.exception, _errors(at)
        ds = load_dataset(library / name)
        assert len(ds.pairs) == 3 and all((p.mask is not None) == masks for p in ds.pairs), name
