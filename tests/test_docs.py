"""The guide holds the code (datasette's docs test is the model): what docs/ names exists, every built-in profile
has a sandbox signature and a run test, every command and option is documented, and the README stays a front
door. A rename or a new command that the guide does not follow fails here, not in a reader's hands."""

from __future__ import annotations

import importlib
import re
from pathlib import Path

import click
import pytest

from vton_eval.cli import main
from vton_eval.sandbox.signatures import BUILDERS, SIGNATURES
from vton_eval.services.kinds import KINDS
from vton_eval.services.profiles import BUILT_IN, load_profile

from . import test_profiles

REPO = Path(__file__).resolve().parents[1]
DOCS = REPO / "docs"
GUIDE = [p for p in sorted(DOCS.glob("*.md")) if p.name != "reference.md"]
ROOTS = ("vton_eval", "dashboard", "tests", "bench", "compat", "datasets", "docs")


def _commands(command: click.Command, path: tuple[str, ...] = ("vton-eval",)):
    yield path, command
    if isinstance(command, click.Group):
        ctx = click.Context(command)
        for name in sorted(command.list_commands(ctx)):  # the top level loads its commands' modules lazily
            sub = command.get_command(ctx, name)
            if not sub.hidden:
                yield from _commands(sub, (*path, name))


def test_the_command_table_names_every_command_of_every_module():
    """`vton-eval` loads a command's module only when it runs, from a table: a command added to a module but not
    to the table would not exist, and a table line without its command would fail when typed."""
    from importlib import import_module

    from vton_eval.cli import COMMANDS

    modules = {p.stem for p in (REPO / "vton_eval" / "cli").glob("*_cmd.py")}
    assert set(COMMANDS.values()) == modules
    defined = {c.name: m for m in modules for c in import_module(f"vton_eval.cli.{m}").COMMANDS}
    assert defined == COMMANDS


# -- profiles, signatures, run tests ------------------------------------------------------------------------


def test_every_built_in_profile_has_a_sandbox_signature_and_a_run_test():
    assert set(SIGNATURES) == set(BUILT_IN), "each built-in profile needs its service's signature in the sandbox"
    assert tuple(BUILDERS) == SIGNATURES
    run_test = test_profiles.test_a_run_per_built_in_profile_against_its_sandbox_signature
    [marker] = [m for m in run_test.pytestmark if m.name == "parametrize"]
    assert tuple(marker.args[1]) == BUILT_IN, "the run test covers every built-in profile"
    for name in BUILT_IN:
        assert load_profile(name).kind in KINDS


def test_the_built_in_list_is_the_toml_files_present():
    folder = REPO / "vton_eval" / "services" / "profiles"
    assert set(BUILT_IN) == {p.stem for p in folder.glob("*.toml")}


# -- the developer map --------------------------------------------------------------------------------------


def _development() -> str:
    return (DOCS / "development.md").read_text(encoding="utf-8")


def _exists_under(name: str, root: Path) -> bool:
    """`name` (a file or a folder, maybe with a parent: "runner/limiter.py", "profiles/") somewhere under `root`."""
    name = name.rstrip("/")
    if (root / name).exists() or (REPO / name).exists():
        return True
    return any(p.as_posix().endswith("/" + name) for p in root.rglob(Path(name).name))


def test_every_path_in_the_developer_map_exists():
    text = _development()
    tree = text.split("```", 2)[1]
    root = None
    missing = []
    for line in tree.splitlines():
        top = re.match(r"^([\w./-]+)\s", line)
        if top:
            root = REPO / top.group(1).split("/")[0]
            if not (REPO / top.group(1).rstrip("/")).exists():
                missing.append(top.group(1))
        if root is None:
            continue
        # Every module or folder named on the line: first words and those in the description alike.
        for name in re.findall(r"(?<![\w.$/*-])([a-z_][\w/]*\.py|[a-z_][\w]*/)(?![\w])", line):
            if name.startswith(("pages/",)):  # the map says the pages are *not* named pages/
                continue
            if not any(_exists_under(name, REPO / r) for r in (root.name, "vton_eval", "dashboard")):
                missing.append(name)
        for listed in re.findall(r"(\w+(?:/\w+){2,}) \(every write\)", line):  # "writes/runs/judgements/..."
            missing += [n for n in listed.split("/") if not (REPO / "vton_eval" / "store" / f"{n}.py").exists()]
    assert not missing, f"the developer map names what does not exist: {missing}"


