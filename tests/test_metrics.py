import numpy as np

from ganspect.metrics import image_metrics, pixel_auroc


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
