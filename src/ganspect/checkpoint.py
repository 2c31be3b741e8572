"""Checkpoints: a plain dict of tensors, numbers and strings, read back with `weights_only=True`.

Nothing pickled is ever executed on load: a file carrying Python objects is refused. Every file this package
writes goes through `atomic_output`, so an interrupted write never leaves a half-written file in place of a
good one.
"""

from __future__ import annotations

import contextlib
import errno
import os
import pickle
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import torch

FORMAT = "ganspect"
VERSION = 1


def default_mode(directory: bool = False) -> int:
    """The permissions a plain open() or mkdir() would give under the current umask (mkstemp and mkdtemp give
    0600 and 0700 whatever the umask)."""
    mask = os.umask(0)
    os.umask(mask)
    return (0o777 if directory else 0o666) & ~mask


def read_only(path: Path) -> bool:
    """No write bit at all: a file its owner made read-only (root's os.access would say writable)."""
    return path.exists() and not path.stat().st_mode & 0o222


@contextlib.contextmanager
def atomic_output(path: str | Path) -> Iterator[Path]:
    """Yield a temporary path beside `path`; on success it replaces `path` in one rename, on failure it is removed.
    The file ends with the permissions a plain write would give: the replaced file's, or the umask's for a new one;
    a read-only file is not replaced."""
    path = Path(path)
    if read_only(path):
        raise OSError(errno.EACCES, "the file exists and is read-only", str(path))
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    tmp_path = Path(tmp)
    try:
        yield tmp_path
        os.chmod(tmp_path, path.stat().st_mode & 0o7777 if path.exists() else default_mode())
        os.replace(tmp_path, path)
    except OSError as err:
        tmp_path.unlink(missing_ok=True)
        # name the file the user asked for, not our temporary
        raise OSError(err.errno, err.strerror or str(err), str(path)) from err
    except BaseException:
        tmp_path.unlink(missing_ok=True)
        raise


def check_output(path: str | Path) -> Path:
    """An output path, checked before long work starts so that a mistake costs seconds, not a training: not a
    folder, in a folder that exists or can be made, where a file can be created, and writable if it exists."""
    path = Path(path)
    if path.is_dir():
        raise ValueError(f"{path}: expected a file to write, but it is a folder")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, probe = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".probe", dir=path.parent)
        os.close(fd)
        os.unlink(probe)
    except OSError as err:
        raise ValueError(f"{path}: cannot write there ({err.strerror or err})") from None
    if read_only(path) or (path.exists() and not os.access(path, os.W_OK)):
        raise ValueError(f"{path}: the file exists and is read-only")
    return path


RESULTS_MARKER = ".ganspect-results"


@contextlib.contextmanager
def results_folder(out: str | Path) -> Iterator[Path]:
    """Yield a fresh temporary folder beside `out` for a run's results; when the run completes it takes the place
    of `out` (a previous run's folder is removed only then), and when it fails it is removed. So a results folder
    never mixes two runs, and a killed run leaves the previous results whole. `out` must be new, empty, or a
    previous ganspect results folder: a folder of other files is refused, before any work starts."""
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise ValueError(f"{out}: expected a folder for the results, but it is a file")
    if out.is_dir() and any(out.iterdir()) and not (out / RESULTS_MARKER).exists():
        raise ValueError(
            f"{out}: the folder holds files that are not ganspect results; give a new or empty folder "
            "(a previous ganspect results folder is replaced when the new run completes)"
        )
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.", suffix=".partial", dir=out.parent))
    try:
        yield tmp
        (tmp / RESULTS_MARKER).write_text("a ganspect results folder: replaced whole by the next run into it\n")
        os.chmod(tmp, default_mode(directory=True))
        if out.exists():
            old = tmp.with_suffix(".old")
            os.rename(out, old)
            os.rename(tmp, out)
            shutil.rmtree(old)
        else:
            os.rename(tmp, out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
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
