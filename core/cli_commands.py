"""Sub-commands: train, distill, val, predict, inspect, dataset check/convert."""
from __future__ import annotations

import json
import sys
from pathlib import Path


def _common_run(p, imgsz_type, default_epochs=100):
    p.add_argument("--data", required=True, help="data.yaml, VOC folder or COCO json/folder")
    p.add_argument("--epochs", type=int, default=default_epochs)
    p.add_argument("--imgsz", type=imgsz_type, default=640)
    p.add_argument("--batch", type=int, default=16)
    p.add_argument("--device", default="auto", help="cpu, cuda, cuda:N or auto")
    p.add_argument("--out", help="run folder (default runs/<command>/<n>)")
    p.add_argument("--resume", action="store_true", help="continue the run in --out where it stopped")
    p.add_argument("--events", help="JSON-lines events file (default <out>/events.jsonl)")
    p.add_argument("--workers", type=int, default=2)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--lr0", type=float)
    p.add_argument("--cache", choices=["auto", "ram", "none"], default="auto")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                   help="any other training setting, e.g. --set close_mosaic=5 (see docs/training.md)")


def _next_run_dir(base: str) -> str:
    b = Path(base)
    if not b.exists() or not any(b.iterdir()):
        return str(b)
    k = 2
    while Path(f"{b}{k}").exists():
        k += 1
    return f"{b}{k}"


def _train_config(args, command: str):
    from core.train.config import TrainConfig

    d = {"data": args.data, "epochs": args.epochs, "imgsz": args.imgsz, "batch": args.batch, "device": args.device,
         "resume": args.resume, "events": args.events, "workers": args.workers, "seed": args.seed, "cache": args.cache}
    if command == "distill":
        d["teacher"] = args.teacher
    if getattr(args, "model", None):
        d["model"] = args.model
    if args.lr0 is not None:
        d["lr0"] = args.lr0
    d.update(parse_sets(args.set))
    if args.out:
        d["out"] = args.out
    elif args.resume:
        raise ValueError("--resume needs --out DIR (the run folder to continue)")
    else:
        d["out"] = _next_run_dir(f"runs/{command}/exp")
    return TrainConfig.from_dict(d)


def parse_sets(items: list[str]) -> dict:
    """``["KEY=VALUE", ...]`` (the ``--set`` options) -> {key: YAML-parsed value}."""
    import yaml

    d = {}
    for kv in items:
        if "=" not in kv:
            raise ValueError(f"--set expects KEY=VALUE, got '{kv}'")
        k, v = kv.split("=", 1)
        d[k.strip()] = yaml.safe_load(v)
    return d


def cmd_train(args) -> int:
    from core.train.trainer import train

    cfg = _train_config(args, "train")
    res = train(cfg)
    return 0 if res.get("status") in ("finished", "stopped") else 1


def cmd_distill(args) -> int:
    from core.train.checkpoint import load_checkpoint
    from core.train.trainer import train

    if not args.resume:
        if not args.teacher:
            raise ValueError("distill needs --teacher WEIGHTS (or --resume --out DIR)")
        ck = load_checkpoint(args.teacher)  # fail early and clearly on a bad teacher file
        args.model = ck["model_config"]["name"]
    cfg = _train_config(args, "distill")
    res = train(cfg)
    return 0 if res.get("status") in ("finished", "stopped") else 1


