"""The command line: fit | select | ensemble | score | evaluate | compare | export | serve | benchmark | demo.
`fit` flags are made from the detector's fields, and `select`'s candidates name them."""

from __future__ import annotations

import argparse
import dataclasses
import json
import logging
import re
import sys
import time
from pathlib import Path

import torch
from tqdm.auto import tqdm

from . import __version__
from .checkpoint import check_output, write_text
from .data import ImageFiles, MVTecFolder, expand_paths, set_max_pixels
from .detector import Detector, detector_classes, load
from .ensemble import Ensemble
from .evaluate import evaluate_folder, write_scores_csv
from .selection import SELECTION_DEFECTS, select

# what `ganspect select` fits when --candidates is left out: every method, AnoGAN with f-AnoGAN's one-pass encoder
DEFAULT_CANDIDATES = ["gaussian", "pca", "local-stats", "anogan:mapping=encoder", "ognet", "repairgan"]


def field_kind(f: dataclasses.Field) -> type:
    """What a field's flag (and a `select` candidate's setting) holds: bool, int, float or str. An automatic field
    (None by default, "bool | None" or "float | None") takes a bool or a float, or stays None when left out."""
    if f.type == "bool | None":
        return bool
    return float if f.type == "float | None" else type(f.default)


def add_field_flags(parser: argparse.ArgumentParser, cls: type[Detector]) -> None:
    for f in dataclasses.fields(cls):
        kind = field_kind(f)
        flag = "--" + f.name.replace("_", "-")
        words = f.metadata.get("help", "").replace("%", "%%")  # argparse reads % as a format; "80%" is words
        if kind is bool:  # --x / --no-x; neither leaves the default (None: automatic)
            parser.add_argument(flag, action=argparse.BooleanOptionalAction, default=f.default, help=words)
        else:
            parser.add_argument(flag, type=kind, default=f.default, dest=f.name, help=f"{words} (default: {f.default})")


def field_value(cls: type[Detector], name: str, text: str):
    """`text` as a value of the field `name` of `cls`, converted as its flag would convert it."""
    fields = {f.name: f for f in dataclasses.fields(cls)}
    if name not in fields:
        raise ValueError(f"{cls.command}: no setting {name!r}; expected one of {', '.join(sorted(fields))}")
    f, word = fields[name], text.strip().lower()
    kind = field_kind(f)
    if word == "none" and "None" in str(f.type):
        return None
    if kind is bool:
        if word not in ("true", "false", "1", "0", "yes", "no"):
            raise ValueError(f"{cls.command}: {name} expects true or false, got {text!r}")
        return word in ("true", "1", "yes")
    try:
        return kind(text)
    except ValueError:
        raise ValueError(f"{cls.command}: {name} expects a {kind.__name__}, got {text!r}") from None


def parse_candidate(spec: str, shared: dict) -> Detector:
    """A detector from 'command[:field=value,field=value]' ('anogan:mapping=encoder,steps=400'), with the fields in
    `shared` (channels, image size, seed...) set on it as well; a value may hold commas ('defects=blob,scar')."""
    command, _, settings = spec.partition(":")
    classes = {cls.command: cls for cls in detector_classes().values()}
    if command not in classes:
        raise ValueError(f"--candidates: unknown detector {command!r} in {spec!r}; expected one of {sorted(classes)}")
    cls = classes[command]
    params = dict(shared)
    for item in re.split(r",(?=[\w-]+=)", settings) if settings else []:
        name, sep, text = item.partition("=")
        if not sep:
            raise ValueError(f"--candidates: expected field=value in {spec!r}, got {item!r}")
        name = name.strip().replace("-", "_")
        params[name] = field_value(cls, name, text)
    return cls(**params)


