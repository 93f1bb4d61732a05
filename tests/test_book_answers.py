"""The answers to the book's exercises hold: every ``exercise_N`` function of every file in
``docs/book/answers/`` runs and its assertions pass, and each chapter that links an answer
file has one with at least one exercise."""

import importlib.util
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
BOOK = ROOT / "docs" / "book"
ANSWERS = sorted((BOOK / "answers").glob("*.py"))


def load(path):
    spec = importlib.util.spec_from_file_location(f"book_answers_{path.stem}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def exercises(path):
    module = load(path)
    names = sorted(
        (n for n in dir(module) if re.fullmatch(r"exercise_\d+", n)),
        key=lambda n: int(n.split("_")[1]),
    )
    return [(path.stem, name, getattr(module, name)) for name in names]


CASES = [case for path in ANSWERS for case in exercises(path)]


@pytest.mark.parametrize(
    ("answers", "name", "exercise"), CASES, ids=[f"{a}.{n}" for a, n, _ in CASES]
)
def test_answer_holds(answers, name, exercise):
    exercise()


def test_every_linked_answer_file_exists_and_has_exercises():
    linked = set()
    for chapter in BOOK.glob("*.md"):
        for stem in re.findall(r"\]\(answers/(\w+)\.py\)", chapter.read_text()):
            linked.add(stem)
            assert (BOOK / "answers" / f"{stem}.py").is_file(), f"{chapter.name} links {stem}.py"
    counted = {stem for stem, _, _ in CASES}
    assert linked <= counted, f"answer files without exercise_N functions: {linked - counted}"
    assert len(linked) >= 5
