"""Synthetic defects: seeded, made from the given images alone, and masked exactly where pixels changed."""

import numpy as np
import pytest
import torch
from PIL import Image

from ganspect.data import ImageFiles, MVTecFolder
from ganspect.synthetic import (
    CHANGED,
    DEFECTS,
    EVERY_DEFECT,
    PROXY_DEFECTS,
    SHAPE_DEFECTS,
    UNSEEN_DEFECTS,
    make_defects,
)

from .conftest import COOKIES, TEXTURES, need


@pytest.fixture(scope="module")
def textures():
    """Two real grey textures, 64x64 crops, as (2, 1, 64, 64) floats."""
    folder = need(TEXTURES)
    crops = [np.asarray(Image.open(folder / f"{n}.png").convert("L"))[100:164, 100:164] for n in ("brick", "gravel")]
    return torch.from_numpy(np.stack(crops)).float()[:, None] / 255


def random_images(seed=0):
    g = torch.Generator().manual_seed(seed)
    return torch.rand(4, 3, 48, 40, generator=g)  # colour, not square: every kind must cope


@pytest.mark.parametrize("kind", sorted(EVERY_DEFECT))
def test_mask_is_exactly_where_pixels_changed(kind):
    images = random_images()
    make = EVERY_DEFECT[kind]
    for i in range(len(images)):
        g = torch.Generator().manual_seed(i)
        out, mask = make(images[i], images[(i + 1) % 4], g)
        changed = (out - images[i]).abs().amax(0) > CHANGED
        assert torch.equal(mask, changed) and mask.any()
        assert out.shape == images[i].shape and out.min() >= 0 and out.max() <= 1
        assert mask.float().mean() < 0.5  # a defect, not a new image


def test_defects_are_seeded_and_vary(textures):
    a, mask_a = make_defects(textures, seed=3, per_image=3)
    b, mask_b = make_defects(textures, seed=3, per_image=3)
    c, _ = make_defects(textures, seed=4, per_image=3)
    assert torch.equal(a, b) and torch.equal(mask_a, mask_b)
    assert not torch.equal(a, c)
    assert a.shape == (6, 1, 64, 64) and mask_a.shape == (6, 64, 64)
    # the copies of one image differ from each other, and each differs from its image only under its mask
    assert not torch.equal(a[0], a[1])
    for k in range(6):
        base = textures[k // 3]
        assert (a[k][:, ~mask_a[k]] - base[:, ~mask_a[k]]).abs().max() <= CHANGED


def test_unseen_defects_take_their_fill_from_the_foreign_sources(textures):
    brick, gravel = textures[:1], textures[1:]
    damaged, masks = make_defects(brick, seed=0, kinds=("foreign",), sources=gravel)
    assert masks[0].any()
    assert torch.equal(damaged[0][:, masks[0]], gravel[0][:, masks[0]])  # the foreign texture, where it was pasted


def test_the_families_are_made_by_different_generators():
    """Training, test, validation-only and shape defects share no kind, so a benchmark can keep each apart."""
    names = [set(DEFECTS), set(UNSEEN_DEFECTS), set(PROXY_DEFECTS), set(SHAPE_DEFECTS)]
    assert sum(map(len, names)) == len(set.union(*names)) == len(EVERY_DEFECT)


@pytest.mark.parametrize("kind", sorted(PROXY_DEFECTS))
def test_validation_only_defects_change_real_textures_where_masked(textures, kind):
    """On real grey texture crops, each validation-only kind changes a visible share of pixels (not a
    single one, not half the image), and nothing outside its mask."""
    damaged, masks = make_defects(textures, seed=0, kinds=(kind,), per_image=2)
    for k in range(len(damaged)):
        share = masks[k].float().mean()
        assert 0.001 < share < 0.15
        base = textures[k // 2]
        assert (damaged[k][:, ~masks[k]] - base[:, ~masks[k]]).abs().max() <= CHANGED


@pytest.mark.parametrize("kind", sorted(SHAPE_DEFECTS))
def test_shape_defects_show_the_background_through_a_real_product(kind):
    """On real photos of cookies on a dark tray, a crack or a bite replaces cookie with tray: the gap's pixels take
    the outer frame's colour, and what they replaced was cookie (far from it), never tray."""
    paths = MVTecFolder(need(COOKIES)).train_paths()[:4]
    files = ImageFiles(paths, 3, 64)
    photos = torch.stack([files[i] for i in range(len(files))])
    damaged, masks = make_defects(photos, seed=0, kinds=(kind,), per_image=3)
    frame = torch.ones(64, 64, dtype=torch.bool)
    frame[3:-3, 3:-3] = False
    for k in range(len(damaged)):
        photo, mask = photos[k // 3], masks[k]
        tray = photo[:, frame].median(1).values
        assert 0.002 < mask.float().mean() < 0.15
        assert (damaged[k][:, mask].mean(1) - tray).abs().max() < 0.05
        assert ((photo[:, mask] - tray[:, None]).abs().amax(0) > 0.1).all()


def test_a_bite_is_taken_from_the_rim():
    """A bite is centred where the product meets the background: on a bright disc on a dark ground, every bite
    touches the ground (its mask borders pixels that were ground) and none lies wholly inside the disc."""
    ys, xs = torch.meshgrid(torch.arange(64) + 0.5, torch.arange(64) + 0.5, indexing="ij")
    disc = ((ys - 32) ** 2 + (xs - 32) ** 2 <= 20**2).float()
    image = (0.2 + 0.6 * disc).expand(3, 64, 64).clone()
    _, masks = make_defects(image[None], seed=0, kinds=("bite",), per_image=8)
    grown = torch.nn.functional.max_pool2d(masks[:, None].float(), 3, 1, 1)[:, 0].bool()
    for mask in masks:
        assert mask.any() and mask.sum() < disc.sum() / 4
    assert all((g & (disc == 0)).any() for g in grown)


def test_procedural_textures_are_seeded_varied_and_in_range():
    """Textures made from nothing: the same generator state gives the same textures, another gives others; values
    in [0, 1], none flat; smooth and sharp ones both drawn (the mean jump between neighbouring pixels, relative to
    the texture's range, differs more than tenfold between them)."""
    from ganspect.synthetic import procedural_textures

    first = procedural_textures(24, 48, torch.Generator().manual_seed(3), channels=3)
    assert first.shape == (24, 3, 48, 48) and first.min() >= 0 and first.max() <= 1
    assert torch.equal(first, procedural_textures(24, 48, torch.Generator().manual_seed(3), channels=3))
    assert not torch.equal(first, procedural_textures(24, 48, torch.Generator().manual_seed(4), channels=3))
    spans = first.flatten(2).amax(2) - first.flatten(2).amin(2)  # (N, C): every texture spans two colours
    channel = spans.argmax(1)
    plane, span = first[torch.arange(24), channel], spans.amax(1)
    assert (span > 0).all()
    roughness = (plane[:, :, 1:] - plane[:, :, :-1]).abs().flatten(1).mean(1) / span
    assert roughness.max() > 10 * roughness.min()
