"""``neural-network train``: train a network and write a run folder.

The run folder::

    model.npz             the trained NeuralNetwork (neural_network.load_model reads it)
    checkpoint.npz        written after every epoch; --resume continues from it
    config.toml           the resolved configuration; --config reads it back
    history.json/.csv     per-epoch loss, accuracy, learning rate, gradient norm, time
    metrics.json          test accuracy and loss, epochs, best epoch, times, per class
    cost.png, accuracy.png, learning_rate.png, confusion_matrix.png,
    misclassified.png, first_layer_weights.png
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np

from ...core.devices import to_host
from ...data.preprocessing import one_hot
from ...io.atomic import write_atomically
from ...io.checkpoints import read_checkpoint
from .. import plotting
from ..classic import NeuralNetwork
from ..presets import PRESETS, train_preset
from ..run_folder import (
    CHECKPOINT_FILE,
    CONFIG_FILE,
    FIGURE_FILES,
    METRICS_FILE,
    MODEL_FILE,
    RunFolderBusy,
    lock_run_folder,
    remove_run_files,
    run_files_in,
    write_history,
    write_json,
    write_text,
)
from .datasets import DATASETS, DIGITS, Dataset, load_dataset
from .errors import PROG, CommandError, UsageError
from .options import (
    DATA,
    FIT,
    FIT_SETTINGS,
    NETWORK,
    OPTIONS_BY_NAME,
    TRAIN_DEFAULTS,
    TRAIN_OPTIONS,
    Option,
    flag_type,
    format_toml,
    positive_float,
    read_config,
)
from .reports import draw_confusion_matrix, scores


def add_parser(commands: Any, common: argparse.ArgumentParser) -> None:
    """The ``train`` subcommand and its options."""
    command = commands.add_parser(
        "train",
        parents=[common],
        help="train a network and write a run folder",
        description="Train a NeuralNetwork and write a run folder: the model, a checkpoint, "
        "the configuration, the history, metrics and figures. Settings come from the "
        "defaults, then the resumed run's config.toml, then --config, then the flags.",
    )
    groups = {name: command.add_argument_group(name) for name in (DATA, NETWORK, FIT)}
    for option in TRAIN_OPTIONS:
        default = TRAIN_DEFAULTS[option.name]
        if isinstance(default, list):
            default = " ".join(map(str, default))
        if option.name == "seed":
            default = "drawn at random and written to config.toml"
        groups[option.group].add_argument(
            option.flag,
            *option.aliases,
            dest=option.name,
            type=flag_type(option),
            nargs="*" if option.many else None,
            default=argparse.SUPPRESS,
            metavar=option.metavar,
            help=option.help if default is None else f"{option.help} (default: {default})",
        )
    run = command.add_argument_group("run")
    run.add_argument("--config", metavar="FILE", help="TOML file of settings (flag names)")
    run.add_argument("--out", metavar="DIR", help="run folder (default: runs/<timestamp>)")
    run.add_argument(
        "--resume",
        metavar="RUN",
        help="continue the run in this folder (or from this checkpoint file); --epochs may grow",
    )
    run.add_argument(
        "--overwrite", action="store_true", help="write into a folder that holds another run"
    )
    run.add_argument("--quiet", action="store_true", help="no progress bar, log or summary")
    run.add_argument(
        "--preset",
        choices=sorted(PRESETS),
        help="train a named recipe of neural_network.apps.presets instead ('best': an MLP trained "
        "on freshly distorted digits, 99.3%%+ on MNIST; the last 5000 training images pick "
        "the epoch); takes only --seed (default 0), --out, --overwrite, --quiet and "
        "--time-budget",
    )
    run.add_argument(
        "--time-budget",
        type=flag_type(Option("time_budget", positive_float, "")),
        metavar="SECONDS",
        help="with --preset: fit the run into this wall time (fewer epochs, same schedule shape)",
    )
    run.add_argument(
        "--no-figures", action="store_true", help="skip the PNG figures (quick sweeps)"
    )
    command.set_defaults(handler=run_train)


def run_train(args: argparse.Namespace) -> int:
    """``neural-network train``."""
    if args.preset is not None:
        return run_preset(args)
    if args.time_budget is not None:
        raise UsageError("--time-budget works with --preset only")
    settings = dict(TRAIN_DEFAULTS)
    checkpoint = None
    run_dir = Path(args.out) if args.out else None
    in_place = False  # resuming the run in its own folder
    if args.resume:
        resumed_dir, checkpoint = _resume_paths(args.resume)
        config_path = resumed_dir / CONFIG_FILE
        if not config_path.is_file():
            raise CommandError(f"{resumed_dir}: no {CONFIG_FILE} to resume the run with")
        settings |= read_config(config_path)
        resumed_settings = dict(settings)
        run_dir = run_dir or resumed_dir
        in_place = run_dir.resolve() == resumed_dir.resolve()
    if args.config:
        settings |= read_config(args.config)
    settings |= _explicit_settings(args)
    if checkpoint is not None:
        _check_resumed_settings(resumed_settings, settings, resumed_dir, checkpoint)
    if settings["seed"] is None:
        settings["seed"] = int(np.random.SeedSequence().generate_state(1)[0])
    if run_dir is None:
        run_dir = _default_out()
    # The folder is locked for the whole run, before it is checked, so that a second train
    # on the same --out fails at once instead of mixing its files with this one's.
    with _locked(run_dir):
        if not in_place:
            _check_free(run_dir, args.overwrite)
        return _train(args, settings, run_dir, in_place, checkpoint)


def _train(
    args: argparse.Namespace,
    settings: dict[str, Any],
    run_dir: Path,
    in_place: bool,
    checkpoint: Path | None,
) -> int:
    """Train into the locked ``run_dir`` and write the run's files."""
    dataset = DATASETS[settings["dataset"]]
    (x_train, y_train), (x_test, y_test) = load_dataset(
        settings["dataset"], settings["data_dir"], settings["limit_test"]
    )
    if settings["limit_train"] is not None:
        x_train, y_train = x_train[: settings["limit_train"]], y_train[: settings["limit_train"]]
    fraction = settings["validation_split"]
    (x_fit, y_fit), (x_val, y_val) = _split(x_train, y_train, fraction, settings["seed"])
    if not fraction:
        x_val, y_val = x_test, y_test  # as the original project does: the test set picks
    n_classes = len(dataset.class_names)

    run_dir.mkdir(parents=True, exist_ok=True)
    if not in_place:
        remove_run_files(run_dir)  # with --overwrite: nothing of the old run stays beside
    config_path = run_dir / CONFIG_FILE
    previous_config = config_path.read_bytes() if in_place else None
    write_text(config_path, format_toml(settings, CONFIG_HEADER))

    network = NeuralNetwork(
        X=x_fit.T,
        y=one_hot(y_fit, n_classes).T,
        X_test=x_val.T,
        y_test=one_hot(y_val, n_classes).T,
        activation=settings["activation"],
        num_labels=n_classes,
        architecture=settings["hidden"],
        seed=settings["seed"],
        device=settings["device"],
    )
    fit_settings = {name: settings[name] for name in FIT_SETTINGS}
    fit_settings["grad_clip"] = fit_settings["grad_clip"] or None
    fit_settings["early_stopping_patience"] = fit_settings["early_stopping_patience"] or None
    started = time.perf_counter()
    checkpoint_before = _file_state(run_dir / CHECKPOINT_FILE)
    try:
        network.fit(
            **fit_settings,
            verbose=not args.quiet,
            checkpoint_path=run_dir / CHECKPOINT_FILE,
            resume_from=checkpoint,
        )
    except KeyboardInterrupt:
        if not (run_dir / CHECKPOINT_FILE).exists():
            raise
        raise CommandError(
            f"interrupted; continue with: {PROG} train --resume {run_dir}", exit_code=130
        ) from None
    except ValueError:
        # A refused resume has trained nothing: the run's own config.toml must stay.
        if previous_config is not None and _file_state(run_dir / CHECKPOINT_FILE) == (
            checkpoint_before
        ):
            write_atomically(config_path, previous_config)
        raise
    wall_time = time.perf_counter() - started
    network.save(run_dir / MODEL_FILE)

    probs = network.predict_proba(x_test.T).T
    history = network.history
    validation = "test" if not fraction else "validation"
    metrics = {
        "dataset": settings["dataset"],
        **scores(probs, y_test, n_classes),
        "epochs_run": len(history),
        "best_epoch": network.best_epoch,
        "selected_on": validation,
        "n_train": len(x_fit),
        "n_validation": len(x_val) if fraction else 0,
        "n_test": len(x_test),
        "wall_time_s": wall_time,
        "seconds_per_epoch": float(np.mean(history.epoch_time)) if len(history) else None,
        "threads": settings["threads"],
        "threads_per_epoch": history.threads,
        "step_time_s": history.step_time,
    }
    if fraction and history.val_accuracy:
        metrics["validation_accuracy"] = history.val_accuracy[metrics["best_epoch"] - 1]
    write_json(run_dir / METRICS_FILE, metrics)
    write_history(run_dir, history)
    remove_run_files(run_dir, FIGURE_FILES)  # the old figures describe a shorter run
    if not args.no_figures:
        _draw_run_figures(
            run_dir, network, history, x_test, y_test, probs, metrics, dataset, validation
        )
    if not args.quiet:
        print(
            f"Test accuracy {100 * metrics['test_accuracy']:.2f}% (loss "
            f"{metrics['test_loss']:.4f}) after {metrics['epochs_run']} epochs, best epoch "
            f"{metrics['best_epoch']}; run folder: {run_dir}"
        )
    return 0