def cmd_val(args) -> int:
    from core.data.formats import load_dataset
    from core.data.validate import validate
    from core.eval.plots import plot_confusion, plot_pr_curves
    from core.eval.validator import run_validation
    from core.infer.predictor import select_device
    from core.train.checkpoint import load_model

    device = select_device(args.device)
    model, ck = load_model(args.weights)
    imgsz = args.imgsz or int(ck.get("imgsz", 640))
    spec = load_dataset(args.data)
    if list(spec.names) != list(ck["names"]):
        raise ValueError(f"the dataset's classes {spec.names} differ from the model's {ck['names']}")
    samples, report = validate(spec, args.split)
    print(report.summary())
    model = model.fuse().to(device)
    res, _ = run_validation(model, samples, spec.names, imgsz, batch=args.batch, device=device, conf=args.conf,
                            iou=args.iou, verdict_conf=args.verdict_conf)
    w = max(len(n) for n in spec.names)
    print(f"{'class':<{w}} {'n_gt':>6} {'AP50':>7} {'AP50-95':>8}")
    for i, n in enumerate(spec.names):
        a50 = "-" if res.n_gt[i] == 0 else f"{res.ap50[i]:.4f}"
        a = "-" if res.n_gt[i] == 0 else f"{res.ap50_95[i]:.4f}"
        print(f"{n:<{w}} {res.n_gt[i]:>6} {a50:>7} {a:>8}")
    print(f"{'all':<{w}} {int(res.n_gt.sum()):>6} {res.map50:>7.4f} {res.map50_95:>8.4f}   "
          f"P {res.precision:.4f} R {res.recall:.4f} (best F1 at conf {res.best_conf:.3f}); "
          f"{res.n_images} images; convention coco-101")
    u = res.ultralytics
    print(f"same detections in Ultralytics' convention: mAP50 {u['map50']:.4f} mAP50-95 {u['map50_95']:.4f}")
    v = res.verdict
    print(f"inspection at conf {v['conf']}: escape rate {v['escape_rate']}, overkill rate {v['overkill_rate']} "
          f"({v['defective_images']} defective, {v['defect_free_images']} defect-free images)")
    if args.save_dir:
        out = Path(args.save_dir)
        out.mkdir(parents=True, exist_ok=True)
        plot_pr_curves(res.pr_curves, spec.names, res.ap50, out / "PR_curve.png")
        plot_confusion(res.confusion, spec.names, out / "confusion_matrix.png")
    if args.json:
        from core.cli import write_json

        write_json(args.json, res.to_json())
    return 0


def _frame_label(source, f) -> str:
    """What a prediction is called in the JSON: the image path, or SOURCE#INDEX for a stream/video."""
    where = source.describe()
    if source.live or f.name.isdigit():
        return f"{where}#{f.index}"
    return str(Path(where) / f.name) if Path(where).is_dir() else where


def cmd_predict(args) -> int:
    import cv2

    from core.infer.draw import draw_detections
    from core.infer.predictor import Predictor
    from core.inspect.sources import open_source
    from core.util.io import atomic_write_bytes

    pred = Predictor(args.weights, args.device, args.imgsz, conf=args.conf, iou=args.iou)
    source = open_source(args.source, demo_fps=0)
    save = Path(args.save_dir) if args.save_dir else None
    if save:
        save.mkdir(parents=True, exist_ok=True)
    out, n_err, n_det = [], 0, 0
    source.open()
    try:
        while not args.max_frames or len(out) < args.max_frames:
            try:
                f = source.read()
            except Exception as e:  # noqa: BLE001 - a camera that drops out ends the run, reported
                sys.stderr.write(f"{source.describe()}: {e}\n")
                break
            if f is None:
                break
            name = _frame_label(source, f)
            if f.image is None:
                n_err += 1
                sys.stderr.write(f"{name}: {f.error}\n")
                out.append({"image": name, "error": f.error, "detections": []})
                continue
            det = pred(f.image)
            n_det += len(det)
            out.append(det.to_json(name))
            if save:
                vis = draw_detections(f.image, det.boxes, det.scores, det.classes, pred.names)
                stem = Path(f.name).stem if not (source.live or f.name.isdigit()) else f"frame_{f.index:06d}"
                ok, buf = cv2.imencode(".jpg", vis)
                if ok:
                    atomic_write_bytes(save / f"{stem}.jpg", buf.tobytes())
            if not args.quiet:
                print(f"{name}: {len(det)} detection(s) "
                      + ", ".join(f"{pred.names[c]} {s:.2f}" for s, c in zip(det.scores, det.classes)))
    finally:
        source.close()
    if args.json:
        from core.cli import write_json

        write_json(args.json, out)
    print(f"{len(out)} image(s), {n_det} detection(s), {n_err} unreadable" + (f"; saved to {save}" if save else ""))
    return 0 if len(out) > n_err else 1

