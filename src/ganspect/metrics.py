"""Image- and pixel-level metrics, on top of scikit-learn. Labels: 1 = anomalous."""

from __future__ import annotations

import numpy as np
from sklearn.metrics import average_precision_score, precision_recall_curve, roc_auc_score


def best_f1(labels: np.ndarray, scores: np.ndarray) -> tuple[float, float]:
    """(the best F1 over all thresholds, the threshold that reaches it)."""
    precision, recall, thresholds = precision_recall_curve(labels, scores)
    f1 = 2 * precision * recall / np.maximum(precision + recall, 1e-12)
    best = int(np.argmax(f1[:-1])) if len(thresholds) else 0
    return float(f1[best]), float(thresholds[best]) if len(thresholds) else float("nan")


def image_metrics(labels: np.ndarray, scores: np.ndarray) -> dict[str, float]:
    """image_auroc, image_ap and image_f1 (the best F1); NaN where only one class is present."""
    labels, scores = np.asarray(labels), np.asarray(scores, dtype=np.float64)
    if len(np.unique(labels)) < 2:
        nan = float("nan")
        return {"image_auroc": nan, "image_ap": nan, "image_f1": nan}
    f1, _ = best_f1(labels, scores)
    return {
        "image_auroc": float(roc_auc_score(labels, scores)),
        "image_ap": float(average_precision_score(labels, scores)),
        "image_f1": f1,
    }


def pixel_auroc(masks: list[np.ndarray], maps: list[np.ndarray]) -> float:
    """ROC AUC over every pixel of every image; masks and maps pair up and share their sizes."""
    labels = np.concatenate([m.ravel() for m in masks]).astype(np.uint8)
    values = np.concatenate([m.ravel() for m in maps]).astype(np.float32)
    if labels.min() == labels.max():
        return float("nan")
    return float(roc_auc_score(labels, values))


def pro_auc(masks: list[np.ndarray], maps: list[np.ndarray], max_fpr: float = 0.3, points: int = 1000) -> float:
    """Area under the per-region-overlap curve up to `max_fpr` false positive rate, divided by `max_fpr`
    (MVTec AD's PRO; Bergmann et al., CVPR 2019 and IJCV 2021).

    Each connected region of each mask counts once, whatever its size: at a threshold t its overlap is the share
    of its pixels scoring above t, and PRO(t) is the mean over regions. The FPR is over all normal pixels. Exact
    per region through sorted values, on `points` thresholds spaced evenly in FPR."""
    from scipy import ndimage

    normal = np.sort(np.concatenate([v[~m].ravel() for m, v in zip(masks, maps, strict=True)]).astype(np.float64))
    regions = []
    for mask, values in zip(masks, maps, strict=True):
        labelled, count = ndimage.label(mask)
        regions += [np.sort(values[labelled == k].astype(np.float64)) for k in range(1, count + 1)]
    if not regions or not len(normal):
        return float("nan")
    fprs = np.linspace(0, max_fpr, points)
    # the threshold at which a share `fpr` of the normal pixels scores above it
    thresholds = np.quantile(normal, 1 - fprs)
    fpr_exact = 1 - np.searchsorted(normal, thresholds, side="right") / len(normal)
    overlap = np.mean([1 - np.searchsorted(r, thresholds, side="right") / len(r) for r in regions], axis=0)
    # tied values leave gaps in the reachable FPRs: close the curve at (1, 1), the threshold below every value,
    # and read it off linearly on the even grid
    order = np.argsort(fpr_exact, kind="stable")
    curve = np.interp(fprs, np.r_[fpr_exact[order], 1.0], np.r_[overlap[order], 1.0])
    return float(np.trapezoid(curve, fprs) / max_fpr)
