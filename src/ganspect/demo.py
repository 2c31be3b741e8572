"""The embedded demo: AnoGAN on scikit-learn's bundled digits (no download), digit 0 normal, the rest anomalous."""

from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np
import torch

from .anogan import AnoGAN
from .checkpoint import results_folder, write_text
from .data import one_class_digits, resize
from .evaluate import map_scale, overlay, write_overlays
from .metrics import image_metrics
from .report import fit_validation, write_report

# Chosen in advance, not on test labels: small networks for 8x8 digits upscaled to 16x16, Gamma as in the paper.
DEMO_SETTINGS = dict(image_size=16, channels=1, width=64, steps=600, batch_size=16, search_steps=500)
ANOMALIES_PER_DIGIT = 30  # a seeded sample of each other digit keeps the demo to a few minutes on two CPU cores


def run_demo(out: str | Path, progress: bool = True, seed: int = 0) -> dict:
    """Fit, score and write model.pt, metrics.json, overlays/ and report.html into `out` (new, or a previous
    demo's folder, replaced once this run completes)."""
    with results_folder(out) as folder:
        return _demo_into(folder, progress, seed)


def _demo_into(out: Path, progress: bool, seed: int) -> dict:
    split = one_class_digits(digit=0, seed=seed)
    rng = np.random.default_rng(seed)
    keep = np.concatenate(
        [np.flatnonzero(split.test_classes == 0)]
        + [
            rng.choice(np.flatnonzero(split.test_classes == d), ANOMALIES_PER_DIGIT, replace=False)
            for d in range(1, 10)
        ]
    )
    test, labels = split.test[keep], split.test_labels[keep]

    det = AnoGAN(**DEMO_SETTINGS, seed=seed)
    start = time.perf_counter()
    det.fit(split.train, progress=progress)
    fit_s = time.perf_counter() - start
    start = time.perf_counter()
    scores, maps = det.score_and_map(test, progress=progress)
    score_s = time.perf_counter() - start

    metrics = {
        **image_metrics(labels, scores),
        "n_train": len(split.train),
        "n_test": len(test),
        "n_anomalous": int(labels.sum()),
        "fit_seconds": round(fit_s, 1),
        "score_seconds_per_image": round(score_s / len(test), 4),
        "settings": DEMO_SETTINGS,
    }
    det.save(out / "model.pt")
    write_text(out / "metrics.json", json.dumps(metrics, indent=2) + "\n")

    big = 8 * det.image_size  # nearest-neighbour upscaling keeps the digits' pixels visible

    def view(i):
        image = resize(torch.from_numpy(test[i]).float()[None] / 255, det.image_size)
        up = torch.nn.functional.interpolate(image[None], size=big, mode="nearest")[0]
        heat = torch.nn.functional.interpolate(torch.from_numpy(maps[i])[None, None], size=big, mode="nearest")
        return up.numpy(), heat[0, 0].numpy(), None

    names = [f"digit{c}" for c in split.test_classes[keep]]
    scale = map_scale(maps)
    write_overlays(out / "overlays", names, scores, view, scale, count=16)
    write_report(
        out / "report.html",
        "AnoGAN on scikit-learn's digits, 0 normal",
        {k: v for k, v in metrics.items() if not isinstance(v, dict)},
        labels,
        scores,
        det.threshold_,
        names,
        lambda i: overlay(*view(i), scale=scale),
        validation=fit_validation(det),
        history=det.history_,
    )
    return metrics
