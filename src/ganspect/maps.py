"""What is done to an anomaly map after a detector makes it: smoothing, and reading an image score off it.

Both are plain tensor code, so an exported ONNX graph holds them too.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

SCORE_RULES = ("model", "map", "reference", "auto")


def smooth(maps: torch.Tensor, sigma: float) -> torch.Tensor:
    """Gaussian smoothing of maps (B, H, W), `sigma` in pixels, edges mirrored; sigma 0 returns them unchanged.
    Residual maps of generated images are speckled; a small blur keeps a defect and drops the speckle."""
    if not sigma:
        return maps
    radius = min(int(3 * sigma + 0.5), maps.shape[-1] - 1, maps.shape[-2] - 1)
    taps = torch.arange(-radius, radius + 1, dtype=maps.dtype, device=maps.device)
    kernel = torch.exp(-(taps**2) / (2 * sigma**2))
    kernel = kernel / kernel.sum()
    x = maps[:, None]  # (B, 1, H, W)
    x = F.conv2d(F.pad(x, (radius, radius, 0, 0), mode="reflect"), kernel.view(1, 1, 1, -1))
    x = F.conv2d(F.pad(x, (0, 0, radius, radius), mode="reflect"), kernel.view(1, 1, -1, 1))
    return x[:, 0]


def top_mean(maps: torch.Tensor, share: float) -> torch.Tensor:
    """(B, H, W) -> (B,): the mean of each map's highest `share` of values (at least one value). A small defect
    lifts it; one hot pixel alone hardly does."""
    flat = maps.flatten(1)
    k = max(1, round(share * flat.shape[1]))
    return flat.topk(k, dim=1).values.mean(1)
