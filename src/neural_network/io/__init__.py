"""Files: the sealed model format, atomic writes, model kinds and training checkpoints."""

from .archive import ModelFileError
from .checkpoints import Checkpoint
from .model_files import load_model, register_model_kind, save_model

__all__ = ["Checkpoint", "ModelFileError", "load_model", "register_model_kind", "save_model"]
