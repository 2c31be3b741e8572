"""On CUDA, the same seed gives the same model and the same scores. CI has no GPU: these skip there, and run
wherever PyTorch sees one (a lent H100 ran them; the closing notes say when)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import ganspect

pytestmark = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")

SMALL = dict(image_size=32, channels=3, rounds=2, batch_size=16, threshold_images=16, seed=3, device="cuda")


def images(seed: int, count: int = 48) -> torch.Tensor:
    """Smooth random colour images: blurred noise, so that the networks have structure to learn."""
    noise = torch.rand(count, 3, 8, 8, generator=torch.Generator().manual_seed(seed))
    return torch.nn.functional.interpolate(noise, size=32, mode="bilinear", align_corners=False)


@pytest.mark.parametrize(
    "make",
    [
        lambda: ganspect.RepairGAN(**SMALL, steps=40, crop_size=32),
        lambda: ganspect.OGNet(**SMALL, steps=40, phase_two_steps=10),
        lambda: ganspect.AnoGAN(**SMALL, steps=40, mapping="encoder", encoder_steps=40, refine_steps=5),
        lambda: ganspect.AnoGAN(**SMALL, steps=40, search_steps=10),
    ],
    ids=["RepairGAN", "OGNet", "AnoGAN-encoder-refined", "AnoGAN-search"],
)
def test_same_seed_same_scores_on_cuda(make):
    train, test = images(0), images(1, 16)
    first, second = make().fit(train), make().fit(train)
    assert first.device_.type == "cuda"
    a, b = first.score(test), second.score(test)
    np.testing.assert_array_equal(a, b, err_msg="the same seed gave other scores on CUDA")
    np.testing.assert_array_equal(a, first.score(test), err_msg="scoring twice gave other scores on CUDA")


def test_fit_restores_the_callers_determinism_settings():
    torch.backends.cudnn.benchmark = True
    try:
        ganspect.RepairGAN(**SMALL, steps=4, crop_size=32).fit(images(0))
        assert torch.backends.cudnn.benchmark and not torch.backends.cudnn.deterministic
        assert not torch.are_deterministic_algorithms_enabled()
    finally:
        torch.backends.cudnn.benchmark = False
