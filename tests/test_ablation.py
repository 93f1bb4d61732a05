"""benchmarks/ablation.py runs end to end (in its --quick mode) and writes its results."""

import importlib.util
import json
import sys
from pathlib import Path

SCRIPT = Path(__file__).resolve().parents[1] / "benchmarks" / "ablation.py"


def load_ablation():
    spec = importlib.util.spec_from_file_location("ablation", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


def test_rows_add_each_technique_then_remove_each_from_the_full_recipe():
    ablation = load_ablation()
    rows = ablation.recipes()
    keys = [key for key, _ in ablation.TECHNIQUES]
    assert rows[0] == ("baseline", frozenset())
    added = rows[1 : 1 + len(keys)]
    for i, (_, used) in enumerate(added):
        assert used == frozenset(keys[: i + 1])
    removed = rows[1 + len(keys) :]
    assert [used for _, used in removed] == [frozenset(keys) - {key} for key in keys]


def test_quick_run_writes_the_table_the_figure_and_every_run(tmp_path, capsys):
    ablation = load_ablation()
    assert ablation.main(["--quick", "--seeds", "2", "--out", str(tmp_path)]) == 0
    document = json.loads((tmp_path / "ablation.json").read_text())
    n_rows = len(ablation.recipes())
    assert len(document["runs"]) == 2 * n_rows
    assert [row["n_runs"] for row in document["summary"]] == [2] * n_rows
    assert len(document["meta"]["load_average_at_start"]) == 3
    for row in document["summary"]:
        assert 0 <= row["accuracy_mean"] <= 100 and row["accuracy_sd"] >= 0
    table = (tmp_path / "ablation.md").read_text().splitlines()
    assert len(table) == 2 + n_rows and table[2].startswith("| baseline |")
    assert (tmp_path / "ablation.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "| full - dropout |" in capsys.readouterr().out
