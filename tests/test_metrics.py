import numpy as np
import pytest

from ganspect.metrics import image_metrics, pixel_auroc, pro_auc


def test_perfect_and_reversed_rankings():
    labels = np.array([0, 0, 1, 1])
    assert image_metrics(labels, np.array([0.1, 0.2, 0.8, 0.9])) == {
        "image_auroc": 1.0,
        "image_ap": 1.0,
        "image_f1": 1.0,
    }
    assert image_metrics(labels, np.array([0.9, 0.8, 0.2, 0.1]))["image_auroc"] == 0.0


def test_pixel_auroc_pools_pixels_of_all_images():
    masks = [np.array([[0, 1], [0, 0]], bool), np.zeros((2, 2), bool)]
    maps = [np.array([[0.1, 0.9], [0.2, 0.3]]), np.array([[0.1, 0.2], [0.3, 0.4]])]
    assert pixel_auroc(masks, maps) == 1.0
    maps[1][0, 0] = 0.95
    assert pixel_auroc(masks, maps) < 1.0


def test_pro_counts_each_region_once_whatever_its_size():
    mask = np.zeros((20, 20), bool)
    mask[1:3, 1:3] = True  # a small region, found
    mask[10:20, 10:20] = True  # a large region, missed
    values = np.random.default_rng(0).random((20, 20)) * 0.5  # normal pixels: noise below 0.5
    values[1:3, 1:3] = 1.0
    values[10:20, 10:20] = -1.0
    # pixel AUROC is dominated by the large region; PRO gives each region half the weight
    assert pro_auc([mask], [values]) == pytest.approx(0.5, abs=0.02)
    values[10:20, 10:20] = 1.0
    assert pro_auc([mask], [values]) == pytest.approx(1.0, abs=0.01)
    assert pro_auc([mask], [np.random.default_rng(0).random((20, 20))]) < 0.3
