"""Checkpoints of format version 1, read as the equivalent version 2.

Version 1 (before callbacks kept their own state) had an ``early_stopping`` section beside
the optimiser's, an ``early_stopping.best_values`` array, and ``l2``, ``clip_norm``,
``schedule`` and ``early_stopping`` among the run's settings. Version 2 keeps every
callback's state under ``callbacks`` and its settings under ``settings["callbacks"]``, and
``l2`` and ``clip_norm`` with the optimiser's; a run stopped early says so in ``stopped``.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .archive import ModelFileError


def upgrade_version_1(section: Any, arrays: dict[str, np.ndarray]) -> tuple[dict, dict]:
    """A version 1 checkpoint section and its arrays, as version 2 writes them."""
    stopping, settings = section["early_stopping"], section["settings"]
    if not (stopping is None or isinstance(stopping, dict)) or not isinstance(settings, dict):
        raise ModelFileError("checkpoint early_stopping and settings must be objects")
    callbacks, stopped = {}, False
    if stopping is not None:
        state = {key: value for key, value in stopping.items() if key != "best_values"}
        kept = stopping.get("best_values") is True
        if kept:
            arrays["callbacks.EarlyStopping.best_values"] = arrays.pop(
                "early_stopping.best_values", None
            )
        else:
            state["best_values"] = None
        callbacks["EarlyStopping"] = {"state": state, "arrays": ["best_values"] if kept else []}
        stopped = stopping.get("stopped") is True
    settings = dict(settings)
    configs = {}
    if settings.get("schedule") is not None:
        configs["LRSchedule"] = {"schedule": settings["schedule"]}
    if settings.get("early_stopping") is not None:
        configs["EarlyStopping"] = settings["early_stopping"]
    optimizer = settings.get("optimizer")
    if isinstance(optimizer, dict):
        optimizer = {**optimizer, "l2": settings.get("l2"), "clip_norm": settings.get("clip_norm")}
    upgraded_settings = {
        "optimizer": optimizer,
        "batch_size": settings.get("batch_size"),
        "data": settings.get("data"),
        "validation_data": settings.get("validation_data"),
        "callbacks": configs,
    }
    upgraded = {key: section[key] for key in ("epoch", "history", "optimizer", "generators")} | {
        "stopped": stopped,
        "callbacks": callbacks,
        "settings": upgraded_settings,
    }
    return upgraded, {key: value for key, value in arrays.items() if value is not None}
