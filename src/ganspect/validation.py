"""Validation without test labels: held-out normal images, and synthetic defects made from them.

`fit` holds out a seeded share of the normal images; the networks never train on them. They serve twice:
- the threshold: `threshold_` is the (1 - contamination) quantile of their scores, so it reflects images the
  model has not seen (training images score low, and a threshold set on them flags too much);
- a proxy of quality: each held-out image also gets synthetic defects (`ganspect.synthetic`), and how well the
  model separates the clean images from their defective copies (image AUROC) and finds the defects' pixels (pixel
  AUROC) is measured after every training round. The mean of the two picks which round's networks are kept.

Only normal images are needed, so this works on any user's data; the test set's labels are never looked at. A user
who has a few real defective images can hand them to `fit` (`known_defects`): the image-score rule (and RepairGAN's
verdict) is then chosen on them against the held-out normal images, instead of on synthetic defects (which may look
nothing like the product's real ones). The round kept is still chosen on the synthetic defects.

A small set holds out few images (6 of 31, say), and a rule chosen on so few follows which ones were drawn. With
`validation_folds=k` the choice is cross-fitted: k - 1 more models are trained, each holding out another part of the
training images, and the rule is the one that does best on average over the k held-out parts, so every normal image
the choice sees (up to k times the held-out share) was scored by a model that never trained on it.
"""

from __future__ import annotations

import copy
import math

import numpy as np
import torch
from sklearn.metrics import roc_auc_score
from torch.utils.data import Dataset, Subset

from .synthetic import make_defects

PROXY_IMAGES = 48  # defective copies to make at least, spread over the held-out images
MAP_SCALE_QUANTILE = 0.999  # of normal images' map values: the top of a heat map's colour scale


def split_indices(size: int, share: float, cap: int, seed: int) -> tuple[list[int], list[int]]:
    """(training indices, held-out indices): a seeded `share` of `size` images held out, at most `cap`, at least one
    when share > 0, and never all of them."""
    held = min(cap, max(1, round(share * size)), size - 1) if share > 0 and size > 1 else 0
    order = torch.randperm(size, generator=torch.Generator().manual_seed(seed)).tolist()
    return sorted(order[held:]), sorted(order[:held])


def fold_indices(train: list[int], held: int, folds: int, seed: int) -> list[list[int]]:
    """The further held-out parts of cross-fitted validation: `folds - 1` disjoint seeded draws of `held` of the
    training indices `train` (the first part is the held-out set itself); none for folds == 1."""
    if folds == 1:
        return []
    if (folds - 1) * held > len(train):
        raise ValueError(
            f"validation_folds: {folds} folds of {held} held-out images need {folds * held} normal images, got "
            f"{len(train) + held}; expected at most {len(train) // held + 1} folds"
        )
    order = torch.randperm(len(train), generator=torch.Generator().manual_seed(seed + 1)).tolist()
    return [sorted(train[i] for i in order[k * held : (k + 1) * held]) for k in range(folds - 1)]


class Validation:
    """The held-out normal images (V, C, S, S), synthetic defects made from them (D, C, S, S) with masks, and the
    user's known defective images (K, C, S, S), if any."""

    def __init__(
        self, data: Dataset, indices: list[int], seed: int, kinds: tuple[str, ...], known: torch.Tensor | None = None
    ):
        self.indices = indices
        subset = Subset(data, indices)
        self.normal = torch.stack([subset[i] for i in range(len(subset))])
        per_image = max(1, math.ceil(PROXY_IMAGES / len(indices)))
        self.defective, self.masks = make_defects(self.normal, seed, kinds, per_image=per_image)
        self.known = known

    def measure(self, det, rule: str | None = None) -> dict:
        """Score the held-out images and their defective copies with `det` as it stands. Returns the proxy figures
        under the image-score rule that separated them best among those `det` allows (`rule`; or under the `rule`
        given), how each rule did on the defects that choose (`choice`: rule -> (image AUROC, separation)), and
        the held-out normal images' scores under the rule (`normal_scores`)."""
        normal_scores, normal_maps = collect(det, self.normal)
        defect_scores, defect_maps = collect(det, self.defective)
        image = image_aurocs(normal_scores, defect_scores)
        # the rule is a question of what the defects look like: the user's real ones answer it when given. Which
        # round to keep is a question of how well trained, and stays with the synthetic defects: a handful of real
        # ones gives too few pairs to pick among many rounds without picking their noise
        known = None
        choosing = defect_scores
        if self.known is not None:
            choosing = collect(det, self.known)[0]
            known = image_aurocs(normal_scores, choosing)
        choice = {r: ((known or image)[r], separation(normal_scores[r], choosing[r])) for r in image}
        rule = rule or best_rule(choice)
        pixel_labels = np.r_[np.zeros(normal_maps.numel()), self.masks.numpy().ravel()]
        pixel_values = torch.cat([normal_maps.flatten(), defect_maps.flatten()]).numpy()
        pixel = float(roc_auc_score(pixel_labels, pixel_values))
        return {
            "proxy_auroc": image[rule],
            "proxy_pixel_auroc": pixel,
            "proxy": (image[rule] + pixel) / 2,
            **({"known_auroc": known[rule]} if known else {}),
            "rule": rule,
            "choice": choice,
            "normal_scores": normal_scores[rule].numpy(),
            "map_scale": float(np.quantile(normal_maps.numpy(), MAP_SCALE_QUANTILE)),
        }


