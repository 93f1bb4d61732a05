"""The answers to the experiment chapters' exercises (docs/book/answers/experiments-*.py)
hold: each exercise_N() computes its answer and asserts it."""

import importlib.util
from pathlib import Path

import pytest

ANSWERS = Path(__file__).resolve().parents[1] / "docs" / "book" / "answers"
FILES = sorted(ANSWERS.glob("experiments-*.py"))


def load(path: Path):
    spec = importlib.util.spec_from_file_location(path.stem.replace("-", "_"), path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def exercises():
    for path in FILES:
        module = load(path)
        for name in sorted(n for n in vars(module) if n.startswith("exercise_")):
            yield pytest.param(path, name, id=f"{path.stem}:{name}")


def test_every_experiment_chapter_has_answers():
    chapters = sorted(p.stem for p in ANSWERS.parent.glob("experiments-*.md"))
    assert chapters and [p.stem for p in FILES] == chapters


@pytest.mark.parametrize(("path", "name"), list(exercises()))
def test_answer_holds(path, name):
    getattr(load(path), name)()
