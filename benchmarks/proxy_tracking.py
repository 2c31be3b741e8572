"""Does the validation proxy track the test? Per training round, the label-free proxy beside the test figures.

    python benchmarks/proxy_tracking.py --data ../shared/data/cookies --out bench_out/proxy [--seeds 0 1 2]

Every choice inside `fit` (the round whose networks are kept, OGNet's old generator, the image-score rule) is made
on the proxy: held-out normal images and synthetic defects made from them. This script reads the test labels
after every validated round (through `fit(on_round=...)`), for reporting only: nothing is chosen from them. Each
detector runs with its defaults plus `--channels 3` (AnoGAN with `--mapping encoder` and its defaults before
2026-11-26, no augmentation and no averaged G, with which its figures were measured), as in `real_images.py`.

Per (detector, seed) it reports, over the validated rounds: the rank correlation (Spearman) of the proxy with the
test image AUROC and with the test pixel AUROC, and the test image AUROC of the round the proxy keeps, of the last
round, and of the best round by the test (what a choice on test labels would get: shown as the ceiling, never
used). Pixel AUROC here is taken at the model's size (64 px, masks shrunk by nearest neighbour), so it differs a
little from `ganspect evaluate`'s full-resolution figure. OUT/results.json (every round) and OUT/results.md;
`--tabulate A/results.json B/results.json` makes one table of runs split across the cores.
"""

from __future__ import annotations

import argparse
import json
import time
import warnings
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from scipy.stats import spearmanr
from sklearn.metrics import roc_auc_score

import ganspect
from ganspect.checkpoint import write_text
from ganspect.data import ImageFiles, MVTecFolder
from ganspect.metrics import pixel_auroc

DETECTORS = {
    # its defaults before 2026-11-26 (no augmentation, no averaged G), with which its figures were measured
    "AnoGAN, encoder": lambda seed: ganspect.AnoGAN(
        channels=3, mapping="encoder", augment=False, generator_average=0.0, seed=seed
    ),
    "OGNet": lambda seed: ganspect.OGNet(channels=3, seed=seed),
    "RepairGAN": lambda seed: ganspect.RepairGAN(channels=3, verdict_sigma=2.0, seed=seed),  # as measured: 2 px
}


def test_set(data: Path, channels: int, size: int) -> tuple[torch.Tensor, np.ndarray, list[np.ndarray]]:
    """The test images (N, channels, size, size), their labels (N,) and masks at `size` (all-zero for good ones)."""
    tests = MVTecFolder(data).test_images()
    files = ImageFiles([t.path for t in tests], channels, size)
    images = torch.stack([files[i] for i in range(len(files))])
    masks = []
    for t in tests:
        if t.mask_path is None:
            masks.append(np.zeros((size, size), np.uint8))
        else:
            with Image.open(t.mask_path) as im:
                masks.append((np.asarray(im.convert("L").resize((size, size), Image.NEAREST)) > 127).astype(np.uint8))
    return images, np.array([t.label for t in tests]), masks


def track(name: str, seed: int, data: Path) -> dict:
    det = DETECTORS[name](seed)
    images, labels, masks = test_set(data, det.channels, det.image_size)
    rounds = []

    def on_round(det, index: int, figures: dict) -> None:
        scores, maps = det.score_and_map(images)
        test = {"test_image_auroc": roc_auc_score(labels, scores), "test_pixel_auroc": pixel_auroc(masks, list(maps))}
        rounds.append({"round": index, **figures, **test})
        print(json.dumps({"detector": name, "seed": seed, **rounds[-1]}), flush=True)

    start = time.perf_counter()
    det.fit(ImageFiles(MVTecFolder(data).train_paths(), det.channels, det.image_size), on_round=on_round)
    proxy = [r["proxy"] for r in rounds]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # a constant series has no rank correlation: nan, shown as such
        spearman = {
            key: float(spearmanr(proxy, [r[f"test_{key}_auroc"] for r in rounds]).statistic)
            for key in ("image", "pixel")
        }
    kept = int(np.argmax(proxy))  # the first of the highest: the round validation keeps
    final = roc_auc_score(labels, det.score(images))  # under the rule fit settled on for the kept networks
    return {
        "detector": name,
        "seed": seed,
        "rounds": rounds,
        "fit_minutes": (time.perf_counter() - start) / 60,
        "spearman_image": spearman["image"],
        "spearman_pixel": spearman["pixel"],
        "kept_round_image_auroc": rounds[kept]["test_image_auroc"],
        "fitted_image_auroc": float(final),
        "last_round_image_auroc": rounds[-1]["test_image_auroc"],
        "best_round_image_auroc": max(r["test_image_auroc"] for r in rounds),
    }


def correlation(r: dict, key: str) -> str:
    value = r[key]
    return "n/a (constant)" if np.isnan(value) else f"{value:+.2f}"  # the proxy or the test never moved


def table(results: list[dict]) -> str:
    lines = [
        "| detector | seed | rounds | Spearman(proxy, test image) | Spearman(proxy, test pixel) | test image AUROC: "
        "kept round / fitted model / last round / best round (ceiling) |",
        "|---|---|---|---|---|---|",
    ]
    for r in results:
        lines.append(
            f"| {r['detector']} | {r['seed']} | {len(r['rounds'])} | {correlation(r, 'spearman_image')} | "
            f"{correlation(r, 'spearman_pixel')} | {r['kept_round_image_auroc']:.3f} / {r['fitted_image_auroc']:.3f} / "
            f"{r['last_round_image_auroc']:.3f} / {r['best_round_image_auroc']:.3f} |"
        )
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, help="MVTec AD-style folder with pixel masks")
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--detectors", nargs="+", default=list(DETECTORS), choices=list(DETECTORS))
    parser.add_argument(
        "--tabulate", type=Path, nargs="+", help="run nothing: one table of these earlier runs' results.json files"
    )
    args = parser.parse_args()
    if args.out.exists() and any(args.out.iterdir()):
        parser.error(f"--out {args.out}: expected a new or empty folder, so that results never mix two runs")
    if not args.tabulate and args.data is None:
        parser.error("--data: expected the folder of an MVTec AD-style set (or --tabulate)")
    args.out.mkdir(parents=True, exist_ok=True)
    results = []
    for path in args.tabulate or []:
        results += json.loads(path.read_text())
    for name in [] if args.tabulate else args.detectors:
        for seed in args.seeds:
            results.append(track(name, seed, args.data))
            write_text(args.out / "results.json", json.dumps(results, indent=2) + "\n")
    text = table(results)
    write_text(args.out / "results.md", f"proxy against test, per validated round\n\n{text}")
    print(text)


if __name__ == "__main__":
    main()
