"""A self-contained HTML report: every image embedded, nothing fetched, opens offline."""

from __future__ import annotations

import base64
import html
import io
from collections.abc import Callable
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # no screen needed
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from PIL import Image  # noqa: E402
from sklearn.metrics import roc_curve  # noqa: E402

from .checkpoint import write_text  # noqa: E402

THUMB_WIDTH = 420

STYLE = """
body { font-family: system-ui, sans-serif; margin: 2em auto; max-width: 1300px; color: #222; }
h1 { margin-bottom: 0.2em; } h2 { border-bottom: 1px solid #ccc; padding-bottom: 0.2em; margin-top: 1.6em; }
table.metrics td { padding: 0.2em 1.2em 0.2em 0; } table.metrics td.v { font-weight: 600; text-align: right; }
.plots { display: flex; gap: 1em; flex-wrap: wrap; } .plots img { width: 520px; border: 1px solid #ddd; }
.gallery { display: grid; grid-template-columns: repeat(auto-fill, minmax(300px, 1fr)); gap: 0.8em; }
figure { margin: 0; border: 1px solid #ddd; padding: 0.4em; background: #fafafa; }
figure img { width: 100%; display: block; } figcaption { font-size: 0.85em; margin-top: 0.3em; }
.anomalous { color: #b00020; } .normal { color: #1b5e20; } .note { color: #666; font-size: 0.9em; }
"""


def _png_data_uri(fig) -> str:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=100, bbox_inches="tight")
    plt.close(fig)
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode()


def _jpeg_data_uri(image: Image.Image) -> str:
    if image.width > THUMB_WIDTH:
        image = image.resize((THUMB_WIDTH, round(image.height * THUMB_WIDTH / image.width)), Image.BILINEAR)
    buf = io.BytesIO()
    image.convert("RGB").save(buf, format="JPEG", quality=85)
    return "data:image/jpeg;base64," + base64.b64encode(buf.getvalue()).decode()


def roc_plot(labels: np.ndarray, scores: np.ndarray, auroc: float) -> str:
    fig, ax = plt.subplots(figsize=(5, 4.2))
    if len(np.unique(labels)) == 2:
        fpr, tpr, _ = roc_curve(labels, scores)
        ax.plot(fpr, tpr, lw=2, label=f"AUROC {auroc:.3f}")
    ax.plot([0, 1], [0, 1], ls="--", color="grey", lw=1, label="chance")
    ax.set(xlabel="false positive rate", ylabel="true positive rate", title="ROC curve (images)")
    ax.legend(loc="lower right")
    return _png_data_uri(fig)


def histogram_plot(labels: np.ndarray, scores: np.ndarray, threshold: float) -> str:
    fig, ax = plt.subplots(figsize=(5.5, 4.2))
    bins = np.histogram_bin_edges(np.r_[scores, threshold], bins=30)
    ax.hist(scores[labels == 0], bins=bins, alpha=0.6, color="#2e7d32", label="normal")
    ax.hist(scores[labels == 1], bins=bins, alpha=0.6, color="#c62828", label="anomalous")
    ax.axvline(threshold, color="black", ls="--", label=f"threshold {threshold:.4g}")
    ax.set(xlabel="anomaly score", ylabel="images", title="Scores of normal and anomalous test images")
    ax.legend()
    return _png_data_uri(fig)


def validation_plot(history: dict) -> str | None:
    """The validation proxy after every training round, the kept round marked; None when nothing was validated."""
    if not history.get("proxy"):
        return None
    fig, ax = plt.subplots(figsize=(5.5, 4.2))
    rounds = np.arange(1, len(history["proxy"]) + 1)
    for key, label in (("proxy_auroc", "image AUROC"), ("proxy_pixel_auroc", "pixel AUROC"), ("proxy", "mean")):
        ax.plot(rounds, history[key], marker="o", ms=3, label=label, lw=2 if key == "proxy" else 1)
    best = int(np.argmax(history["proxy"]))
    ax.axvline(rounds[best], color="black", ls="--", lw=1, label="kept")
    ax.set(xlabel="validated round", ylabel="AUROC on held-out images", title="Validation after each round")
    ax.legend()
    return _png_data_uri(fig)


def fit_validation(det) -> dict | None:
    """What `det` measured on held-out normal images at fit time (validation_, or None), with the kinds of synthetic
    defect its proxy was graded on where it has that field (an ensemble's members each have their own)."""
    validation = getattr(det, "validation_", None)
    if validation and validation.get("held_out_images") and hasattr(det, "validation_defects"):
        return {**validation, "synthetic defects": det.validation_defects}
    return validation


