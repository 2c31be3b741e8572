"""Synthetic defects made from normal images alone: the label-free yardstick of validation (and, later, training
data for detectors that learn from defects).

Three kinds, each a small seeded function of (image, source, generator) -> (defective image, mask):
- `blob`: a smooth random region (thresholded smooth noise at a random scale, as DRAEM makes its masks from
  Perlin noise; Zavrtanik, Kristan and Skocaj, ICCV 2021) filled with another normal image, or another place of the
  same one, shifted, flipped, rotated and colour-shifted, blended with a random opacity;
- `cutpaste`: a rectangle of the source, colour-jittered, pasted at another place (CutPaste; Li, Sohn, Yoon and
  Pfister, CVPR 2021);
- `scar`: a thin rotated stripe of the source (CutPaste's scar variant), a scratch-like defect.

Images are (C, H, W) floats in [0, 1]. The mask is exactly the set of pixels the defect changed (by more than half
a grey level in some channel), so a pixel metric never counts an unchanged pixel as defective. Nothing is read from
disk: every defect is made from the images it is given.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
import torch
import torch.nn.functional as F

CHANGED = 0.5 / 255  # a pixel counts as changed when some channel moved by more than half a grey level


def uniform(g: torch.Generator, low: float, high: float) -> float:
    return low + (high - low) * float(torch.rand((), generator=g))


def randint(g: torch.Generator, low: int, high: int) -> int:
    """An integer in [low, high]."""
    return int(torch.randint(low, high + 1, (), generator=g))


def transformed(source: torch.Tensor, g: torch.Generator) -> torch.Tensor:
    """The source shifted (cyclically), maybe flipped and rotated by quarter turns, and colour-shifted: content that
    is normal in itself but out of place."""
    c, h, w = source.shape
    out = source.roll((randint(g, 0, h - 1), randint(g, 0, w - 1)), (1, 2))
    if uniform(g, 0, 1) < 0.5:
        out = out.flip(2)
    if h == w:
        out = out.rot90(randint(g, 0, 3), (1, 2))
    gain = 1 + torch.empty(c, 1, 1).uniform_(-0.3, 0.3, generator=g)
    shift = torch.empty(c, 1, 1).uniform_(-0.2, 0.2, generator=g) + uniform(g, -0.15, 0.15)
    return (out * gain + shift).clamp(0, 1)


def smooth_region(h: int, w: int, g: torch.Generator, coverage: tuple[float, float] = (0.01, 0.08)) -> torch.Tensor:
    """A bool (H, W) region of one or a few smooth blobs: noise on a coarse grid, upsampled bicubically and cut at
    the quantile that leaves a random share `coverage` of the pixels inside."""
    cells = randint(g, 3, 8)  # the coarser the grid, the larger and rounder the blobs
    noise = torch.randn(1, 1, cells, cells, generator=g)
    smooth = F.interpolate(noise, size=(h, w), mode="bicubic", align_corners=False)[0, 0]
    share = uniform(g, *coverage)
    return smooth > torch.quantile(smooth.flatten(), 1 - share)


def rectangle(h: int, w: int, g: torch.Generator, area: tuple[float, float], aspect: tuple[float, float]):
    """(top, left, height, width) of a random rectangle of the given share of the image and aspect ratio."""
    share = uniform(g, *area)
    ratio = math.exp(uniform(g, math.log(aspect[0]), math.log(aspect[1])))
    rh = max(1, min(h, round(math.sqrt(share * h * w * ratio))))
    rw = max(1, min(w, round(math.sqrt(share * h * w / ratio))))
    return randint(g, 0, h - rh), randint(g, 0, w - rw), rh, rw


def changed_mask(before: torch.Tensor, after: torch.Tensor) -> torch.Tensor:
    return (after - before).abs().amax(0) > CHANGED


def blob(image: torch.Tensor, source: torch.Tensor, g: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    _, h, w = image.shape
    region = smooth_region(h, w, g).to(image.dtype)
    opacity = uniform(g, 0.6, 1.0)
    fill = transformed(source, g)
    out = image + opacity * region * (fill - image)
    return out, changed_mask(image, out)


def cutpaste(image: torch.Tensor, source: torch.Tensor, g: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    _, h, w = image.shape
    top, left, rh, rw = rectangle(h, w, g, area=(0.005, 0.04), aspect=(0.3, 3.3))
    y, x = randint(g, 0, h - rh), randint(g, 0, w - rw)
    piece = transformed(source, g)[:, top : top + rh, left : left + rw]
    out = image.clone()
    out[:, y : y + rh, x : x + rw] = piece
    return out, changed_mask(image, out)


def scar(image: torch.Tensor, source: torch.Tensor, g: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    """A thin stripe (2-6% of the side wide, 15-40% long) at a random angle, filled with transformed source."""
    _, h, w = image.shape
    side = min(h, w)
    width, length = uniform(g, 0.02, 0.06) * side, uniform(g, 0.15, 0.4) * side
    cy, cx, angle = uniform(g, 0.2, 0.8) * h, uniform(g, 0.2, 0.8) * w, uniform(g, 0, math.pi)
    ys, xs = torch.meshgrid(torch.arange(h) + 0.5, torch.arange(w) + 0.5, indexing="ij")
    along = (xs - cx) * math.cos(angle) + (ys - cy) * math.sin(angle)
    across = -(xs - cx) * math.sin(angle) + (ys - cy) * math.cos(angle)
    region = (along.abs() <= length / 2) & (across.abs() <= max(width, 1.0) / 2)
    out = torch.where(region, transformed(source, g), image)
    return out, changed_mask(image, out)


DEFECTS: dict[str, Callable] = {"blob": blob, "cutpaste": cutpaste, "scar": scar}


def make_defects(
    images: torch.Tensor, seed: int, kinds: tuple[str, ...] = ("blob", "cutpaste", "scar"), per_image: int = 1
) -> tuple[torch.Tensor, torch.Tensor]:
    """For each image (N, C, H, W) in [0, 1], `per_image` defective copies, their kinds taken in turn; the fill comes
    from the next image of the set (or the image itself when alone). Returns (N * per_image, C, H, W) images and
    (N * per_image, H, W) bool masks. Defect k of image i depends on (seed, i, k) alone."""
    out, masks = [], []
    for i, image in enumerate(images):
        source = images[(i + 1) % len(images)]
        for k in range(per_image):
            g = torch.Generator().manual_seed(int(np.random.SeedSequence([seed, i, k]).generate_state(1)[0]))
            kind = kinds[(i * per_image + k) % len(kinds)]
            defect, mask = DEFECTS[kind](image, source, g)
            if not mask.any():  # a fill that happened to match the image everywhere: paste its negative instead
                defect, mask = DEFECTS[kind](image, 1 - source, g)
            out.append(defect)
            masks.append(mask)
    return torch.stack(out), torch.stack(masks)
