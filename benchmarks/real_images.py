"""Every detector on a real industrial set with pixel masks (MVTec AD layout), over seeds, baselines included.

    python benchmarks/real_images.py --data ../shared/data/cookies --out bench_out/real [--seeds 0 1 2]

Each detector runs with its defaults plus `--channels 3` (and `mapping="encoder"` for AnoGAN): what a user runs with no
other flags. Nothing is chosen on test labels. `--detectors "OGNet, fixed settings"` runs OGNet with the choices
validation makes fixed in advance instead, to show what the label-free choices are worth; the rows named "WGAN-GP", "map
reference", "augmented", "averaged G", "refined", "adversarial weight 0", "repair verdict", "no cracks" and "map rule" /
"reference rule" / "128 px" change one setting each (f-AnoGAN's own GAN; `map_reference=True`; `augment=True`, flips and
shifts; `generator_average=0.995`; `refine_steps=30`; `adversarial_weight=0`; `verdict="repair"`;
`defects="blob,cutpaste,scar"`; `image_score="map"` / `"reference"`; `image_size=128`, and for "whole images"
`crop_size=128` too), to measure it. AnoGAN's rows other than its defaults and "shifted" change its defaults before
2026-11-26 (no augmentation, no averaged G: "AnoGAN, encoder, no augmentation"), with which their figures were measured;
so do RepairGAN's rows named "no cracks" (its defaults before the evening of 2026-11-26, no cracks trained on), and
every RepairGAN row but "RepairGAN" keeps the judge's verdict smoothed by 2 px (`verdict_sigma=2`, the default before
2026-12-07; "RepairGAN, verdict smoothed 2 px" is those defaults). "RepairGAN, validation picks augmentation or not" is
no extra training: per seed where both RepairGAN rows ran, the one whose label-free validation proxy is higher (its fit
time is both fits'), which is what a user without defective images can do when unsure that flips and shifts of the
product are normal. "Validation picks a detector (ganspect.select)" runs `ganspect.select` over the Gaussian, PCA, local
statistics, AnoGAN's encoder, OGNet and RepairGAN (each validating on the selection's own defects, so each candidate's
"rated for selection" row may differ from its own row): the test figures of the one it keeps, per seed, and which it
kept (OUT/results.md); "validation with cracks picks a detector" does the same, validating on the selection's defects
and `crack` (gaps showing the background), with "RepairGAN, no cracks" for RepairGAN (a detector may not validate on a
kind it trains on). One selection a run.

`--known-defects K` measures what a user with a few real defective images gains: per seed, K defective test images
(drawn by the seed) are handed to `fit` as `known_defects` and left out of the test set, which every row of that run
is then scored on (a view of the folder made of symbolic links, OUT/known-split-seed<k>/). They choose the
image-score rule ("RepairGAN, verdict auto": the verdict; "... 5 folds": chosen over 5 cross-fitted models, so on
all 30 good photos they held out rather than 6); the round kept stays with the synthetic defects.
For every (detector, seed) the full `ganspect evaluate` output lands in OUT/<detector>-seed<k>/ (metrics.json,
report.html, overlays/) so the heat maps can be looked at, and the fitted model beside it (OUT/<detector>-seed<k>.pt,
for `ganspect.load`); OUT/results.json is rewritten after every run and
OUT/results.md holds the table: image AUROC, pixel AUROC and PRO as mean +- std over the seeds, fit minutes and
scoring ms per image (medians over the seeds), and, where the PCA baseline ran too (`--against` names another
row), each row's image and pixel AUROC minus the baseline's on the same photos, with the 95% interval of that
difference over draws of the test photos (`ganspect.intervals`): a spread over seeds says how much another training
moves a figure, this interval how much another set of test photos would. `--tabulate A/results.json B/results.json
--out OUT` runs nothing and joins earlier runs into one such table (each run's folders stay where they are).
"""

from __future__ import annotations

import argparse
import csv
import json
import time
from pathlib import Path

import numpy as np
import torch

