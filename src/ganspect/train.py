"""What every training loop shares: the lightning-fabric engine, the shuffled loader, a divergence guard."""

from __future__ import annotations

import math
from pathlib import Path

import torch
from lightning_fabric import Fabric
from torch.utils.data import DataLoader, Dataset

from .checkpoint import read_checkpoint, save_checkpoint
from .data import RandomPatches, concat_patches


def make_fabric(device: str) -> Fabric:
    """One process on the detector's device; fabric runs the same loop on CPU, a GPU or many processes."""
    if device == "auto":
        accelerator, devices = ("cuda", 1) if torch.cuda.is_available() else ("cpu", 1)
    else:
        dev = torch.device(device)
        accelerator = dev.type
        devices = [dev.index] if dev.index is not None else 1
    fabric = Fabric(accelerator=accelerator, devices=devices, precision="32-true")
    fabric.launch()
    return fabric


def shuffled_loader(fabric: Fabric, data: Dataset, batch_size: int, seed: int) -> tuple[DataLoader, torch.Generator]:
    """Reshuffled each epoch from a local generator, so the order depends on `seed` alone.

    With RandomPatches, a batch holds batch_size patches from batch_size / count images. Returns the loader and
    its generator, whose state a resumable training saves."""
    per_item = data.count if isinstance(data, RandomPatches) else 1
    items = max(1, min(batch_size // per_item, len(data)))  # type: ignore[arg-type]
    generator = torch.Generator().manual_seed(seed)
    loader = DataLoader(
        data,
        batch_size=items,
        shuffle=True,
        drop_last=len(data) > items,  # type: ignore[arg-type]  # no tiny last batch for BatchNorm
        generator=generator,
        collate_fn=concat_patches if isinstance(data, RandomPatches) else None,
    )
    return fabric.setup_dataloaders(loader), generator


class EpochCheckpoint:
    """The whole training state, written atomically after every epoch, so that a killed training resumes and
    ends with the same model as an uninterrupted one: networks, optimizers, history, the epoch, the random state
    of noise draws and shuffling, and how often each image's random patches were drawn."""

    def __init__(self, path: str | Path | None, params: dict, modules: dict, optimizers: dict, shuffle_rng, data):
        self.path = Path(path) if path else None
        self.params, self.modules, self.optimizers = params, modules, optimizers
        self.shuffle_rng, self.data = shuffle_rng, data
        self.last_saved: int | None = None

    def restore(self, history: dict) -> int:
        """Load a saved state if there is one (filling `history` in place); returns the epoch to start from."""
        if self.path is None or not self.path.exists():
            return 0
        state = read_checkpoint(self.path)
        if state.get("params") != self.params:
            changed = sorted(k for k in self.params if state.get("params", {}).get(k) != self.params[k])
            raise ValueError(
                f"{self.path}: this partial training was run with other settings ({', '.join(changed)}); "
                "resume with the same settings, or delete the file to start afresh"
            )
        for name, module in self.modules.items():
            module.load_state_dict(state["networks"][name])
        for name, opt in self.optimizers.items():
            opt.load_state_dict(state["optimizers"][name])
        history.clear()
        history.update({k: list(v) for k, v in state["history"].items()})
        torch.set_rng_state(state["rng"])
        if torch.cuda.is_available() and "cuda_rng" in state:
            torch.cuda.set_rng_state(state["cuda_rng"])
        self.shuffle_rng.set_state(state["shuffle_rng"])
        if isinstance(self.data, RandomPatches):
            self.data.reads = list(state["patch_reads"])
        self.last_saved = state["epoch"]
        return state["epoch"]

    def save(self, epoch: int, history: dict) -> None:
        """`epoch` epochs are complete."""
        if self.path is None:
            return
        state = {
            "params": self.params,
            "epoch": epoch,
            "networks": {name: m.state_dict() for name, m in self.modules.items()},
            "optimizers": {name: o.state_dict() for name, o in self.optimizers.items()},
            "history": history,
            "rng": torch.get_rng_state(),
            "shuffle_rng": self.shuffle_rng.get_state(),
            "patch_reads": list(self.data.reads) if isinstance(self.data, RandomPatches) else [],
        }
        if torch.cuda.is_available():
            state["cuda_rng"] = torch.cuda.get_rng_state()
        save_checkpoint(self.path, state)
        self.last_saved = epoch

    def check_finite(self, epoch: int, **losses: float) -> None:
        """Stop at the first NaN or infinite loss instead of saving a silently broken model."""
        bad = {k: v for k, v in losses.items() if not math.isfinite(v)}
        if bad:
            last = (
                f"the last good state is {self.path}, after epoch {self.last_saved}"
                if self.path and self.last_saved
                else "no good state was saved"
            )
            raise FloatingPointError(
                f"training diverged in epoch {epoch + 1}: {', '.join(f'{k}={v}' for k, v in bad.items())}; "
                f"{last}; no model was written. Try a lower lr or another seed"
            )