def cmd_dataset_convert(args) -> int:
    from core.data.formats import convert_dataset

    data, reports = convert_dataset(args.path, args.to, args.out)
    for r in reports:
        print(r.summary())
    print(f"written: {data} (use it as --data)")
    return 0


def cmd_dataset(args) -> int:
    from core.data.formats import load_dataset
    from core.data.validate import validate

    spec = load_dataset(args.path)
    print(f"{spec.root}: {spec.format} dataset, {len(spec.names)} classes: {', '.join(spec.names)}")
    bad = 0
    for s, raws in spec.splits.items():
        if not raws:
            continue
        _, report = validate(spec, s)
        print(report.summary())
        bad += len(report.problems)
    if bad:
        print(f"{bad} problem(s) found")
        return 1
    print("no problems found")
    return 0


def load_recipe(spec: str | None, conf: float | None):
    """A recipe from a JSON file path or a name in the recipe folder; --conf overrides its default."""
    from core.inspect.recipe import Recipe, RecipeStore
    from core.settings import recipes_dir

    if spec is None:
        r = Recipe()
    elif Path(spec).suffix == ".json" or Path(spec).is_file():
        try:
            r = Recipe.from_dict(json.loads(Path(spec).read_text()))
        except (OSError, ValueError, TypeError) as e:
            raise ValueError(f"{spec}: not a valid recipe ({e})") from None
    else:
        r = RecipeStore(recipes_dir()).load(spec)
    if conf is not None:
        r.conf = conf
    return r.validate()


