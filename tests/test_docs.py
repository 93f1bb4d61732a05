"""The documentation builds: every page's code runs and every check on it holds.

The book's pages end with numerical checks against the library (``assert`` in executed
code blocks), so a wrong formula, a changed implementation or a broken link fails here.
"""

import importlib.util
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
MISSING = [
    name
    for name in ("mkdocs", "material", "markdown_exec")
    if importlib.util.find_spec(name) is None
]


@pytest.mark.skipif(
    bool(MISSING), reason=f"the docs extra is not installed (missing {', '.join(MISSING)})"
)
def test_mkdocs_build_strict_passes(tmp_path):
    # Not --quiet: mkdocs counts only the warnings it shows, and strict mode fails on them.
    env = {**os.environ, "NO_MKDOCS_2_WARNING": "1", "MPLBACKEND": "Agg"}
    result = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(tmp_path)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, result.stderr[-6000:]
    assert (tmp_path / "book" / "dense" / "index.html").is_file()
    assert "Traceback" not in (tmp_path / "book" / "dense" / "index.html").read_text()