import ganspect
from ganspect.checkpoint import write_text
from ganspect.comparison import test_histograms
from ganspect.data import ImageFiles, MVTecFolder, image_size_of
from ganspect.evaluate import evaluate_folder, test_masks
from ganspect.intervals import auroc_difference, difference
from ganspect.selection import SELECTION_DEFECTS


def earlier_anogan(seed: int, **changes) -> ganspect.AnoGAN:
    """AnoGAN's encoder with its defaults before 2026-11-26 (no augmentation, no averaged G), then `changes`."""
    return ganspect.AnoGAN(
        **dict(channels=3, mapping="encoder", augment=False, generator_average=0.0, seed=seed) | changes
    )


def measured_repairgan(seed: int, **changes) -> ganspect.RepairGAN:
    """RepairGAN with the judge's verdict read off D's map smoothed by 2 px (`verdict_sigma` 2, the default before
    2026-12-07), with which these rows were measured, then `changes`."""
    return ganspect.RepairGAN(**dict(channels=3, verdict_sigma=2.0, seed=seed) | changes)


def earlier_repairgan(seed: int, **changes) -> ganspect.RepairGAN:
    """RepairGAN with its defaults before the evening of 2026-11-26 (no cracks trained on), then `changes`."""
    return measured_repairgan(seed, **dict(defects="blob,cutpaste,scar") | changes)


