"""What every training loop shares: the lightning-fabric engine, the shuffled loader, a divergence guard."""

from __future__ import annotations

import math
from collections.abc import Iterator
from pathlib import Path

import torch
from lightning_fabric import Fabric
from lightning_fabric.strategies import DDPStrategy
from torch.utils.data import DataLoader, Dataset, Sampler, default_collate

from .checkpoint import read_checkpoint, save_checkpoint
from .data import RandomPatches, concat_patches
from .validation import BestRound


def make_fabric(det) -> Fabric:
    """The engine for the detector's `device`, `devices`, `num_nodes`, `strategy` and `precision`: the same loop
    runs on one CPU or GPU, or data-parallel on many processes and machines."""
    if det.device == "auto":
        accelerator, devices = ("cuda", det.devices) if torch.cuda.is_available() else ("cpu", det.devices)
    else:
        dev = torch.device(det.device)
        accelerator = dev.type
        devices = [dev.index] if dev.index is not None else det.devices
    strategy = det.strategy
    if strategy == "ddp":
        # our own buffers policy: each process keeps its BatchNorm statistics and they are averaged after every
        # epoch (average_buffers); SyncBatchNorm would need GPUs
        strategy = DDPStrategy(broadcast_buffers=False)
    fabric = Fabric(
        accelerator=accelerator, devices=devices, num_nodes=det.num_nodes, strategy=strategy, precision=det.precision
    )
    fabric.launch()
    det.global_rank_, det.world_size_ = fabric.global_rank, fabric.world_size
    return fabric


class ShardSampler(Sampler[int]):
    """`length` indices per round for this process: fresh permutations from `generator`, the same on every process
    (same seed, same draws), as many as the round needs; each process takes every world-th index from its rank on,
    all shares of equal length. One process: plain shuffles, one after another.

    A round is a fixed number of optimizer steps whatever the set's size: 30 images and 6,000 get the same training
    length, the small set simply revisits its images more often."""

    def __init__(self, size: int, rank: int, world: int, generator: torch.Generator, length: int):
        self.size, self.rank, self.world, self.generator, self.length = size, rank, world, generator, length

    def __len__(self) -> int:
        return self.length

    def __iter__(self) -> Iterator[int]:
        share = self.size // self.world
        out: list[int] = []
        while len(out) < self.length:  # each round starts on a fresh permutation, so a resumed round draws the same
            order = torch.randperm(self.size, generator=self.generator)
            out += order[self.rank :: self.world][:share].tolist()
        return iter(out[: self.length])


def augment(x: torch.Tensor, flips: bool = True) -> torch.Tensor:
    """More views of a few normal images: each image of (B, C, H, W) flipped left-right and up-down with chance 1/2
    each (unless not `flips`), and shifted by up to min(H, W)/16 pixels each way (mirrored at the edges). The draws
    come from torch's global generator, which the training checkpoint saves, so a resumed training draws what an
    unbroken one would."""
    count, (height, width) = len(x), x.shape[-2:]
    if flips:
        x = torch.where(torch.rand(count, 1, 1, 1) < 0.5, x.flip(3), x)
        x = torch.where(torch.rand(count, 1, 1, 1) < 0.5, x.flip(2), x)
    shift = min(height, width) // 16
    if not shift:
        return x
    padded = torch.nn.functional.pad(x, (shift,) * 4, mode="reflect")
    rows, cols = torch.randint(0, 2 * shift + 1, (2, count)).tolist()
    views = [image[:, r : r + height, c : c + width] for image, r, c in zip(padded, rows, cols, strict=True)]
    return torch.stack(views)


