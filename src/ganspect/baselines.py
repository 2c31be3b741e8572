"""Reference baselines: the floor every GAN detector is measured against.

None learns by gradient descent; each fits from the normal images in seconds (the first two in closed form).
- `PixelGaussian`: each pixel's mean and standard deviation over the normal images. The map is each pixel's
  |x - mean| / std, averaged over channels; the image score is the mean of its highest `top_share` values.
- `PCAReconstruction`: principal components of the normal images (as vectors of pixels) keeping a share
  `variance` of their variance. The map is |x - reconstruction|, averaged over channels; the score is the mean
  squared reconstruction error.
- `LocalStatistics`: at every pixel, the local mean, standard deviation and gradient energy of each channel in
  windows of a few sizes; the map is the distance from a pixel's statistics to the nearest ones of a memory bank
  drawn from the normal images, the score the map's maximum.

The first two model whole images at `image_size` and rely on the images being aligned (the same object in the same
place). The third ignores where a pixel is, so it also models textures and unaligned surfaces: what a local
departure from normal texture (a scratch, a stain, a smoothed or foreign patch) looks like to a nearest-neighbour
detector with no learned features, the floor for the texture benchmarks. All share the detector contract (fit,
score, anomaly_map, predict, save, load, the validation split), so `ganspect fit gaussian|pca|local-stats`,
`evaluate` and the report work on them. Training fields that concern networks (steps, lr, devices, ...) are
ignored.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import ClassVar

import torch
import torch.nn.functional as F
from scipy.spatial import cKDTree
from torch import nn

from .data import batches
from .detector import Detector, param
from .maps import smooth, top_mean


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


def window_mean(x: torch.Tensor, radius: int) -> torch.Tensor:
    """Mean over the (2 radius + 1)^2 window around each pixel, edges mirrored; same shape as x (B, C, H, W)."""
    r = min(radius, x.shape[-1] - 1, x.shape[-2] - 1)
    return F.avg_pool2d(F.pad(x, (r, r, r, r), mode="reflect"), 2 * r + 1, stride=1)


def local_statistics(x: torch.Tensor, radii: tuple[int, ...]) -> torch.Tensor:
    """(B, C, H, W) -> (B, 3 C len(radii), H, W): per channel and window radius, the local mean, the local
    standard deviation and the root of the local mean squared gradient. The mean sees a stain, the deviation a
    smoothed or a foreign patch, the gradient energy a scratch."""
    gx = F.pad(x[..., :, 1:] - x[..., :, :-1], (0, 1, 0, 0), mode="replicate")
    gy = F.pad(x[..., 1:, :] - x[..., :-1, :], (0, 0, 0, 1), mode="replicate")
    gradient = gx**2 + gy**2
    features = []
    for r in radii:
        mean = window_mean(x, r)
        spread = (window_mean(x * x, r) - mean * mean).clamp_min(0).sqrt()
        features += [mean, spread, window_mean(gradient, r).sqrt()]
    return torch.cat(features, 1)


class StatisticsBank(nn.Module):
    """The feature scaling (each statistic's mean and std over the normal pixels) and the memory bank (K, F) of
    scaled statistics; forward gives each pixel's distance to its nearest bank entry (B, H, W). The search is
    scipy's k-d tree, exact and on the CPU: on grey textures (9 statistics) it fitted and scored 25 times faster
    than a brute-force search in torch, with the same distances."""

    def __init__(self, features: int):
        super().__init__()
        self.register_buffer("mean", torch.zeros(features))
        self.register_buffer("std", torch.ones(features))
        self.register_buffer("bank", torch.zeros(0, features))
        self._tree: cKDTree | None = None

    def _load_from_state_dict(self, state_dict, prefix, *args, **kwargs):
        # the bank's length depends on the training set: take the saved shape before loading the values
        self.bank = torch.empty_like(state_dict[prefix + "bank"])
        super()._load_from_state_dict(state_dict, prefix, *args, **kwargs)
        self._tree = None

    def set_bank(self, bank: torch.Tensor) -> None:
        self.bank = bank.contiguous()
        self._tree = None

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        if self._tree is None:  # built on first use, after fit or load
            self._tree = cKDTree(self.bank.cpu().double().numpy())
        queries = (features.permute(0, 2, 3, 1) - self.mean) / self.std  # (B, H, W, F)
        flat = queries.reshape(-1, queries.shape[-1]).cpu().double().numpy()
        distance, _ = self._tree.query(flat, k=1, workers=torch.get_num_threads())
        return torch.from_numpy(distance).float().view(queries.shape[:-1]).to(features.device)


@dataclass(kw_only=True, eq=False)
class LocalStatistics(Detector):
    """Nearest-neighbour baseline on local statistics: a pixel is as anomalous as its window's mean, deviation and
    gradient energy (several window sizes) are far from every normal window's; score = the map's maximum."""

    scales: int = param(3, "window sizes: radii 2, 4, 8, ... (2^1 to 2^scales pixels at image_size)")
    bank_size: int = param(20000, "normal pixels' statistics kept in the memory bank (drawn evenly from the images)")
    map_sigma: float = param(1.5, "std in pixels (at image_size) of the Gaussian that smooths the maps; 0: none")

    # it trains on no defects, so any kinds validate it fairly; RepairGAN's, so that for one seed the two proxies
    # come from the same held-out images and the same defects, and a user can pick between the two fits by them
    validation_defects: str = param("scratch,blur,stain", "synthetic defects of the validation proxy (RepairGAN's)")

    network_names: ClassVar[tuple[str, ...]] = ("bank",)
    command: ClassVar[str] = "local-stats"

    @property
    def scoring_cost(self) -> str:
        return "one nearest-neighbour lookup per pixel (a k-d tree on the CPU), no network"

    @property
    def radii(self) -> tuple[int, ...]:
        return tuple(2**k for k in range(1, self.scales + 1))

    def _check_params(self) -> None:
        super()._check_params()
        if self.patch_size:
            raise ValueError(
                f"patch_size: local statistics ignore where a pixel is, on whole images; expected 0, got "
                f"{self.patch_size}"
            )
        if self.augment:
            raise ValueError("augment: the local-statistics baseline fits the images as they are; expected False")
        if not (isinstance(self.scales, int) and not isinstance(self.scales, bool) and self.scales >= 1):
            raise ValueError(f"scales: expected a positive integer, got {self.scales!r}")
        if 2**self.scales >= self.image_size:
            raise ValueError(
                f"scales: the largest window (radius {2**self.scales}) must fit in image_size {self.image_size}; "
                f"expected at most {int(math.log2(self.image_size - 1))}, got {self.scales}"
            )
        if not (isinstance(self.bank_size, int) and not isinstance(self.bank_size, bool) and self.bank_size >= 1):
            raise ValueError(f"bank_size: expected a positive integer, got {self.bank_size!r}")

    def _build_networks(self) -> dict[str, nn.Module]:
        return {"bank": StatisticsBank(3 * self.channels * self.scales)}

    def _train(self, data, progress: bool) -> None:
        bank = self._build_networks()["bank"]
        images = stacked(data, self.batch_size)
        # the same number of pixels from every image, at seeded random places; the statistics' mean and spread
        # over every pixel are summed batch by batch, so memory holds one batch's features, not the whole set's
        per_image = math.ceil(self.bank_size / len(images))
        g = torch.Generator().manual_seed(self.seed)
        total, squares, chosen = 0.0, 0.0, []
        for x in images.split(self.batch_size):
            features = local_statistics(x, self.radii).permute(0, 2, 3, 1).flatten(1, 2).double()  # (B, H W, F)
            total = total + features.sum((0, 1))
            squares = squares + features.pow(2).sum((0, 1))
            for one in features:
                chosen.append(one[torch.randperm(len(one), generator=g)[:per_image]])
        count = images.shape[0] * images.shape[-1] * images.shape[-2]
        mean = total / count
        bank.mean.copy_(mean)
        bank.std.copy_((squares / count - mean**2).clamp_min(0).sqrt().clamp_min(1e-6))
        vectors = torch.cat(chosen)[: self.bank_size].float()
        bank.set_bank((vectors - bank.mean) / bank.std)
        self.bank_ = bank.to(self.device_)
        self.history_ = {"bank": [float(len(vectors))]}

    @torch.no_grad()
    def _score_batch(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        maps = self.bank_(local_statistics(x, self.radii))
        # the maximum of the map as shown (smoothed): one stray pixel's distance alone does not make the verdict
        return smooth(maps, self.map_sigma).flatten(1).amax(1), maps