DETECTORS = {
    "per-pixel Gaussian": lambda seed: ganspect.PixelGaussian(channels=3, seed=seed),
    "PCA reconstruction": lambda seed: ganspect.PCAReconstruction(channels=3, seed=seed),
    "local statistics, nearest neighbour": lambda seed: ganspect.LocalStatistics(channels=3, seed=seed),
    # the defaults: shifts of a small set, the averaged G (a moving average of G's weights becomes the fitted G)
    "AnoGAN, encoder": lambda seed: ganspect.AnoGAN(channels=3, mapping="encoder", seed=seed),
    # the defaults with the verdict fixed to the map read against the normal maps (image_score="reference")
    "AnoGAN, encoder, reference rule": lambda seed: ganspect.AnoGAN(
        channels=3, mapping="encoder", image_score="reference", seed=seed
    ),
    # the defaults without the averaged G (those of the nineteenth session)
    "AnoGAN, encoder, shifted": lambda seed: ganspect.AnoGAN(
        channels=3, mapping="encoder", generator_average=0.0, seed=seed
    ),
    # AnoGAN's other rows change its defaults before 2026-11-26 (no augmentation, no averaged G), with which their
    # figures were measured; the averaged G's rows among them were measured before its start was corrected
    # (commit 52f265f), so they now give other figures
    "AnoGAN, encoder, no augmentation": lambda seed: earlier_anogan(seed),
    # flips and shifts (augment=True)
    "AnoGAN, encoder, augmented": lambda seed: earlier_anogan(seed, augment=True, augment_flips=True),
    # f-AnoGAN's own GAN; a WGAN-GP generator step costs about 7 DCGAN steps (5 critic steps with a gradient
    # penalty), so 160 of them (and the encoder's 800) keep the fit near the DCGAN row's time
    "AnoGAN, encoder, WGAN-GP": lambda seed: earlier_anogan(seed, gan="wgan-gp", steps=160, encoder_steps=800),
    # maps standardised by those of the training photos (map_reference=True)
    "AnoGAN, encoder, map reference": lambda seed: earlier_anogan(seed, map_reference=True),
    # the averaged G without augmentation, or with flips and shifts
    "AnoGAN, encoder, averaged G": lambda seed: earlier_anogan(seed, generator_average=0.995),
    "AnoGAN, encoder, augmented, averaged G": lambda seed: earlier_anogan(
        seed, augment=True, augment_flips=True, generator_average=0.995
    ),
    # and the encoder's z refined by 30 steps of AnoGAN's latent search (refine_steps=30), with or without augment
    "AnoGAN, encoder, averaged G, refined": lambda seed: earlier_anogan(seed, generator_average=0.995, refine_steps=30),
    "AnoGAN, encoder, augmented, averaged G, refined": lambda seed: earlier_anogan(
        seed, augment=True, augment_flips=True, generator_average=0.995, refine_steps=30
    ),
    # the same, the image-score rule chosen over 5 folds (5 models): what a tie on 6 held-out photos needs
    "AnoGAN, encoder, augmented, averaged G, refined, 5 folds": lambda seed: earlier_anogan(
        seed, augment=True, augment_flips=True, generator_average=0.995, refine_steps=30, validation_folds=5
    ),
    "OGNet": lambda seed: ganspect.OGNet(channels=3, seed=seed),
    # the image score read off the plain map, the rule validation chose on every seed while it chose between two
    "OGNet, map rule": lambda seed: ganspect.OGNet(channels=3, image_score="map", seed=seed),
    "OGNet, augmented": lambda seed: ganspect.OGNet(channels=3, augment=True, seed=seed),
    # shifts alone, AnoGAN's default: does OGNet gain from them where flips and shifts cost it?
    "OGNet, shifted": lambda seed: ganspect.OGNet(channels=3, augment=True, augment_flips=False, seed=seed),
    # phase one without the adversarial half of G's loss (the paper's a = 0.5): a plain denoising autoencoder
    "OGNet, adversarial weight 0": lambda seed: ganspect.OGNet(channels=3, adversarial_weight=0.0, seed=seed),
    # the defaults: blobs, cut-and-paste, scars and cracks (gaps showing the tray) trained on; the verdict unsmoothed
    "RepairGAN": lambda seed: ganspect.RepairGAN(channels=3, seed=seed),
    # the same with DRAEM's learning-rate schedule (a fifth from 80% of the steps, a 25th from 90%)
    "RepairGAN, lr decay": lambda seed: ganspect.RepairGAN(channels=3, lr_decay=True, seed=seed),
    # the defaults before 2026-12-07: the verdict read off D's map smoothed by 2 px, as the map shown is
    "RepairGAN, verdict smoothed 2 px": lambda seed: measured_repairgan(seed),
    # every RepairGAN row below was measured before 2026-12-07 and keeps that 2 px verdict (measured_repairgan)
    "RepairGAN, augmented": lambda seed: measured_repairgan(seed, augment=True),
    # defects filled with textures made from nothing, all of them or half (the rest from the other photos)
    "RepairGAN, augmented, procedural fill": lambda seed: measured_repairgan(
        seed, augment=True, fill_source="procedural"
    ),
    "RepairGAN, augmented, half procedural fill": lambda seed: measured_repairgan(
        seed, augment=True, fill_source="procedural", fill_share=0.5
    ),
    # its defaults before the evening of 2026-11-26: no cracks trained on. The rows named "no cracks" change those
    # earlier defaults, with which their figures were measured
    "RepairGAN, no cracks": lambda seed: earlier_repairgan(seed),
    "RepairGAN, no cracks, augmented": lambda seed: earlier_repairgan(seed, augment=True),
    "RepairGAN, no cracks, 3000 steps": lambda seed: earlier_repairgan(seed, steps=3000),
    # the image score read off G's residual instead of D's map (verdict="repair"); the map is D's either way
    "RepairGAN, repair verdict": lambda seed: measured_repairgan(seed, verdict="repair"),
    "RepairGAN, no cracks, repair verdict": lambda seed: earlier_repairgan(seed, verdict="repair"),
    # validation picks the verdict (judge or repair); worth most with known_defects (--known-defects K)
    "RepairGAN, verdict auto": lambda seed: measured_repairgan(seed, verdict="auto"),
    "RepairGAN, no cracks, verdict auto": lambda seed: earlier_repairgan(seed, verdict="auto"),
    # the same, the verdict chosen over 5 folds (5 models, each holding out 6 other good photos): 5x the fit time
    "RepairGAN, verdict auto, 5 folds": lambda seed: measured_repairgan(seed, verdict="auto", validation_folds=5),
    "RepairGAN, no cracks, verdict auto, 5 folds": lambda seed: earlier_repairgan(
        seed, verdict="auto", validation_folds=5
    ),
    # and with flips and shifts, whose maps were the best of one fit's on cookies
    "RepairGAN, augmented, verdict auto, 5 folds": lambda seed: measured_repairgan(
        seed, augment=True, verdict="auto", validation_folds=5
    ),
    # twice the side (image_size=128), the baselines beside them at the same size: RepairGAN on 64-px crops (a step
    # costs the same, D sees a quarter of the photo), or on whole images (crop_size=128: four times the pixels a step)
    "per-pixel Gaussian, 128 px": lambda seed: ganspect.PixelGaussian(channels=3, image_size=128, seed=seed),
    "PCA reconstruction, 128 px": lambda seed: ganspect.PCAReconstruction(channels=3, image_size=128, seed=seed),
    "local statistics, 128 px": lambda seed: ganspect.LocalStatistics(channels=3, image_size=128, seed=seed),
    "RepairGAN, 128 px": lambda seed: measured_repairgan(seed, image_size=128),
    "RepairGAN, 128 px, whole images": lambda seed: measured_repairgan(seed, image_size=128, crop_size=128),
    # what validation chooses, fixed in advance instead: the last round, G_old after round 2, D's own score
    "OGNet, fixed settings": lambda seed: ganspect.OGNet(
        channels=3, pick_round=False, old_round=2, image_score="model", seed=seed
    ),
}
# per seed, the candidate fit a user keeps by the validation proxy alone
PICKS = {
    "RepairGAN, validation picks augmentation or not": ("RepairGAN, verdict smoothed 2 px", "RepairGAN, augmented")
}
DEFAULT_DETECTORS = [
    "per-pixel Gaussian",
    "PCA reconstruction",
    "local statistics, nearest neighbour",
    "AnoGAN, encoder",
    "OGNet",
    "RepairGAN",
]
# ganspect.select over the default rows, every one validating on the selection's defects (see run_selection): its
# default family, or that family and gaps through which the background shows (`crack`, a broken object's defect)
SELECTIONS = {
    "validation picks a detector (ganspect.select)": (DEFAULT_DETECTORS, SELECTION_DEFECTS),
    # RepairGAN without cracks here: one that trains on a kind may not validate on it
    "validation with cracks picks a detector": (
        [*DEFAULT_DETECTORS[:-1], "RepairGAN, no cracks"],
        f"{SELECTION_DEFECTS},crack",
    ),
}
METRICS = ("image_auroc", "pixel_auroc", "pixel_pro")


