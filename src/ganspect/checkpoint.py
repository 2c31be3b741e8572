"""Checkpoints: a plain dict of tensors, numbers and strings, read back with `weights_only=True`.

Nothing pickled is ever executed on load: a file carrying Python objects is refused. Every file this package
writes goes through `atomic_output`, so an interrupted write never leaves a half-written file in place of a
good one.
"""

from __future__ import annotations

import contextlib
import os
import pickle
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import torch

FORMAT = "ganspect"
VERSION = 1


@contextlib.contextmanager
def atomic_output(path: str | Path) -> Iterator[Path]:
    """Yield a temporary path beside `path`; on success it replaces `path` in one rename, on failure it is removed."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    tmp_path = Path(tmp)
    try:
        yield tmp_path
        os.replace(tmp_path, path)
    except OSError as err:
        tmp_path.unlink(missing_ok=True)
        # name the file the user asked for, not our temporary
        raise OSError(err.errno, err.strerror or str(err), str(path)) from err
    except BaseException:
        tmp_path.unlink(missing_ok=True)
        raise


def write_text(path: str | Path, text: str) -> None:
    with atomic_output(path) as tmp:
        tmp.write_text(text, encoding="utf-8")


def save_checkpoint(path: str | Path, payload: dict[str, Any]) -> None:
    with atomic_output(path) as tmp:
        torch.save({"format": FORMAT, "version": VERSION, **payload}, tmp)


def read_checkpoint(path: str | Path) -> dict[str, Any]:
    """The checkpoint dict, or a ValueError that says what is wrong with the file."""
    path = Path(path)
    if not path.is_file():
        raise ValueError(f"{path}: no such model file")
    try:
        ckpt = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as err:
        raise ValueError(
            f"{path}: refused to load: the file carries Python objects that loading would execute, and ganspect "
            f"only reads plain checkpoints (weights_only=True). Detail: {str(err).splitlines()[0]}"
        ) from None
    except Exception as err:  # torch.load fails in many ways on foreign bytes; all mean the same to a user
        raise ValueError(
            f"{path}: not a readable checkpoint (truncated, or not a PyTorch file): {type(err).__name__}: {err}"
        ) from None
    if not isinstance(ckpt, dict) or ckpt.get("format") != FORMAT:
        raise ValueError(f"{path}: a PyTorch file, but not a ganspect model (no 'format': 'ganspect' entry)")
    if ckpt.get("version", 0) > VERSION:
        raise ValueError(f"{path}: written by a newer ganspect (format version {ckpt['version']} > {VERSION})")
    return ckpt
