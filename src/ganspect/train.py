"""What every training loop shares: the lightning-fabric engine, the shuffled loader, a divergence guard."""

from __future__ import annotations

import math

import torch
from lightning_fabric import Fabric
from torch.utils.data import DataLoader, Dataset

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


def shuffled_loader(fabric: Fabric, data: Dataset, batch_size: int, seed: int) -> DataLoader:
    """Reshuffled each epoch from a local generator, so the order depends on `seed` alone.

    With RandomPatches, a batch holds batch_size patches from batch_size / count images."""
    per_item = data.count if isinstance(data, RandomPatches) else 1
    items = max(1, min(batch_size // per_item, len(data)))  # type: ignore[arg-type]
    loader = DataLoader(
        data,
        batch_size=items,
        shuffle=True,
        drop_last=len(data) > items,  # type: ignore[arg-type]  # no tiny last batch for BatchNorm
        generator=torch.Generator().manual_seed(seed),
        collate_fn=concat_patches if isinstance(data, RandomPatches) else None,
    )
    return fabric.setup_dataloaders(loader)


def check_finite(epoch: int, **losses: float) -> None:
    """Stop at the first NaN or infinite loss instead of saving a silently broken model."""
    bad = {k: v for k, v in losses.items() if not math.isfinite(v)}
    if bad:
        raise FloatingPointError(
            f"training diverged in epoch {epoch + 1}: {', '.join(f'{k}={v}' for k, v in bad.items())}; "
            "try a lower lr or another seed"
        )
