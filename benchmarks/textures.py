"""Textures with defects unlike the training ones: brick, grass, gravel, baselines included, over seeds.

    python benchmarks/textures.py --data ../shared/data/textures --out bench_out/textures [--seeds 0 1 2]

The protocol, fixed in advance:
- each texture is one 512x512 grey photograph; its bottom-right quadrant is held back. Training images are
  TRAIN_CROPS random 128x128 crops of the rest (no crop touches the held-back quadrant);
- test images are TEST_CROPS random 128x128 crops of the held-back quadrant: half left as they are, half given a
  defect from `ganspect.synthetic.UNSEEN_DEFECTS` (scratch, foreign texture, local blur, stain), a family that no
  detector trains on; the foreign texture comes from another of the three (FOREIGN);
- every detector validates on a third family, `ganspect.synthetic.PROXY_DEFECTS` (specks, a warp, haze, grain):
  what validation chooses (RepairGAN's round, the picks between fits) is never graded on the test's kind of defect;
- the split and the test defects depend on the texture alone (split seed 0); `--seeds` vary the detectors' seeds.
Image AUROC and pixel AUROC (every pixel of every test crop; untouched crops are all normal) per (texture,
detector), as mean +- std over the seeds. Each detector runs with its defaults plus `channels=1, image_size=128`
and `validation_defects` the third family.
"RepairGAN, filled from a texture" also fills its training defects with crops of the third texture (FILL), the
one that is neither the trained texture nor the test's foreign source: an external anomaly source, as DRAEM uses.
RepairGAN's rows other than "RepairGAN" and that one keep its training defects before the evening of 2026-11-26
(blob, cutpaste, scar; no cracks), with which their figures were measured; every RepairGAN row keeps the judge's
verdict smoothed by 2 px (`verdict_sigma=2`, the default before 2026-12-07).
OUT/results.json is rewritten after every run; OUT/results.md holds the table, where each row is also set against
the local-statistics baseline (when it ran) on the same test crops: its image and pixel AUROC minus the
baseline's, with the 95% interval of that difference over draws of the crops (`ganspect.intervals`; each fit's
crop scores are in results.json, its pixel histograms in OUT/<texture>-<detector>-seed<k>-pixels.npz; with
`--save-models` the fitted detector in OUT/<texture>-<detector>-seed<k>-model.pt). Below it, a second table gives
each row's image and pixel AUROC kind by kind (the good crops with one kind's defective crops alone), to see which
kind of defect holds a figure back.
So the heat maps can be looked at, each fit also writes OUT/<texture>-<detector>-seed<k>-maps.png: every test crop
beside its heat map (the defect's outline in white), six to a row, the good crops' four rows first, then the
defective ones', whose kinds follow UNSEEN_DEFECTS in turn; one colour scale for the sheet (`map_scale`).
"""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from scipy import sparse
from sklearn.metrics import roc_auc_score

import ganspect
from ganspect.checkpoint import atomic_output, write_text
from ganspect.evaluate import map_scale, overlay, save_png
from ganspect.intervals import auroc_difference, difference, histograms, weighted_aurocs
from ganspect.metrics import pixel_auroc
from ganspect.synthetic import PROXY_DEFECTS, UNSEEN_DEFECTS, make_defects

