"""The documentation builds: every page's code runs and every check on it holds.

The book's pages end with numerical checks against the library (``assert`` in executed
code blocks), so a wrong formula, a changed implementation or a broken link fails here.
The built site is then read as a browser would with no network: no script from another host,
and no TeX left as raw text outside the spans MathJax typesets.
"""

import importlib.util
import os
import re
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path
from typing import ClassVar
from urllib.parse import urlparse

import pytest

ROOT = Path(__file__).resolve().parents[1]
MISSING = [
    name
    for name in ("mkdocs", "material", "markdown_exec")
    if importlib.util.find_spec(name) is None
]
needs_docs = pytest.mark.skipif(
    bool(MISSING), reason=f"the docs extra is not installed (missing {', '.join(MISSING)})"
)


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    """The site built once with --strict; the build's result, for the tests to read."""
    site_dir = tmp_path_factory.mktemp("site")
    # Not --quiet: mkdocs counts only the warnings it shows, and strict mode fails on them.
    env = {**os.environ, "NO_MKDOCS_2_WARNING": "1", "MPLBACKEND": "Agg"}
    result = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(site_dir)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    return site_dir, result


class _PageReader(HTMLParser):
    """Collects a page's <script src> values and its visible text outside typeset math."""

    # Elements whose text a reader never sees as prose: code, scripts, and the arithmatex
    # spans/divs that MathJax replaces with typeset math.
    _HIDDEN: ClassVar[frozenset] = frozenset({"script", "style", "code", "pre"})
    _VOID: ClassVar[frozenset] = frozenset(
        {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source",
         "track", "wbr"}
    )

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.scripts: list[str] = []
        self.text: list[str] = []
        self._stack: list[bool] = []  # per open element: is it hidden?

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "script" and attrs.get("src"):
            self.scripts.append(attrs["src"])
        if tag in self._VOID:
            return
        hidden = tag in self._HIDDEN or "arithmatex" in (attrs.get("class") or "").split()
        self._stack.append(hidden)

    def handle_endtag(self, tag):
        if tag in self._VOID or not self._stack:
            return
        self._stack.pop()

    def handle_data(self, data):
        if not any(self._stack):
            self.text.append(data)


def _read(page: Path) -> _PageReader:
    reader = _PageReader()
    reader.feed(page.read_text(encoding="utf-8"))
    return reader


# A TeX command in prose means math that was never handed to MathJax: Markdown eats the
# backslash of an unrecognised \\[ and leaves "[ m \\leftarrow ...".
_TEX_COMMAND = re.compile(
    r"\\(?:frac|leftarrow|rightarrow|beta|alpha|sigma|sum|sqrt|hat|qquad|quad|cdot|partial"
    r"|epsilon|eta|mathbf|mathrm|left|right|text|odot|log|exp|nabla|lambda|tag)(?![A-Za-z])"
)


def _raw_tex(text: str) -> list[str]:
    """Each place a TeX delimiter or command shows as text, with a little context."""
    found = []
    for mark in ("\\[", "\\(", "$$"):
        start = 0
        while (at := text.find(mark, start)) >= 0:
            found.append(text[max(0, at - 40) : at + 60].replace("\n", " "))
            start = at + len(mark)
    for match in _TEX_COMMAND.finditer(text):
        at = match.start()
        found.append(text[max(0, at - 40) : at + 60].replace("\n", " "))
    return found


@needs_docs
def test_mkdocs_build_strict_passes(site):
    site_dir, result = site
    assert result.returncode == 0, result.stderr[-6000:]
    assert (site_dir / "book" / "dense" / "index.html").is_file()
    assert "Traceback" not in (site_dir / "book" / "dense" / "index.html").read_text()


@needs_docs
def test_built_pages_load_no_script_from_another_host(site):
    site_dir, result = site
    assert result.returncode == 0, result.stderr[-6000:]
    pages = sorted(site_dir.rglob("*.html"))
    assert pages
    external = {
        f"{page.relative_to(site_dir)}: {src}"
        for page in pages
        for src in _read(page).scripts
        if urlparse(src).scheme or src.startswith("//")
    }
    assert not external, sorted(external)
    # The math script the pages name is in the site itself.
    assert (site_dir / "assets" / "mathjax" / "tex-mml-chtml.js").is_file()
    assert (site_dir / "assets" / "mathjax" / "LICENSE").is_file()


@needs_docs
def test_built_pages_show_no_raw_tex(site):
    site_dir, result = site
    assert result.returncode == 0, result.stderr[-6000:]
    raw = {
        str(page.relative_to(site_dir)): hits
        for page in sorted(site_dir.rglob("*.html"))
        if (hits := _raw_tex("".join(_read(page).text)))
    }
    assert not raw, raw


def test_raw_tex_check_sees_literal_display_math():
    # The check itself: TeX outside an arithmatex element is found, inside one it is not.
    page = (
        '<p>x</p><p>\\[ m \\leftarrow \\beta_1 m \\]</p>'
        '<div class="arithmatex">\\[ ok \\]</div><code>$$ fine $$</code>'
    )
    reader = _PageReader()
    reader.feed(page)
    hits = _raw_tex("".join(reader.text))
    assert hits and all("leftarrow" in hit for hit in hits)
    assert not any("ok" in hit or "fine" in hit for hit in hits)
    # Markdown's escape eats the backslash of \\[: the command inside still shows.
    reader = _PageReader()
    reader.feed("<p>[\nm \\leftarrow \\beta_1 m\n]</p>")
    hits = _raw_tex("".join(reader.text))
    assert any("leftarrow" in hit for hit in hits)


def _untitled_source_blocks(text: str) -> list[str]:
    """Python fences that show their code (plain, or executed with ``source=``) without a
    ``title=`` saying what the code is."""
    fences = re.findall(r"^```python([^\n]*)$", text, re.M)
    return [
        fence
        for fence in fences
        if ('exec="true"' not in fence or "source=" in fence) and "title=" not in fence
    ]


def test_every_source_block_in_the_book_says_what_it_is():
    untitled = {
        page.name: blocks
        for page in sorted((ROOT / "docs" / "book").glob("*.md"))
        if (blocks := _untitled_source_blocks(page.read_text(encoding="utf-8")))
    }
    assert not untitled, untitled


def test_untitled_source_blocks_are_found():
    text = (
        '```python exec="true" source="above"\n\n```python exec="true" html="true"\n'
        '```python title="t"\n```python\n'
    )
    assert _untitled_source_blocks(text) == [' exec="true" source="above"', ""]