def shuffled_loader(
    fabric: Fabric,
    data: Dataset,
    batch_size: int,
    seed: int,
    steps: int,
    augmented: bool = False,
    flips: bool = True,
) -> tuple[DataLoader, torch.Generator]:
    """`steps` batches per pass (a round), reshuffled from a local generator, so the order depends on `seed` alone;
    with several processes each sees its own share of every permutation. `augmented`: every batch goes through
    `augment`, with or without `flips` (the detectors' `augment` and `augment_flips` fields).

    A batch holds batch_size images, or all of a smaller set (per process); with RandomPatches, batch_size patches
    from batch_size / count images. Returns the loader and its generator, whose state a resumable training saves."""
    if len(data) < fabric.world_size:  # type: ignore[arg-type]
        raise ValueError(f"images: {len(data)} training images cannot be shared among {fabric.world_size} processes")
    generator = torch.Generator().manual_seed(seed)
    per_item = data.count if isinstance(data, RandomPatches) else 1
    items = max(1, min(batch_size // per_item, len(data) // fabric.world_size))  # type: ignore[arg-type]
    sampler = ShardSampler(len(data), fabric.global_rank, fabric.world_size, generator, items * steps)  # type: ignore[arg-type]
    collate = concat_patches if isinstance(data, RandomPatches) else default_collate
    loader = DataLoader(
        data,
        batch_size=items,
        sampler=sampler,
        generator=generator,
        collate_fn=(lambda items: augment(collate(items), flips)) if augmented else collate,
    )
    return fabric.setup_dataloaders(loader, use_distributed_sampler=False), generator


def round_lengths(steps: int, rounds: int) -> list[int]:
    """`steps` optimizer steps cut into `rounds` rounds as evenly as integers allow."""
    return [steps * (r + 1) // rounds - steps * r // rounds for r in range(rounds)]


def decayed_lr(lr: float, step: int, steps: int) -> float:
    """DRAEM's schedule (its training script's MultiStepLR): the rate times 0.2 from 80% of the steps on, times
    0.04 from 90%. A function of the step alone, so a resumed training takes it up where it stopped."""
    return lr * 0.2 ** ((step >= 0.8 * steps) + (step >= 0.9 * steps))


def take(loader: DataLoader, count: int) -> Iterator:
    """`count` batches from `loader`, starting a new pass wherever one ends; a round always begins on a new pass,
    so the batches of a resumed round are those of an uninterrupted one."""
    taken = 0
    while taken < count:
        for batch in loader:
            yield batch
            taken += 1
            if taken == count:
                return


def average_buffers(fabric: Fabric, modules: dict) -> None:
    """Average BatchNorm running statistics over the processes, so they describe all the data."""
    if fabric.world_size == 1:
        return
    for module in modules.values():
        for buffer in module.buffers():
            if torch.is_floating_point(buffer):
                buffer.copy_(fabric.all_reduce(buffer, reduce_op="mean"))


class RoundCheckpoint:
    """The whole training state, written atomically after every round, so that a killed training resumes and
    ends with the same model as an uninterrupted one: networks, optimizers, history, the round, the random state
    of noise draws and shuffling, how often each image's random patches were drawn, and the best round's networks
    so far (`best`, when validation picks a round)."""

    def __init__(
        self,
        path: str | Path | None,
        params: dict,
        modules: dict,
        optimizers: dict,
        shuffle_rng,
        data,
        fabric=None,
        best: BestRound | None = None,
    ):
        self.path, self.fabric = Path(path) if path else None, fabric
        self.params, self.modules, self.optimizers = params, modules, optimizers
        self.shuffle_rng, self.data, self.best = shuffle_rng, data, best
        self.last_saved: int | None = None

    def restore(self, history: dict) -> int:
        """Load a saved state if there is one (filling `history` in place); returns the round to start from."""
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
        if self.best is not None:
            self.best.load_state_dict(state["best"])
        self.last_saved = state["round"]
        return state["round"]

    def record(
        self, index: int, history: dict, batch_means: torch.Tensor, names: tuple[str, ...], validate=None
    ) -> None:
        """Close round `index` (0-based): its per-batch mean losses, averaged over processes, stop training if
        not finite, join the history; statistics agree across processes; `validate()`, when given, measures the
        round's networks; then the state is saved."""
        if self.fabric is not None:
            batch_means = self.fabric.all_reduce(batch_means, reduce_op="mean")
        losses = dict(zip(names, batch_means.reshape(-1).tolist(), strict=True))
        self.check_finite(index, **losses)
        for name, value in losses.items():
            history.setdefault(name, []).append(value)
        if self.fabric is not None:
            average_buffers(self.fabric, self.modules)
        if validate is not None:
            validate()
        self.save(index + 1, history)

    def save(self, rounds: int, history: dict) -> None:
        if self.path is None:
            return
        if self.fabric is not None and self.fabric.world_size > 1:
            self.fabric.barrier()
            if not self.fabric.is_global_zero:  # one process writes
                self.last_saved = rounds
                return
        state = {
            "params": self.params,
            "round": rounds,
            "networks": {name: m.state_dict() for name, m in self.modules.items()},
            "optimizers": {name: o.state_dict() for name, o in self.optimizers.items()},
            "history": history,
            "rng": torch.get_rng_state(),
            "shuffle_rng": self.shuffle_rng.get_state(),
            "patch_reads": list(self.data.reads) if isinstance(self.data, RandomPatches) else [],
            "best": self.best.state_dict() if self.best is not None else {},
        }
        if torch.cuda.is_available():
            state["cuda_rng"] = torch.cuda.get_rng_state()
        save_checkpoint(self.path, state)
        self.last_saved = rounds

    def check_finite(self, index: int, **losses: float) -> None:
        """Stop at the first NaN or infinite loss instead of saving a silently broken model."""
        bad = {k: v for k, v in losses.items() if not math.isfinite(v)}
        if bad:
            last = (
                f"the last good state is {self.path}, after round {self.last_saved}"
                if self.path and self.last_saved
                else "no good state was saved"
            )
            raise FloatingPointError(
                f"training diverged in round {index + 1}: {', '.join(f'{k}={v}' for k, v in bad.items())}; "
                f"{last}; no model was written. Try a lower lr or another seed"
            )
