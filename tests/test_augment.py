"""Training-time augmentation (`augment=True`, or None: by the set's size): flips and small shifts of the images,
or shifts only (`augment_flips=False`)."""

import pytest
import torch

import ganspect
import ganspect.detector
from ganspect.cli import build_parser, main
from ganspect.train import augment

from .conftest import COOKIES, need


def views(image: torch.Tensor, shift: int, flips: bool = True) -> list[torch.Tensor]:
    """Every flip and shift of one (C, H, W) image that `augment` may return (only shifts: flips=False)."""
    out = []
    for flipped in (image, image.flip(2), image.flip(1), image.flip(1).flip(2)) if flips else (image,):
        padded = torch.nn.functional.pad(flipped[None], (shift,) * 4, mode="reflect")[0]
        h, w = image.shape[1:]
        out += [padded[:, r : r + h, c : c + w] for r in range(2 * shift + 1) for c in range(2 * shift + 1)]
    return out


def test_each_image_becomes_a_flip_and_shift_of_itself():
    torch.manual_seed(0)
    x = torch.rand(32, 3, 32, 48)
    out = augment(x)
    assert out.shape == x.shape
    for before, after in zip(x, out, strict=True):
        assert any(torch.equal(after, v) for v in views(before, 2))  # min(32, 48) / 16 = 2 pixels
    changed = sum(not torch.equal(a, b) for a, b in zip(x, out, strict=True))
    assert changed > 24  # 1/4 unflipped, 1/25 unshifted: about 31 of 32 change


def test_shifts_only_never_flip():
    """augment_flips=False: every view is a shift of the image as it is (random images: a flip is never a shift)."""
    torch.manual_seed(0)
    x = torch.rand(32, 3, 32, 48)
    out = augment(x, flips=False)
    for before, after in zip(x, out, strict=True):
        assert any(torch.equal(after, v) for v in views(before, 2, flips=False))
    assert sum(not torch.equal(a, b) for a, b in zip(x, out, strict=True)) > 24  # 1/25 unshifted


def test_draws_follow_torchs_generator():
    """The training checkpoint saves torch's generator: the same state must give the same views."""
    x = torch.rand(8, 1, 32, 32)
    torch.manual_seed(3)
    first = augment(x)
    torch.manual_seed(3)
    assert torch.equal(first, augment(x))


@pytest.mark.parametrize("name", ["PixelGaussian", "PCAReconstruction"])
def test_baselines_refuse_it(name):
    with pytest.raises(ValueError, match="augment"):
        getattr(ganspect, name)(augment=True)._check_params()


@pytest.mark.parametrize("name", ["AnoGAN", "OGNet", "RepairGAN"])
def test_the_field_reaches_training(name, digits):
    """Same seed, augment on or off: the training losses differ, so the batches were augmented. AnoGAN's defaults
    train on shifts alone; the others' on the images as they are."""
    small = dict(image_size=16, steps=4, rounds=2, batch_size=16, threshold_images=8, device="cpu")
    own = {"AnoGAN": dict(width=8, mapping="encoder"), "OGNet": dict(width=8), "RepairGAN": dict(crop_size=16, width=4)}
    small |= own[name]

    def fitted(**augmentation):
        return getattr(ganspect, name)(**small, **augmentation).fit(digits.train[:40])

    plain = fitted(augment=False)
    augmented = fitted(augment=True, augment_flips=True)
    shifted = fitted(augment=True, augment_flips=False)
    assert plain.history_ != augmented.history_ != shifted.history_ != plain.history_
    assert fitted().history_ == (shifted if name == "AnoGAN" else plain).history_


def test_automatic_augmentation_follows_the_sets_size(digits, monkeypatch):
    """augment=None (AnoGAN's default) augments a set smaller than SMALL_SET_BELOW and leaves a larger one as it is."""
    small = dict(image_size=16, steps=4, rounds=2, batch_size=16, threshold_images=8, width=8, mapping="encoder")
    small["generator_average"] = 0.0  # pinned: its None also decides by the set's size

    def history(**settings):
        return ganspect.AnoGAN(**small, **settings, device="cpu").fit(digits.train[:40]).history_

    shifted, plain = history(augment=True), history(augment=False)
    assert ganspect.AnoGAN().augment is None and history() == shifted  # 32 training images: a small set
    monkeypatch.setattr(ganspect.detector, "SMALL_SET_BELOW", 32)
    assert history() == plain  # no longer fewer than SMALL_SET_BELOW


@pytest.mark.parametrize(("flags", "expected"), [([], None), (["--augment"], True), (["--no-augment"], False)])
def test_the_command_line_keeps_the_automatic_default(flags, expected):
    args = build_parser().parse_args(["fit", "anogan", "DATA", "-o", "m.pt", *flags])
    assert args.augment is expected


def test_fit_says_what_it_trained_on(tmp_path, capsys):
    small = ["--image-size", "16", "--width", "8", "--steps", "2", "--rounds", "1", "--mapping", "encoder"]
    assert main(["-q", "fit", "anogan", str(need(COOKIES)), "-o", str(tmp_path / "m.pt"), *small]) == 0
    assert "trained AnoGAN on 25 images and their shifts in" in capsys.readouterr().out
