"""Every exercise in the book has an answer the suite runs, and every answer checks itself.

Chapter ``docs/book/<stem>.md`` ends with ``## Exercises``, a numbered list; its answers are
``docs/book/answers/<stem with _ for ->.py``, one ``exercise_<n>()`` per item, each asserting
that its answer is right.
"""

import importlib.util
import re
from pathlib import Path

import pytest

BOOK = Path(__file__).resolve().parents[1] / "docs" / "book"
ANSWERS = BOOK / "answers"
MODULES = sorted(p for p in ANSWERS.glob("*.py") if not p.name.startswith("_"))


def _load(path: Path):
    spec = importlib.util.spec_from_file_location(f"book_answers_{path.stem}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _exercise_count(chapter: Path) -> int:
    """The number of top-level numbered items in the chapter's ## Exercises section."""
    text = chapter.read_text(encoding="utf-8")
    match = re.search(r"^## Exercises\s*$(.*?)(?=^## |\Z)", text, re.M | re.S)
    if match is None:
        return 0
    return len(re.findall(r"^\d+\.\s", match.group(1), re.M))


def _exercise_functions(module) -> list:
    names = sorted(
        (n for n in dir(module) if re.fullmatch(r"exercise_\d+", n)), key=lambda n: int(n[9:])
    )
    return [getattr(module, n) for n in names]


CHAPTERS = sorted(p for p in BOOK.glob("*.md") if p.stem not in {"index", "answers"})


@pytest.mark.parametrize("chapter", CHAPTERS, ids=lambda p: p.stem)
def test_each_chapter_ends_with_exercises_that_have_answers(chapter):
    listed = _exercise_count(chapter)
    assert listed > 0, f"{chapter.name} has no numbered items under '## Exercises'"
    module_path = ANSWERS / f"{chapter.stem.replace('-', '_')}.py"
    assert module_path.is_file(), f"{chapter.name} lists {listed} exercises; no {module_path.name}"
    defined = len(_exercise_functions(_load(module_path)))
    assert defined >= listed, (
        f"{chapter.name} lists {listed} exercises, {module_path.name} answers {defined}"
    )


@pytest.mark.parametrize("path", MODULES, ids=lambda p: p.stem)
def test_answers_hold(path):
    functions = _exercise_functions(_load(path))
    assert functions, f"{path.name} defines no exercise_<n> function"
    for function in functions:
        function()


def test_count_reads_only_the_exercises_section(tmp_path):
    chapter = tmp_path / "c.md"
    chapter.write_text(
        "# T\n\n1. not one\n\n## Exercises\n\n1. a\n   more\n2. b\n\n## Next\n\n3. no\n"
    )
    assert _exercise_count(chapter) == 2


def test_the_answers_page_shows_every_answer_module():
    page = (BOOK / "answers.md").read_text(encoding="utf-8")
    missing = [p.name for p in MODULES if f'--8<-- "docs/book/answers/{p.name}"' not in page]
    assert not missing, f"docs/book/answers.md does not include {missing}"
