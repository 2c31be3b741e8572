"""Seed ensembles, measured on saved models: does averaging the scores and maps of several fits beat each fit alone?

    python benchmarks/ensembles.py --data ../shared/data/cookies --out bench_out/ensembles.json \
        --ensemble OUT/RepairGAN_augmented-seed0.pt OUT/RepairGAN_augmented-seed1.pt OUT/RepairGAN_augmented-seed2.pt \
        --ensemble OUT2/RepairGAN_augmented-seed3.pt ...

The models are the ones `benchmarks/real_images.py` saves beside its reports (fits of one detector with other
seeds, so each also held out other photos for validation and trained on the rest). Each `--ensemble` is scored on the
folder's test set: every member alone, then as a `ganspect.Ensemble` (the members' finished scores and maps averaged;
what `ganspect ensemble MODELS -o FILE` writes). Prints, and writes to `--out` (JSON), image AUROC, pixel AUROC and
PRO of every member and every ensemble, and over the ensembles their mean +- std; and the scoring time per image
(the decoded test images in one call, the median of 3). Nothing is chosen: the members are whatever was fitted.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
import torch

import ganspect
from ganspect.checkpoint import check_output, write_text
from ganspect.data import ImageFiles, MVTecFolder
from ganspect.evaluate import pixel_metrics
from ganspect.metrics import image_metrics

METRICS = ("image_auroc", "pixel_auroc", "pixel_pro")


def figures(items: list, scores: np.ndarray, maps: np.ndarray) -> dict[str, float]:
    labels = np.array([t.label for t in items])
    return {k: v for k, v in {**image_metrics(labels, scores), **pixel_metrics(items, maps)}.items() if k in METRICS}


def run_ensemble(paths: list[Path], items: list) -> dict:
    """Each member's figures and the ensemble's."""
    models, members = [ganspect.load(path) for path in paths], []
    try:
        ensemble = ganspect.Ensemble(models)
    except ValueError as err:
        raise SystemExit(f"--ensemble {' '.join(map(str, paths))}: {err}") from None
    test = ImageFiles([t.path for t in items], ensemble.channels, ensemble.image_size)
    decoded = torch.stack([test[i] for i in range(len(test))])
    for path, det in zip(paths, models, strict=True):
        members.append({"model": str(path), **figures(items, *det.score_and_map(test)), **timed(det, decoded)})
        print(f"  {path.name}: " + summary_line(members[-1]), flush=True)
    averaged = {**figures(items, *ensemble.score_and_map(test)), **timed(ensemble, decoded)}
    print("  averaged: " + summary_line(averaged), flush=True)
    return {"members": members, "averaged": averaged}


def timed(det, images: torch.Tensor, repeats: int = 3) -> dict[str, float]:
    """Scoring alone, in ms per image: the decoded test images in one call, the median of `repeats`."""
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        det.score(images)
        times.append((time.perf_counter() - start) / len(images) * 1000)
    return {"score_ms_per_image": float(np.median(times))}


def summary_line(row: dict) -> str:
    return ", ".join(f"{k} {row[k]:.3f}" for k in METRICS) + f"; {row['score_ms_per_image']:.2f} ms/image"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, required=True, help="MVTec AD-style folder with masks")
    parser.add_argument("--ensemble", type=Path, nargs="+", action="append", required=True, help="saved models")
    parser.add_argument("--out", type=Path, required=True, help="the JSON file for the figures (replaced if present)")
    args = parser.parse_args()
    try:
        check_output(args.out)
    except ValueError as err:
        parser.error(f"--out: {err}")
    for path in (p for group in args.ensemble for p in group):
        if not path.is_file():
            parser.error(f"--ensemble: {path}: no such model file")
    items = MVTecFolder(args.data).test_images()
    results = []
    for k, group in enumerate(args.ensemble):
        print(f"ensemble {k}: {len(group)} members", flush=True)
        results.append(run_ensemble(group, items))
    summary = {}
    for k in METRICS:
        single = np.array([m[k] for r in results for m in r["members"]])
        averaged = np.array([r["averaged"][k] for r in results])
        summary[k] = {"members": [single.mean(), single.std()], "averaged": [averaged.mean(), averaged.std()]}
        print(
            f"{k}: members {single.mean():.3f} +- {single.std():.3f} ({len(single)}), "
            f"averaged {averaged.mean():.3f} +- {averaged.std():.3f} ({len(averaged)})"
        )
    single = np.median([m["score_ms_per_image"] for r in results for m in r["members"]])
    averaged = np.median([r["averaged"]["score_ms_per_image"] for r in results])
    summary["score_ms_per_image"] = {"members": single, "averaged": averaged}
    print(f"scoring: members {single:.2f} ms/image, ensembles {averaged:.2f} ms/image (medians)")
    write_text(args.out, json.dumps({"ensembles": results, "summary": summary}, indent=2) + "\n")


if __name__ == "__main__":
    main()
