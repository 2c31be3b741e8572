"""The detector contract every method shares, in the scikit-learn / PyOD spirit.

`__init__` stores hyperparameters and nothing else; `fit` learns from normal images only and returns self;
`score` gives one float per image, higher = more anomalous, that depends on the image and the fitted model alone;
`anomaly_map` gives a per-pixel map; `predict` compares scores with `threshold_`, set at fit time; `save` writes
a plain checkpoint that `ganspect.load` reads back.
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import math
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np
import torch
from torch import nn
from torch.utils.data import Subset
from tqdm.auto import tqdm

from .checkpoint import read_checkpoint, save_checkpoint
from .data import RandomPatches, as_dataset, batches, cache_if_small, cut_patches, stitch_patches
from .maps import SCORE_RULES, smooth, top_mean
from .synthetic import EVERY_DEFECT, defect_kinds
from .train import RoundCheckpoint
from .validation import (
    MAP_SCALE_QUANTILE,
    BestRound,
    Validation,
    best_rule,
    collect,
    fold_indices,
    pooled,
    split_indices,
)

if TYPE_CHECKING:
    from .ensemble import Ensemble

log = logging.getLogger(__name__)


def param(default: Any, help: str) -> Any:
    """A hyperparameter: its help text feeds the CLI flags, so the CLI cannot drift from the API."""
    return field(default=default, metadata={"help": help})


class NotFittedError(RuntimeError):
    """Raised when a detector is used before `fit` (or `load`)."""


def resolve_device(device: str) -> torch.device:
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        resolved = torch.device(device)
    except RuntimeError:
        raise ValueError(f"device: expected 'auto', 'cpu', 'cuda' or 'cuda:N', got {device!r}") from None
    if resolved.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"device: {device!r} was asked for, but this PyTorch sees no CUDA device")
    return resolved


@contextlib.contextmanager
def reproducible(device: torch.device):
    """Deterministic kernels while the block runs on CUDA, the caller's settings restored after; nothing on CPU.

    CUDA's fastest kernels (cuDNN's convolutions, atomic additions) add in an order that varies from run to run:
    on an H100 the same seed gave RepairGAN models whose cookie scores differed by up to 0.14, and with training
    made deterministic, one OGNet model still scored the same images 4e-5 apart on two calls, so training and
    scoring both run under it. Ops with no deterministic kernel still run, with PyTorch's warning (warn_only)."""
    if device.type != "cuda":
        yield
        return
    os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")  # what cuBLAS needs to repeat its sums
    cudnn = torch.backends.cudnn
    saved = (
        torch.are_deterministic_algorithms_enabled(),
        torch.is_deterministic_algorithms_warn_only_enabled(),
        cudnn.deterministic,
        cudnn.benchmark,
    )
    torch.use_deterministic_algorithms(True, warn_only=True)
    cudnn.deterministic, cudnn.benchmark = True, False
    try:
        yield
    finally:
        torch.use_deterministic_algorithms(saved[0], warn_only=saved[1])
        cudnn.deterministic, cudnn.benchmark = saved[2], saved[3]


# A small set, for the settings whose default depends on it (augment=None, AnoGAN's generator_average=None): fewer
# training images than this. On 25 cookie photos AnoGAN's shifts and its averaged G lifted every figure; on one-class
# MNIST's 5,200-6,500 digits of a kind the shifts cost it on every digit and the proxy preferred the last G (docs)
SMALL_SET_BELOW = 1000