def score_files(det: Detector, paths: list[Path], progress: bool) -> tuple[list[float | None], list[str]]:
    """Score image files batch by batch; a file that cannot be read gets no score and its error, and the others
    are scored all the same (a score does not depend on its batch mates)."""
    files = ImageFiles(paths, det.channels, det.image_size)
    scores: list[float | None] = [None] * len(paths)
    errors = [""] * len(paths)
    for start in tqdm(range(0, len(paths), det.batch_size), desc="scoring", unit="batch", disable=not progress):
        readable, images = [], []
        for i in range(start, min(start + det.batch_size, len(paths))):
            try:
                images.append(files[i])
                readable.append(i)
            except ValueError as err:
                errors[i] = str(err)
        if images:
            for i, value in zip(readable, det.score(torch.stack(images)), strict=True):
                scores[i] = float(value)
    return scores, errors


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="ganspect", description="GAN-based visual anomaly detection")
    parser.add_argument("-q", "--quiet", action="store_true", help="no progress bars")
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    parser.add_argument(
        "--max-pixels", type=int, default=None, help="largest image read, in pixels (default 89,478,485)"
    )
    commands = parser.add_subparsers(dest="command", required=True)

    fit = commands.add_parser("fit", help="train a detector on DATA/train/good (MVTec AD layout)")
    methods = fit.add_subparsers(dest="method", required=True)
    for cls in detector_classes().values():
        method = methods.add_parser(cls.command, help=(cls.__doc__ or "").strip().splitlines()[0])
        method.add_argument("data", type=Path, help="MVTec AD-style folder; trains on its train/good")
        method.add_argument("-o", "--output", type=Path, required=True, help="where to write the model (.pt)")
        method.add_argument(
            "--resume",
            action="store_true",
            help="continue a killed training from OUTPUT.partial, the state saved after every epoch",
        )
        method.add_argument(
            "--known-defects",
            type=Path,
            default=None,
            metavar="DIR",
            help="a folder of real defective images, never trained on: validation chooses the image score (and "
            "RepairGAN's --verdict auto) on them instead of on synthetic defects",
        )
        add_field_flags(method, cls)
        method.set_defaults(detector_class=cls)

    choose = commands.add_parser(
        "select", help="fit several detectors on DATA/train/good and keep the one validation rates best (no labels)"
    )
    choose.add_argument("data", type=Path, help="MVTec AD-style folder; trains on its train/good")
    choose.add_argument("-o", "--output", type=Path, required=True, help="where to write the chosen model (.pt)")
    choose.add_argument(
        "--candidates",
        nargs="+",
        default=DEFAULT_CANDIDATES,
        metavar="SPEC",
        help="detectors to compare, each 'command[:field=value,...]' as in `ganspect fit` (default: "
        f"{' '.join(DEFAULT_CANDIDATES)})",
    )
    choose.add_argument("--channels", type=int, default=1, help="1 for grey, 3 for colour (default: 1)")
    choose.add_argument("--image-size", type=int, default=64, help="side of the square images (default: 64)")
    choose.add_argument("--seed", type=int, default=0, help="seed of every fit and of the held-out split (default: 0)")
    choose.add_argument(
        "--validation-defects",
        default=SELECTION_DEFECTS,
        help="synthetic defects every candidate is rated on, kinds none of them trains on (default: "
        f"{SELECTION_DEFECTS})",
    )
    choose.add_argument(
        "--known-defects",
        type=Path,
        default=None,
        metavar="DIR",
        help="a folder of real defective images, never trained on: candidates are rated on them (image AUROC)",
    )

    score = commands.add_parser("score", help="score image files or folders; one CSV row per image")
    score.add_argument("model", type=Path)
    score.add_argument("paths", type=Path, nargs="+", help="image files or folders of images")
    score.add_argument("--csv", type=Path, required=True, help="output: path, score, predicted (1 = anomalous)")
    score.add_argument("--device", default=None, help="override the model's device")

    evaluate = commands.add_parser("evaluate", help="score DATA/test and write metrics, scores and heat maps")
    evaluate.add_argument("model", type=Path)
    evaluate.add_argument("data", type=Path, help="MVTec AD-style folder with test/ (and ground_truth/)")
    evaluate.add_argument("--out", type=Path, required=True, help="output folder")
    evaluate.add_argument("--overlays", type=int, default=16, help="how many heat-map overlays to write")
    evaluate.add_argument("--device", default=None, help="override the model's device")

    versus = commands.add_parser(
        "compare", help="two models (or two sets of fits) on DATA/test, photo by photo: AUROC differences, intervals"
    )
    versus.add_argument("data", type=Path, help="MVTec AD-style folder with test/ (and ground_truth/)")
    versus.add_argument(
        "--models", type=Path, nargs="+", required=True, help="one model, or fits of one method (averaged)"
    )
    versus.add_argument("--against", type=Path, nargs="+", required=True, help="the other side, as --models")
    versus.add_argument("--json", type=Path, default=None, help="also write the figures here as JSON")
    versus.add_argument("--device", default=None, help="override the models' device")

    ensemble = commands.add_parser(
        "ensemble", help="join fits of one method (other seeds) into one model that averages their scores and maps"
    )
    ensemble.add_argument("models", type=Path, nargs="+", help="fitted models (.pt) of one method and image size")
    ensemble.add_argument("-o", "--output", type=Path, required=True, help="where to write the ensemble (.pt)")

    export = commands.add_parser(
        "export", help="write a one-pass scorer (encoder AnoGAN, OGNet, RepairGAN, baselines) as ONNX"
    )
    export.add_argument("model", type=Path)
    export.add_argument("-o", "--output", type=Path, required=True, help="the .onnx file to write")

    serve = commands.add_parser("serve", help="serve a model over HTTP: POST /score, GET /model, the page at /")
    serve.add_argument("model", type=Path)
    serve.add_argument("--host", default="127.0.0.1", help="address to listen on (0.0.0.0: every interface)")
    serve.add_argument("--port", type=int, default=8000)
    serve.add_argument("--device", default=None, help="override the model's device")
    serve.add_argument("--max-batch", type=int, default=32, help="most images scored in one batch")
    serve.add_argument(
        "--max-wait-ms", type=float, default=0.0, help="how long a batch waits for more images (0: no added wait)"
    )
    serve.add_argument("--queue", type=int, default=256, help="most images waiting; past it, requests get 503")
    serve.add_argument(
        "--decode-threads", type=int, default=None, help="threads decoding uploads (default: half the cores, >= 1)"
    )
    serve.add_argument(
        "--model-threads", type=int, default=None, help="the model's CPU threads (default: the cores left, >= 1)"
    )
    serve.add_argument("--max-request-mb", type=float, default=32.0, help="largest request body, in MiB (413 over)")

    bench = commands.add_parser("benchmark", help="published protocols, with our detectors side by side")
    protocols = bench.add_subparsers(dest="protocol", required=True)
    mnist = protocols.add_parser("one-class-mnist", help="train on digit k, test on all ten digits, k normal")
    mnist.add_argument("--data", type=Path, required=True, help="folder with the four MNIST files (.gz or not)")
    mnist.add_argument("--out", type=Path, required=True, help="writes results.json and results.md here")
    mnist.add_argument("--digits", type=int, nargs="+", default=list(range(10)))
    mnist.add_argument(
        "--detectors", nargs="+", default=["gaussian", "pca", "anogan-search", "anogan-encoder", "ognet"]
    )
    mnist.add_argument("--per-digit-sample", type=int, default=30, help="test images per digit for the search rows")
    mnist.add_argument("--device", default="auto")

    demo = commands.add_parser("demo", help="AnoGAN on scikit-learn's bundled digits, no download")
    demo.add_argument("--out", type=Path, default=Path("demo_out"), help="output folder")
    return parser


