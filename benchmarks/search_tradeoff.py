"""AUROC against time per image for every way of mapping an image to the latent space, beside the paper's fixed
Gamma = 500, on one-class MNIST (digit 0 normal).

    python benchmarks/search_tradeoff.py --data ../shared/data/mnist --out bench_out/tradeoff.json

One DCGAN (width 64) and its f-AnoGAN encoder are trained once (3,000 training zeros, 5 epochs), plus a leaner
DCGAN (width 32). The same seeded test sample (50 images of each digit) is then scored by:
- the paper's search from a random z, Gamma = 500, and Gamma = 100;
- the search with per-image early stopping (search_patience steps without a relative fall of search_min_delta);
- the search started at the encoder's z, E(x), for a few steps (the "hybrid");
- the encoder alone (one forward pass, izi_f score);
- the leaner networks' search.
Settings are fixed here in advance; nothing is chosen on the test labels. Times are wall time per image for the
whole sample in batches of 64, on whatever threads torch uses (reported).
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
import torch
from sklearn.metrics import roc_auc_score

import ganspect
from ganspect.data import one_class_mnist


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", required=True)
    parser.add_argument("--out", type=Path, default=Path("bench_out/tradeoff.json"))
    parser.add_argument("--per-digit", type=int, default=50)
    args = parser.parse_args()

    split = one_class_mnist(args.data, 0)
    rng = np.random.default_rng(0)
    idx = np.concatenate(
        [rng.choice(np.flatnonzero(split.test_classes == d), args.per_digit, replace=False) for d in range(10)]
    )
    test, labels = split.test[idx], split.test_labels[idx]
    rows: list[dict] = []

    def measure(det: ganspect.AnoGAN, name: str, **settings) -> None:
        saved = {k: getattr(det, k) for k in settings}
        for k, v in settings.items():
            setattr(det, k, v)
        start = time.perf_counter()
        scores = det.score(test)
        ms = 1000 * (time.perf_counter() - start) / len(test)
        for k, v in saved.items():
            setattr(det, k, v)
        rows.append({"mapping": name, "auroc": round(float(roc_auc_score(labels, scores)), 4), "ms_per_image": ms})
        print(json.dumps(rows[-1]), flush=True)

    def train(width: int) -> ganspect.AnoGAN:
        det = ganspect.AnoGAN(
            image_score="model", image_size=28, width=width, steps=235, mapping="encoder", threshold_images=16
        )
        return det.fit(split.train[:3000])

    det = train(64)
    measure(det, "encoder (f-AnoGAN izi_f)")
    encoder = det.encoder_
    det.mapping = "search"
    for gamma in (500, 100):
        measure(det, f"search, Gamma = {gamma}", search_steps=gamma)
    for min_delta in (0.005, 0.01, 0.02, 0.05):
        measure(
            det, f"search, early stop: patience 10, min_delta {min_delta}", search_patience=10,
            search_min_delta=min_delta, search_steps=500,
        )  # fmt: skip
    det.initial_latents = lambda x: encoder(x * 2 - 1)  # start each search at E(x)
    for steps in (10, 25):
        measure(det, f"hybrid: E(x) + {steps} steps", search_steps=steps)

    lean = train(32)
    measure(lean, "width 32: encoder")
    lean.mapping = "search"
    measure(lean, "width 32: search, Gamma = 100", search_steps=100)
    measure(lean, "width 32: search, early stop (10, 0.02)", search_patience=10, search_min_delta=0.02)

    result = {"threads": torch.get_num_threads(), "test_images": len(test), "rows": rows}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