def cmd_inspect(args) -> int:
    import signal
    import threading

    from core.infer.predictor import Predictor
    from core.inspect.pipeline import Pipeline
    from core.inspect.records import RecordsWriter
    from core.inspect.sources import open_source

    recipe = load_recipe(args.recipe, args.conf)
    pred = Predictor(args.weights, args.device, args.imgsz, conf=min(recipe.conf, *(recipe.class_conf.values() or [1])))
    source = open_source(args.source, watch=args.watch, demo_fps=args.demo_fps)
    records = RecordsWriter(args.db)
    states = []

    def on_state(state, msg):
        if state in ("no signal", "warning"):
            sys.stderr.write(f"{state}: {msg}\n")
        states.append(state)

    pipe = Pipeline(source, pred, recipe, records, save_ng=args.save_ng, save_all=args.save_all,
                    on_state=on_state, max_frames=args.max_frames)
    stop = threading.Event()
    old = {s: signal.signal(s, lambda *a: stop.set()) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        pipe.start()
        while not pipe.finished.is_set() and not stop.is_set():
            pipe.finished.wait(0.2)
    finally:
        pipe.stop()
        records.close()
        for s, h in old.items():
            signal.signal(s, h)
    sm = pipe.stats.summary()
    print(f"{sm['frames']} frames: {sm['ok']} OK, {sm['ng']} NG, {sm['error']} ERROR; yield {sm['yield_pct']:.1f}%; "
          f"{sm['fps']:.1f} frames/s; median latency {sm['median_total_ms']:.1f} ms "
          f"(capture {sm['median_capture_ms']:.1f}, pre {sm['median_preprocess_ms']:.1f}, "
          f"model {sm['median_inference_ms']:.1f}, "
          f"post {sm['median_postprocess_ms']:.1f}), frame age {sm['median_frame_age_ms']:.1f} ms")
    if sm["per_class"]:
        print("defects: " + ", ".join(f"{k} {v}" for k, v in sorted(sm["per_class"].items(), key=lambda kv: -kv[1])))
    print(f"records: {records.written} rows in {args.db}" + (f"; NG images in {args.save_ng}" if args.save_ng else ""))
    if records.error:
        sys.stderr.write(f"records error: {records.error}\n")
        return 1
    return 0


def register(sub, imgsz_type) -> None:
    from core.model import MODEL_NAMES

    t = sub.add_parser("train", help="teacher run")
    t.add_argument("--model", default="sdgasnet-n", choices=MODEL_NAMES)
    _common_run(t, imgsz_type)
    t.set_defaults(func=cmd_train)

    d = sub.add_parser("distill", help="self-distillation run against a frozen teacher")
    d.add_argument("--teacher", help="teacher weights (best.pt of a train run); not needed with --resume")
    _common_run(d, imgsz_type)
    d.set_defaults(func=cmd_distill)

    v = sub.add_parser("val", help="evaluate weights on a dataset split")
    v.add_argument("--weights", required=True)
    v.add_argument("--data", required=True)
    v.add_argument("--split", default="val", choices=["train", "val", "test"])
    v.add_argument("--imgsz", type=imgsz_type)
    v.add_argument("--batch", type=int, default=16)
    v.add_argument("--device", default="auto")
    v.add_argument("--conf", type=float, default=0.001, help="confidence floor for mAP (default 0.001)")
    v.add_argument("--iou", type=float, default=0.65, help="NMS IoU")
    v.add_argument("--verdict-conf", type=float, default=0.25, help="confidence for OK/NG and the confusion matrix")
    v.add_argument("--save-dir", help="write PR_curve.png and confusion_matrix.png here")
    v.add_argument("--json")
    v.set_defaults(func=cmd_val)

    p = sub.add_parser("predict", help="detections for images, folders, videos, cameras")
    p.add_argument("--weights", required=True)
    p.add_argument("--source", required=True)
    p.add_argument("--conf", type=float, default=0.25)
    p.add_argument("--iou", type=float, default=0.65)
    p.add_argument("--imgsz", type=imgsz_type)
    p.add_argument("--device", default="auto")
    p.add_argument("--save-dir", help="write annotated images here")
    p.add_argument("--json", help="write the detections as JSON")
    p.add_argument("--max-frames", type=int, default=0, help="stop after N frames (cameras, videos)")
    p.add_argument("--quiet", action="store_true")
    p.set_defaults(func=cmd_predict)

    ins = sub.add_parser("inspect", help="the live inspection pipeline without the GUI")
    ins.add_argument("--weights", required=True)
    ins.add_argument("--source", required=True, help="demo, camera index, URL, folder, video or image")
    ins.add_argument("--db", required=True, help="SQLite records database (created if missing)")
    ins.add_argument("--save-ng", help="save NG images to dated folders here")
    ins.add_argument("--save-all", action="store_true", help="with --save-ng, save every judged image")
    ins.add_argument("--max-frames", type=int, default=0)
    ins.add_argument("--recipe", help="recipe name or JSON file (default: one threshold, --conf)")
    ins.add_argument("--conf", type=float, help="default confidence threshold of the recipe")
    ins.add_argument("--watch", action="store_true", help="keep watching a folder for new images")
    ins.add_argument("--demo-fps", type=float, default=0.0, help="pace of the demo line (0: as fast as possible)")
    ins.add_argument("--imgsz", type=imgsz_type)
    ins.add_argument("--device", default="auto")
    ins.set_defaults(func=cmd_inspect)

    ds = sub.add_parser("dataset", help="dataset tools")
    dsub = ds.add_subparsers(dest="dataset_command", metavar="ACTION", required=True, parser_class=type(ds))
    c = dsub.add_parser("check", help="validate a dataset and print its report")
    c.add_argument("path")
    c.set_defaults(func=cmd_dataset)
    cv = dsub.add_parser("convert", help="convert a dataset to another layout")
    cv.add_argument("path")
    cv.add_argument("--to", required=True, choices=["yolo", "voc", "coco"])
    cv.add_argument("--out", required=True, help="an empty or new folder")
    cv.set_defaults(func=cmd_dataset_convert)