SIZE, TRAIN_CROPS, TEST_CROPS = 128, 64, 48
VALIDATION = ",".join(PROXY_DEFECTS)  # neither the test's kinds (UNSEEN_DEFECTS) nor RepairGAN's training kinds
METRICS = ("image_auroc", "pixel_auroc")
LABELS = np.r_[np.zeros(TEST_CROPS // 2), np.ones(TEST_CROPS // 2)]  # the test crops' labels, in texture_split's order
# each test crop's kind of defect ("" for a good one): make_defects takes UNSEEN_DEFECTS in turn
KINDS = np.concatenate([np.full(TEST_CROPS // 2, ""), np.resize(list(UNSEEN_DEFECTS), TEST_CROPS // 2)])
FOREIGN = {"brick": "gravel", "grass": "brick", "gravel": "grass"}
FILL = {"brick": "grass", "grass": "gravel", "gravel": "brick"}  # never the test's foreign source
FILLED, LOCAL = "RepairGAN, filled from a texture", "local statistics, nearest neighbour"
PROCEDURAL = "RepairGAN, procedural fill"
EARLIER = "blob,cutpaste,scar"  # RepairGAN's training defects before the evening of 2026-11-26
PICK, PICK_ANY = "RepairGAN, validation picks the fill or not", "validation picks RepairGAN, filled or local statistics"


def made(cls: type[ganspect.Detector], seed: int, **settings) -> ganspect.Detector:
    if cls is ganspect.RepairGAN:  # its rows were measured with the verdict smoothed by 2 px, the default before
        settings = {"verdict_sigma": 2.0} | settings  # 2026-12-07
    return cls(image_size=SIZE, validation_defects=VALIDATION, seed=seed, **settings)


# (seed, the fill texture's file) -> detector, or a list of detectors: fitted one after another, then joined as a
# ganspect.Ensemble (seed k's members are seeds 3k, 3k + 1, 3k + 2, so no two ensembles share a member)
DETECTORS: dict[str, Callable[[int, Path], ganspect.Detector | list[ganspect.Detector]]] = {
    "per-pixel Gaussian": lambda seed, fill: made(ganspect.PixelGaussian, seed),
    "PCA reconstruction": lambda seed, fill: made(ganspect.PCAReconstruction, seed),
    LOCAL: lambda seed, fill: made(ganspect.LocalStatistics, seed),
    "RepairGAN": lambda seed, fill: made(ganspect.RepairGAN, seed),
    FILLED: lambda seed, fill: made(ganspect.RepairGAN, seed, fill_source=str(fill)),
    # textures made from nothing fill the defects (all of them, or half: the rest from the texture itself)
    PROCEDURAL: lambda seed, fill: made(ganspect.RepairGAN, seed, fill_source="procedural"),
    "RepairGAN, half procedural fill": lambda seed, fill: made(
        ganspect.RepairGAN, seed, fill_source="procedural", fill_share=0.5
    ),
    # three, five and ten times the default training length (about 10, 17 and 33 minutes a fit on one thread of the
    # machine of 2026-12-06; 3,000 steps took about 19 on the earlier sessions' machine): run by name
    "RepairGAN, procedural fill, 3000 steps": lambda seed, fill: made(
        ganspect.RepairGAN, seed, fill_source="procedural", steps=3000
    ),
    "RepairGAN, procedural fill, 5000 steps": lambda seed, fill: made(
        ganspect.RepairGAN, seed, fill_source="procedural", steps=5000
    ),
    "RepairGAN, procedural fill, 10000 steps": lambda seed, fill: made(
        ganspect.RepairGAN, seed, fill_source="procedural", steps=10000
    ),
    # the same with today's default verdict, read off D's unsmoothed map (validation reads it too: another round may
    # be kept)
    "RepairGAN, procedural fill, 10000 steps, unsmoothed verdict": lambda seed, fill: made(
        ganspect.RepairGAN, seed, fill_source="procedural", steps=10000, verdict_sigma=0.0
    ),
    # the same with half the defects filled from the texture itself, shifted and colour-shifted (thirty-sixth session)
    "RepairGAN, half procedural fill, 10000 steps, unsmoothed verdict": lambda seed, fill: made(
        ganspect.RepairGAN, seed, fill_source="procedural", fill_share=0.5, steps=10000, verdict_sigma=0.0
    ),
    # the same with DRAEM's learning-rate schedule, the rate a fifth from 80% of the steps, a 25th from 90%
    # (thirty-seventh session)
    "RepairGAN, procedural fill, 10000 steps, unsmoothed verdict, lr decay": lambda seed, fill: made(
        ganspect.RepairGAN, seed, fill_source="procedural", steps=10000, verdict_sigma=0.0, lr_decay=True
    ),
    # the rows below keep RepairGAN's defaults before the evening of 2026-11-26 (no cracks trained on), with which
    # their figures were measured
    "RepairGAN, no cracks": lambda seed, fill: made(ganspect.RepairGAN, seed, defects=EARLIER),
    # three and five times the default training length (about 19 and 30 minutes a fit on one thread): run by name
    "RepairGAN, 3000 steps": lambda seed, fill: made(ganspect.RepairGAN, seed, defects=EARLIER, steps=3000),
    "RepairGAN, filled, 3000 steps": lambda seed, fill: made(
        ganspect.RepairGAN, seed, defects=EARLIER, steps=3000, fill_source=str(fill)
    ),
    # the image score read off G's residual instead of D's map (the map is D's either way)
    "RepairGAN, repair verdict": lambda seed, fill: made(ganspect.RepairGAN, seed, defects=EARLIER, verdict="repair"),
    "RepairGAN, 5000 steps": lambda seed, fill: made(ganspect.RepairGAN, seed, defects=EARLIER, steps=5000),
    "RepairGAN, filled, 5000 steps": lambda seed, fill: made(
        ganspect.RepairGAN, seed, defects=EARLIER, steps=5000, fill_source=str(fill)
    ),
    "RepairGAN, three fits joined": lambda seed, fill: [
        made(ganspect.RepairGAN, 3 * seed + k, defects=EARLIER) for k in range(3)
    ],
    "RepairGAN, filled, three fits joined": lambda seed, fill: [
        made(ganspect.RepairGAN, 3 * seed + k, defects=EARLIER, fill_source=str(fill)) for k in range(3)
    ],
}
DEFAULT_DETECTORS = [
    "per-pixel Gaussian",
    "PCA reconstruction",
    LOCAL,
    "RepairGAN",
    FILLED,
]


def read_grey(folder: Path, name: str) -> torch.Tensor:
    return torch.from_numpy(np.asarray(Image.open(folder / f"{name}.png").convert("L")).copy()).float() / 255


def random_crops(area: torch.Tensor, count: int, g: torch.Generator, avoid: int | None = None) -> torch.Tensor:
    """`count` SIZE x SIZE crops (count, 1, SIZE, SIZE) of `area` at random places; with `avoid`, none that reaches
    into the quadrant below and right of (avoid, avoid)."""
    crops = []
    while len(crops) < count:
        y, x = torch.randint(0, area.shape[0] - SIZE + 1, (2,), generator=g).tolist()
        if avoid is not None and y + SIZE > avoid and x + SIZE > avoid:
            continue
        crops.append(area[y : y + SIZE, x : x + SIZE])
    return torch.stack(crops)[:, None]


def texture_split(folder: Path, name: str) -> dict[str, torch.Tensor]:
    """train (TRAIN_CROPS, 1, S, S) normal crops; test (TEST_CROPS, 1, S, S) crops of the held-back quadrant, the
    second half with unseen defects, and before, the same crops without them; labels (TEST_CROPS,) and masks
    (TEST_CROPS, S, S)."""
    full, other = read_grey(folder, name), read_grey(folder, FOREIGN[name])
    half = full.shape[0] // 2
    g = torch.Generator().manual_seed(0)
    train = random_crops(full, TRAIN_CROPS, g, avoid=half)
    test = random_crops(full[half:, half:], TEST_CROPS, g)
    sources = random_crops(other, TEST_CROPS // 2, g)
    n = TEST_CROPS // 2
    damaged, masks = make_defects(test[n:], seed=0, kinds=tuple(UNSEEN_DEFECTS), sources=sources)
    return {
        "train": train,
        "test": torch.cat([test[:n], damaged]),
        "before": test,  # the test crops as they were before the defects: how much each defect pixel changed
        "labels": torch.cat([torch.zeros(n), torch.ones(n)]).long(),
        "masks": torch.cat([torch.zeros(n, SIZE, SIZE, dtype=torch.bool), masks]),
    }


def maps_sheet(split: dict[str, torch.Tensor], maps: np.ndarray, per_row: int = 6):
    """Every test crop beside its heat map, `per_row` to a row, in the test's order, on one colour scale."""
    scale = map_scale(maps)
    tiles = [
        np.asarray(overlay(image.numpy(), m, mask.numpy(), scale))
        for image, m, mask in zip(split["test"], maps, split["masks"], strict=True)
    ]
    gap = np.full((tiles[0].shape[0], 6, 3), 255, np.uint8)
    rows = [
        np.concatenate([t for tile in tiles[i : i + per_row] for t in (tile, gap)], 1)
        for i in range(0, len(tiles), per_row)
    ]
    gap = np.full((6, rows[0].shape[1], 3), 255, np.uint8)
    return Image.fromarray(np.concatenate([r for row in rows for r in (row, gap)], 0))


def run_one(name: str, seed: int, split: dict[str, torch.Tensor], fill: Path, pixels: Path, keep: bool = False) -> dict:
    """A fitted detector's row; its pixel histograms (for the comparison with a baseline) go to `pixels`, its heat
    maps beside them (maps_sheet), and with `keep` the fitted detector too (`-model.pt`), to be scored again."""
    made = DETECTORS[name](seed, fill)
    start = time.perf_counter()
    if isinstance(made, list):
        det = ganspect.Ensemble([member.fit(split["train"]) for member in made])
    else:
        det = made.fit(split["train"])
    fit_s = time.perf_counter() - start
    if keep and not isinstance(det, ganspect.Ensemble):
        det.save(pixels.with_name(pixels.name.replace("-pixels.npz", "-model.pt")))
    scores, maps = det.score_and_map(split["test"])
    masks = list(split["masks"].numpy())
    pos, neg = histograms(list(maps), masks)
    parts = {
        f"{side}_{k}": getattr(m, k) for side, m in (("pos", pos), ("neg", neg)) for k in ("data", "indices", "indptr")
    }
    with atomic_output(pixels) as tmp, open(tmp, "wb") as f:
        np.savez_compressed(f, shape=pos.shape, **parts)
    save_png(maps_sheet(split, np.asarray(maps)), pixels.with_name(pixels.name.replace("-pixels.npz", "-maps.png")))
    return {
        "image_auroc": float(roc_auc_score(split["labels"].numpy(), scores)),
        "pixel_auroc": pixel_auroc(masks, list(maps)),
        "scores": [float(x) for x in scores],  # the test crops' scores and pixel histograms: the comparison (table)
        "pixels": pixels.name,
        "fit_minutes": fit_s / 60,
        "validation": getattr(det, "validation_", {}),
        "settings": repr(det),
    }


def validation_picks(rows: list[dict]) -> list[dict]:
    """Per (texture, seed): of the fits named below that ran, the one whose validation proxy is higher, as a user
    picks between fits without test labels; its fit time is all of theirs. The proxies compare because these
    detectors hold out the same crops for one seed and validate on the same synthetic defect kinds."""
    picks = []
    for name, among in ((PICK, ["RepairGAN", FILLED]), (PICK_ANY, ["RepairGAN", FILLED, LOCAL])):
        for texture, seed in sorted({(r["texture"], r["seed"]) for r in rows}):
            fits = [r for r in rows if r["detector"] in among and (r["texture"], r["seed"]) == (texture, seed)]
            if len(fits) == len(among):
                best = max(fits, key=lambda r: r["validation"]["proxy"])
                every = sum(r["fit_minutes"] for r in fits)
                picks.append({**best, "detector": name, "picked": best["detector"], "fit_minutes": every})
    return picks


def pixel_histograms(row: dict, root: Path) -> tuple[sparse.csr_matrix, sparse.csr_matrix]:
    """The row's pixel histograms (ganspect.intervals), as run_one saved them under `root`."""
    with np.load(root / row["pixels"]) as saved:
        shape = tuple(saved["shape"])
        return tuple(
            sparse.csr_matrix((saved[f"{side}_data"], saved[f"{side}_indices"], saved[f"{side}_indptr"]), shape=shape)
            for side in ("pos", "neg")
        )


def against_baseline(rows: list[dict], baseline: list[dict], root: Path) -> tuple[str, str]:
    """The rows' mean image AUROC and pixel AUROC minus the baseline's on the same test crops, each with its 95%
    interval over draws of the crops (a stratified bootstrap: ganspect.intervals)."""
    image = auroc_difference(LABELS, [r["scores"] for r in rows], [r["scores"] for r in baseline])
    pixel = difference([pixel_histograms(r, root) for r in rows], [pixel_histograms(r, root) for r in baseline], LABELS)
    return tuple(f"{d['difference']:+.3f} ({d['low']:+.3f} to {d['high']:+.3f})" for d in (image, pixel))


def table(rows: list[dict], textures: list[str], names: list[str], root: Path, against: str = LOCAL) -> str:
    """Mean +- std over the seeds; and, for rows that kept their crops' scores, each one's image and pixel AUROC
    minus `against`'s (a baseline that ran too) on the same crops, with a 95% interval over draws of the crops."""
    compared = any(r["detector"] == against and "scores" in r for r in rows)
    versus = f" image AUROC - {against}'s | pixel AUROC - {against}'s |" if compared else ""
    lines = [
        f"| texture | detector | image AUROC | pixel AUROC | fit (min) |{versus}",
        "|---|---|---|---|---|" + ("---|---|" if compared else ""),
    ]
    for texture in textures:
        baseline = [r for r in rows if r["texture"] == texture and r["detector"] == against and "scores" in r]
        for name in names:
            mine = [r for r in rows if r["texture"] == texture and r["detector"] == name]
            if not mine:
                continue
            cells = [f"{np.mean([r[k] for r in mine]):.3f} +- {np.std([r[k] for r in mine]):.3f}" for k in METRICS]
            fit = np.median([r["fit_minutes"] for r in mine])
            gaps = " | |" if compared else ""
            if baseline and name != against and all("scores" in r for r in mine):
                gaps = " {} | {} |".format(*against_baseline(mine, baseline, root))
            lines.append(f"| {texture} | {name} | {' | '.join(cells)} | {fit:.2f} |{gaps}")
    if compared:
        lines += ["", f"Differences: the rows' mean minus {against}'s on the same test crops, and in brackets its 95%"
                  " interval over draws of the crops (a stratified bootstrap, ganspect.intervals)."]  # fmt: skip
    return "\n".join(lines) + "\n"


def by_kind(rows: list[dict], textures: list[str], names: list[str], root: Path) -> str:
    """Image / pixel AUROC on the good crops with one kind of defect at a time, mean over the seeds: which kind holds
    a row's figures back. Pixels are read off the saved histograms (rank bins: within about 0.001 of exact)."""
    kinds = list(UNSEEN_DEFECTS)
    lines = [f"| texture | detector | {' | '.join(kinds)} |", "|---|---|" + "---|" * len(kinds)]
    for texture in textures:
        for name in names:
            mine = [r for r in rows if (r["texture"], r["detector"]) == (texture, name) and "scores" in r]
            if not mine:
                continue
            pixels = [pixel_histograms(r, root) for r in mine]
            cells = []
            for kind in kinds:
                keep = np.isin(KINDS, ["", kind])
                image = [roc_auc_score(LABELS[keep], np.asarray(r["scores"])[keep]) for r in mine]
                pixel = [weighted_aurocs(pos, neg, keep[None].astype(float))[0] for pos, neg in pixels]
                cells.append(f"{np.mean(image):.3f} / {np.mean(pixel):.3f}")
            lines.append(f"| {texture} | {name} | {' | '.join(cells)} |")
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, help="folder with brick.png, grass.png, gravel.png")
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--textures", nargs="+", default=list(FOREIGN), choices=list(FOREIGN))
    parser.add_argument("--detectors", nargs="+", default=DEFAULT_DETECTORS, choices=list(DETECTORS))
    parser.add_argument("--save-models", action="store_true", help="also keep each fit as OUT/<...>-model.pt")
    parser.add_argument(
        "--tabulate", type=Path, nargs="+", help="run nothing: one table of these earlier runs' results.json files"
    )
    args = parser.parse_args()
    if args.out.exists() and any(args.out.iterdir()):
        parser.error(f"--out {args.out}: expected a new or empty folder, so that results never mix two runs")
    if args.tabulate:
        # each row's pixel histograms stay beside its own run's results.json
        runs = [
            row | ({"pixels": str(path.parent.resolve() / row["pixels"])} if "pixels" in row else {})
            for path in args.tabulate
            for row in json.loads(path.read_text())
        ]
        rows = [row for row in runs if row["detector"] not in (PICK, PICK_ANY)]
        args.textures = [t for t in FOREIGN if any(r["texture"] == t for r in rows)]
        args.detectors = [d for d in DETECTORS if any(r["detector"] == d for r in rows)]
        args.seeds = sorted({r["seed"] for r in rows})
    elif args.data is None:
        parser.error("--data: expected the folder with brick.png, grass.png, gravel.png")
    else:
        rows = run(args)
    rows += validation_picks(rows)
    write_text(args.out / "results.json", json.dumps(rows, indent=2) + "\n")
    names = [*args.detectors, PICK, PICK_ANY]
    text = table(rows, args.textures, names, args.out)
    text += "\nBy kind of defect (image / pixel AUROC, the good crops with that kind's alone):\n\n"
    text += by_kind(rows, args.textures, names, args.out)
    write_text(args.out / "results.md", f"textures, seeds {args.seeds}\n\n{text}")
    print(text)


def run(args: argparse.Namespace) -> list[dict]:
    rows: list[dict] = []
    for texture in args.textures:
        split = texture_split(args.data, texture)
        for name in args.detectors:
            for seed in args.seeds:
                row = {
                    "texture": texture,
                    "detector": name,
                    "seed": seed,
                    **run_one(
                        name,
                        seed,
                        split,
                        args.data / f"{FILL[texture]}.png",
                        args.out / f"{texture}-{name.replace(' ', '_').replace(',', '')}-seed{seed}-pixels.npz",
                        args.save_models,
                    ),
                }
                rows.append(row)
                figures = ", ".join(f"{k} {row[k]:.3f}" for k in METRICS)
                print(f"{texture}, {name}, seed {seed}: {figures}; fit {row['fit_minutes']:.2f} min", flush=True)
                write_text(args.out / "results.json", json.dumps(rows, indent=2) + "\n")
    return rows


if __name__ == "__main__":
    main()
