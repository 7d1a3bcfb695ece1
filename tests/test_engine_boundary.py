"""The engine is usable without Streamlit or plotly: proven in a fresh interpreter that cannot import them."""

import pkgutil
import subprocess
import sys
import textwrap
from pathlib import Path

import vton_eval

REPO = Path(__file__).resolve().parents[1]


def test_every_engine_module_imports_without_streamlit_or_plotly():
    modules = sorted(m.name for m in pkgutil.walk_packages(vton_eval.__path__, "vton_eval."))
    assert "vton_eval.runner.run" in modules and "vton_eval.store.db" in modules
    code = textwrap.dedent(f"""
        import importlib, sys
        class Block:
            def find_spec(self, name, path=None, target=None):
                if name.split(".")[0] in ("streamlit", "plotly"):
                    raise ImportError("blocked: " + name)
        sys.meta_path.insert(0, Block())
        for name in {modules!r}:
            if name.endswith("__main__"):
                continue
            importlib.import_module(name)
        leaked = [m for m in sys.modules if m.split(".")[0] in ("streamlit", "plotly")]
        assert not leaked, leaked
        print("imported", len({modules!r}))
    """)
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO)
    assert proc.returncode == 0, proc.stderr
    assert "imported" in proc.stdout


def test_no_engine_source_mentions_an_import_of_the_ui_stack():
    offenders = []
    for path in (REPO / "vton_eval").rglob("*.py"):
        for line in path.read_text().splitlines():
            stripped = line.strip()
            if stripped.startswith(("import streamlit", "from streamlit", "import plotly", "from plotly")):
                offenders.append(f"{path}: {stripped}")
    assert not offenders