def run_preset(args: argparse.Namespace) -> int:
    """``neural-network train --preset NAME``: :func:`~neural_network.apps.presets.train_preset`
    into a run folder (``model.npz``, ``metrics.json``, ``history.json``)."""
    explicit = _explicit_settings(args)
    shared = ("seed", "threads")
    others = sorted(OPTIONS_BY_NAME[name].flag for name in explicit if name not in shared)
    others += [
        flag for flag, given in (("--config", args.config), ("--resume", args.resume)) if given
    ]
    if others:
        raise UsageError(f"--preset {args.preset} sets its own settings; drop {', '.join(others)}")
    run_dir = Path(args.out) if args.out else _default_out()
    with _locked(run_dir):
        _check_free(run_dir, args.overwrite)
        remove_run_files(run_dir)
        _, metrics = train_preset(
            args.preset,
            out=run_dir,
            seed=explicit.get("seed", 0),
            progress=not args.quiet,
            time_budget_s=args.time_budget,
            threads=explicit.get("threads", "auto"),
        )
    if not args.quiet:
        print(
            f"Test accuracy {100 * metrics['test_accuracy']:.2f}% (loss "
            f"{metrics['test_loss']:.4f}) after {metrics['epochs_run']} epochs, best epoch "
            f"{metrics['best_epoch']} (validation {100 * metrics['validation_accuracy']:.2f}%), "
            f"{metrics['wall_time_s'] / 60:.1f} min; run folder: {run_dir}"
        )
    return 0


