"""RepairGAN's saved fits read with and without `mirror_views`: does judging the mirror images too help?

    python -m benchmarks.mirror_views --textures ../shared/data/textures OUT/*-model.pt     # textures.py's fits
    python -m benchmarks.mirror_views --data ../shared/data/cookies OUT/RepairGAN-seed*.pt   # real_images.py's

`mirror_views` only steers scoring, so a fit is read both ways with its networks as fitted: each image alone (off),
and the image with its three mirror images, D's maps and G's residuals flipped back and averaged (on). Every other
scoring field is read at RepairGAN's default (`--verdict-sigma`: the judge's smoothing, today's default unless
given), whatever the fit was saved with. Per fit: the test image AUROC and pixel AUROC both ways, and the label-free
proxy both ways (the fit's own held-out images against defective copies made by its validation family on a fresh
draw, seed + selection.FRESH_DRAW, as benchmarks/map_smoothing.py reads it). Per group (a texture; all the fits of
--data), the mean of each and on minus off on the same test images with a 95% interval over draws of the images
(`ganspect.intervals`). Printed; with --out, every reading written to a new JSON file. Run from the repository's
root (`-m`), so that textures.py's split is imported, not copied.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
from benchmarks.map_smoothing import kept_fits
from benchmarks.textures import texture_split
from sklearn.metrics import roc_auc_score

import ganspect
from ganspect.checkpoint import write_text
from ganspect.data import ImageFiles, MVTecFolder, as_dataset, cache_if_small, image_size_of
from ganspect.evaluate import test_masks, upsample_map
from ganspect.intervals import auroc_difference, difference, histograms
from ganspect.metrics import pixel_auroc
from ganspect.selection import FRESH_DRAW
from ganspect.synthetic import defect_kinds
from ganspect.validation import Validation, split_indices


def cookie_case(root: Path, det: ganspect.RepairGAN) -> dict:
    """An MVTec AD-style folder as the textures' split: the training images, the test images, labels and masks at
    each image's own size (a good image's all zeros)."""
    folder = MVTecFolder(root)
    items = folder.test_images()
    masks = test_masks(items, [image_size_of(t.path) for t in items])
    if any(m is None for m in masks):
        raise ValueError(f"{root}: expected a mask for every defective test image (ground_truth/)")
    return {
        "train": ImageFiles(folder.train_paths(), det.channels, det.image_size),
        "test": ImageFiles([t.path for t in items], det.channels, det.image_size),
        "labels": np.array([t.label for t in items], float),
        "masks": masks,
    }


def texture_case(root: Path, texture: str) -> dict:
    split = texture_split(root, texture)
    return {**split, "labels": split["labels"].numpy(), "masks": list(split["masks"].numpy())}


def reading(det: ganspect.RepairGAN, case: dict) -> dict:
    """The proxy on a fresh draw of defects on the fit's held-out images, and the test figures, as `det` now scores."""
    data = cache_if_small(as_dataset(case["train"], det.channels, det.image_size))
    _, held = split_indices(len(data), det.validation_split, det.threshold_images, det.seed)
    figures = Validation(data, held, det.seed + FRESH_DRAW, defect_kinds(det.validation_defects)).measure(
        det, det.score_rule_
    )
    scores, maps = det.score_and_map(case["test"])
    maps = [upsample_map(m, mask.shape) for m, mask in zip(maps, case["masks"], strict=True)]
    return {
        "proxy": figures["proxy"],
        "image_auroc": float(roc_auc_score(case["labels"], scores)),
        "pixel_auroc": pixel_auroc(case["masks"], maps),
        "scores": [float(s) for s in scores],
        "histograms": histograms(maps, case["masks"]),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    where = parser.add_mutually_exclusive_group(required=True)
    where.add_argument("--textures", type=Path, help="folder with brick.png, grass.png, gravel.png")
    where.add_argument("--data", type=Path, help="the MVTec AD-style folder the models trained on")
    parser.add_argument("--verdict-sigma", type=float, default=ganspect.RepairGAN.verdict_sigma)
    parser.add_argument("--out", type=Path, help="a new JSON file for every reading")
    parser.add_argument("models", type=Path, nargs="+", help="fitted RepairGAN models (.pt)")
    args = parser.parse_args()
    if args.out and args.out.exists():
        parser.error(f"--out {args.out}: expected a new file, so that results never mix two runs")
    models = kept_fits(parser, args.models, textures=bool(args.textures))
    for _, det in models.values():
        det.verdict_sigma = args.verdict_sigma  # it only steers scoring: the networks stay as fitted

    cases: dict[str, dict] = {}
    rows, reads = [], {}
    for path, (group, det) in models.items():
        if group not in cases:
            try:
                cases[group] = texture_case(args.textures, group) if args.textures else cookie_case(args.data, det)
            except (ValueError, OSError) as err:
                parser.error(str(err))
        both = {}
        for on in (False, True):
            det.mirror_views = on
            both[on] = reading(det, cases[group])
        print(f"{path.name}: off proxy {both[False]['proxy']:.3f}, test {both[False]['image_auroc']:.3f} / "
              f"{both[False]['pixel_auroc']:.3f}; on proxy {both[True]['proxy']:.3f}, test "
              f"{both[True]['image_auroc']:.3f} / {both[True]['pixel_auroc']:.3f}", flush=True)  # fmt: skip
        reads.setdefault(group, []).append(both)
        rows.append({"model": str(path), "group": group,
                     **{f"{'on' if on else 'off'}": {k: v for k, v in r.items() if k != "histograms"}
                        for on, r in both.items()}})  # fmt: skip
    if args.out:
        write_text(args.out, json.dumps(rows, indent=2) + "\n")

    def cell(fits: list[dict], on: bool, key: str) -> str:
        values = [f[on][key] for f in fits]
        return f"{np.mean(values):.3f} +- {np.std(values):.3f}"

    def gap(d: dict) -> str:
        return f"{d['difference']:+.3f} ({d['low']:+.3f} to {d['high']:+.3f})"

    print("| group | fits | proxy off / on | image AUROC off / on | on - off | pixel AUROC off / on | on - off |")
    print("|---|---|---|---|---|---|---|")
    for group, fits in reads.items():
        labels = cases[group]["labels"]
        image = auroc_difference(labels, [f[True]["scores"] for f in fits], [f[False]["scores"] for f in fits])
        pixel = difference([f[True]["histograms"] for f in fits], [f[False]["histograms"] for f in fits], labels)
        print(f"| {group} | {len(fits)} | {cell(fits, False, 'proxy')} / {cell(fits, True, 'proxy')} | "
              f"{cell(fits, False, 'image_auroc')} / {cell(fits, True, 'image_auroc')} | {gap(image)} | "
              f"{cell(fits, False, 'pixel_auroc')} / {cell(fits, True, 'pixel_auroc')} | {gap(pixel)} |")  # fmt: skip


if __name__ == "__main__":
    main()
