"""Synthetic defects made from normal images alone: the label-free yardstick of validation (and, later, training
data for detectors that learn from defects).

Three kinds, each a small seeded function of (image, source, generator) -> (defective image, mask):
- `blob`: a smooth random region (thresholded smooth noise at a random scale, as DRAEM makes its masks from
  Perlin noise; Zavrtanik, Kristan and Skocaj, ICCV 2021) filled with another normal image, or another place of the
  same one, shifted, flipped, rotated and colour-shifted, blended with a random opacity;
- `cutpaste`: a rectangle of the source, colour-jittered, pasted at another place (CutPaste; Li, Sohn, Yoon and
  Pfister, CVPR 2021);
- `scar`: a thin rotated stripe of the source (CutPaste's scar variant), a scratch-like defect.

A second family, `UNSEEN_DEFECTS`, is made differently on purpose and is never trained on: benchmarks and tests
measure a detector trained on the first family against defects it has not seen the like of:
- `scratch`: a thin curved line of one dark or bright grey level (a drawn stroke, not pasted content);
- `foreign`: a smooth region filled with a *different* texture or object (the source given is foreign);
- `blur`: a smooth region blurred (a local loss of focus or a smear);
- `stain`: a smooth region darkened or brightened (a spot of liquid, a discolouration).

A third family, `PROXY_DEFECTS`, is made differently again, for a validation proxy that must stay independent of
both a method's training defects and a benchmark's test defects (the textures benchmark validates on it):
- `speck`: a cluster of small round spots, each darkened or brightened (pits, blowholes, dust);
- `warp`: a smooth region whose content is displaced by a smooth random field (a dent, a fold, a crease);
- `haze`: a smooth region pulled part of the way towards one grey level (a film, a smudge, condensation);
- `grain`: a smooth region with noise added (contamination, a rough or corroded patch).

Two kinds stand apart, `SHAPE_DEFECTS`, for products that are objects on a background rather than surfaces: a
broken part exposes the background, which no family above shows (their fills are the product's own content, or a
shade of it):
- `crack`: a tapered gap, wide where it opens towards the image's edge and narrowing towards the centre, with a
  wandering, ragged outline, through which the background shows (the colour and grain of the image's outer frame,
  where an aligned, centred product leaves the background in view);
- `bite`: a round piece missing from the product's rim (found by walking out from the centre to the first pixel
  that looks like the background), the background showing where it was.
They are in no default: validation or training on them is asked for by name (`validation_defects="...,crack"`,
RepairGAN's `defects="...,bite"`).

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


def scratch(image: torch.Tensor, source: torch.Tensor, g: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    """A quadratic Bezier curve, 1-3% of the side thick and 20-50% long, in one dark or bright grey level."""
    _, h, w = image.shape
    side = min(h, w)
    start = torch.tensor([uniform(g, 0.15, 0.85) * h, uniform(g, 0.15, 0.85) * w])
    angle, length = uniform(g, 0, 2 * math.pi), uniform(g, 0.2, 0.5) * side
    end = start + length * torch.tensor([math.sin(angle), math.cos(angle)])
    bend = (start + end) / 2 + uniform(g, -0.3, 0.3) * length * torch.tensor([math.cos(angle), -math.sin(angle)])
    t = torch.linspace(0, 1, 4 * side)[:, None]
    curve = (1 - t) ** 2 * start + 2 * t * (1 - t) * bend + t**2 * end  # (T, 2) points along the stroke
    ys, xs = torch.meshgrid(torch.arange(h) + 0.5, torch.arange(w) + 0.5, indexing="ij")
    pixels = torch.stack([ys.flatten(), xs.flatten()], 1)
    region = (torch.cdist(pixels, curve).amin(1) <= max(0.5, uniform(g, 0.005, 0.015) * side)).view(h, w)
    level = uniform(g, 0.0, 0.15) if uniform(g, 0, 1) < 0.5 else uniform(g, 0.85, 1.0)
    out = torch.where(region, torch.full_like(image, level), image)
    return out, changed_mask(image, out)


def foreign(image: torch.Tensor, source: torch.Tensor, g: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    """A smooth region (2-8% of the image) filled with the foreign `source`, unshifted and fully opaque."""
    _, h, w = image.shape
    region = smooth_region(h, w, g, coverage=(0.02, 0.08))
    out = torch.where(region, source, image)
    return out, changed_mask(image, out)


def blur(image: torch.Tensor, source: torch.Tensor, g: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    """A smooth region (3-10% of the image) replaced by the image blurred with a Gaussian of 1.5-4% of the side."""
    _, h, w = image.shape
    region = smooth_region(h, w, g, coverage=(0.03, 0.10))
    sigma = uniform(g, 0.015, 0.04) * min(h, w)
    radius = max(1, min(int(3 * sigma), h - 1, w - 1))
    taps = torch.arange(-radius, radius + 1, dtype=image.dtype)
    kernel = torch.exp(-(taps**2) / (2 * sigma**2))
    kernel = kernel / kernel.sum()
    x = F.pad(image[:, None], (radius, radius, 0, 0), mode="reflect")
    x = F.conv2d(x, kernel.view(1, 1, 1, -1))
    x = F.conv2d(F.pad(x, (0, 0, radius, radius), mode="reflect"), kernel.view(1, 1, -1, 1))[:, 0]
    out = torch.where(region, x.clamp(0, 1), image)
    return out, changed_mask(image, out)


def stain(image: torch.Tensor, source: torch.Tensor, g: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    """A smooth region (2-8% of the image) darkened to 45-75% of its grey levels, or brightened by a third of the
    way to white and more, in a colour cast of its own."""
    c, h, w = image.shape
    region = smooth_region(h, w, g, coverage=(0.02, 0.08))
    cast = 1 + torch.empty(c, 1, 1).uniform_(-0.1, 0.1, generator=g)
    if uniform(g, 0, 1) < 0.5:
        stained = image * uniform(g, 0.45, 0.75) * cast
    else:
        stained = image + uniform(g, 0.35, 0.6) * (1 - image) * cast
    out = torch.where(region, stained.clamp(0, 1), image)
    return out, changed_mask(image, out)


UNSEEN_DEFECTS: dict[str, Callable] = {"scratch": scratch, "foreign": foreign, "blur": blur, "stain": stain}


def speck(image: torch.Tensor, source: torch.Tensor, g: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    """3-12 round spots (radius 1-2.5% of the side, at least a pixel) within 5-15% of the side of one place, each
    darkened to 20-50% of its grey levels or brightened 50-80% of the way to white."""
    _, h, w = image.shape
    side = min(h, w)
    cy, cx, spread = uniform(g, 0.15, 0.85) * h, uniform(g, 0.15, 0.85) * w, uniform(g, 0.05, 0.15) * side
    ys, xs = torch.meshgrid(torch.arange(h) + 0.5, torch.arange(w) + 0.5, indexing="ij")
    out = image
    for _ in range(randint(g, 3, 12)):
        y, x = cy + uniform(g, -1, 1) * spread, cx + uniform(g, -1, 1) * spread
        radius = max(0.75, uniform(g, 0.01, 0.025) * side)  # 0.75 reaches the nearest pixel centre wherever it is
        dark = uniform(g, 0, 1) < 0.5
        shaded = image * uniform(g, 0.2, 0.5) if dark else image + uniform(g, 0.5, 0.8) * (1 - image)
        out = torch.where((ys - y) ** 2 + (xs - x) ** 2 <= radius**2, shaded, out)
    return out, changed_mask(image, out)


def warp(image: torch.Tensor, source: torch.Tensor, g: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    """A smooth region (3-10% of the image) whose content is moved by a smooth random displacement field of at most
    2-5% of the side: the image's own pixels, out of their places."""
    c, h, w = image.shape
    region = smooth_region(h, w, g, coverage=(0.03, 0.10))
    cells = randint(g, 2, 5)
    field = F.interpolate(torch.randn(1, 2, cells, cells, generator=g), size=(h, w), mode="bicubic")
    field = field / field.abs().amax().clamp_min(1e-6) * 2 * uniform(g, 0.02, 0.05)  # grid units: 2 = the side
    ys, xs = torch.meshgrid(torch.linspace(-1, 1, h), torch.linspace(-1, 1, w), indexing="ij")
    grid = torch.stack([xs, ys], -1)[None] + field.permute(0, 2, 3, 1)
    moved = F.grid_sample(image[None], grid, mode="bilinear", padding_mode="reflection", align_corners=True)[0]
    out = torch.where(region, moved.clamp(0, 1), image)
    return out, changed_mask(image, out)