def test_every_path_and_name_the_guide_quotes_exists():
    missing = []
    for page in [*GUIDE, REPO / "README.md"]:
        for code in re.findall(r"`([^`\n]+)`", page.read_text(encoding="utf-8")):
            code = code.strip()
            if re.fullmatch(r"(vton_eval|dashboard|tests|bench|compat|docs)/[\w./-]*", code):
                if not (REPO / code.rstrip("/")).exists() and "*" not in code:
                    missing.append(f"{page.name}: {code}")
            elif re.fullmatch(r"(vton_eval|dashboard)(\.\w+)+", code):
                if not _resolves(code):
                    missing.append(f"{page.name}: {code}")
    assert not missing, f"the guide quotes what does not exist: {missing}"


def _resolves(dotted: str) -> bool:
    parts = dotted.split(".")
    for i in range(len(parts), 0, -1):
        try:
            target = importlib.import_module(".".join(parts[:i]))
        except ImportError:
            continue
        for attr in parts[i:]:
            if not hasattr(target, attr):
                return False
            target = getattr(target, attr)
        return True
    return False


def test_the_names_where_things_go_cites_exist():
    """The code names of "Where things go" (Workflow, make_service, LAYOUTS...) are defined in the engine or the
    dashboard, where the text says."""
    where = _development().split("Where things go", 1)[1].split("Import rules", 1)[0]
    sources = "\n".join(p.read_text(encoding="utf-8") for r in ("vton_eval", "dashboard")
                        for p in (REPO / r).rglob("*.py"))
    missing = []
    for name in set(re.findall(r"`([A-Za-z_][\w]*)(?:\([^`]*\))?`", where)):
        if not re.search(rf"^\s*(?:def|class) {name}\b|^\s*{name}\s*(?::[^=\n]*)?=", sources, re.M):
            missing.append(name)
    assert not missing, f"'Where things go' names what the code does not define: {missing}"


# -- the command line ---------------------------------------------------------------------------------------


def test_every_command_and_option_is_documented():
    prose = "\n".join(p.read_text(encoding="utf-8") for p in GUIDE)
    undocumented = []
    for path, command in _commands(main):
        name = " ".join(path)
        if len(path) > 1 and not (command.help or command.short_help):
            undocumented.append(f"{name}: no help text")
        if len(path) > 1 and not isinstance(command, click.Group) and f"`{name}" not in prose \
                and not re.search(rf"`vton-eval [^`]*\b{re.escape(path[-1])}\b", prose):
            undocumented.append(f"{name}: not in the guide")
        for param in command.params:
            if isinstance(param, click.Option) and not param.hidden and not param.help:
                undocumented.append(f"{name} {'/'.join(param.opts)}: no help text")
    assert not undocumented, undocumented
    reference = (DOCS / "reference.md").read_text(encoding="utf-8")
    # The reference is generated from the commands themselves when the guide is built.
    assert re.search(r"::: mkdocs-click\s+:module: vton_eval.cli\s+:command: main", reference)


def test_the_dataset_layouts_are_the_commands_choices():
    from vton_eval.datasets.layouts import LAYOUTS

    [command] = [c for p, c in _commands(main) if p[1:] == ("datasets", "import")]
    [layout] = [p for p in command.params if p.name == "layout"]
    assert tuple(layout.type.choices) == tuple(LAYOUTS)


# -- the site -----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("page", [p.name for p in GUIDE] + ["reference.md"])
def test_every_guide_page_is_in_the_nav(page):
    assert re.search(rf":\s*{re.escape(page)}\s*$", (REPO / "mkdocs.yml").read_text(encoding="utf-8"), re.M)


def test_the_readme_is_the_front_door():
    """What it is, the two commands, where to go next: the guide holds the rest, so the README cannot drift."""
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    assert len(readme.splitlines()) <= 400
    assert readme.index("make demo") < readme.index("make test") < readme.index("## Who it is for")
    linked = set(re.findall(r"\]\(docs/([\w-]+\.md)\)", readme))
    assert linked == {p.name for p in DOCS.glob("*.md")}, "the README links every page of the guide"
