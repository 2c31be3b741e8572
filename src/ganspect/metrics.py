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
