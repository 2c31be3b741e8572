"""Reference baselines: the floor every GAN detector is measured against.

Neither learns by gradient descent; both fit in closed form from the normal images, in seconds.
- `PixelGaussian`: each pixel's mean and standard deviation over the normal images. The map is each pixel's
  |x - mean| / std, averaged over channels; the image score is the mean of its highest `top_share` values.
- `PCAReconstruction`: principal components of the normal images (as vectors of pixels) keeping a share
  `variance` of their variance. The map is |x - reconstruction|, averaged over channels; the score is the mean
  squared reconstruction error.

Both model whole images at `image_size` and rely on the images being aligned (the same object in the same place);
on textures or unaligned parts a GAN in patch mode has the better prior. They share the detector contract (fit,
score, anomaly_map, predict, save, load, the validation split), so `ganspect fit gaussian|pca`, `evaluate` and the
report work on them. Training fields that concern networks (epochs, lr, devices, ...) are ignored.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import torch
from torch import nn

from .data import batches
from .detector import Detector, param
from .maps import top_mean


class PixelStatistics(nn.Module):
    """Per-pixel mean and standard deviation (C, S, S), kept as buffers so they save like network weights."""

    def __init__(self, channels: int, size: int):
        super().__init__()
        self.register_buffer("mean", torch.zeros(channels, size, size))
        self.register_buffer("std", torch.ones(channels, size, size))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return ((x - self.mean).abs() / self.std).mean(1)  # (B, S, S)


class PrincipalSubspace(nn.Module):
    """The mean image and the kept principal directions (k, C*S*S); forward gives the reconstruction."""

    def __init__(self, channels: int, size: int):
        super().__init__()
        self.register_buffer("mean", torch.zeros(channels * size * size))
        self.register_buffer("components", torch.zeros(0, channels * size * size))

    def _load_from_state_dict(self, state_dict, prefix, *args, **kwargs):
        # the number of kept components is learned: take the saved shape before loading the values
        self.components = torch.empty_like(state_dict[prefix + "components"])
        super()._load_from_state_dict(state_dict, prefix, *args, **kwargs)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        flat = x.flatten(1) - self.mean  # (B, D)
        return (flat @ self.components.T @ self.components + self.mean).view_as(x)


def stacked(data, batch_size: int) -> torch.Tensor:
    """The whole training set as one tensor (N, C, S, S): the baselines need every image at once."""
    return torch.cat(list(batches(data, batch_size)))


@dataclass(kw_only=True, eq=False)
class PixelGaussian(Detector):
    """Per-pixel Gaussian baseline: |x - mean| / std per pixel; score = mean of the highest top_share of the map."""

    min_std: float = param(0.01, "floor on each pixel's standard deviation (0-1 pixel units): flat pixels stay finite")

    network_names: ClassVar[tuple[str, ...]] = ("statistics",)
    command: ClassVar[str] = "gaussian"

    def _check_params(self) -> None:
        super()._check_params()
        if self.patch_size:
            raise ValueError(
                f"patch_size: the per-pixel Gaussian models whole images; expected 0, got {self.patch_size}"
            )
        if self.augment:
            raise ValueError("augment: the per-pixel Gaussian models each pixel where it is; expected False")
        if not self.min_std > 0:
            raise ValueError(f"min_std: expected a positive number, got {self.min_std!r}")

    def _build_networks(self) -> dict[str, nn.Module]:
        return {"statistics": PixelStatistics(self.channels, self.image_size)}

    def _train(self, data, progress: bool) -> None:
        stats = self._build_networks()["statistics"]
        images = stacked(data, self.batch_size)
        stats.mean.copy_(images.mean(0))
        stats.std.copy_(images.std(0, correction=0).clamp_min(self.min_std))
        self.statistics_ = stats.to(self.device_)
        self.history_ = {}

    @torch.no_grad()
    def _score_batch(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        maps = self.statistics_(x)
        return top_mean(maps, self.top_share), maps


@dataclass(kw_only=True, eq=False)
class PCAReconstruction(Detector):
    """PCA reconstruction baseline: the components keeping `variance` of the normal images' variance."""

    variance: float = param(0.95, "share of the normal images' variance the kept principal components explain")

    network_names: ClassVar[tuple[str, ...]] = ("subspace",)
    command: ClassVar[str] = "pca"

    def _check_params(self) -> None:
        super()._check_params()
        if self.patch_size:
            raise ValueError(f"patch_size: the PCA baseline models whole images; expected 0, got {self.patch_size}")
        if self.augment:
            raise ValueError("augment: the PCA baseline is fitted on the images as they are; expected False")
        if not 0 < self.variance <= 1:
            raise ValueError(f"variance: expected a share in (0, 1], got {self.variance!r}")

    def _build_networks(self) -> dict[str, nn.Module]:
        return {"subspace": PrincipalSubspace(self.channels, self.image_size)}

    def _train(self, data, progress: bool) -> None:
        subspace = self._build_networks()["subspace"]
        flat = stacked(data, self.batch_size).flatten(1).double()  # (N, D); double: small eigenvalues stay exact
        mean = flat.mean(0)
        _, singular, directions = torch.linalg.svd(flat - mean, full_matrices=False)
        explained = (singular**2).cumsum(0) / (singular**2).sum().clamp_min(1e-30)
        k = int((explained < self.variance).sum()) + 1  # the fewest components reaching the share
        subspace.mean.copy_(mean.float())
        subspace.components = directions[:k].float().contiguous()
        self.subspace_ = subspace.to(self.device_)
        self.history_ = {"components": [float(k)]}

    @torch.no_grad()
    def _score_batch(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        residual = x - self.subspace_(x)  # (B, C, S, S)
        return residual.pow(2).flatten(1).mean(1), residual.abs().mean(1)