@dataclass(kw_only=True, eq=False)
class Detector:
    image_size: int = param(64, "side of the square images the networks see; inputs are resized to it")
    channels: int = param(1, "1 for grey, 3 for colour")
    steps: int = param(2000, "optimizer steps of training, one batch each, whatever the number of images")
    rounds: int = param(10, "training is cut into rounds: after each the state is saved and validated")
    batch_size: int = param(64, "images per training and scoring batch")
    lr: float = param(2e-4, "learning rate of the training optimizers")
    augment: bool | None = param(
        False,
        "train on random flips and shifts (up to image_size/16 px) of the images too; None: only when fewer than "
        f"{SMALL_SET_BELOW} images train (a small set, whose few images a GAN would otherwise learn by heart)",
    )
    augment_flips: bool = param(
        True, "with augment: flips as well as shifts (False: shifts only, for products that a flip makes abnormal)"
    )
    contamination: float = param(
        0.05, "share of normal training images allowed above threshold_: it is their (1 - contamination) quantile"
    )
    validation_split: float = param(
        0.2, "share of the normal images held out of training (seeded): threshold_ and validation come from them"
    )
    validation_defects: str = param(
        "blob,cutpaste,scar",
        "synthetic defects of the validation proxy, comma-separated kinds of ganspect.synthetic (a method that "
        "trains on defects validates on other kinds, or the proxy measures how well it learned its own)",
    )
    validation_folds: int = param(
        1,
        "k > 1: train k - 1 more models, each holding out another part of the images as large, and choose the "
        "image-score rule on all k held-out parts (k times the normal images for that choice, k times the fit time)",
    )
    pick_round: bool = param(True, "keep the round whose networks did best on validation (False: the last round)")
    map_sigma: float = param(0.0, "std in pixels (at image_size) of the Gaussian that smooths the maps; 0: none")
    image_score: str = param(
        "model",
        "'model': the method's own score; 'map': the mean of the top_share highest values of the smoothed map; "
        "'reference': the same, of the map standardised by the normal training images' maps (the map shown stays "
        "as it is); 'auto': whichever of the three does best on validation",
    )
    top_share: float = param(0.01, "share of a map's highest values whose mean is the image score read off a map")
    map_reference: bool = param(
        False,
        "standardise every map pixel by pixel by the maps of the normal training images (mean and std), so what "
        "the model misses on every normal image (a rim, an edge) stops counting as anomalous",
    )
    threshold_images: int = param(256, "at most this many images held out (with no split: scored for threshold_)")
    patch_size: int = param(0, "0: networks see whole images; else they see patch_size squares of the image")
    patch_stride: int = param(0, "stride of the scoring window in patch mode (0: half the patch size)")
    patches_per_image: int = param(16, "patch mode: random patches cut from each training image at each read")
    seed: int = param(
        0, "seed of every random draw; the same seed gives the same model on the same device and thread count"
    )
    device: str = param("auto", "'auto' (CUDA when present), 'cpu', 'cuda' or 'cuda:N'")
    devices: int = param(1, "training processes per machine (GPUs, or CPU processes), data-parallel")
    num_nodes: int = param(1, "machines taking part in training")
    strategy: str = param("auto", "lightning-fabric strategy: 'auto', 'ddp', 'ddp_spawn', 'fsdp', ...")
    precision: str = param("32-true", "lightning-fabric precision: '32-true', 'bf16-mixed', '16-mixed', ...")

    network_names: ClassVar[tuple[str, ...]] = ()  # fitted modules, saved by name with a trailing '_'
    command: ClassVar[str] = ""  # its name on the command line: ganspect fit <command>
    # fields that only steer scoring, free to change on a fitted detector; any other change needs a refit
    scoring_fields: ClassVar[frozenset[str]] = frozenset({"batch_size", "patch_stride", "map_sigma", "top_share"})

    @property
    def scoring_cost(self) -> str:
        """What scoring one image costs, in words (the service's model card says it to clients)."""
        return "one forward pass per image"

    @property
    def net_size(self) -> int:
        """Side of the squares the networks see: the patch in patch mode, else the whole image."""
        return self.patch_size or self.image_size

    @staticmethod
    def small_set(images: int) -> bool:
        """Whether a training set of `images` images is small (fewer than SMALL_SET_BELOW): None-valued settings
        (augment, AnoGAN's generator_average) decide by it."""
        return images < SMALL_SET_BELOW

    def augments(self, images: int) -> bool:
        """Whether `fit` trains on augmented views of a training set of `images` images (`augment`, or with None
        whether the set is small)."""
        return self.small_set(images) if self.augment is None else self.augment

    # --- what each method supplies ---------------------------------------------------------------------------
    def _check_params(self) -> None:
        positive = (
            "image_size",
            "steps",
            "rounds",
            "batch_size",
            "threshold_images",
            "patches_per_image",
            "devices",
            "num_nodes",
            "validation_folds",
        )
        for name in positive:
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise ValueError(f"{name}: expected a positive integer, got {value!r}")
        if self.channels not in (1, 3):
            raise ValueError(f"channels: expected 1 (grey) or 3 (colour), got {self.channels!r}")
        if not (isinstance(self.lr, (int, float)) and self.lr > 0 and math.isfinite(self.lr)):
            raise ValueError(f"lr: expected a positive number, got {self.lr!r}")
        for name in ("patch_size", "patch_stride"):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < 0:
                raise ValueError(f"{name}: expected an integer >= 0, got {value!r}")
        if self.patch_size > self.image_size:
            raise ValueError(f"patch_size: must not exceed image_size ({self.image_size}), got {self.patch_size}")
        if self.rounds > self.steps:
            raise ValueError(f"rounds: must not exceed steps ({self.steps}), got {self.rounds}")
        if self.augment not in (True, False, None):
            raise ValueError(f"augment: expected True, False or None (on for small sets), got {self.augment!r}")
        if not 0 <= self.validation_split < 1:
            raise ValueError(f"validation_split: expected a share in [0, 1), got {self.validation_split!r}")
        kinds = defect_kinds(self.validation_defects) if isinstance(self.validation_defects, str) else ()
        if not kinds or any(k not in EVERY_DEFECT for k in kinds):
            raise ValueError(
                f"validation_defects: expected a comma-separated choice of {sorted(EVERY_DEFECT)}, got "
                f"{self.validation_defects!r}"
            )
        if self.validation_folds > 1 and not self.validation_split:
            raise ValueError("validation_folds: the folds are held-out parts; expected validation_split > 0")
        if self.validation_folds > 1 and len(self._score_rules()) < 2:
            raise ValueError(
                "validation_folds: the folds choose the image-score rule, and these settings leave one "
                f"({self._score_rules()[0]!r}); expected image_score='auto' (RepairGAN: verdict='auto')"
            )
        if self.validation_folds > 1 and self.devices * self.num_nodes > 1:
            raise ValueError(
                "validation_folds: the folds' models train in one process; expected devices=1 and num_nodes=1"
            )
        if not (isinstance(self.map_sigma, (int, float)) and 0 <= self.map_sigma <= self.image_size / 4):
            raise ValueError(f"map_sigma: expected 0 to a quarter of image_size, got {self.map_sigma!r}")
        if self.image_score not in SCORE_RULES:
            raise ValueError(f"image_score: expected one of {SCORE_RULES}, got {self.image_score!r}")
        if not (isinstance(self.top_share, (int, float)) and 0 < self.top_share <= 1):
            raise ValueError(f"top_share: expected a share in (0, 1], got {self.top_share!r}")
        if not 0 <= self.contamination < 1:
            raise ValueError(f"contamination: expected a share in [0, 1), got {self.contamination!r}")
        resolve_device(self.device)

    def _build_networks(self) -> dict[str, nn.Module]:
        raise NotImplementedError

    def _train(self, data, progress: bool) -> None:
        """Train the networks on normal images; set the fitted networks and history_."""
        raise NotImplementedError

    def _score_batch(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """x (B, C, S, S) in [0, 1] on the model's device -> scores (B,), maps (B, S, S)."""
        raise NotImplementedError

    # --- the shared API ----------------------------------------------------------------------------------------
    def fit(
        self,
        images,
        progress: bool = False,
        checkpoint: str | Path | None = None,
        resume: bool = False,
        on_round=None,
        known_defects=None,
    ):
        """Learn normal appearance from `images` (normal only); returns self. A refit starts from scratch.

        A seeded share `validation_split` of the images is held out of training: `threshold_` comes from their
        scores, and synthetic defects made from them give the validation figures in `validation_` (and pick the
        round whose networks are kept, where the method validates by round). With `checkpoint`, the training state
        is written there (atomically) after every round; with `resume=True` as well, a training killed midway
        continues from it and ends with the same model as an uninterrupted run (on CPU, same seed). The checkpoint
        is left in place after training, so the training is not lost before the model is saved: delete it then
        (`ganspect fit` does, once the model is written).

        `on_round(detector, round, figures)`, when given, is called after every validated round with the networks
        as they stand then: `score`, `score_and_map` and `anomaly_map` work inside it (scored under the rule
        validation found best at that round, `figures["rule"]`), so a caller can log them or follow a measure of
        its own through training (`benchmarks/proxy_tracking.py` follows the test figures beside the proxy).
        `figures` holds the proxy figures. Training ignores what it does. With `validation_split=0` no round is
        validated, and it is never called.

        `known_defects` (anything `images` may be), when given: real defective images the user has. They are never
        trained on and never set the threshold; the image-score rule (RepairGAN: the verdict, with
        verdict="auto") is chosen on them against the held-out normal images instead of on synthetic defects, so
        it follows what the product's defects look like (`validation_["known_auroc"]`). The round kept is still
        chosen on the synthetic defects: a handful of real ones gives too few pairs to pick among rounds."""
        self._check_params()
        if on_round is not None and not callable(on_round):
            raise ValueError(f"on_round: expected a function (detector, round, figures), got {on_round!r}")
        self._begin_fit(on_round, checkpoint)
        if self._checkpoint_path and not resume:
            self._checkpoint_path.unlink(missing_ok=True)  # a fresh start must not pick up an old state
        data = as_dataset(images, self.channels, self.image_size)
        if len(data) == 0:
            raise ValueError("images: expected at least one normal training image, got none")
        data = cache_if_small(data)
        train_idx, held_idx = split_indices(len(data), self.validation_split, self.threshold_images, self.seed)
        folds = fold_indices(train_idx, len(held_idx), self.validation_folds, self.seed)
        known = self._known_images(known_defects, held_idx)
        self._fit_split(data, train_idx, held_idx, known, progress)
        if self._validation is not None:
            figures = self._validation.measure(self)
            choice = figures.pop("choice")
            if folds:
                choice = pooled([choice, *(self._fold_choice(data, f, known, progress) for f in folds)])
                rule = best_rule(choice)
                if rule != figures["rule"]:
                    figures = self._validation.measure(self, rule)
                    figures.pop("choice")
                figures["folds_auroc"] = choice[rule][0]
            self.score_rule_ = figures.pop("rule")
            self.held_out_scores_ = figures.pop("normal_scores")
            self.map_scale_ = figures.pop("map_scale")
            self.validation_ = {"held_out_images": len(held_idx), "train_images": len(train_idx), **figures}
            if known is not None:
                self.validation_["known_defects"] = len(known)
            if folds:
                self.validation_["validation_folds"] = len(folds) + 1
            if len(choice) > 1:  # each rule's AUROC on the defects (synthetic or known) that chose among them
                self.validation_ |= {f"rule_auroc_{r}": auroc for r, (auroc, _) in choice.items()}
            log.info("validation: %s", self.validation_)
            self.threshold_ = float(np.quantile(self.held_out_scores_, 1 - self.contamination))
        else:
            self.score_rule_ = self._score_rules()[0]
            self.validation_ = {"held_out_images": 0, "train_images": len(train_idx)}
            self.threshold_ = self._threshold_from(data, progress)
        if not (self.map_reference or self.score_rule_ == "reference"):
            self.map_reference_ = None  # measured for a rule validation did not choose: of no use to the model
        self._validation = self._reference = self._on_round = None  # of no further use
        return self

    def _begin_fit(self, on_round, checkpoint) -> None:
        """What a fit keeps while it runs: the callback, the fields it started with (`_check_usable` compares),
        the training checkpoint's path, the device, and the process's rank."""
        self._on_round = on_round
        self._fit_params = dataclasses.asdict(self)
        self._checkpoint_path = Path(checkpoint) if checkpoint else None
        self.device_ = resolve_device(self.device)
        # one process unless training starts several (train.make_fabric); closed-form fits start none
        self.global_rank_, self.world_size_ = 0, 1

    def _fit_split(self, data, train_idx: list[int], held_idx: list[int], known, progress: bool) -> None:
        """Train on data[train_idx], validating on data[held_idx] (and the known defects); the networks end frozen."""
        self._validation = (
            Validation(data, held_idx, self.seed, defect_kinds(self.validation_defects), known) if held_idx else None
        )
        train_data = Subset(data, train_idx) if held_idx else data
        self.map_reference_ = None
        # without held-out images no rule is chosen (the first is kept), so only that one may need the reference
        rules = self._score_rules() if held_idx else self._score_rules()[:1]
        wanted = self.map_reference or "reference" in rules
        self._reference = seeded_sample(train_data, self.threshold_images, self.seed) if wanted else None
        if self.patch_size:
            train_data = RandomPatches(train_data, self.patch_size, self.patches_per_image, self.seed)
        # fork_rng: the library never moves the caller's global random state
        cuda = [self.device_] if self.device_.type == "cuda" else []
        with torch.random.fork_rng(devices=cuda), reproducible(self.device_):
            torch.manual_seed(self.seed)
            self._train(train_data, progress)
        self._freeze()
        self._set_reference()

    def _fold_choice(self, data, held_idx: list[int], known, progress: bool) -> dict[str, tuple[float, float]]:
        """Cross-fitted validation: a twin of this detector trained holding out `held_idx` instead (no training
        checkpoint, no on_round), and how each image-score rule did on its held-out images (Validation.measure's
        `choice`). The twin is dropped; only the choice counts."""
        log.info("validation fold: training a model that holds out %d other images", len(held_idx))
        twin = dataclasses.replace(self, validation_folds=1)
        twin._begin_fit(on_round=None, checkpoint=None)
        train_idx = sorted(set(range(len(data))) - set(held_idx))
        twin._fit_split(data, train_idx, held_idx, known, progress)
        return twin._validation.measure(twin)["choice"]

    def score_and_map(self, images, progress: bool = False) -> tuple[np.ndarray, np.ndarray]:
        """(scores (N,) float32, maps (N, S, S) float32) in one pass; S is the model's image size."""
        scores, maps = [], []
        for s, m in self._scored_batches(images, progress):
            scores.append(s)
            maps.append(m)
        if not scores:
            return np.zeros(0, np.float32), np.zeros((0, self.image_size, self.image_size), np.float32)
        return np.concatenate(scores), np.concatenate(maps)

    def score(self, images, progress: bool = False) -> np.ndarray:
        """(N,) float32 anomaly scores, higher = more anomalous. Maps are dropped batch by batch, so memory does
        not grow with the number of images beyond one float per image."""
        scores = [s for s, _ in self._scored_batches(images, progress)]
        return np.concatenate(scores) if scores else np.zeros(0, np.float32)

    def _scored_batches(self, images, progress: bool):
        """Yield (scores (B,), maps (B, S, S)) as float32 arrays, one batch at a time, images streamed."""
        for s, m in self._raw_batches(images, progress):
            s, m = self._finish(s, m, self.score_rule_)
            yield s.float().cpu().numpy(), m.cpu().numpy()

    def _raw_batches(self, images, progress: bool):
        """Yield what the networks give, batch by batch, before `_finish` (validation finishes them under each
        rule it compares)."""
        self._check_usable()
        data = as_dataset(images, self.channels, self.image_size)
        for x in tqdm(batches(data, self.batch_size), desc="scoring", unit="batch", disable=not progress):
            x = x.to(self.device_)
            with reproducible(self.device_):  # cuDNN's forward kernels too may add in a varying order
                scored = self._score_patches(x) if self.patch_size else self._score_batch(x)
            yield scored

    def _finish(self, scores: torch.Tensor, maps: torch.Tensor, rule: str) -> tuple[torch.Tensor, torch.Tensor]:
        """The maps smoothed (and standardised by the normal maps, with map_reference), and the image score `rule`
        gives: the model's own, or read off the map, or off the map standardised by the normal maps."""
        maps = smooth(maps.float(), self.map_sigma)
        standard = maps
        if self.map_reference_ is not None:  # the reference is measured on plain maps (it is None meanwhile)
            mean, spread = self.map_reference_
            standard = ((maps - mean) / spread).clamp(min=0)  # how far above normal; below it is not anomalous
        shown = standard if self.map_reference else maps
        if rule == "model":
            return scores, shown
        return top_mean(standard if rule == "reference" else shown, self.top_share), shown

    def _score_rules(self) -> tuple[str, ...]:
        """The image-score rules validation may choose between; the first wins ties."""
        return ("model", "map", "reference") if self.image_score == "auto" else (self.image_score,)

    def anomaly_map(self, images, progress: bool = False) -> np.ndarray:
        """(N, S, S) float32: how anomalous each pixel looks, at the model's image size."""
        return self.score_and_map(images, progress)[1]

    def predict(self, images, progress: bool = False) -> np.ndarray:
        """(N,) int: 1 where score > threshold_, else 0."""
        return (self.score(images, progress) > self.threshold_).astype(np.int64)

    def save(self, path: str | Path) -> None:
        """Write a plain checkpoint (networks, hyperparameters, threshold, history), atomically."""
        save_checkpoint(path, self.to_checkpoint())

    def to_checkpoint(self) -> dict[str, Any]:
        """The plain dict that `save` writes and `from_checkpoint` reads."""
        self._check_usable()
        return {
            "detector": type(self).__name__,
            "params": dataclasses.asdict(self),
            "networks": {n: getattr(self, n + "_").state_dict() for n in self.network_names},
            "threshold": float(self.threshold_),
            "history": {k: [float(v) for v in vs] for k, vs in self.history_.items()},
            "validation": {k: float(v) for k, v in self.validation_.items()},
            "score_rule": self.score_rule_,
            "map_scale": float(self.map_scale_),
            "map_reference": None if self.map_reference_ is None else self.map_reference_.cpu(),
        }

    @classmethod
    def from_checkpoint(cls, ckpt: dict[str, Any], device: str | None = None) -> Detector:
        known = {f.name for f in dataclasses.fields(cls)}
        params = {k: v for k, v in ckpt["params"].items() if k in known}
        if device is not None:
            params["device"] = device
        det = cls(**params)
        det._check_params()
        det._fit_params = dataclasses.asdict(det)
        det.device_ = resolve_device(det.device)
        networks = det._build_networks()
        for name, net in networks.items():
            net.load_state_dict(ckpt["networks"][name])
            setattr(det, name + "_", net.to(det.device_))
        det.threshold_ = float(ckpt["threshold"])
        det.history_ = {k: list(v) for k, v in ckpt["history"].items()}
        det.validation_ = dict(ckpt.get("validation", {}))
        det.score_rule_ = ckpt.get("score_rule", "model")
        det.map_scale_ = float(ckpt.get("map_scale", 1.0))  # checkpoints written before it existed lack it
        reference = ckpt.get("map_reference")
        det.map_reference_ = None if reference is None else reference.to(det.device_)
        det._freeze()
        return det

    def _score_patches(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Slide the patch window over x (B, C, S, S): the image score is the highest patch score, and the map is
        the patch maps stitched back in place, overlaps averaged."""
        patches, corners = cut_patches(x, self.patch_size, self.patch_stride or max(1, self.patch_size // 2))
        results = [self._score_batch(chunk) for chunk in patches.flatten(0, 1).split(self.batch_size)]
        patch_scores = torch.cat([r[0] for r in results]).view(len(x), len(corners))  # (B, L)
        patch_maps = torch.cat([r[1] for r in results]).view(len(x), len(corners), *patches.shape[-2:])
        return stitch_patches(patch_scores, patch_maps, corners, self.image_size)

    def _round_checkpoint(
        self, modules: dict, optimizers: dict, shuffle_rng, data, fabric, best: BestRound | None = None
    ) -> RoundCheckpoint:
        path = getattr(self, "_checkpoint_path", None)
        return RoundCheckpoint(path, dataclasses.asdict(self), modules, optimizers, shuffle_rng, data, fabric, best)

    def _validate_round(self, index: int, modules: dict[str, nn.Module], best: BestRound) -> None:
        """Measure the validation proxy with `modules` (fitted name -> network) as they stand after round `index`,
        record it in history_, and let `best` keep them if they are the best so far. No held-out images: nothing
        to measure, and the last round is kept."""
        if getattr(self, "_validation", None) is None:
            return
        modes = {name: m.training for name, m in modules.items()}
        for name, module in modules.items():
            setattr(self, name + "_", module.eval())  # eval(): scored exactly as the fitted model will score
        self._set_reference()  # these networks' own normal maps
        figures = self._validation.measure(self)
        if getattr(self, "_on_round", None) is not None:
            self.score_rule_ = figures["rule"]  # fit sets the final one after training
            self._on_round(self, index, {k: figures[k] for k in ("proxy_auroc", "proxy_pixel_auroc", "proxy", "rule")})
        for name, module in modules.items():
            module.train(modes[name])
        for key in ("proxy_auroc", "proxy_pixel_auroc", "proxy"):
            self.history_.setdefault(key, []).append(figures[key])
        best.offer(figures["proxy"], index, modules, always=not self.pick_round)

    # --- helpers ------------------------------------------------------------------------------------------------
    def _known_images(self, known_defects, held_idx: list[int]) -> torch.Tensor | None:
        """The user's known defective images as one tensor (K, C, S, S), or None when there are none."""
        if known_defects is None:
            return None
        if not held_idx:
            raise ValueError(
                "known_defects: they are measured against held-out normal images, and validation_split is 0 "
                "(or there is one training image); expected validation_split > 0"
            )
        try:  # read them all now: a bad file fails before training starts
            data = as_dataset(known_defects, self.channels, self.image_size)
            images = [data[i] for i in range(len(data))]
        except ValueError as err:
            raise ValueError(f"known_defects: {err}") from None
        if not images:
            raise ValueError("known_defects: expected at least one defective image, got none")
        return torch.stack(images)

    def _check_usable(self) -> None:
        """Fitted, with valid fields, none changed since fit but those that only steer scoring: a changed
        image_size (say) would otherwise meet networks built for the old one, or be saved into a file that
        `load` refuses."""
        self._check_fitted()
        self._check_params()
        for name, value in self._fit_params.items():
            if name not in self.scoring_fields and getattr(self, name) != value:
                free = ", ".join(sorted(self.scoring_fields))
                raise ValueError(
                    f"{name}: the model was fitted with {value!r}, now {getattr(self, name)!r}; it shapes the fitted "
                    f"model, so set it back or fit again (free to change after fit: {free})"
                )

    def _check_fitted(self) -> None:
        if not all(hasattr(self, n + "_") for n in self.network_names):
            raise NotFittedError(f"this {type(self).__name__} is not fitted yet: call fit() or ganspect.load()")

    def _freeze(self) -> None:
        # eval(): BatchNorm uses running statistics, so a score does not depend on its batch mates
        for name in self.network_names:
            net = getattr(self, name + "_").eval().requires_grad_(False)
            for p in net.parameters():
                p.grad = None  # training's last gradients are of no further use

    def _set_reference(self) -> None:
        """With map_reference or the 'reference' rule: map_reference_ (2, S, S), the mean and the standard deviation,
        pixel by pixel, of the maps of the sampled training images as the networks now stand; the deviation plus a
        tenth of its average, so a pixel that varies little over normal images (an empty background) is not divided
        by ~0."""
        if self._reference is None:
            return
        self.map_reference_ = None  # the maps it summarises are the plain ones
        maps = collect(self, self._reference)[1]
        spread = maps.std(0) if len(maps) > 1 else torch.zeros_like(maps[0])
        spread = spread + 0.1 * spread.mean() + 1e-6  # 1e-6: maps that are exactly equal on every image
        self.map_reference_ = torch.stack([maps.mean(0), spread]).to(self.device_)

    def _threshold_from(self, data, progress: bool) -> float:
        """(1 - contamination) quantile of the scores of a seeded sample of training images; their maps give
        map_scale_, the top of a heat map's colour scale."""
        subset = seeded_sample(data, self.threshold_images, self.seed)
        self.train_scores_, maps = self.score_and_map(subset, progress)
        self.map_scale_ = float(np.quantile(maps, MAP_SCALE_QUANTILE))
        return float(np.quantile(self.train_scores_, 1 - self.contamination))


def seeded_sample(data, count: int, seed: int) -> Subset:
    """At most `count` of the images, drawn without replacement by `seed`, in their original order."""
    pick = torch.randperm(len(data), generator=torch.Generator().manual_seed(seed))[:count]
    return Subset(data, sorted(pick.tolist()))


def detector_classes() -> dict[str, type[Detector]]:
    """Every detector by its class name: the one list that the CLI and `load` share."""
    from .anogan import AnoGAN
    from .baselines import LocalStatistics, PCAReconstruction, PixelGaussian
    from .ognet import OGNet
    from .repairgan import RepairGAN

    return {
        "AnoGAN": AnoGAN,
        "OGNet": OGNet,
        "RepairGAN": RepairGAN,
        "PixelGaussian": PixelGaussian,
        "PCAReconstruction": PCAReconstruction,
        "LocalStatistics": LocalStatistics,
    }


def load(path: str | Path, device: str | None = None) -> Detector | Ensemble:
    """Read a detector (or an Ensemble of them) saved with `save`; `device` overrides the one it was saved with."""
    from .ensemble import Ensemble  # it holds detectors, so it imports this module

    detectors = {**detector_classes(), "Ensemble": Ensemble}
    ckpt = read_checkpoint(path)
    kind = ckpt.get("detector")
    if kind not in detectors:
        raise ValueError(f"{path}: unknown detector {kind!r}; this ganspect knows {sorted(detectors)}")
    try:
        return detectors[kind].from_checkpoint(ckpt, device)
    except (KeyError, RuntimeError, TypeError) as err:
        raise ValueError(f"{path}: a ganspect checkpoint, but its contents do not rebuild a {kind}: {err}") from None
    except ValueError as err:  # a field it cannot take here (a CUDA device), an ensemble's unknown member
        raise ValueError(f"{path}: {err}") from None