def known_split(data: Path, out: Path, count: int, seed: int) -> tuple[Path, list[Path]]:
    """A view of the MVTec-style folder `data` (symbolic links, under `out`) whose test set lacks `count` of its
    defective images, drawn by `seed`, and those images' paths: the few real defects a user hands to `fit`."""
    view = out / f"known-split-seed{seed}"
    defective = [t.path for t in MVTecFolder(data).test_images() if t.label]
    if not 0 < count < len(defective):
        raise ValueError(f"--known-defects: expected 1 to {len(defective) - 1} (the test set has {len(defective)})")
    order = torch.randperm(len(defective), generator=torch.Generator().manual_seed(seed)).tolist()
    known = sorted(defective[i] for i in order[:count])
    if not view.exists():
        view.mkdir(parents=True)
        for sub in ("train", "ground_truth"):
            (view / sub).symlink_to((data / sub).resolve(), target_is_directory=True)
        for folder in sorted(d for d in (data / "test").iterdir() if d.is_dir()):
            (view / "test" / folder.name).mkdir(parents=True)
            for image in sorted(folder.iterdir()):
                if image not in known:
                    (view / "test" / folder.name / image.name).symlink_to(image.resolve())
    return view, known


def run_one(name: str, seed: int, data: Path, out: Path, progress: bool, known_count: int = 0) -> dict:
    det = DETECTORS[name](seed)
    paths = MVTecFolder(data).train_paths()
    known = None
    if known_count:
        data, known = known_split(data, out, known_count, seed)
    start = time.perf_counter()
    det.fit(ImageFiles(paths, det.channels, det.image_size), progress=progress, known_defects=known)
    return evaluated(det, name, seed, data, out, progress, time.perf_counter() - start, known)


