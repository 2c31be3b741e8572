"""AnoGAN and OGNet side by side on one-class MNIST, digit 0 normal: AUROC, training time, scoring time per image.

    python benchmarks/compare_mnist.py --data ../shared/data/mnist [--train 3000 --per-digit 50] [--protocol ognet]

The test set is a seeded sample of `per-digit` images of each digit (the full set at Gamma = 500 takes hours on
two CPU cores). `--protocol ognet` uses the OGNet authors' test set instead: every test image of the normal digit
and a seeded 100 of each other digit. Settings are fixed in advance, never chosen on test labels.
"""

from __future__ import annotations

import argparse
import json
import time

import numpy as np
import torch
from sklearn.metrics import roc_auc_score

import ganspect
from ganspect.data import one_class_mnist

CONFIGS = {
    "AnoGAN (Gamma=500)": lambda: ganspect.AnoGAN(
        image_score="model", image_size=28, width=64, steps=235, search_steps=500
    ),
    "AnoGAN (Gamma=100)": lambda: ganspect.AnoGAN(
        image_score="model", image_size=28, width=64, steps=235, search_steps=100
    ),
    "AnoGAN encoder": lambda: ganspect.AnoGAN(
        image_score="model", image_size=28, width=64, steps=235, mapping="encoder"
    ),
    "OGNet lean": lambda: ganspect.OGNet(image_score="model", image_size=28, width=32, steps=235),
    # the published networks at the paper's 45x45; run with a small --train: ~80 GFLOP per training image step
    "OGNet official (16 steps)": lambda: ganspect.OGNet(
        image_score="model", architecture="official", image_size=45, width=64, steps=16, rounds=2, old_round=1
    ),
}
DEFAULT_CONFIGS = ["AnoGAN (Gamma=500)", "AnoGAN (Gamma=100)", "AnoGAN encoder", "OGNet lean"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", required=True)
    parser.add_argument("--digit", type=int, default=0)
    parser.add_argument("--train", type=int, default=3000, help="training images of the digit (the first N)")
    parser.add_argument("--per-digit", type=int, default=50, help="seeded test sample per digit")
    parser.add_argument("--protocol", choices=["sample", "ognet"], default="sample")
    parser.add_argument("--progress", action="store_true", help="progress bars while fitting")
    parser.add_argument("--configs", nargs="*", default=DEFAULT_CONFIGS, choices=list(CONFIGS))
    parser.add_argument("--json", default=None)
    args = parser.parse_args()

    split = one_class_mnist(args.data, args.digit)
    rng = np.random.default_rng(0)
    per_digit = {d: args.per_digit for d in range(10)}
    if args.protocol == "ognet":
        per_digit = {d: 100 for d in range(10)}
        per_digit[args.digit] = int((split.test_classes == args.digit).sum())
    idx = np.concatenate(
        [rng.choice(np.flatnonzero(split.test_classes == d), per_digit[d], replace=False) for d in range(10)]
    )
    rows = []
    for name in args.configs:
        det = CONFIGS[name]()
        det.device, det.threshold_images = "cpu", 64
        start = time.perf_counter()
        det.fit(split.train[: args.train], progress=args.progress)
        fit_s = time.perf_counter() - start
        start = time.perf_counter()
        scores = det.score(split.test[idx])
        per_image = (time.perf_counter() - start) / len(idx)
        rows.append(
            {
                "detector": name,
                "protocol": args.protocol,
                "train_images": min(args.train, len(split.train)),
                "test_images": len(idx),
                "auroc": round(float(roc_auc_score(split.test_labels[idx], scores)), 4),
                "fit_s": round(fit_s, 1),
                "score_ms_per_image": round(per_image * 1000, 2),
                "threads": torch.get_num_threads(),
            }
        )
        print(json.dumps(rows[-1]), flush=True)
    if args.json:
        with open(args.json, "w") as f:
            json.dump(rows, f, indent=2)


if __name__ == "__main__":
    main()
