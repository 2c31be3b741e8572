"""Two detectors on one labelled test set, photo by photo: is one better by more than which photos were drawn?

`compare(first, second, DATA)` scores DATA/test (an MVTec AD-style folder) with every model of both sides (a side
is one model, or several fits of one method, seeds say, whose figures are averaged) and returns each side's image
and pixel AUROC, their difference, and the 95% interval of the difference over draws of the test images
(`ganspect.intervals`: every resample of the photos applied to both sides, so what they share cancels). An interval
that holds 0 says the photos cannot tell the two apart; `ganspect compare` prints the same.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from .data import ImageFiles, MVTecFolder, image_size_of
from .detector import Detector
from .evaluate import test_masks, upsample_map
from .intervals import LEVEL, RESAMPLES, difference, histograms, image_histograms, weighted_aurocs


def test_histograms(det: Detector, items: list, masks: list[np.ndarray | None]) -> tuple[tuple, tuple | None]:
    """(image histograms, pixel histograms or None without masks) of `det`'s scores and maps on the test images
    `items`; a map is brought to its mask's size, and an image without a mask (None) is left out of the pixels."""
    scores, maps = det.score_and_map(ImageFiles([t.path for t in items], det.channels, det.image_size))
    labels = np.array([t.label for t in items], bool)
    image = image_histograms(labels, scores.astype(np.float64))
    if not any(m is not None and m.any() for m in masks):
        return image, None
    empty = np.zeros(0)
    groups = [upsample_map(m, mask.shape) if mask is not None else empty for m, mask in zip(maps, masks, strict=True)]
    return image, histograms(groups, [mask if mask is not None else empty for mask in masks])


def verdict(found: dict[str, float]) -> str:
    """In words: whether the interval of a difference lies above 0, below it, or holds it."""
    if found["low"] > 0:
        return "above, by more than the draw of the test images explains"
    if found["high"] < 0:
        return "below, by more than the draw of the test images explains"
    return "level: the test images cannot tell them apart"


def compare(
    first: list[Detector],
    second: list[Detector],
    root: str | Path,
    level: float = LEVEL,
    resamples: int = RESAMPLES,
    seed: int = 0,
) -> dict:
    """Each side's mean image AUROC (and pixel AUROC where masks exist) on root/test, and first minus second with
    its `level` interval over draws of the test images (resampled within good and defective)."""
    items = MVTecFolder(root).test_images()
    labels = np.array([t.label for t in items], bool)
    masks = test_masks(items, [image_size_of(t.path) for t in items])
    sides = [[test_histograms(det, items, masks) for det in side] for side in (first, second)]
    found: dict = {"n_images": len(items), "n_anomalous": int(labels.sum()), "level": level}
    for k, key in enumerate(("image_auroc", "pixel_auroc")):
        fits = [[h[k] for h in side] for side in sides]
        if any(f is None for f in fits[0] + fits[1]):
            continue
        for name, side in zip(("first", "second"), fits, strict=True):
            found[f"{name}_{key}"] = float(np.mean([weighted_aurocs(*h, np.ones((1, len(items))))[0] for h in side]))
        gap = difference(*fits, labels, level, resamples, seed)
        found[f"{key}_difference"] = gap
        found[f"{key}_verdict"] = verdict(gap)
    return found