def _explicit_settings(args: argparse.Namespace) -> dict[str, Any]:
    return {
        option.name: getattr(args, option.name) for option in TRAIN_OPTIONS if option.name in args
    }


# What a resumed run may change: how long it trains, how often it logs, and the folder it
# reads the same data from (the checkpoint checks that the data are the same).
RESUME_MAY_CHANGE = ("epochs", "log_every", "data_dir")


@contextmanager
def _locked(run_dir: Path) -> Iterator[None]:
    try:
        with lock_run_folder(run_dir):
            yield
    except RunFolderBusy as error:
        raise CommandError(str(error)) from None


CONFIG_HEADER = f"{PROG} train: the resolved settings of this run; --config reads this file."


def _never_checkpointed(run_dir: Path) -> bool:
    """Whether ``run_dir`` holds only the config.toml of a train stopped (killed, Ctrl+C)
    before its first checkpoint: nothing of that run can be resumed or lost."""
    if run_files_in(run_dir) != [CONFIG_FILE]:
        return False
    try:
        with open(run_dir / CONFIG_FILE, "rb") as file:
            first_line = file.readline(200)
    except OSError:
        return False
    return first_line.rstrip(b"\n") == f"# {CONFIG_HEADER}".encode()


def _check_free(run_dir: Path, overwrite: bool) -> None:
    """Refuse a folder that holds any file a run writes, unless told to overwrite; a
    folder that holds only the config.toml of a run that never checkpointed is started
    afresh."""
    if not overwrite and _never_checkpointed(run_dir):
        print(
            f"{PROG}: note: {run_dir} holds only the {CONFIG_FILE} of a run stopped before "
            "its first epoch ended; starting afresh",
            file=sys.stderr,
        )
        return
    found = run_files_in(run_dir)
    if found and not overwrite:
        raise UsageError(
            f"{run_dir} already holds a run ({', '.join(found)}); continue it with --resume "
            f"{run_dir}, pass --overwrite to replace it, or choose another --out"
        )