def _figure(name: str, label: int, score: float, predicted: int, overlay: Image.Image) -> str:
    truth = "anomalous" if label else "normal"
    verdict = "flagged" if predicted else "passed"
    return (
        f'<figure><img src="{_jpeg_data_uri(overlay)}" alt="{html.escape(name)}">'
        f"<figcaption><b>{html.escape(name)}</b> &middot; score {score:.4g} &middot; "
        f'<span class="{truth}">{truth}</span>, {verdict}</figcaption></figure>'
    )


def write_report(
    path: str | Path,
    title: str,
    metrics: dict,
    labels: np.ndarray,
    scores: np.ndarray,
    threshold: float,
    names: list[str],
    render: Callable[[int], Image.Image],
    validation: dict | None = None,
    history: dict | None = None,
    gallery_size: int = 48,
    worst: int = 6,
) -> None:
    """render(i) -> the overlay of test image i (image | heat map, mask outlined). `validation` and `history` are
    the detector's validation_ and history_: what it measured on held-out normal images at fit time."""
    order = np.argsort(-scores)
    gallery = order[np.unique(np.linspace(0, len(order) - 1, min(gallery_size, len(order))).round().astype(int))]
    predicted = (scores > threshold).astype(int)
    false_pos = [i for i in order if labels[i] == 0 and predicted[i] == 1][:worst]
    false_neg = [i for i in order[::-1] if labels[i] == 1 and predicted[i] == 0][:worst]

    def figures(indices) -> str:
        if not len(indices):
            return '<p class="note">none</p>'
        cells = (_figure(names[i], labels[i], scores[i], predicted[i], render(i)) for i in indices)
        return '<div class="gallery">' + "".join(cells) + "</div>"

    def cell(value) -> str:
        if isinstance(value, float):
            return f"{value:.4f}"
        if isinstance(value, list | tuple) and len(value) == 2:  # an interval (low, high)
            return f"{value[0]:.3f} to {value[1]:.3f}"
        return html.escape(str(value))

    def table(values: dict) -> str:
        return "".join(f"<tr><td>{html.escape(k)}</td><td class='v'>{cell(v)}</td></tr>" for k, v in values.items())

    rows = table(metrics)
    plot = validation_plot(history or {})
    plot_html = f'<div class="plots"><img src="{plot}" alt="validation after each round"></div>' if plot else ""
    known, folds = (validation or {}).get("known_defects"), (validation or {}).get("validation_folds")
    rule = (
        f" The image score's rule was chosen on the {known:.0f} known defective images given to fit (known_auroc)."
        if known
        else ""
    )
    if folds:
        rule += (
            f" The rule was chosen over {folds:.0f} folds: as many models, each holding out other normal images, "
            "averaged (folds_auroc); the model shown is the first."
        )
    held_out = (
        f"""<h2>Validation at fit time</h2><p class="note">Measured on normal images held out of training and
on synthetic defects made from them (no test label is used): the threshold comes from the held-out scores, and the
proxy (the mean of the image and pixel AUROC on the synthetic defects) picked the round whose networks were
kept.{rule}</p>
<table class="metrics">{table(validation)}</table>{plot_html}
"""
        if validation
        else ""
    )
    body = f"""<!doctype html><html><head><meta charset="utf-8"><title>{html.escape(title)}</title>
<style>{STYLE}</style></head><body>
<h1>{html.escape(title)}</h1>
<p class="note">Higher score = more anomalous. Heat maps share one colour scale across images; masks are outlined
in white. An image is flagged when its score exceeds the threshold set at fit time.</p>
<h2>Metrics</h2><table class="metrics">{rows}</table>
{held_out}
<h2>Scores</h2><div class="plots"><img src="{roc_plot(labels, scores, metrics.get("image_auroc", float("nan")))}"
alt="ROC curve"><img src="{histogram_plot(labels, scores, threshold)}" alt="score histogram"></div>
<h2>Worst false positives</h2><p class="note">Normal images with the highest scores above the threshold.</p>
{figures(false_pos)}
<h2>Worst false negatives</h2><p class="note">Anomalous images with the lowest scores below the threshold.</p>
{figures(false_neg)}
<h2>Gallery, by score</h2><p class="note">{len(gallery)} of {len(scores)} test images, spread evenly over the
ranking from the highest score down.</p>
{figures(gallery)}
</body></html>
"""
    write_text(path, body)
