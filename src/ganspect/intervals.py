"""How far an AUROC measured on a small test set can be trusted: intervals over the test images.

A test set of 14 good and 32 defective photos gives an image AUROC whose next decimal a different draw of photos
would move: one good photo ranked above two more cracked ones is 0.004. These intervals say how much.

- One image AUROC (`image_auroc_interval`): a score-type interval from Hanley and McNeil's standard error (Radiology
  1982), solved at each candidate AUROC rather than at the measured one, as Newcombe recommends (Statistics in
  Medicine 2006). A bootstrap collapses near 1, where our detectors sit: on simulated sets of 14 + 32 whose true
  AUROC is 0.993, its 95% interval held the truth in 57% of 300 draws, this one in 96%
  (benchmarks/interval_coverage.py).
- A pixel AUROC (`pixel_auroc_interval`) and a difference between detectors on the same images
  (`auroc_difference`, `difference`): a stratified bootstrap. The images are resampled with replacement within
  their class (good, anomalous), as pROC's stratified bootstrap does for a ROC curve (Robin et al., BMC
  Bioinformatics 2011), the figure is computed again on each resample, and the interval is the central `level`
  share of those values. For pixels the unit resampled is still the image, since pixels of one image are not
  independent draws: an image drawn twice counts all its pixels twice. For a difference, each resample of the images
  is applied to both detectors, so what they share (an easy photo, a hard one) cancels; each side is the mean over
  its fits (a benchmark row's seeds), taken as they are: the interval covers the test images' draw, not another
  seed's training, which a row's spread over seeds says. Where two detectors are equally good, their difference's
  95% interval left out 0 in 0.7-8% of simulated test sets (benchmarks/interval_coverage.py).

Every resampled AUROC is exact for image scores: each image's score is one value, and the values are binned by their
distinct levels. Pixel maps hold millions of values; they are binned into `bins` ranks of about equal counts, and
pairs inside one bin count as ties, which moves the AUROC by at most about 1 / bins (the point estimate reported
beside the interval stays scikit-learn's exact one).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from scipy import sparse
from scipy.optimize import brentq
from scipy.stats import norm
from sklearn.metrics import roc_auc_score

LEVEL = 0.95
RESAMPLES = 2000


def stratified_counts(strata: np.ndarray, resamples: int, seed: int) -> np.ndarray:
    """(resamples, N): how often each of N items is drawn in each resample, drawing with replacement within each
    stratum (items of one label) as many as it holds. The first row is the sample itself (every count 1)."""
    rng = np.random.default_rng(seed)
    counts = np.ones((resamples + 1, len(strata)))
    for value in np.unique(strata):
        members = np.flatnonzero(strata == value)
        counts[1:, members] = rng.multinomial(len(members), np.full(len(members), 1 / len(members)), resamples)
    return counts


def _bin_edges(values: np.ndarray, bins: int) -> np.ndarray:
    """Sorted edges whose `searchsorted` gives each value its bin: the distinct values themselves when there are at
    most `bins` of them (exact ranks), else quantiles (bins of about equal counts)."""
    if len(values) > 1_000_000:  # millions of pixels: edges from an even sample of them (bins need not be exact)
        values = values[:: len(values) // 1_000_000]
    else:
        distinct = np.unique(values)
        if len(distinct) <= bins:
            return distinct
    return np.unique(np.quantile(values, np.linspace(0, 1, bins + 1)[1:-1]))


def histograms(
    groups: Sequence[np.ndarray], positive: Sequence[np.ndarray], bins: int = 10_000
) -> tuple[sparse.csr_matrix, sparse.csr_matrix]:
    """(positives, negatives), each (G, K) and sparse: per group (an image), how many of its positive and of its
    negative values fall in each of K rank bins shared by all groups. A group may be empty."""
    edges = _bin_edges(np.concatenate([np.ravel(g) for g in groups]).astype(np.float64), bins)
    cells: dict[bool, tuple[list, list, list]] = {True: ([], [], []), False: ([], [], [])}
    for k, (values, labels) in enumerate(zip(groups, positive, strict=True)):
        index = np.searchsorted(edges, np.ravel(values).astype(np.float64))
        labels = np.ravel(labels).astype(bool)
        for side in (True, False):
            mine = index[labels == side]
            if len(mine) > 1000:  # an image's pixels: count every bin at once
                counts = np.bincount(mine, minlength=len(edges) + 1)
                found = np.flatnonzero(counts)
                counts = counts[found]
            else:
                found, counts = np.unique(mine, return_counts=True)
            cells[side][0].append(np.full(len(found), k))
            cells[side][1].append(found)
            cells[side][2].append(counts)
    shape = (len(groups), len(edges) + 1)

    def matrix(rows, cols, counts) -> sparse.csr_matrix:
        return sparse.csr_matrix(
            (np.concatenate(counts).astype(np.float64), (np.concatenate(rows), np.concatenate(cols))), shape=shape
        )

    return matrix(*cells[True]), matrix(*cells[False])


def weighted_aurocs(
    pos: sparse.csr_matrix, neg: sparse.csr_matrix, weights: np.ndarray, chunk: int = 256
) -> np.ndarray:
    """(R,) AUROC of the groups' values for each row of `weights` (R, G), a group counted as often as its weight:
    the share of (positive, negative) pairs where the positive ranks higher, ties counting half. NaN where a row
    leaves no pair."""
    out = np.empty(len(weights))
    for start in range(0, len(weights), chunk):  # in chunks: (R, K) bins of pixels would not fit at once
        w = weights[start : start + chunk]
        p, n = (pos.T @ w.T).T, (neg.T @ w.T).T  # (r, K)
        below = np.cumsum(n, axis=1) - n  # negatives in lower bins
        pairs = p.sum(1) * n.sum(1)
        with np.errstate(invalid="ignore", divide="ignore"):
            out[start : start + chunk] = (p * (below + 0.5 * n)).sum(1) / pairs
    return out


def _interval(values: np.ndarray, level: float) -> tuple[float, float]:
    if np.isnan(values).all():  # no resample held a pair: one class absent
        return float("nan"), float("nan")
    low, high = np.nanquantile(values, [(1 - level) / 2, (1 + level) / 2])
    return float(low), float(high)


def image_histograms(labels: np.ndarray, scores: np.ndarray) -> tuple[sparse.csr_matrix, sparse.csr_matrix]:
    """One group per image (its one score); an image without a score (NaN) is an empty group."""
    rows = [slice(i, i + 1) if not np.isnan(scores[i]) else slice(0, 0) for i in range(len(scores))]
    return histograms([scores[r] for r in rows], [labels[r] for r in rows])


def image_auroc_interval(labels: np.ndarray, scores: np.ndarray, level: float = LEVEL) -> tuple[float, float]:
    """The `level` interval of the image AUROC of `scores` (N,) against `labels` (N,), 1 = anomalous: the AUROCs
    theta whose distance from the measured one is z standard errors by Hanley and McNeil's formula evaluated at
    theta itself (a score-type interval, as Newcombe recommends). Unlike a bootstrap, it does not collapse to a
    point when every pair is ranked right: 14 good and 32 defective images ranked perfectly give 0.92 to 1."""
    labels = np.asarray(labels).astype(bool)
    found = float(roc_auc_score(labels, scores))
    pos, neg = int(labels.sum()), int((~labels).sum())
    z = norm.ppf((1 + level) / 2)

    def gap(theta: float) -> float:  # (found - theta)^2 - z^2 Var(theta); the limits are its roots
        # Hanley and McNeil (Radiology 1982): Var = [t(1-t) + (m-1)(Q1 - t^2) + (n-1)(Q2 - t^2)] / mn, with
        # Q1 = t / (2 - t) and Q2 = 2t^2 / (1 + t)
        share = (1 - theta) / (2 - theta) * (pos - 1) + theta / (1 + theta) * (neg - 1)
        return (found - theta) ** 2 - z**2 * theta * (1 - theta) * (1 + share) / (pos * neg)

    edge = 1e-12
    low = brentq(gap, 0.0, min(found, 1 - edge)) if gap(min(found, 1 - edge)) < 0 else found
    high = brentq(gap, max(found, edge), 1.0) if gap(max(found, edge)) < 0 else found
    return float(low), float(high)


def pixel_auroc_interval(
    masks: Sequence[np.ndarray],
    maps: Sequence[np.ndarray],
    level: float = LEVEL,
    resamples: int = RESAMPLES,
    seed: int = 0,
    bins: int = 10_000,
) -> tuple[float, float]:
    """The `level` bootstrap interval of the pixel AUROC of `maps` against `masks` (pairs of one size each),
    resampling whole images within their class (with a defect in the mask or without)."""
    pos, neg = histograms(maps, masks, bins)
    strata = np.array([np.any(m) for m in masks])
    return _interval(weighted_aurocs(pos, neg, stratified_counts(strata, resamples, seed)[1:]), level)


def difference(
    first: Sequence[tuple[sparse.csr_matrix, sparse.csr_matrix]],
    second: Sequence[tuple[sparse.csr_matrix, sparse.csr_matrix]],
    strata: np.ndarray,
    level: float = LEVEL,
    resamples: int = RESAMPLES,
    seed: int = 0,
) -> dict[str, float]:
    """The mean AUROC over the fits of `first` minus that over the fits of `second`, each fit given as its
    `histograms` over the same N images (groups), and the `level` interval of that difference: every resample of
    the images, drawn within `strata` (N,), is applied to every fit of both. Returns difference, low and high."""
    counts = stratified_counts(np.asarray(strata), resamples, seed)  # row 0: the images as they are

    def mean_auroc(fits) -> np.ndarray:
        return np.mean([weighted_aurocs(pos, neg, counts) for pos, neg in fits], axis=0)

    gap = mean_auroc(first) - mean_auroc(second)
    low, high = _interval(gap[1:], level)
    return {"difference": float(gap[0]), "low": low, "high": high}


def auroc_difference(
    labels: np.ndarray,
    scores_a: np.ndarray,
    scores_b: np.ndarray,
    level: float = LEVEL,
    resamples: int = RESAMPLES,
    seed: int = 0,
) -> dict[str, float]:
    """Image AUROC of detector A minus detector B on the same N images, each the mean over its fits (`difference`).

    scores_a (Fa, N) and scores_b (Fb, N): one row per fit (a seed), NaN where a fit did not score an image (a
    benchmark that left some images out of one seed's test). The difference is exact."""
    labels = np.asarray(labels).astype(bool)

    def fits(scores: np.ndarray) -> list:
        return [image_histograms(labels, fit) for fit in np.atleast_2d(np.asarray(scores, np.float64))]

    return difference(fits(scores_a), fits(scores_b), labels, level, resamples, seed)