def _check_resumed_settings(
    resumed: dict[str, Any], settings: dict[str, Any], resumed_dir: Path, checkpoint: Path
) -> None:
    """A resumed run keeps the settings its config.toml records, and --epochs only grows."""
    for option in TRAIN_OPTIONS:
        name = option.name
        if name in RESUME_MAY_CHANGE or settings[name] == resumed[name]:
            continue
        raise UsageError(
            f"--resume {resumed_dir}: {option.flag} {_flag_value(settings[name])} differs from "
            f"the run's {_flag_value(resumed[name])} in its {CONFIG_FILE}; a resumed run keeps "
            "its settings (only --epochs may grow), so start a new run to change them"
        )
    done = read_checkpoint(checkpoint)[1]["epoch"]
    if settings["epochs"] < done:
        raise UsageError(
            f"--resume {resumed_dir}: --epochs {settings['epochs']} is fewer than the {done} "
            "epochs the run has done; a resumed run can only train for more"
        )


def _flag_value(value: Any) -> str:
    if value is None:
        return "(not set)"
    if isinstance(value, list):
        return " ".join(map(str, value)) or "(none)"
    return str(value)


def _file_state(path: Path) -> tuple[int, int] | None:
    try:
        stat = path.stat()
    except FileNotFoundError:
        return None
    return stat.st_mtime_ns, stat.st_size


def _resume_paths(resume: str) -> tuple[Path, Path]:
    """(run folder, checkpoint file) for ``--resume`` given a folder or a checkpoint file."""
    path = Path(resume)
    if path.is_dir():
        checkpoint = path / CHECKPOINT_FILE
        if not checkpoint.is_file() and _never_checkpointed(path):
            raise CommandError(
                f"{resume}: the run stopped before its first epoch ended, so there is no "
                f"{CHECKPOINT_FILE} to resume from; start it again with the same command "
                f"without --resume (or with --config {path / CONFIG_FILE} --out {resume})"
            )
        if not checkpoint.is_file():
            raise CommandError(f"{resume}: no {CHECKPOINT_FILE} in this folder to resume from")
        return path, checkpoint
    if path.is_file():
        return path.parent, path
    raise CommandError(f"{resume}: no such run folder or checkpoint")


def _default_out() -> Path:
    stamp = time.strftime("%Y%m%d-%H%M%S")
    out, n = Path("runs") / stamp, 1
    while out.exists():
        n += 1
        out = Path("runs") / f"{stamp}-{n}"
    return out


def _split(x, labels, fraction: float, seed: int) -> tuple:
    """Hold out ``fraction`` of ``(x, labels)``, drawn at random from a stream of ``seed``
    independent of the network's; returns the kept and the held-out parts."""
    n_held = round(fraction * len(x))
    if fraction > 0 and not 1 <= n_held < len(x):
        raise UsageError(
            f"--validation-split {fraction} of {len(x)} training samples leaves "
            f"{n_held} for validation and {len(x) - n_held} for training; both need one"
        )
    order = np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(1,))).permutation(len(x))
    kept, held = np.sort(order[n_held:]), np.sort(order[:n_held])
    return (x[kept], labels[kept]), (x[held], labels[held])


def _draw_run_figures(
    run_dir, network, history, x_test, y_test, probs, metrics, dataset: Dataset, validation: str
) -> None:
    best = metrics["best_epoch"]
    plotting.plot_loss(history, val_label=validation, best_epoch=best, path=run_dir / "cost.png")
    plotting.plot_accuracy(
        history, val_label=validation, best_epoch=best, path=run_dir / "accuracy.png"
    )
    plotting.plot_learning_rate(history, path=run_dir / "learning_rate.png")
    draw_confusion_matrix(run_dir, metrics, dataset.class_names)
    predicted = probs.argmax(axis=1)
    wrong = np.flatnonzero(predicted != y_test)
    names = None if dataset.class_names == DIGITS else dataset.class_names
    plotting.plot_misclassified(
        x_test[wrong],
        y_test[wrong],
        predicted[wrong],
        class_names=names,
        title=f"Misclassified test images ({len(wrong)} of {len(y_test)})",
        path=run_dir / "misclassified.png",
    )
    plotting.plot_first_layer_weights(
        to_host(network.model.layers[0].weight.value),
        inputs_used=network.scaler.scale_ > 0,
        path=run_dir / "first_layer_weights.png",
    )