def run_selection(name: str, seed: int, data: Path, out: Path, progress: bool, known_count: int = 0) -> list[dict]:
    """`ganspect.select` over the candidates of SELECTIONS[name]: a row per candidate (named "<candidate>, rated
    for selection": it validated on the selection's defects, so it may differ from the candidate's own row), then
    the chosen one's row renamed `name`, with `picked` naming it and the selection's table; its fit minutes are all
    the candidates'."""
    names, kinds = SELECTIONS[name]
    candidates = {c: DETECTORS[c](seed) for c in names}
    first = next(iter(candidates.values()))
    paths = MVTecFolder(data).train_paths()
    known = None
    if known_count:
        data, known = known_split(data, out, known_count, seed)
    images = ImageFiles(paths, first.channels, first.image_size)
    found = ganspect.select(candidates, images, progress, kinds, known_defects=known)
    rows = []
    for entry in found.table:
        det = found.fitted[entry["name"]]
        rows.append(
            evaluated(det, f"{entry['name']}, rated for selection", seed, data, out, progress, 0.0, known)
            | {"fit_minutes": entry["fit_minutes"], "selection": entry}
        )
    chosen = next(r for r in rows if r["selection"]["name"] == found.name)
    total = sum(e["fit_minutes"] for e in found.table)
    picked = {"picked": found.name, "selection_table": found.table}
    return [*rows, {**chosen, "detector": name, "fit_minutes": total, **picked}]


def run_folder(name: str, seed: int) -> str:
    """The folder, under OUT, of a (detector, seed)'s evaluate output."""
    return f"{name.replace(' ', '_').replace(',', '')}-seed{seed}"


def photo_scores(rows: list[dict], root: Path) -> tuple[dict[str, int], list[dict[str, float]]]:
    """The rows' test photos, each named by its file (links resolved: a known-defects view names the photo it
    shows) with its label, and per row its scores, read from the row's scores.csv under `root`."""
    labels, scores = {}, []
    for row in rows:
        with open(root / row.get("folder", run_folder(row["detector"], row["seed"])) / "scores.csv", newline="") as f:
            table = list(csv.DictReader(f))
        labels |= {str(Path(r["path"]).resolve()): int(r["label"]) for r in table}
        scores.append({str(Path(r["path"]).resolve()): float(r["score"]) for r in table})
    return labels, scores


def photo_items(photos: list[str]) -> list:
    """The test images (MVTecFolder.test_images()) of `photos`, resolved paths of one MVTec folder's test set."""
    data = Path(photos[0]).parents[2]  # DATA/test/<defect>/<photo>
    found = {str(t.path.resolve()): t for t in MVTecFolder(data).test_images()}
    return [found[p] for p in photos]


def map_histograms(row: dict, root: Path, photos: list[str], items: list, masks: list) -> tuple:
    """The pixel histograms (ganspect.intervals) of the row's fitted model's maps over `photos`, as `evaluate`
    measures the pixel AUROC; a photo outside the row's test is left out (an empty group)."""
    folder = root / row.get("folder", run_folder(row["detector"], row["seed"]))
    det = ganspect.load(folder.parent / f"{folder.name}.pt", device="cpu")
    tested = set(photo_scores([row | {"folder": str(folder)}], root)[1][0])
    return test_histograms(det, items, [m if p in tested else None for p, m in zip(photos, masks, strict=True)])[1]


def against_baseline(rows: list[dict], baseline: list[dict], root: Path, cache: dict) -> tuple[str, str]:
    """The rows' mean image AUROC and pixel AUROC minus the baseline's, on the same photos, each with its 95%
    interval over draws of the photos. `cache` keeps the baseline's pixel histograms from row to row."""
    labels, scores = photo_scores([*rows, *baseline], root)
    photos = sorted(labels)
    strata = np.array([labels[p] for p in photos])

    def stack(per_fit: list[dict[str, float]]) -> np.ndarray:  # (fits, photos), NaN where a fit scored none
        return np.array([[fit.get(p, np.nan) for p in photos] for fit in per_fit])

    image = auroc_difference(strata, stack(scores[: len(rows)]), stack(scores[len(rows) :]))
    if "masks" not in cache:
        cache["items"] = photo_items(photos)
        cache["masks"] = test_masks(cache["items"], [image_size_of(p) for p in photos])

    def fits(some: list[dict]) -> list:
        for row in some:
            key = (row["detector"], row["seed"])
            if key not in cache:
                cache[key] = map_histograms(row, root, photos, cache["items"], cache["masks"])
        return [cache[(row["detector"], row["seed"])] for row in some]

    pixel = difference(fits(rows), fits(baseline), strata)
    return tuple(f"{d['difference']:+.3f} ({d['low']:+.3f} to {d['high']:+.3f})" for d in (image, pixel))


