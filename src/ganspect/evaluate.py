"""Score a labelled test set and write what a user looks at: metrics.json, scores.csv, heat-map overlays."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import numpy as np
import torch
from matplotlib import colormaps
from PIL import Image
from scipy import ndimage

from .checkpoint import atomic_output, results_folder, write_text
from .data import ImageFiles, MVTecFolder, image_size_of, read_image, read_mask, resize
from .detector import Detector
from .intervals import LEVEL, image_auroc_interval, pixel_auroc_interval
from .metrics import image_metrics, pixel_auroc, pro_auc
from .report import fit_validation, write_report


def upsample_map(anomaly_map: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """A map at the model's size -> the image's own (H, W)."""
    return resize(torch.from_numpy(anomaly_map), size).numpy()


def heat_colours(anomaly_map: np.ndarray, scale: float) -> np.ndarray:
    """(H, W) map -> (H, W, 3) RGB in [0, 1]: inferno from 0 to `scale`, values above it at the top colour."""
    return colormaps["inferno"](np.clip(anomaly_map / max(scale, 1e-12), 0, 1))[..., :3]


def overlay(image: np.ndarray, anomaly_map: np.ndarray, mask: np.ndarray | None, scale: float) -> Image.Image:
    """Side by side: the image, and the image under its heat map (and the mask's outline in white).

    image (C, H, W) in [0, 1]; anomaly_map (H, W); `scale` maps to the top of the colour scale, shared by all
    images of a run so their heat maps compare."""
    rgb = np.repeat(image, 3, 0) if image.shape[0] == 1 else image
    rgb = rgb.transpose(1, 2, 0)
    heat = heat_colours(anomaly_map, scale)
    blend = 0.45 * rgb + 0.55 * heat
    if mask is not None and mask.any():
        edge = mask & ~ndimage.binary_erosion(mask, iterations=max(1, mask.shape[0] // 200))
        blend[edge] = 1.0
    both = np.concatenate([rgb, np.ones((rgb.shape[0], max(2, rgb.shape[1] // 50), 3)), blend], axis=1)
    return Image.fromarray((both * 255).round().astype(np.uint8))


def save_png(image: Image.Image, path: Path) -> None:
    buf = io.BytesIO()
    image.save(buf, format="PNG")
    with atomic_output(path) as tmp:
        tmp.write_bytes(buf.getvalue())


def write_scores_csv(path: Path, rows: list[dict]) -> None:
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=list(rows[0]) if rows else ["path", "score", "predicted"])
    writer.writeheader()
    writer.writerows(rows)
    write_text(path, buf.getvalue())


def evaluate_folder(
    det: Detector, root: str | Path, out: str | Path, overlays: int = 16, progress: bool = False
) -> dict:
    """Score root/test of an MVTec AD-style folder; write metrics.json, scores.csv, overlays/ and report.html into
    `out`, a new folder or a previous run's: the run is written beside it and takes its place only once complete."""
    items = MVTecFolder(root).test_images()
    with results_folder(out) as folder:
        return _evaluate_into(det, root, items, folder, overlays, progress)


def test_masks(items: list, sizes: list[tuple[int, int]]) -> list[np.ndarray | None]:
    """Each test image's mask (MVTecFolder.test_images()) at the image's own size `sizes` (H, W): all False for a
    normal image; None for an anomalous one without a mask, which pixel metrics leave out."""
    return [
        read_mask(t.mask_path, size).numpy() if t.mask_path else np.zeros(size, bool) if t.label == 0 else None
        for t, size in zip(items, sizes, strict=True)
    ]


def pixel_metrics(items: list, maps: np.ndarray, sizes: list | None = None) -> dict[str, float]:
    """pixel_auroc and pixel_pro of `maps` (N, S, S) for the test images `items` (MVTecFolder.test_images()), each
    map brought to its mask's own resolution (`sizes`, the images' (H, W), when the caller has read them already);
    normal images count as all-normal pixels. Empty without masks."""
    if not any(t.mask_path is not None for t in items):
        return {}
    sizes = sizes or [image_size_of(t.path) for t in items]
    found = [(k, m) for k, m in enumerate(test_masks(items, sizes)) if m is not None]
    masks = [m for _, m in found]
    full_maps = [upsample_map(maps[k], m.shape) for k, m in found]
    return {
        "pixel_auroc": pixel_auroc(masks, full_maps),
        "pixel_auroc_interval": list(pixel_auroc_interval(masks, full_maps)),
        "pixel_pro": pro_auc(masks, full_maps),
    }


def _evaluate_into(det: Detector, root, items: list, out: Path, overlays: int, progress: bool) -> dict:
    scores, maps = det.score_and_map(ImageFiles([t.path for t in items], det.channels, det.image_size), progress)
    labels = np.array([t.label for t in items])
    predicted = (scores > det.threshold_).astype(int)
    sizes = [image_size_of(t.path) for t in items]
    metrics = image_metrics(labels, scores)
    if len(np.unique(labels)) == 2:  # the interval beside its figure
        interval = list(image_auroc_interval(labels, scores))
        metrics = {"image_auroc": metrics.pop("image_auroc"), "image_auroc_interval": interval, **metrics}
    metrics.update(threshold=det.threshold_, **pixel_metrics(items, maps, sizes))
    metrics.update(
        n_images=len(items),
        n_anomalous=int(labels.sum()),
        # left out of the pixel metrics, which need a mask: said here rather than dropped in silence
        anomalous_without_mask=sum(1 for t in items if t.label == 1 and t.mask_path is None),
        true_positives=int(((predicted == 1) & (labels == 1)).sum()),
        false_positives=int(((predicted == 1) & (labels == 0)).sum()),
    )
    if "image_auroc_interval" in metrics or "pixel_auroc_interval" in metrics:
        # what a *_interval is: how far another draw of test images of the same kinds could move the figure
        metrics["intervals"] = (
            f"{LEVEL:.0%}: image AUROC from its standard error (Hanley-McNeil, score-type), pixel AUROC a bootstrap "
            "over the test images (ganspect.intervals)"
        )

    rows = [
        {"path": str(t.path), "defect": t.defect, "label": t.label, "score": f"{s:.6g}", "predicted": int(p)}
        for t, s, p in zip(items, scores, predicted, strict=True)
    ]
    write_scores_csv(out / "scores.csv", rows)

    def view(i):
        mask = read_mask(items[i].mask_path, sizes[i]).numpy() if items[i].mask_path else None
        return read_image(items[i].path, det.channels).numpy(), upsample_map(maps[i], sizes[i]), mask

    names = [f"{t.defect}_{t.path.stem}" for t in items]
    scale = map_scale(maps)
    write_overlays(out / "overlays", names, scores, view, scale, overlays)
    write_text(out / "metrics.json", json.dumps(metrics, indent=2) + "\n")
    write_report(
        out / "report.html",
        f"{type(det).__name__} on {Path(root).name}",
        metrics,
        labels,
        scores,
        det.threshold_,
        [f"{t.defect}/{t.path.name}" for t in items],
        lambda i: overlay(*view(i), scale=scale),
        validation=fit_validation(det),
        history=getattr(det, "history_", None),
    )
    return metrics


def write_overlays(folder: Path, names: list[str], scores: np.ndarray, view, scale: float, count: int) -> list[Path]:
    """Overlays for `count` images spread evenly over the score ranking, highest first.

    view(i) -> (image (C, H, W) in [0, 1], its anomaly map (H, W), its mask (H, W) or None)."""
    order = np.argsort(-scores)
    picks = order[np.unique(np.linspace(0, len(order) - 1, min(count, len(order))).round().astype(int))]
    written = []
    for rank, i in enumerate(picks):
        path = folder / f"{rank:03d}_{names[i]}_score{scores[i]:.4g}.png"
        save_png(overlay(*view(i), scale=scale), path)
        written.append(path)
    return written


def map_scale(maps: np.ndarray) -> float:
    """Top of the colour scale, shared by a run's overlays: a high quantile, so one outlier does not wash out."""
    return float(np.quantile(maps, 0.999)) if maps.size else 1.0