def image_aurocs(normal: dict[str, torch.Tensor], defective: dict[str, torch.Tensor]) -> dict[str, float]:
    """Per image-score rule, the AUROC of normal (label 0) against defective (label 1) scores."""
    labels = np.r_[np.zeros(len(next(iter(normal.values())))), np.ones(len(next(iter(defective.values()))))]
    return {r: float(roc_auc_score(labels, torch.cat([normal[r], defective[r]]).numpy())) for r in normal}


def best_rule(choice: dict[str, tuple[float, float]]) -> str:
    """The rule with the highest image AUROC in `choice` (rule -> (AUROC, separation)). A few images saturate it
    (every rule at 1.0, say): equals are told apart by how far the defects sit above the normal images, in their
    spread; max keeps the first of exact equals."""
    return max(choice, key=lambda r: choice[r])


def pooled(choices: list[dict[str, tuple[float, float]]]) -> dict[str, tuple[float, float]]:
    """Each rule's (AUROC, separation) averaged over the folds of cross-fitted validation: every fold's model
    is compared only with itself, so scores of differently trained models are never ranked against each other."""

    def mean(rule: str, i: int) -> float:
        return float(np.mean([c[rule][i] for c in choices]))

    return {r: (mean(r, 0), mean(r, 1)) for r in choices[0]}


def separation(normal: torch.Tensor, defective: torch.Tensor) -> float:
    """How far the defective images' mean score sits above the normal ones', in the normal scores' standard
    deviation: comparable between image-score rules of different scales."""
    spread = float(normal.std()) if len(normal) > 1 else 0.0
    return float(defective.mean() - normal.mean()) / (spread + 1e-12)


def collect(det, images: torch.Tensor) -> tuple[dict[str, torch.Tensor], torch.Tensor]:
    """The scores (N,) of `images` under each image-score rule validation may choose for `det`, whatever rule is
    fitted, and their finished maps (N, S, S); the networks run once."""
    scores: dict[str, list[torch.Tensor]] = {rule: [] for rule in det._score_rules()}
    maps = []
    for raw_scores, raw_maps in det._raw_batches(images, False):
        for rule in scores:
            finished, finished_maps = det._finish(raw_scores, raw_maps, rule)
            scores[rule].append(finished.float().cpu())
        maps.append(finished_maps.cpu())
    return {rule: torch.cat(s) for rule, s in scores.items()}, torch.cat(maps)


class BestRound:
    """The networks of the training round to keep: the highest validation proxy so far (ties keep the earlier), or
    the last one when every offer is made with always=True."""

    def __init__(self) -> None:
        self.proxy, self.round, self.states = -math.inf, -1, {}

    def offer(self, proxy: float, index: int, modules: dict[str, torch.nn.Module], always: bool = False) -> None:
        """Keep these networks if they beat the best so far (or `always`: the last round is to be kept)."""
        if always or proxy > self.proxy:
            self.proxy, self.round = proxy, index
            self.states = {name: copy.deepcopy(m.state_dict()) for name, m in modules.items()}

    def restore(self, modules: dict[str, torch.nn.Module]) -> None:
        for name, module in modules.items():
            if name in self.states:
                module.load_state_dict(self.states[name])

    def state_dict(self) -> dict:
        return {"proxy": self.proxy, "round": self.round, "states": self.states}

    def load_state_dict(self, state: dict) -> None:
        self.proxy, self.round, self.states = state["proxy"], state["round"], state["states"]
