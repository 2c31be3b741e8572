"""Do ganspect.intervals' intervals hold what they claim, on test sets the size of the cookies'?

    python benchmarks/interval_coverage.py [--sets 300] [--good 14] [--defective 32]

Scores are drawn from two normal distributions, the defective ones shifted by `separation` standard deviations, so
the AUROC of the whole population is known: Phi(separation / sqrt 2). For each separation, `--sets` test sets are
drawn and each gets its 95% interval, by `image_auroc_interval` (the score-type interval) and by a stratified
bootstrap of the same images (2,000 resamples, as `auroc_difference` uses): the share of intervals holding the true
AUROC, and their median width. Then two detectors equally good (each photo's difficulty shared, 0.5 of each score's
variance) are compared by `auroc_difference`: the share of test sets whose interval of the difference leaves out 0,
which should be about 5%. About two minutes on one thread.
"""

from __future__ import annotations

import argparse

import numpy as np
from scipy.stats import norm

from ganspect.intervals import (
    auroc_difference,
    image_auroc_interval,
    image_histograms,
    stratified_counts,
    weighted_aurocs,
)

SEPARATIONS = (1.0, 2.5, 3.5)


def bootstrap_interval(labels: np.ndarray, scores: np.ndarray, seed: int) -> tuple[float, float]:
    """The 95% stratified-bootstrap interval of the image AUROC: what `image_auroc_interval` is measured against."""
    aurocs = weighted_aurocs(*image_histograms(labels.astype(bool), scores), stratified_counts(labels, 2000, seed)[1:])
    low, high = np.quantile(aurocs, [0.025, 0.975])
    return float(low), float(high)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sets", type=int, default=300)
    parser.add_argument("--good", type=int, default=14)
    parser.add_argument("--defective", type=int, default=32)
    args = parser.parse_args()
    labels = np.r_[np.zeros(args.good), np.ones(args.defective)].astype(int)
    print(f"{args.sets} test sets of {args.good} good and {args.defective} defective images, 95% intervals\n")
    print("| true AUROC | score interval holds it | its median width | bootstrap holds it | its median width |")
    print("|---|---|---|---|---|")
    for separation in SEPARATIONS:
        truth = norm.cdf(separation / np.sqrt(2))
        found = {"score": ([], []), "bootstrap": ([], [])}
        for k in range(args.sets):
            scores = np.random.default_rng(k).normal(size=len(labels)) + separation * labels
            for name, (low, high) in (
                ("score", image_auroc_interval(labels, scores)),
                ("bootstrap", bootstrap_interval(labels, scores, k)),
            ):
                found[name][0].append(low <= truth <= high)
                found[name][1].append(high - low)
        cells = [f"{np.mean(held):.3f} | {np.median(widths):.3f}" for held, widths in found.values()]
        print(f"| {truth:.3f} | {' | '.join(cells)} |", flush=True)
    print("\n| true AUROC of both | differences whose interval leaves out 0 |\n|---|---|")
    for separation in SEPARATIONS:
        wrong = 0
        for k in range(args.sets):
            rng = np.random.default_rng(k)
            shared = rng.normal(size=len(labels))  # how hard each photo is, for both detectors
            a, b = (np.sqrt(0.5) * (shared + rng.normal(size=len(labels))) + separation * labels for _ in range(2))
            gap = auroc_difference(labels, a, b, resamples=1000, seed=k)
            wrong += gap["low"] > 0 or gap["high"] < 0
        print(f"| {norm.cdf(separation / np.sqrt(2)):.3f} | {wrong / args.sets:.3f} |", flush=True)


if __name__ == "__main__":
    main()