def evaluated(det, name: str, seed: int, data: Path, out: Path, progress: bool, fit_s: float, known) -> dict:
    """The row of a fitted detector: `ganspect evaluate`'s figures on data's test set (its report under
    OUT/<name>-seed<k>/, the model beside it), and its scoring time."""
    folder = out / run_folder(name, seed)
    start = time.perf_counter()
    metrics = evaluate_folder(det, data, folder, overlays=8, progress=progress)
    det.save(out / f"{folder.name}.pt")  # the fitted model beside its report, to look into or score again
    evaluate_s = time.perf_counter() - start
    # scoring alone, timed on the test images already decoded once (the evaluate run above warmed the cache)
    test = ImageFiles([t.path for t in MVTecFolder(data).test_images()], det.channels, det.image_size)
    images = torch.stack([test[i] for i in range(len(test))])
    start = time.perf_counter()
    det.score(images)
    score_ms = (time.perf_counter() - start) / len(images) * 1000
    return {
        "detector": name,
        "seed": seed,
        **{k: metrics.get(k) for k in METRICS},
        "validation": getattr(det, "validation_", {}),
        "score_rule": getattr(det, "score_rule_", ""),
        "known_defects": [str(p) for p in known or []],
        "fit_minutes": fit_s / 60,
        "score_ms_per_image": score_ms,
        "evaluate_seconds": evaluate_s,
        "settings": repr(det),
        "folder": folder.name,  # its scores.csv: the photo-by-photo comparison with a baseline (table)
    }


def validation_picks(rows: list[dict]) -> list[dict]:
    """For each of PICKS and each seed where all its candidates ran: the candidate row whose validation proxy is
    highest (the first on a tie), renamed, with `picked` naming it; its fit minutes are all the candidates'."""
    picks = []
    for name, candidates in PICKS.items():
        for seed in sorted({r["seed"] for r in rows}):
            fits = {r["detector"]: r for r in rows if r["seed"] == seed and r["detector"] in candidates}
            if len(fits) == len(candidates):
                best = max((fits[c] for c in candidates), key=lambda r: r["validation"]["proxy"])
                total = sum(r["fit_minutes"] for r in fits.values())
                picks.append({**best, "detector": name, "picked": best["detector"], "fit_minutes": total})
    return picks


def table(rows: list[dict], names: list[str], root: Path, against: str = "PCA reconstruction") -> str:
    """Mean +- std over the seeds; and, where `against` (a baseline) ran too, each row's image AUROC and pixel AUROC
    minus its on the same photos, with the 95% interval of each difference over draws of the test photos
    (ganspect.intervals): whether a row is above the baseline by more than which photos were drawn."""
    baseline = [r for r in rows if r["detector"] == against]
    versus = f" image AUROC - {against}'s | pixel AUROC - {against}'s |" if baseline else ""
    lines = [
        f"| detector | image AUROC | pixel AUROC | PRO | fit (min) | ms / image | seeds |{versus}",
        "|---|---|---|---|---|---|---|" + ("---|---|" if baseline else ""),
    ]
    cache: dict = {}
    for name in names:
        mine = [r for r in rows if r["detector"] == name]
        if not mine:
            continue
        gaps = ""
        if baseline:
            gaps = " | |" if name == against else " {} | {} |".format(*against_baseline(mine, baseline, root, cache))
        cells = []
        for key in METRICS:
            values = np.array([r[key] for r in mine], dtype=float)
            cells.append(f"{values.mean():.3f} +- {values.std():.3f}")
        fit = np.median([r["fit_minutes"] for r in mine])
        ms = np.median([r["score_ms_per_image"] for r in mine])
        seeds = ", ".join(str(r["seed"]) for r in mine)
        lines.append(f"| {name} | {' | '.join(cells)} | {fit:.2f} | {ms:.2f} | {seeds} |{gaps}")
    if baseline:
        lines += [
            "",
            f"Differences: the rows' mean minus {against}'s on the same photos, and in brackets its 95%"
            " interval over draws of the test photos (a stratified bootstrap, ganspect.intervals).",
        ]
    return "\n".join(lines) + "\n"