def run(args: argparse.Namespace) -> int:
    progress = not args.quiet
    if args.max_pixels is not None:
        set_max_pixels(args.max_pixels)
    if args.command == "fit":
        cls = args.detector_class
        params = {f.name: getattr(args, f.name) for f in dataclasses.fields(cls)}
        det = cls(**params)
        paths = MVTecFolder(args.data).train_paths()
        partial = args.output.with_name(args.output.name + ".partial")
        check_output(args.output)
        check_output(partial)
        start = time.perf_counter()
        if args.resume and not partial.exists():
            print(f"ganspect: no {partial} to resume from; starting afresh", file=sys.stderr)
        det.fit(
            ImageFiles(paths, det.channels, det.image_size),
            progress,
            checkpoint=partial,
            resume=args.resume,
            known_defects=args.known_defects,
        )
        if det.global_rank_ != 0:  # data-parallel training: every process trained the same model; one writes it
            return 0
        det.save(args.output)
        partial.unlink(missing_ok=True)  # only now: the model is safely written
        v = det.validation_
        seconds = time.perf_counter() - start
        views = ""
        if det.augments(v["train_images"]):
            views = " and their flips and shifts" if det.augment_flips else " and their shifts"
        print(f"trained {cls.__name__} on {v['train_images']} images{views} in {seconds:.1f} s -> {args.output}")
        if v["held_out_images"]:
            chosen = ""
            if "known_auroc" in v:
                chosen = f"; image AUROC {v['known_auroc']:.3f} on {v['known_defects']:.0f} known defective images"
            if "validation_folds" in v:
                chosen += f" (rule chosen over {v['validation_folds']:.0f} folds: mean AUROC {v['folds_auroc']:.3f})"
            rules = ", ".join(f"{k[len('rule_auroc_') :]} {a:.3f}" for k, a in v.items() if k.startswith("rule_auroc_"))
            print(
                f"validation on {v['held_out_images']} held-out normal images: image AUROC {v['proxy_auroc']:.3f} and "
                f"pixel AUROC {v['proxy_pixel_auroc']:.3f} on synthetic defects ({det.validation_defects}){chosen}; "
                f"image score {det.score_rule_!r}{f' (AUROC by rule: {rules})' if rules else ''}; threshold "
                f"{det.threshold_:.4g} (their {1 - det.contamination:.0%} quantile)"
            )
    elif args.command == "select":
        shared = {"channels": args.channels, "image_size": args.image_size, "seed": args.seed}
        candidates = {spec: parse_candidate(spec, shared) for spec in args.candidates}
        paths = MVTecFolder(args.data).train_paths()
        check_output(args.output)
        found = select(candidates, paths, progress, args.validation_defects, args.known_defects)
        found.best.save(args.output)
        held = found.best.validation_["held_out_images"]
        print(
            f"rated on {held:.0f} held-out normal images and synthetic defects ({args.validation_defects}) they were "
            f"never chosen on:\n{found.summary()}\nchose {found.name} -> {args.output}"
        )
    elif args.command == "score":
        check_output(args.csv)
        det = load(args.model, args.device)
        paths = expand_paths(args.paths)
        scores, errors = score_files(det, paths, progress)
        rows = [
            {
                "path": str(p),
                "score": "" if s is None else f"{s:.6g}",
                "predicted": "" if s is None else int(s > det.threshold_),
                "error": e,
            }
            for p, s, e in zip(paths, scores, errors, strict=True)
        ]
        write_scores_csv(args.csv, rows)
        read = [s for s in scores if s is not None]
        flagged = sum(s > det.threshold_ for s in read)
        print(f"scored {len(read)} images ({flagged} above threshold) -> {args.csv}")
        failed = len(paths) - len(read)
        if failed:
            first = next(e for e in errors if e)
            print(
                f"ganspect: {failed} of {len(paths)} images could not be read and have no score (their rows in "
                f"{args.csv} say why; first: {first})",
                file=sys.stderr,
            )
            return 1
    elif args.command == "evaluate":
        det = load(args.model, args.device)
        metrics = evaluate_folder(det, args.data, args.out, overlays=args.overlays, progress=progress)
        print(json.dumps(metrics, indent=2))
    elif args.command == "compare":
        from .comparison import compare

        if args.json is not None:
            check_output(args.json)
        sides = [[load(path, args.device) for path in paths] for paths in (args.models, args.against)]
        found = compare(*sides, args.data)
        print(f"{found['n_images']} test images ({found['n_anomalous']} anomalous); {found['level']:.0%} intervals")
        for key, name in (("image_auroc", "image AUROC"), ("pixel_auroc", "pixel AUROC")):
            if f"{key}_difference" in found:
                gap = found[f"{key}_difference"]
                print(
                    f"{name}: {found[f'first_{key}']:.3f} against {found[f'second_{key}']:.3f}, difference "
                    f"{gap['difference']:+.3f} ({gap['low']:+.3f} to {gap['high']:+.3f}): {found[f'{key}_verdict']}"
                )
        if args.json is not None:
            write_text(args.json, json.dumps(found, indent=2) + "\n")
    elif args.command == "ensemble":
        check_output(args.output)
        try:
            joined = Ensemble([load(path) for path in args.models])
        except ValueError as err:  # it counts members from 0: name the files
            named = ", ".join(f"{k} = {path}" for k, path in enumerate(args.models))
            raise ValueError(f"{err} (members: {named})") from None
        joined.save(args.output)
        kind = type(joined.members[0]).__name__
        print(
            f"joined {len(joined.members)} {kind} models -> {args.output}: scores and maps averaged; threshold "
            f"{joined.threshold_:.4g} (the mean of the members')"
        )
    elif args.command == "export":
        from .export import export_onnx

        check_output(args.output)
        det = load(args.model, "cpu")
        export_onnx(det, args.output)
        where = f"patches of {det.net_size}x{det.net_size}" if det.patch_size else f"{det.net_size}x{det.net_size}"
        print(
            f"exported {type(det).__name__} -> {args.output}: images (N, {det.channels}, S, S) in [0, 1], S = "
            f"{det.net_size} ({where}); outputs score (N,) and anomaly_map (N, S, S)"
        )
    elif args.command == "serve":
        try:
            from .serve import serve
        except ImportError as err:
            raise ValueError(f"serve needs the [serve] extra: pip install 'ganspect[serve]' ({err})") from None
        options = dict(max_batch=args.max_batch, max_wait_ms=args.max_wait_ms, queue_size=args.queue)
        options.update(decode_threads=args.decode_threads, max_request_bytes=int(args.max_request_mb * 2**20))
        options.update(model_threads=args.model_threads)
        serve(args.model, args.host, args.port, args.device, **options)
    elif args.command == "benchmark":
        from .benchmark import DETECTORS, run_one_class_mnist

        unknown = set(args.detectors) - set(DETECTORS)
        if unknown:
            raise ValueError(f"--detectors: unknown {sorted(unknown)}; expected some of {sorted(DETECTORS)}")
        run_one_class_mnist(
            args.data, args.out, args.digits, args.detectors, args.per_digit_sample, args.device, progress
        )
        print((args.out / "results.md").read_text())
    elif args.command == "demo":
        from .demo import run_demo

        metrics = run_demo(args.out, progress=progress)
        print(
            f"AnoGAN on scikit-learn's digits (0 normal): image AUROC {metrics['image_auroc']:.3f}, "
            f"AP {metrics['image_ap']:.3f}, best F1 {metrics['image_f1']:.3f}; fit {metrics['fit_seconds']} s, "
            f"{metrics['score_seconds_per_image'] * 1000:.0f} ms per scored image -> {args.out}/"
        )
    return 0


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    args = build_parser().parse_args(argv)
    try:
        return run(args)
    except (ValueError, FloatingPointError) as err:
        print(f"ganspect: error: {err}", file=sys.stderr)
        return 2
    except OSError as err:  # disk full, permissions, a vanished file: say which file and why, not a traceback
        where = f"{err.filename}: " if err.filename else ""
        print(f"ganspect: error: {where}{err.strerror or err}; nothing half-written was left behind", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("ganspect: interrupted", file=sys.stderr)
        return 130