def haze(image: torch.Tensor, source: torch.Tensor, g: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    """A smooth region (3-10% of the image) pulled 40-70% of the way towards one level per channel: the region's
    mean, lifted or lowered by up to 0.2."""
    c, h, w = image.shape
    region = smooth_region(h, w, g, coverage=(0.03, 0.10))
    level = (image[:, region].mean(1) + uniform(g, -0.2, 0.2)).clamp(0, 1).view(c, 1, 1)
    hazy = image + uniform(g, 0.4, 0.7) * (level - image)
    out = torch.where(region, hazy, image)
    return out, changed_mask(image, out)


def grain(image: torch.Tensor, source: torch.Tensor, g: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    """A smooth region (2-8% of the image) with Gaussian noise of std 0.06-0.15 added, pixel by pixel."""
    _, h, w = image.shape
    region = smooth_region(h, w, g, coverage=(0.02, 0.08))
    noisy = image + uniform(g, 0.06, 0.15) * torch.randn(image.shape, generator=g)
    out = torch.where(region, noisy.clamp(0, 1), image)
    return out, changed_mask(image, out)


PROXY_DEFECTS: dict[str, Callable] = {"speck": speck, "warp": warp, "haze": haze, "grain": grain}


def fractal_noise(side: int, g: torch.Generator) -> torch.Tensor:
    """(side, side) noise summed over octaves: a random coarse grid upsampled bicubically, each finer octave
    weighted by a random persistence to the power of its level, so one draw is cloudy and smooth, another grainy."""
    cells, persistence = randint(g, 2, 8), uniform(g, 0.3, 0.9)
    total, weight = torch.zeros(side, side), 1.0
    while cells <= side:
        grid = torch.randn(1, 1, cells, cells, generator=g)
        total += weight * F.interpolate(grid, size=(side, side), mode="bicubic", align_corners=False)[0, 0]
        cells, weight = 2 * cells, weight * persistence
    return total


def procedural_texture(channels: int, side: int, g: torch.Generator) -> torch.Tensor:
    """A random texture (C, side, side) in [0, 1] made from nothing: fractal noise, a grating (stripes at a random
    frequency and angle, bent by noise) or spots (fine noise thresholded), painted between two random colours. An
    anomaly source that carries no data: DRAEM fills its defects from an external texture set; a library that may
    not download one makes its own, unlike any user's images."""
    kind = randint(g, 0, 2)
    if kind == 0:
        t = fractal_noise(side, g)
    else:
        ys, xs = torch.meshgrid(torch.arange(side) / side, torch.arange(side) / side, indexing="ij")
        angle, cycles = uniform(g, 0, math.pi), uniform(g, 2, side / 4)
        bend = uniform(g, 0, 3) * fractal_noise(side, g)  # radians of phase: a wave that wanders
        t = torch.sin(2 * math.pi * cycles * (xs * math.cos(angle) + ys * math.sin(angle)) + bend)
        # spots replace the grating drawn above: its few draws stay, so the measured figures keep their defects
        if kind == 2:  # spots: where the noise is highest, at a random density
            fine = fractal_noise(side, g)
            t = (fine > torch.quantile(fine.flatten(), uniform(g, 0.6, 0.95))).float()
        elif uniform(g, 0, 1) < 0.5:  # hard stripes rather than a soft wave
            t = (t > 0).float()
    t = (t - t.min()) / (t.max() - t.min()).clamp_min(1e-6)
    low, high = torch.rand(2, channels, 1, 1, generator=g)
    return low + t * (high - low)


def procedural_textures(count: int, side: int, g: torch.Generator, channels: int) -> torch.Tensor:
    """`count` procedural textures (count, C, side, side): RepairGAN's built-in anomaly source."""
    return torch.stack([procedural_texture(channels, side, g) for _ in range(count)])


def wander(t: torch.Tensor, cells: int, g: torch.Generator) -> torch.Tensor:
    """A smooth random curve of unit scale, read at t in [0, 1]: `cells` random knots joined by straight lines."""
    knots = torch.randn(cells, generator=g)
    at = t.clamp(0, 1) * (cells - 1)
    low = at.floor().long().clamp(max=cells - 2)
    return knots[low] + (at - low) * (knots[low + 1] - knots[low])


def background(image: torch.Tensor, g: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    """What shows through a gap: the median colour (C, 1, 1) of the image's outer frame (5% of the side), and a fill
    (C, H, W) of that colour with the frame's own pixel-to-pixel grain, drawn with `g`."""
    c, h, w = image.shape
    band = max(1, round(0.05 * min(h, w)))
    frame = torch.ones(h, w, dtype=torch.bool)
    frame[band:-band, band:-band] = False
    level = image[:, frame].median(1).values.view(c, 1, 1)
    # the grain from neighbouring pixels' differences: the frame's spread would count its shading and stray strips
    steps = (image[:, :, 1:] - image[:, :, :-1])[:, frame[:, 1:] & frame[:, :-1]]
    grain = (1.4826 / math.sqrt(2) * steps.abs().median(1).values).view(c, 1, 1)
    return level, (level + grain * torch.randn(image.shape, generator=g)).clamp(0, 1)


def showing(image: torch.Tensor, region: torch.Tensor, level: torch.Tensor, fill: torch.Tensor):
    """The image with `fill` showing through `region`, except where the image already looks like the background
    (within 0.1 of `level` in every channel): a gap over the background changes nothing there."""
    region = region & ((image - level).abs().amax(0) > 0.1)
    out = torch.where(region, fill, image)
    return out, changed_mask(image, out)


def crack(image: torch.Tensor, source: torch.Tensor, g: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    """A gap 20-45% of the side long and 6-16% of it wide at its mouth, narrowing to nothing: the mouth 20-42% of
    the side from the centre at any angle, the gap heading for the centre (within 30 degrees), its centre line and
    outline wandering. Through it shows the background: the median colour of the image's outer frame (5% of the
    side), with the frame's own grain. Pixels that already look like that background (within 0.1 in every channel)
    stay: a gap over the background changes nothing there."""
    _, h, w = image.shape
    side = min(h, w)
    angle = uniform(g, 0, 2 * math.pi)
    reach = uniform(g, 0.2, 0.42) * side
    mouth = torch.tensor([h / 2 + reach * math.sin(angle), w / 2 + reach * math.cos(angle)])
    heading = angle + math.pi + uniform(g, -0.5, 0.5)  # back towards the centre, roughly
    length, width = uniform(g, 0.2, 0.45) * side, uniform(g, 0.06, 0.16) * side
    ys, xs = torch.meshgrid(torch.arange(h) + 0.5, torch.arange(w) + 0.5, indexing="ij")
    along = (ys - mouth[0]) * math.sin(heading) + (xs - mouth[1]) * math.cos(heading)
    across = -(ys - mouth[0]) * math.cos(heading) + (xs - mouth[1]) * math.sin(heading)
    t = along / length  # 0 at the mouth, 1 at the tip; the gap starts a little outside its mouth
    centre = 0.3 * width * wander(t, randint(g, 3, 6), g)
    half = width / 2 * (1 - t).clamp(0, 1.15) ** 0.8 * (1 + 0.25 * wander(t, randint(g, 8, 16), g))
    region = (t >= -0.15) & (t <= 1) & ((across - centre).abs() <= half.clamp_min(0))
    return showing(image, region, *background(image, g))


def bite(image: torch.Tensor, source: torch.Tensor, g: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    """A round piece (radius 8-18% of the side, a little ragged) missing from the product's rim: walking out from
    the centre at a random angle, the first pixel that looks like the background (as `showing` judges) is the rim;
    the piece is centred there, shifted up to a third of its radius in or out, and the background shows through it.
    Where no pixel along the way looks like background (a texture), the piece is at a random place."""
    c, h, w = image.shape
    side = min(h, w)
    level, fill = background(image, g)
    angle, radius = uniform(g, 0, 2 * math.pi), uniform(g, 0.08, 0.18) * side
    steps = torch.arange(0, side / 2, 0.5)
    ys = (h / 2 + steps * math.sin(angle)).long().clamp(0, h - 1)
    xs = (w / 2 + steps * math.cos(angle)).long().clamp(0, w - 1)
    outside = ((image[:, ys, xs] - level.view(c, 1)).abs().amax(0) <= 0.1).nonzero()
    if len(outside):
        reach = float(steps[outside[0, 0]]) + uniform(g, -1, 1) * radius / 3
        cy, cx = h / 2 + reach * math.sin(angle), w / 2 + reach * math.cos(angle)
    else:
        cy, cx = uniform(g, 0.2, 0.8) * h, uniform(g, 0.2, 0.8) * w
    yy, xx = torch.meshgrid(torch.arange(h) + 0.5, torch.arange(w) + 0.5, indexing="ij")
    around = torch.atan2(yy - cy, xx - cx) / (2 * math.pi) + 0.5  # 0..1 around the piece's centre
    ragged = radius * (1 + 0.15 * wander(around, randint(g, 6, 12), g))
    region = (yy - cy) ** 2 + (xx - cx) ** 2 <= ragged**2
    return showing(image, region, level, fill)


SHAPE_DEFECTS: dict[str, Callable] = {"crack": crack, "bite": bite}
EVERY_DEFECT: dict[str, Callable] = {**DEFECTS, **UNSEEN_DEFECTS, **PROXY_DEFECTS, **SHAPE_DEFECTS}


def defect_kinds(text: str) -> tuple[str, ...]:
    """The kinds named in a comma-separated field (`defects`, `validation_defects`), blanks dropped."""
    return tuple(k.strip() for k in text.split(",") if k.strip())


def make_defects(
    images: torch.Tensor,
    seed: int,
    kinds: tuple[str, ...] = ("blob", "cutpaste", "scar"),
    per_image: int = 1,
    sources: torch.Tensor | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """For each image (N, C, H, W) in [0, 1], `per_image` defective copies, their kinds (of EVERY_DEFECT) taken in
    turn; the fill comes from `sources` (M, C, H, W) in turn when given (a foreign texture, say), else from the next
    image of the set (or the image itself when alone). Returns (N * per_image, C, H, W) images and (N * per_image,
    H, W) bool masks. Defect k of image i depends on (seed, i, k) alone."""
    out, masks = [], []
    for i, image in enumerate(images):
        source = images[(i + 1) % len(images)] if sources is None else sources[i % len(sources)]
        for k in range(per_image):
            g = torch.Generator().manual_seed(int(np.random.SeedSequence([seed, i, k]).generate_state(1)[0]))
            kind = kinds[(i * per_image + k) % len(kinds)]
            defect, mask = EVERY_DEFECT[kind](image, source, g)
            if not mask.any():  # a fill that happened to match the image everywhere: paste its negative instead
                defect, mask = EVERY_DEFECT[kind](image, 1 - source, g)
            out.append(defect)
            masks.append(mask)
    return torch.stack(out), torch.stack(masks)
