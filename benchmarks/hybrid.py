"""Does a latent search started at the encoder's z beat both pure mappings in AUROC for the time spent?

    python benchmarks/hybrid.py --data ../shared/data/mnist [--steps 10 25 50 100]

One GAN and encoder (AnoGAN(mapping="encoder"), digit 0, 3,000 training images, 5 epochs), scored four ways on
the same seeded test sample (50 images per digit): the encoder alone (izi_f score); the paper's search from a random
z at Gamma = 100 and 500; and the hybrid, the search from z = E(x) refined for a few steps (A(x) score).
The hybrid is measured here and not offered in the library unless it wins.
"""

from __future__ import annotations

import argparse
import json
import time

import numpy as np
from sklearn.metrics import roc_auc_score

import ganspect
from ganspect.data import one_class_mnist


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", required=True)
    parser.add_argument("--steps", type=int, nargs="+", default=[10, 25, 50, 100])
    args = parser.parse_args()

    split = one_class_mnist(args.data, 0)
    rng = np.random.default_rng(0)
    idx = np.concatenate([rng.choice(np.flatnonzero(split.test_classes == d), 50, replace=False) for d in range(10)])
    test, labels = split.test[idx], split.test_labels[idx]
    det = ganspect.AnoGAN(image_size=28, width=64, epochs=5, mapping="encoder", threshold_images=16, device="cpu")
    det.fit(split.train[:3000])

    def measure(name: str) -> None:
        start = time.perf_counter()
        scores = det.score(test)
        ms = 1000 * (time.perf_counter() - start) / len(test)
        print(
            json.dumps(
                {"mapping": name, "auroc": round(roc_auc_score(labels, scores), 4), "ms_per_image": round(ms, 2)}
            )
        )

    measure("encoder")
    encoder = det.encoder_
    det.mapping = "search"
    for gamma in (100, 500):
        det.search_steps = gamma
        measure(f"search from random z, Gamma={gamma}")
    det.initial_latents = lambda x: encoder(x * 2 - 1)  # start each search at E(x)
    for steps in args.steps:
        det.search_steps = steps
        measure(f"hybrid: E(x) + {steps} search steps")


if __name__ == "__main__":
    main()
