"""How much RepairGAN's map smoothing matters on the textures, and whether validation can choose it without labels.

    python -m benchmarks.map_smoothing --data ../shared/data/textures --out FILE OUT/*-model.pt [--sigmas 0 1 2 4]

RepairGAN's map is D's probability map smoothed with a Gaussian of `map_sigma` pixels (2 by default), and its image
score is the maximum of D's map smoothed by `verdict_sigma` (0 by default, 2 before 2026-12-07): a reading at s sets
both, so its image figures are those of `verdict_sigma` s and its pixel figures those of `map_sigma` s; the fit as it
scores (its own two smoothings, which may differ) is read too, as the reference. A thin scratch is diluted by the
smoothing, a lone bright pixel on a good crop is damped by it: which way it should go depends on the defects, which a
user does not have. This reads fits that `benchmarks/textures.py --save-models` kept
(`<texture>-<detector>-seed<k>-model.pt`; the texture is the name's first part) and, for each smoothing in `--sigmas`,
with the networks unchanged:
- the label-free proxy: the fit's own held-out crops (the same seeded split) against defective copies of them, made
  by the fit's validation family on a fresh draw (seed + selection.FRESH_DRAW, so the round the fit kept at its own
  smoothing, chosen on its own draw, does not flatter that smoothing);
- the test figures of textures.py's split: image AUROC and pixel AUROC.
The pick is the reading with the highest proxy (the fit as it scores on a tie). Beside it, a verdict that picks no
smoothing (`multiscale`): each crop's score standardised at every smoothing by the held-out crops' and the highest
kept. Per texture, the figures at every smoothing read, at the pick and of the multi-scale verdict, mean +- std over
the models, and each of them minus the fit as it scores on the same crops (image figures against its verdict, pixel
figures against its map) with a 95% interval over draws of the crops (`ganspect.intervals`). Printed, and written to
FILE (JSON). Run from the repository's root (`-m`), so that textures.py's split is imported, not copied.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
from benchmarks.textures import FOREIGN, LABELS, texture_split
from sklearn.metrics import roc_auc_score

import ganspect
from ganspect.checkpoint import write_text
from ganspect.data import as_dataset, cache_if_small
from ganspect.intervals import auroc_difference, difference, histograms
from ganspect.metrics import pixel_auroc
from ganspect.selection import FRESH_DRAW
from ganspect.synthetic import defect_kinds
from ganspect.validation import Validation, split_indices


def setting(reading: dict) -> str:
    """'2 px' for a reading at one smoothing; the fit as it scores, when its two differ, 'verdict 0 px, map 2 px'."""
    v, m = reading["verdict_sigma"], reading["map_sigma"]
    return f"{v:g} px" if v == m else f"verdict {v:g} px, map {m:g} px"


def readings(det: ganspect.RepairGAN, split: dict, settings: list[tuple[float, float]]) -> list[dict]:
    """For each (verdict_sigma, map_sigma): the proxy on a fresh draw of defects on the fit's held-out crops, the
    test figures, and what the comparisons need (the crops' scores, the pixel histograms). Both smoothings only steer
    scoring: the networks are read as fitted."""
    data = cache_if_small(as_dataset(split["train"], det.channels, det.image_size))
    _, held = split_indices(len(data), det.validation_split, det.threshold_images, det.seed)
    fresh = Validation(data, held, det.seed + FRESH_DRAW, defect_kinds(det.validation_defects))
    masks = list(split["masks"].numpy())
    fitted, out = (det.verdict_sigma, det.map_sigma), []
    for v, m in settings:
        det.verdict_sigma, det.map_sigma = v, m
        figures = fresh.measure(det, det.score_rule_)
        scores, maps = det.score_and_map(split["test"])
        out.append({
            "held_scores": figures["normal_scores"].tolist(),
            "defect_scores": det.score(fresh.defective).tolist(),
            "verdict_sigma": det.verdict_sigma,
            "map_sigma": det.map_sigma,
            "proxy": figures["proxy"],
            "proxy_auroc": figures["proxy_auroc"],
            "proxy_pixel_auroc": figures["proxy_pixel_auroc"],
            "image_auroc": float(roc_auc_score(LABELS, scores)),
            "pixel_auroc": pixel_auroc(masks, list(maps)),
            "scores": [float(s) for s in scores],
            "histograms": histograms(list(maps), masks),
        })  # fmt: skip
    det.verdict_sigma, det.map_sigma = fitted
    return out


def multiscale(reads: list[dict]) -> dict:
    """A verdict that chooses no smoothing: at each one, an image's score standardised by the held-out crops' scores
    (their mean and spread at that smoothing), and the highest of these over the smoothings, so a thin defect counts
    where little smoothing shows it and a wide, faint one where much does. Its image AUROC on the test and on the
    fresh proxy defects (against the held-out crops)."""

    def z(key: str) -> np.ndarray:
        return np.max([(np.asarray(r[key]) - np.mean(r["held_scores"])) / (np.std(r["held_scores"]) + 1e-12)
                       for r in reads], axis=0)  # fmt: skip

    test, held, defects = z("scores"), z("held_scores"), z("defect_scores")
    proxy = roc_auc_score(np.r_[np.zeros(len(held)), np.ones(len(defects))], np.r_[held, defects])
    return {"image_auroc": float(roc_auc_score(LABELS, test)), "proxy_auroc": float(proxy), "scores": test.tolist()}


def pick(reads: list[dict], fitted: dict) -> dict:
    """The reading with the highest proxy; the fit as it scores wins a tie, then the first listed."""
    return max(reads, key=lambda r: (r["proxy"], r is fitted))


def summary(texture: str, fits: list[tuple[list[dict], dict, dict, dict]]) -> list[str]:
    """Lines for one texture, from each fit's (readings, fitted, pick, multi-scale verdict): every smoothing read, the
    pick and the multi-scale verdict (its map the fitted one), mean +- std over the fits; then each of them minus the
    fitted on the same crops with its 95% interval (a reading at s: image figures at verdict_sigma s, pixel figures
    at map_sigma s, each set against the fit's own)."""

    def cell(values: list[float]) -> str:
        return f"{np.mean(values):.3f} +- {np.std(values):.3f}"

    def gap(d: dict) -> str:
        return f"{d['difference']:+.3f} ({d['low']:+.3f} to {d['high']:+.3f})"

    every, fitted, picked, multi = zip(*fits, strict=True)
    names = list(dict.fromkeys(setting(r) for reads in every for r in reads))  # the fits of a texture share settings
    at = {n: [next(r for r in reads if setting(r) == n) for reads in every] for n in names}
    rows = [(f"{n}{' (fitted)' if n == setting(fitted[0]) else ''}", at[n], at[n]) for n in names]
    rows += [("validation's pick", picked, picked), ("multi-scale verdict", multi, fitted)]
    lines = [
        f"| {texture} | {name} | {cell([r['image_auroc'] for r in rs])} | {cell([r['pixel_auroc'] for r in maps])} |"
        for name, rs, maps in rows
    ]
    before = [r["scores"] for r in fitted]
    against = [(n, at[n]) for n in names if n != setting(fitted[0])] + [("pick", picked)]
    for name, rs in against:
        image = auroc_difference(LABELS, [r["scores"] for r in rs], before)
        pixel = difference([r["histograms"] for r in rs], [r["histograms"] for r in fitted], LABELS)
        lines.append(f"| {texture} | {name} - fitted | {gap(image)} | {gap(pixel)} |")
    multi_gap = gap(auroc_difference(LABELS, [r["scores"] for r in multi], before))
    lines.append(f"| {texture} | multi-scale - fitted | {multi_gap} | |")
    return lines


def kept_fits(
    parser: argparse.ArgumentParser, paths: list[Path], textures: bool = True
) -> dict[Path, tuple[str, ganspect.RepairGAN]]:
    """Each saved RepairGAN with its group: the texture its name starts with (textures.py's naming), or "all" with
    `textures` False. Every file is checked before any is read; a bad one ends the run with one line naming it."""
    models = {}
    for path in paths:
        group = path.name.split("-")[0] if textures else "all"
        if textures and group not in FOREIGN:
            parser.error(f"{path}: expected a name starting with one of {sorted(FOREIGN)}- (textures.py's naming)")
        try:
            det = ganspect.load(path)
        except (ValueError, OSError) as err:
            parser.error(str(err))
        if not isinstance(det, ganspect.RepairGAN):
            parser.error(f"{path}: expected a fitted RepairGAN, got {type(det).__name__}")
        models[path] = (group, det)
    return models


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, required=True, help="folder with brick.png, grass.png, gravel.png")
    parser.add_argument("--out", type=Path, required=True, help="a new JSON file for every reading")
    parser.add_argument("--sigmas", type=float, nargs="+", default=[0.0, 1.0, 2.0, 4.0])
    parser.add_argument("models", type=Path, nargs="+", help="RepairGAN fits saved by textures.py --save-models")
    args = parser.parse_args()
    if args.out.exists():
        parser.error(f"--out {args.out}: expected a new file, so that results never mix two runs")
    if any(s < 0 for s in args.sigmas):
        parser.error(f"--sigmas: expected smoothings >= 0 (pixels), got {args.sigmas}")
    models = kept_fits(parser, args.models)
    for texture in {t for t, _ in models.values()}:  # a texture's rows set its fits side by side, setting by setting
        if len({(d.verdict_sigma, d.map_sigma) for t, d in models.values() if t == texture}) > 1:
            parser.error(f"{texture}: expected its fits to share verdict_sigma and map_sigma (read them apart)")

    splits = {t: texture_split(args.data, t) for t in sorted({t for t, _ in models.values()})}
    rows, fits = [], {t: [] for t in splits}
    for path, (texture, det) in models.items():
        # the fit as it scores is always read: the pick and the multi-scale verdict are set against it
        own = (det.verdict_sigma, det.map_sigma)
        reads = readings(det, splits[texture], list(dict.fromkeys([*((s, s) for s in sorted(args.sigmas)), own])))
        fitted = next(r for r in reads if (r["verdict_sigma"], r["map_sigma"]) == own)
        chosen = pick(reads, fitted)
        each = ", ".join(
            f"{setting(r)}: proxy {r['proxy']:.3f}, test {r['image_auroc']:.3f} / {r['pixel_auroc']:.3f}" for r in reads
        )
        multi = multiscale(reads)
        print(f"{path.name}: {each}; pick {setting(chosen)}; multi-scale verdict: proxy "
              f"{multi['proxy_auroc']:.3f}, test {multi['image_auroc']:.3f}", flush=True)  # fmt: skip
        rows.append({"model": str(path), "texture": texture, "fitted": setting(fitted), "picked": setting(chosen),
                     "multiscale": multi,
                     "readings": [{k: v for k, v in r.items() if k != "histograms"} for r in reads]})  # fmt: skip
        fits[texture].append((reads, fitted, chosen, multi))
    write_text(args.out, json.dumps(rows, indent=2) + "\n")
    lines = ["| texture | smoothing | image AUROC | pixel AUROC |", "|---|---|---|---|"]
    for texture, each_fit in fits.items():
        lines += summary(texture, each_fit)
    print("\n".join(lines))


if __name__ == "__main__":
    main()