def tabulate(results: list[Path], out: Path, against: str) -> None:
    """One table (OUT/results.md, and the rows joined in OUT/results.json) of earlier runs, each row pointing at
    its own run's folders, so that rows of separate runs are compared photo by photo too."""
    rows = []
    for path in results:
        for row in json.loads(path.read_text()):
            folder = path.parent.resolve() / row.get("folder", run_folder(row["detector"], row["seed"]))
            rows.append(row | {"folder": str(folder)})
    write_text(out / "results.json", json.dumps(rows, indent=2) + "\n")
    text = table(rows, list(dict.fromkeys(r["detector"] for r in rows)), out, against)
    write_text(out / "results.md", "".join(f"{p}\n" for p in results) + f"\n{text}")
    print(text)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, help="MVTec AD-style folder with masks")
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--detectors", nargs="+", default=DEFAULT_DETECTORS, choices=[*DETECTORS, *SELECTIONS])
    parser.add_argument(
        "--known-defects", type=int, default=0, metavar="K", help="hand K defective test images to fit (see above)"
    )
    parser.add_argument("--progress", action="store_true")
    parser.add_argument(
        "--tabulate",
        type=Path,
        nargs="+",
        metavar="RESULTS",
        help="no run: one table of earlier runs' results.json files (each beside its runs' folders), in OUT",
    )
    parser.add_argument(
        "--against",
        default="PCA reconstruction",
        metavar="BASELINE",
        help="the row every other is compared with, photo by photo (default: PCA reconstruction)",
    )
    args = parser.parse_args()
    if args.out.exists() and any(args.out.iterdir()):
        parser.error(f"--out {args.out}: expected a new or empty folder, so that results never mix two runs")
    if args.tabulate:
        tabulate(args.tabulate, args.out, args.against)
        return
    if args.data is None:
        parser.error("--data: expected the MVTec AD-style folder to run on (or --tabulate)")
    if len(set(args.detectors) & set(SELECTIONS)) > 1:
        parser.error("--detectors: expected at most one selection a run (their candidates' rows share names)")
    rows: list[dict] = []
    for name in args.detectors:
        for seed in args.seeds:
            if name in SELECTIONS:
                new = run_selection(name, seed, args.data, args.out, args.progress, args.known_defects)
            else:
                new = [run_one(name, seed, args.data, args.out, args.progress, args.known_defects)]
            for row in new:
                picked = f" (picked {row['picked']})" if "picked" in row else ""
                print(
                    f"{row['detector']}, seed {seed}{picked}: "
                    + ", ".join(f"{k} {row[k]:.3f}" for k in METRICS)
                    + f"; fit {row['fit_minutes']:.2f} min, {row['score_ms_per_image']:.2f} ms/image",
                    flush=True,
                )
            rows += new
            write_text(args.out / "results.json", json.dumps(rows, indent=2) + "\n")
    rows += validation_picks(rows)
    write_text(args.out / "results.json", json.dumps(rows, indent=2) + "\n")
    names = [
        *args.detectors,
        *(f"{c}, rated for selection" for n in args.detectors for c in SELECTIONS.get(n, ([],))[0]),
    ]
    text = table(rows, [*names, *PICKS], args.out, args.against)
    for name in set(args.detectors) & set(SELECTIONS):
        picks = ", ".join(f"seed {r['seed']}: {r['picked']}" for r in rows if r["detector"] == name)
        text += f"\n{name} picked {picks}\n"
    known = f", {args.known_defects} known defects per seed (left out of the test)" if args.known_defects else ""
    write_text(args.out / "results.md", f"{args.data.name}, seeds {args.seeds}{known}\n\n{text}")
    print(text)


if __name__ == "__main__":
    main()
