"""A Jupyter notebook of each book chapter, written into the built site and linked from it.

Each ```python exec="true"``` block (the code the build runs) becomes a code cell, the prose
between them a Markdown cell. Every docs/book/*.md is converted, so a new chapter gets its
notebook with no list to update. Run the notebooks from the repository's root: some cells
import the test helpers in tests/.
"""

from __future__ import annotations

import re
from pathlib import Path

BOOK = "book/"
# Chapters, not the book's front page or the answers page.
SKIP = {"index", "answers"}
_FENCE = re.compile(r"^```python[^\n]*exec=\"true\"[^\n]*\n(.*?)^```[ \t]*$", re.M | re.S)


def is_chapter(src_uri: str) -> bool:
    path = Path(src_uri)
    return src_uri.startswith(BOOK) and path.suffix == ".md" and path.parent.name == "book" \
        and path.stem not in SKIP


def chapter_to_notebook(markdown: str) -> dict:
    """The chapter as an nbformat-4 notebook: executed blocks as code, the rest as Markdown."""
    import nbformat

    cells = []
    position = 0
    for match in _FENCE.finditer(markdown):
        prose = markdown[position : match.start()].strip()
        if prose:
            cells.append(nbformat.v4.new_markdown_cell(prose))
        cells.append(nbformat.v4.new_code_cell(match.group(1).rstrip("\n")))
        position = match.end()
    if prose := markdown[position:].strip():
        cells.append(nbformat.v4.new_markdown_cell(prose))
    notebook = nbformat.v4.new_notebook(cells=cells)
    notebook.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3",
                                       "language": "python"}
    return notebook


def on_page_markdown(markdown, page, **kwargs):
    if not is_chapter(page.file.src_uri):
        return markdown
    stem = Path(page.file.src_uri).stem
    # Raw HTML: the notebook is written after the build, where link validation cannot see it.
    link = (f'<p class="notebook-link"><a href="../{stem}.ipynb" download>Download this chapter as '
            "a Jupyter notebook</a> (run it from the repository's root).</p>\n\n")
    title, newline, rest = markdown.partition("\n")
    return title + newline + "\n" + link + rest if title.startswith("# ") else link + markdown


def on_post_build(config, **kwargs):
    import nbformat

    docs = Path(config["docs_dir"])
    site = Path(config["site_dir"]) / "book"
    for chapter in sorted((docs / "book").glob("*.md")):
        if chapter.stem in SKIP:
            continue
        notebook = chapter_to_notebook(chapter.read_text(encoding="utf-8"))
        nbformat.write(notebook, site / f"{chapter.stem}.ipynb")
