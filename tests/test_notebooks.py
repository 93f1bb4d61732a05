"""Each book chapter's notebook (the one the site offers for download) runs from top to bottom."""

import importlib.util
import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
MISSING = [n for n in ("nbformat", "nbclient", "ipykernel") if importlib.util.find_spec(n) is None]
pytestmark = pytest.mark.skipif(
    bool(MISSING), reason=f"the test extra is not installed (missing {', '.join(MISSING)})"
)


def _hook():
    spec = importlib.util.spec_from_file_location("notebooks_hook", ROOT / "hooks" / "notebooks.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


CHAPTERS = sorted(p for p in (ROOT / "docs" / "book").glob("*.md")
                  if p.stem not in {"index", "answers"})


def test_every_chapter_has_code_cells():
    hook = _hook()
    assert len(CHAPTERS) >= 12
    for chapter in CHAPTERS:
        notebook = hook.chapter_to_notebook(chapter.read_text(encoding="utf-8"))
        assert any(c.cell_type == "code" for c in notebook.cells), chapter.name


@pytest.mark.parametrize("chapter", CHAPTERS, ids=lambda p: p.stem)
def test_chapter_notebook_runs(chapter, monkeypatch):
    from nbclient import NotebookClient

    monkeypatch.setenv("MPLBACKEND", "Agg")
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(filter(None, [
        str(ROOT / "src"), os.environ.get("PYTHONPATH")])))
    notebook = _hook().chapter_to_notebook(chapter.read_text(encoding="utf-8"))
    # Raises CellExecutionError, naming the cell and its traceback, if any cell fails.
    NotebookClient(notebook, timeout=120, kernel_name="python3",
                   resources={"metadata": {"path": str(ROOT)}}).execute()
