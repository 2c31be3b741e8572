"""Patch mode: exact stitching, and real defects found on real textures (../shared/data/textures)."""

import numpy as np
import pytest
import torch
from PIL import Image, ImageDraw

import ganspect
from ganspect.data import RandomPatches, patch_positions
from ganspect.metrics import pixel_auroc

from .conftest import TEXTURES, need


def test_positions_cover_every_pixel():
    assert patch_positions(128, 32, 16) == list(range(0, 97, 16))
    assert patch_positions(100, 32, 24) == [0, 24, 48, 68]  # a last window flush with the edge


def test_stitching_puts_every_patch_back_in_place():
    det = ganspect.AnoGAN(image_size=40, patch_size=16, patch_stride=6, batch_size=7)
    # a stand-in scorer whose map is the patch itself: stitched, overlaps averaged, it must give the image back
    det._score_batch = lambda x: (x.flatten(1).amax(1), x.mean(1))
    x = torch.rand(3, 1, 40, 40)
    scores, maps = det._score_patches(x)
    torch.testing.assert_close(maps, x[:, 0])
    torch.testing.assert_close(scores, x.flatten(1).amax(1))  # the image score is the highest patch score


def test_random_patches_are_fresh_each_read_and_reproducible():
    images = torch.rand(2, 1, 64, 64)
    a, b = RandomPatches(images, 16, 5, seed=0), RandomPatches(images, 16, 5, seed=0)
    first, second = a[1], a[1]
    assert first.shape == (5, 1, 16, 16) and not torch.equal(first, second)
    assert torch.equal(b[1], first) and torch.equal(b[1], second)


def _load(name):
    return np.asarray(Image.open(need(TEXTURES) / f"{name}.png").convert("L"))


def _defect(crop, other, kind, rng):
    """Paint one synthetic defect on a 128x128 crop; return the image and its mask."""
    image = Image.fromarray(crop.copy())
    mask = Image.new("L", image.size, 0)
    draw, mdraw = ImageDraw.Draw(image), ImageDraw.Draw(mask)
    y, x = rng.integers(24, 104, 2)
    if kind == "scratch":
        angle = rng.uniform(0, np.pi)
        dy, dx = 30 * np.sin(angle), 30 * np.cos(angle)
        line = [(x - dx, y - dy), (x + dx, y + dy)]
        draw.line(line, fill=int(rng.choice([15, 240])), width=4)
        mdraw.line(line, fill=255, width=4)
    elif kind == "blob":
        box = [x - 12, y - 9, x + 12, y + 9]
        draw.ellipse(box, fill=int(rng.choice([20, 235])))
        mdraw.ellipse(box, fill=255)
    else:  # a patch of another texture
        oy, ox = rng.integers(0, other.shape[0] - 24, 2)
        image.paste(Image.fromarray(other[oy : oy + 24, ox : ox + 24]), (int(x) - 12, int(y) - 12))
        mdraw.rectangle([x - 12, y - 12, x + 11, y + 11], fill=255)
    return np.asarray(image), np.asarray(mask) > 127


@pytest.mark.parametrize(("texture", "other", "floor"), [("brick", "gravel", 0.85)])
def test_synthetic_defects_on_a_real_texture(texture, other, floor):
    """Train on crops of three quadrants of the texture; paint defects on crops of the fourth."""
    full, foreign = _load(texture), _load(other)
    rng = np.random.default_rng(0)
    train_area, test_area = full.copy(), full[256:, 256:]
    train_area[256:, 256:] = 0

    def crops(area, n, avoid_held_out):
        out = []
        while len(out) < n:
            y, x = rng.integers(0, area.shape[0] - 128, 2)
            if avoid_held_out and y + 128 > 256 and x + 128 > 256:
                continue
            out.append(area[y : y + 128, x : x + 128])
        return np.stack(out)

    train = crops(train_area, 48, True)
    det = ganspect.AnoGAN(image_size=128, patch_size=32, width=32, steps=480, batch_size=64, mapping="encoder",
                          threshold_images=16, device="cpu")  # fmt: skip
    det.fit(train)
    kinds = ["scratch", "blob", "paste"] * 4
    pairs = [_defect(c, foreign, k, rng) for c, k in zip(crops(test_area, len(kinds), False), kinds, strict=True)]
    images, masks = np.stack([p[0] for p in pairs]), [p[1] for p in pairs]
    maps = det.anomaly_map(images)
    auroc = pixel_auroc(masks, list(maps))
    shifted = pixel_auroc(masks, list(np.roll(maps, 12, axis=2)))
    print(f"{texture}: pixel AUROC {auroc:.4f} (map shifted 12 px: {shifted:.4f})")
    assert auroc > floor
    assert shifted < auroc - 0.05  # the floor is high enough that a shifted map would fail it
