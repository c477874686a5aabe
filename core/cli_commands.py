"""The sub-commands: each parses its options, calls the ``Detector`` facade and prints."""
from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import threading
from pathlib import Path

from core.config import (BUNDLED_MODELS, NMS_IOU, PREDICT_CONF, TILE_OVERLAP, TRAIN_CHOICES, VAL_CONF, InspectConfig,
                         TrainConfig, ValConfig, read_train_file, split_names)
from core.model.architecture import NUM_CLASSES, imgsz_problem

_TRAIN, _VAL, _INSPECT = TrainConfig(), ValConfig(), InspectConfig()
_TRAIN_KEYS = frozenset(_TRAIN.to_dict())
WEIGHTS_HELP = ("a weights file (.pt), an exported .onnx or OpenVINO folder, a bundled model "
                f"({', '.join(BUNDLED_MODELS)}) or a registered model's name (models list)")




def _number(v: str, cast, ok, what: str):
    """``v`` as ``cast`` when ``ok`` of it holds, else argparse's one-line "expected WHAT, got V"."""
    try:
        x = cast(v)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected {what}, got '{v}'") from None
    if not ok(x):   # NaN fails every range test
        raise argparse.ArgumentTypeError(f"expected {what}, got {v}")
    return x


def imgsz_arg(v: str) -> int:
    n = _number(v, int, lambda n: True, "a whole number of pixels")
    if imgsz_problem(n):
        raise argparse.ArgumentTypeError(imgsz_problem(n))
    return n


def unit_arg(v: str) -> float:
    """A threshold in [0, 1] (confidence, IoU)."""
    return _number(v, float, lambda x: 0.0 <= x <= 1.0, "a number from 0 to 1")


def count_arg(v: str) -> int:
    """A count >= 0 (0: no limit)."""
    return _number(v, int, lambda n: n >= 0, "a whole number >= 0")


def positive_arg(v: str) -> int:
    """A count >= 1 (epochs, batch)."""
    return _number(v, int, lambda n: n >= 1, "a whole number >= 1")


def rate_arg(v: str) -> float:
    """A finite rate >= 0 (frames per second; 0: as fast as possible)."""
    return _number(v, float, lambda x: 0.0 <= x < float("inf"), "a finite number >= 0")


def source_arg(v: str) -> str:
    """A source as typed; ``demo:N[:SEED]`` is checked as ``--data`` reads it (N frames of line SEED)."""
    if v.startswith("demo:"):
        from core.data.catalog import parse_demo

        try:
            parse_demo(v)
        except ValueError as e:
            raise argparse.ArgumentTypeError(str(e)) from None
    return v


def one_line(text) -> str:
    """``text`` as one line of output: a control character (a newline or an escape sequence in a file
    name) is shown escaped, as Python writes it in a string literal, so one item stays one line."""
    s = str(text)
    return s if s.isprintable() else "".join(c if c.isprintable() else repr(c)[1:-1] for c in s)


def _print_report(report) -> None:
    """A dataset report (``core.data.validate.Report``) with its file and class names on one line each."""
    report.names = [one_line(n) for n in report.names]
    report.problems = [(one_line(f), one_line(why)) for f, why in report.problems]
    print(report.summary())


def check_folder_writable(path: str | Path) -> None:
    """Fail at once, naming the folder, if files cannot be made in ``path`` (made if missing)."""
    p = Path(path)
    if p.exists() and not p.is_dir():
        raise OSError(f"{p}: is a file, expected a folder")
    try:
        p.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise OSError(f"{p}: the folder cannot be made ({e.strerror or e})") from None
    check_writable(p / ".sdgas_write_test")


def check_writable(path: str | Path) -> None:
    """Fail at once, naming the file, if ``path`` cannot be written (its folder is made if missing)."""
    p = Path(path)
    if p.is_dir():
        raise OSError(f"{p}: is a folder, expected a file name")
    try:
        p.parent.mkdir(parents=True, exist_ok=True)
        existed = p.exists()
        with open(p, "ab"):
            pass
        if not existed:
            p.unlink()
    except OSError as e:
        raise OSError(f"{p}: cannot be written ({e.strerror or e})") from None


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


# ---------------------------------------------------------------------------------------- info
def cmd_info(args) -> int:
    from core.detector import Detector
    from core.util.io import write_json

    d = Detector(args.weights or args.model)
    info = d.info(args.imgsz, None if args.weights else args.classes)
    print(f"{info['model']}: {info['params'] / 1e6:.3f} M params (training form), "
          f"{info['params_fused'] / 1e6:.3f} M fused, {info['gflops']:.2f} GFLOPs at {info['imgsz']}x{info['imgsz']}, "
          f"{info['num_classes']} classes")
    if args.json:
        write_json(args.json, info)
    return 0


# ------------------------------------------------------------------------------------ training
def _run_settings(args, command: str) -> dict:
    """The run's settings: ``--cfg FILE``'s, overridden by the options given on the command line
    (then ``--set``); with ``--budget``, the rest picked from the dataset and the budget
    (``core.train.auto_settings``); then ``TrainConfig``'s defaults. Weights are resolved here."""
    d = read_train_file(args.cfg) if args.cfg else {}
    given = {k: v for k, v in vars(args).items() if k in _TRAIN_KEYS and v is not None and v is not False}
    sets = parse_sets(args.set)
    mine = {**d, **given, **sets}
    if not mine.get("data"):
        raise ValueError(f"{command} needs --data D (or a --cfg file that names its data)")
    if getattr(args, "budget", None) and not mine.get("resume"):
        from core.train.auto_settings import suggest_for

        sug = suggest_for(mine["data"], args.budget, from_weights=bool(mine.get("weights")),
                          model=mine.get("model") or _TRAIN.model)
        print(f"settings for a budget of {args.budget} ({sug.stats.n_train} training images):")
        for k, v in sug.settings.items():
            print(f"  {k} = {mine.get(k, v)}" + ("  (given)" if k in mine else f"  {sug.reasons.get(k, '')}"))
        mine = {**sug.settings, **mine}
    for k in ("weights", "teacher"):
        if mine.get(k):
            mine[k] = _portable(str(mine[k]), f"--{k}")
    if not mine.get("out"):
        if mine.get("resume"):
            raise ValueError("--resume needs --out DIR (the run folder to continue)")
        from core.train.runs import next_run_dir

        mine["out"] = str(next_run_dir("runs", "student" if command == "distill" else "teacher"))
    return mine


def _portable(name: str, option: str) -> str:
    """The weights file ``name`` resolves to, as given or relative to here: an absolute path of this
    machine would travel in every checkpoint of the run."""
    from core.detector import resolve_weights

    w = resolve_weights(name)
    if not w.is_file():
        raise FileNotFoundError(f"{w}: {option} file not found")
    return os.path.relpath(w) if w.is_absolute() and Path.cwd() in w.parents else str(w)


def _ensemble_files(settings: dict) -> dict:
    """``settings`` with each of ``ensemble_teachers`` (a list, or names separated by commas) resolved."""
    e = settings.get("ensemble_teachers")
    if e:
        names = split_names(e) if isinstance(e, str) else e
        settings["ensemble_teachers"] = [_portable(str(t), "ensemble_teachers") for t in names]
    return settings


def cmd_train(args) -> int:
    from core.detector import Detector

    settings = _run_settings(args, "train")
    res = Detector(settings.pop("model", None) or _TRAIN.model).train(settings.pop("data"), **settings)
    return 0 if res.get("status") in ("finished", "stopped") else 1


def cmd_distill(args) -> int:
    from core.detector import Detector

    settings = _run_settings(args, "distill")
    data = settings.pop("data")
    if settings.get("resume"):  # the run folder knows its teacher
        res = Detector(TrainConfig().model).train(data, **settings)
    else:
        teacher = settings.pop("teacher", None)
        if not teacher:
            raise ValueError("distill needs --teacher WEIGHTS (or --resume --out DIR)")
        settings = _ensemble_files(settings)
        t = Detector(teacher)
        taken = {k: v for k, v in t.student_settings().items() if k not in settings}
        if taken:
            main = [f"{k} {taken[k]}" for k in ("epochs", "imgsz", "batch") if k in taken]
            more = [k for k in taken if k not in ("epochs", "imgsz", "batch")]
            print("from the teacher's run: " + ", ".join(main) + (" and " if main and more else "")
                  + (f"its augmentation ({', '.join(more)})" if more else ""))
        res = t.distill(data, teacher, **settings)
    return 0 if res.get("status") in ("finished", "stopped") else 1


# ---------------------------------------------------------------------------------- evaluation
def cmd_val(args) -> int:
    from core.detector import Detector

    if args.json:
        check_writable(args.json)   # now, not after the whole split was scored
    if args.save_dir:
        check_folder_writable(args.save_dir)
    m = Detector(args.weights, args.device, source=args.data, threads=args.threads).val(
        args.data, args.split, args.imgsz, batch=args.batch, conf=args.conf, iou=args.iou,
        verdict_conf=args.verdict_conf, save_dir=args.save_dir, json=args.json, log=print,
        tile=args.tile, tile_overlap=args.tile_overlap)
    names = list(m["per_class"])
    w = max(len(n) for n in names)
    print(f"{'class':<{w}} {'n_gt':>6} {'AP50':>7} {'AP50-95':>8}")
    for n, c in m["per_class"].items():
        a50 = "-" if c["n_gt"] == 0 else f"{c['ap50']:.4f}"
        a = "-" if c["n_gt"] == 0 else f"{c['ap50_95']:.4f}"
        print(f"{one_line(n):<{w}} {c['n_gt']:>6} {a50:>7} {a:>8}")
    n_gt = sum(c["n_gt"] for c in m["per_class"].values())
    print(f"{'all':<{w}} {n_gt:>6} {m['map50']:>7.4f} {m['map50_95']:>8.4f}   "
          f"P {m['precision']:.4f} R {m['recall']:.4f} (best F1 at conf {m['best_f1_conf']:.3f}); "
          f"{m['n_images']} images; convention {m['convention']}")
    u = m["ultralytics"]
    print(f"same detections in Ultralytics' convention: mAP50 {u['map50']:.4f} mAP50-95 {u['map50_95']:.4f}")
    v = m["inspection"]
    print(f"inspection at conf {v['conf']}: escape rate {v['escape_rate']}, overkill rate {v['overkill_rate']} "
          f"({v['defective_images']} defective, {v['defect_free_images']} defect-free images)")
    return 0


# ----------------------------------------------------------------------------------- inference
def cmd_predict(args) -> int:
    import cv2

    from core.detector import Detector
    from core.infer.draw import draw_detections
    from core.util.io import atomic_write_bytes, write_json

    if args.json:
        check_writable(args.json)   # now, not after every image was processed
    d = Detector(args.weights, args.device, source=args.source, threads=args.threads)
    save = Path(args.save_dir) if args.save_dir else None
    if save:
        check_folder_writable(save)
    out, n_err, n_det = [], 0, 0
    taken: set[str] = set()
    for it in d.predict(args.source, args.conf, args.iou, args.imgsz, args.max_frames, stream=True,
                        tile=args.tile, tile_overlap=args.tile_overlap):
        if it.index < 0:  # a camera that drops out ends the run, reported
            sys.stderr.write(f"{one_line(it.name)}: {one_line(it.error)}\n")
            break
        out.append(it.to_json())
        if it.detections is None:
            n_err += 1
            sys.stderr.write(f"{one_line(it.name)}: {one_line(it.error)}\n")
            continue
        det = it.detections
        n_det += len(det)
        if save:
            vis = draw_detections(it.image, det.boxes, det.scores, det.classes, det.names)
            ok, buf = cv2.imencode(".jpg", vis)
            if ok:
                name = it.stem
                if name in taken:  # x.jpg and x.png of one folder: both kept
                    suffix = Path(it.name).suffix.lstrip(".") or str(it.index)
                    name = f"{it.stem}_{suffix}"
                    k = 2
                    while name in taken:
                        name, k = f"{it.stem}_{suffix}{k}", k + 1
                taken.add(name)
                atomic_write_bytes(save / f"{name}.jpg", buf.tobytes())
        if not args.quiet:
            print(f"{one_line(it.name)}: {len(det)} detection(s) "
                  + ", ".join(f"{det.names[c]} {s:.2f}" for s, c in zip(det.scores, det.classes)))
    if args.json:
        write_json(args.json, out)
    print(f"{len(out)} image(s), {n_det} detection(s), {n_err} unreadable" + (f"; saved to {one_line(save)}" if save else ""))
    return 0 if len(out) > n_err else 1


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


def service_account(name: str | None):
    """The account ``inspect`` runs under: with the station's users set up, ``--user NAME`` whose password
    is in the secret store (``user/NAME``: ``sdgas secrets set user/NAME``, or SDGAS_SECRET_USER_NAME);
    with none set up, the OS user (None)."""
    from core.security.secrets import get_secret, secret_env_name
    from core.security.users import UserStore, require

    store = UserStore()
    if not store.exists():
        if name:
            raise ValueError(f"--user {name}: this station has no users yet (sdgas users add)")
        return None
    if not name:
        raise ValueError("this station has users: inspect runs under a named account, --user NAME (its password "
                         "from the secret store: sdgas secrets set user/NAME)")
    password = get_secret(f"user/{name}")
    if password is None:
        raise ValueError(f"--user {name}: no password in the secret store (sdgas secrets set user/{name}, or "
                         f"{secret_env_name(f'user/{name}')} in the service's environment)")
    user = store.authenticate(name, password)
    require(user, "inspect.run")
    return user


def approved_model(name: str):
    """On a station with users, a model goes on the line only from the registry, once approved."""
    from core.registry import ModelRegistry

    reg = ModelRegistry()
    if name not in reg:
        raise ValueError(f"--weights {name}: this station has users, and a model goes on the line only from the "
                         "registry, approved by an engineer (models register, then models approve)")
    card = reg.card(name)
    if not card.approved:
        raise ValueError(f"--weights {name}: not approved for the line yet (models approve {name})")
    return card


def _retention(args):
    from core.inspect.retention import Policy

    given = {"ng_days": args.keep_ng_days, "ok_days": args.keep_ok_days, "max_gb": args.max_images_gb}
    if any(v is not None for v in given.values()) and not args.save_ng:
        raise ValueError("--keep-ng-days, --keep-ok-days and --max-images-gb need --save-ng DIR")
    return Policy(**given, min_free_gb=args.min_free_gb)


def cmd_inspect(args) -> int:
    from core.detector import Detector

    warned = threading.Event()
    failed = []

    def on_state(state, msg):   # at once, from any thread: records that cannot be written, a camera gone
        if state in ("no signal", "warning", "line failed"):
            warned.set()
            sys.stderr.write(f"{state}: {one_line(msg)}\n")
        elif state == "running" and warned.is_set():   # ... and the all-clear after it
            sys.stderr.write(f"{one_line(msg)}\n")
        if state == "line failed":      # the PLC cannot reach us: stop, exit non-zero for a service manager
            failed.append(msg)
            stop.set()

    from core.inspect.options import CollectOptions, InspectOptions
    from core.inspect.outputs import parse_specs
    from core.security.secrets import refuse_password_in_argv

    for option, value in (("--db", args.db), ("--mqtt", args.mqtt)):
        refuse_password_in_argv(option, value)
    user = service_account(args.user)
    if user is not None:
        approved_model(args.weights)
    for folder in (args.save_ng, args.collect, args.spool):
        if folder:  # now, not image by image once the line runs
            check_folder_writable(folder)
    if not args.db.startswith(("postgresql://", "postgres://")):
        from core.inspect.records import connect

        connect(args.db).close()   # an unusable records file is said now, before the model loads
    collect = None
    if args.collect:
        from core.inspect.collect import parse_band

        collect = CollectOptions(args.collect, parse_band(args.collect_band), args.collect_every)
    elif args.collect_band or args.collect_every:
        raise ValueError("--collect-band and --collect-every need --collect DIR")
    options = InspectOptions(source=args.source, recipe=load_recipe(args.recipe, args.conf), db=args.db,
                             save_ng=args.save_ng, save_all=args.save_all, watch=args.watch, demo_fps=args.demo_fps,
                             max_frames=args.max_frames, imgsz=args.imgsz, tile=args.tile,
                             tile_overlap=args.tile_overlap, collect=collect,
                             outputs=parse_specs(args.opcua, args.mqtt, args.modbus), line=args.line,
                             opcua_security=args.opcua_security,
                             modbus_allow=tuple(x.strip() for x in (args.modbus_allow or "").split(",") if x.strip()),
                             user=user, retention=_retention(args), spool=args.spool)
    stop = threading.Event()
    session = Detector(args.weights, args.device, source=args.source, threads=args.threads).inspect(
        options, on_state=on_state)
    old = {s: signal.signal(s, lambda *a: stop.set()) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        session.start()
        for st in session.output_states():
            print(st.line() + (" (waiting for the PLC's Trigger)" if st.name in ("opcua", "modbus") else ""),
                  flush=True)
        while not session.wait(0.2) and not stop.is_set():
            pass
    finally:
        session.stop()
        for s, h in old.items():
            signal.signal(s, h)
    sm = session.snapshot().summary
    print(f"{sm['frames']} frames: {sm['ok']} OK, {sm['ng']} NG, {sm['error']} ERROR; yield {sm['yield_pct']:.1f}%; "
          f"{sm['fps']:.1f} frames/s; median latency {sm['median_total_ms']:.1f} ms "
          f"(capture {sm['median_capture_ms']:.1f}, pre {sm['median_preprocess_ms']:.1f}, "
          f"model {sm['median_inference_ms']:.1f}, "
          f"post {sm['median_postprocess_ms']:.1f}), frame age {sm['median_frame_age_ms']:.1f} ms")
    if sm["per_class"]:
        print("defects: " + ", ".join(f"{k} {v}" for k, v in sorted(sm["per_class"].items(), key=lambda kv: -kv[1])))
    where = one_line(session.records.store.describe if session.records else args.db)
    print(f"records: {session.records_written} rows in {where}"
          + (f"; NG images in {one_line(args.save_ng)}" if args.save_ng else ""))
    if session.collector is not None:
        c = session.collector
        print(f"collected {c.collected} frames for review in {one_line(args.collect)}"
              + (f" ({c.dropped} dropped: the disk could not keep up)" if c.dropped else "")
              + "; open the folder in the labelling view (filter: from the line, unreviewed)")
    for st in session.output_states():
        print(st.line())
    status = _records_said(session.records, where)
    if failed:
        sys.stderr.write(f"line failed: {one_line(failed[0])}\n")
        return 3
    return status


def _records_said(rec, where) -> int:
    """What became of the rows the database did not take, on stderr; 1 when any did not reach it."""
    if rec is None:
        return 0
    if rec.kept_in_outbox:
        sys.stderr.write(f"records: {rec.kept_in_outbox} rows could not be written to {where} and wait in "
                         f"{one_line(rec.outbox)}; the next inspect on this database sends them first\n")
    if rec.refused:
        sys.stderr.write(f"records: {rec.refused} frames were not judged (ERROR): their records could not be "
                         "written nor kept\n")
    if rec.lost:
        sys.stderr.write(f"records: {rec.lost} rows were lost: {one_line(rec.error)}\n")
    if not (rec.kept_in_outbox or rec.refused or rec.lost or rec.error and not rec.connected):
        return 0
    if rec.error:
        sys.stderr.write(f"records error: {one_line(rec.error)}\n")
    return 1


# -------------------------------------------------------------------------------------- export
def cmd_export(args) -> int:
    from core.detector import Detector

    if args.fastest:
        return _export_fastest(args)
    if not args.format:
        raise ValueError("export needs --format onnx or openvino (or --fastest)")
    res = Detector(args.weights, "cpu").export(args.format, imgsz=args.imgsz, half=args.half, int8=args.int8,
                                               data=args.data, out=args.out, log=print)
    if args.json:
        from core.util.io import write_json

        write_json(args.json, res.to_json())
    print(f"exported in {res.seconds:.0f} s: {one_line(res.path)}  (use it as --weights {one_line(res.path)})")
    return 0


def _export_fastest(args) -> int:
    """The fastest checked runtime of the weights on this CPU, made once into the application
    folder's cache (what the live view runs; ``core.export.fastest``)."""
    from dataclasses import asdict

    from core.detector import Detector

    d = Detector(args.weights, "cpu")
    choice = d.use_fastest(prepare=True, data=args.data, log=print)
    if choice is None:
        raise ValueError(f"{args.weights}: --fastest needs trained .pt weights (with a weights hash)")
    if args.json:
        from core.util.io import write_json

        write_json(args.json, asdict(choice))
    print(f"{d.label} runs on {choice.describe()} ({choice.timing()}): {choice.why}"
          + (f"\n  {choice.path}" if choice.path else ""))
    return 0


# ------------------------------------------------------------------------------------ datasets
def cmd_dataset(args) -> int:
    from core.data.catalog import open_dataset
    from core.data.validate import split_problems, validate

    spec = open_dataset(args.path)
    print(f"{one_line(spec.root)}: {spec.format} dataset, {len(spec.names)} classes: "
          f"{', '.join(one_line(n) for n in spec.names)}")
    bad = 0
    if not any(spec.splits.values()):
        print("the dataset lists no images")
        bad += 1
    for s, raws in spec.splits.items():
        if not raws and not spec.problems.get(s):
            continue
        _, report = validate(spec, s)
        _print_report(report)
        bad += len(report.problems)
    for where, why in split_problems(spec) if any(spec.splits.values()) else []:
        print(f"{one_line(where)}: {one_line(why)}")
        bad += 1
    if bad:
        print(f"{bad} problem(s) found")
        return 1
    print("no problems found")
    return 0


def cmd_dataset_convert(args) -> int:
    from core.data.convert import convert_dataset

    data, reports = convert_dataset(args.path, args.to, args.out)
    for r in reports:
        _print_report(r)
    print(f"written: {one_line(data)} (use it as --data)")
    return 0


# ------------------------------------------------------------------------------------ reports
def cmd_report(args) -> int:
    from core.report import ReportFilter, make_report, parse_time
    from core.security.secrets import refuse_password_in_argv

    refuse_password_in_argv("--db", args.db)
    flt = ReportFilter(t_from=parse_time(args.t_from) if args.t_from else None,
                       t_to=parse_time(args.t_to) if args.t_to else None,
                       source=args.source, model=args.model, recipe=args.recipe)
    check_writable(args.out)
    validation = None
    if args.val:
        try:
            validation = json.loads(Path(args.val).read_text())
        except (OSError, ValueError) as e:
            raise ValueError(f"{args.val}: not a val --json file ({e})") from None
    from core.detector import known_models

    for p in make_report(args.db, args.format, args.out, flt, validation, known_models=known_models()):
        print(f"written: {one_line(p)}")
    return 0


# ------------------------------------------------------------------------------------- models
def cmd_models_list(args) -> int:
    from core.detector import MODELS_DIR
    from core.registry import ModelRegistry

    rows = [{"name": n, "weights": str(MODELS_DIR / f), "bundled": True, "about": about}
            for n, (f, about) in BUNDLED_MODELS.items() if (MODELS_DIR / f).is_file()]
    rows += [{**c.to_json(), "bundled": False} for c in ModelRegistry().list()]
    if args.json == "-":
        print(json.dumps(rows, indent=2))
        return 0
    if args.json:
        from core.util.io import write_json

        write_json(args.json, rows)
    for r in rows:
        if r["bundled"]:
            print(f"{r['name']:<24} bundled     {one_line(r['weights'])}  ({r['about']})")
            continue
        m = r.get("metrics") or {}
        score = f"mAP50 {m['map50']:.3f}" if isinstance(m.get("map50"), (int, float)) else "mAP50 -"
        print(f"{one_line(r['name']):<24} {r['kind']:<11} {r['model']:<11} {r['imgsz']:>4} px  {score}  "
              f"{len(r['classes'])} classes  {one_line(r['dataset'])}  {r['registered']}")
    return 0


def cmd_models_register(args) -> int:
    from core.detector import resolve_weights
    from core.registry import ModelRegistry

    card = ModelRegistry().register(resolve_weights(args.weights), args.name, replace=args.replace)
    print(f"registered '{card.name}': {card.kind}, {len(card.classes)} classes, {card.imgsz} px, "
          f"sha256 {card.hash[:16]}…; use it as --weights {card.name}")
    return 0


def cmd_models_approve(args) -> int:
    from core.registry import ModelRegistry
    from core.security.users import UserStore, read_password

    reg = ModelRegistry()
    card = reg.card(args.name)
    m = card.metrics or {}
    print(f"{card.name}: {card.kind} {card.model}, {card.imgsz} px, {len(card.classes)} classes, dataset {card.dataset}")
    print("validation: " + (", ".join(f"{k} {v:.4f}" if isinstance(v, float) else f"{k} {v}" for k, v in m.items())
                            or "no figures in its card"))
    sig = UserStore().sign(args.user, read_password(args, f"password of {args.user}"), args.reason, "model.approve")
    card = reg.approve(args.name, sig)
    print(f"approved '{card.name}' for the line by {card.approved_by} ({card.approved_role}): {card.approval_reason}")
    return 0


def cmd_models_remove(args) -> int:
    from core.registry import ModelRegistry

    try:
        ModelRegistry().remove(args.name)
    except KeyError as e:
        raise ValueError(e.args[0]) from None
    print(f"removed '{args.name}'")
    return 0


# ------------------------------------------------------------------------------------- cameras
def cmd_cameras(args) -> int:
    """The industrial cameras every backend finds; with --show, one camera's settings."""
    from core.inspect.cameras import backend, features, list_cameras, parse_uri

    if args.show:
        scheme, ident, q = parse_uri(args.show)
        dev = backend(scheme, q.get("cti") or args.cti).open(ident)
        try:
            print(dev.info.label())
            for f in features(dev):
                rng = f"  [{f.min:g} .. {f.max:g}]" if f.min is not None and f.max is not None else ""
                choices = f"  ({', '.join(map(str, f.choices))})" if f.choices else ""
                shown = f.value if f.access in ("rw", "ro") else ""
                print(f"  {f.name:<22} {f.access:<10} {shown}{rng}{choices}")
        finally:
            dev.close()
        return 0
    found, problems = list_cameras(args.cti)
    for c in found:
        print(f"{c.uri:<28} {c.label()}")
    for p in problems:
        print(f"({p})")
    if not found:
        print("no camera found")
    return 0


# -------------------------------------------------------------------------------------- parser
def _common_run(p, student: bool = False):
    """The options of train and distill; a student's epochs, imgsz and batch default to its teacher's."""
    def default(v):
        return f"default: the teacher's, else {v}" if student else f"default {v}"

    p.add_argument("--cfg", metavar="FILE", help="a YAML file of training settings (a run's args.yaml, or "
                                                 "any of the keys of docs/training.md); options given here override it")
    p.add_argument("--data", help="data.yaml, VOC folder, COCO json/folder, CVAT annotations.xml, or demo[:N] "
                                  "(required unless --cfg names it)")
    p.add_argument("--epochs", type=positive_arg, help=default(_TRAIN.epochs))
    p.add_argument("--imgsz", type=imgsz_arg, help=default(_TRAIN.imgsz))
    p.add_argument("--batch", type=positive_arg, help=default(_TRAIN.batch))
    p.add_argument("--device", help=f"cpu, cuda, cuda:N or auto (default {_TRAIN.device})")
    p.add_argument("--out", help="run folder (default runs/teacher-<time>, runs/student-<time>)")
    p.add_argument("--resume", action="store_true", help="continue the run in --out where it stopped")
    p.add_argument("--events", help="JSON-lines events file (default <out>/events.jsonl)")
    p.add_argument("--workers", type=count_arg, help=f"data loading processes (default {_TRAIN.workers})")
    p.add_argument("--seed", type=int, help=f"default {_TRAIN.seed}")
    p.add_argument("--lr0", type=float, help=f"default {_TRAIN.lr0}")
    p.add_argument("--cache", choices=TRAIN_CHOICES["cache"], help=f"default {_TRAIN.cache}")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                   help="any other training setting, e.g. --set close_mosaic=5 (see docs/training.md)")


def register(sub) -> None:
    from core.model.architecture import MODEL_NAMES

    i = sub.add_parser("info", help="parameters and GFLOPs of a model or a weights file")
    i.add_argument("--model", default=_TRAIN.model, choices=MODEL_NAMES)
    i.add_argument("--weights", help="a weights file instead of --model (its classes and image size)")
    i.add_argument("--imgsz", type=imgsz_arg, help="default: the weights' image size, else 640")
    i.add_argument("--classes", type=positive_arg, default=NUM_CLASSES, help=f"number of classes (default {NUM_CLASSES})")
    i.add_argument("--json", help="also write the figures as JSON to this file")
    i.set_defaults(func=cmd_info)

    t = sub.add_parser("train", help="teacher run")
    t.add_argument("--model", choices=MODEL_NAMES, help=f"default {_TRAIN.model}")
    t.add_argument("--weights", help="start from these weights (a file, default, or a registered model): "
                                     "fine-tuning instead of training from scratch")
    t.add_argument("--budget", help="about how long training may take (30min, 1h, overnight, or e.g. 45min): "
                                    "settings not given are chosen from the dataset for it (docs/training.md)")
    _common_run(t)
    t.set_defaults(func=cmd_train)

    d = sub.add_parser("distill", help="self-distillation run against a frozen teacher")
    d.add_argument("--teacher", help="teacher weights (best.pt of a train run); not needed with --resume")
    d.add_argument("--weights", help="the student starts from these weights (e.g. the teacher's own) instead of "
                                     "from scratch; they must have the teacher's architecture")
    _common_run(d, student=True)
    d.set_defaults(func=cmd_distill)

    v = sub.add_parser("val", help="evaluate weights on a dataset split")
    v.add_argument("--weights", required=True, help=WEIGHTS_HELP)
    v.add_argument("--data", required=True, help="data.yaml, VOC folder, COCO json/folder, or demo[:N] (the demo line)")
    v.add_argument("--split", default="val", choices=["train", "val", "test"])
    v.add_argument("--imgsz", type=imgsz_arg)
    v.add_argument("--batch", type=positive_arg, default=_VAL.batch)
    v.add_argument("--device", default="auto", help="cpu, cuda[:N] or auto; OpenVINO also gpu, npu")
    v.add_argument("--threads", type=count_arg, default=0, help="CPU threads of the runtime (0: its default)")
    v.add_argument("--tile", type=count_arg, default=0, metavar="N",
                   help="cut large images into N-pixel tiles (small defects in 2-8k images); 0: off")
    v.add_argument("--tile-overlap", type=unit_arg, default=TILE_OVERLAP, help="overlap of neighbouring tiles")
    v.add_argument("--conf", type=unit_arg, default=VAL_CONF, help=f"confidence floor for mAP (default {VAL_CONF})")
    v.add_argument("--iou", type=unit_arg, default=NMS_IOU, help="NMS IoU")
    v.add_argument("--verdict-conf", type=unit_arg, default=PREDICT_CONF,
                   help="confidence for OK/NG and the confusion matrix")
    v.add_argument("--save-dir", help="write PR_curve.png and confusion_matrix.png here")
    v.add_argument("--json")
    v.set_defaults(func=cmd_val)

    p = sub.add_parser("predict", help="detections for images, folders, videos, cameras")
    p.add_argument("--weights", required=True, help=WEIGHTS_HELP)
    p.add_argument("--source", required=True, type=source_arg)
    p.add_argument("--conf", type=unit_arg, default=PREDICT_CONF)
    p.add_argument("--iou", type=unit_arg, default=NMS_IOU)
    p.add_argument("--imgsz", type=imgsz_arg)
    p.add_argument("--device", default="auto", help="cpu, cuda[:N] or auto; OpenVINO also gpu, npu")
    p.add_argument("--threads", type=count_arg, default=0, help="CPU threads of the runtime (0: its default)")
    p.add_argument("--tile", type=count_arg, default=0, metavar="N",
                   help="cut large images into N-pixel tiles (small defects in 2-8k images); 0: off")
    p.add_argument("--tile-overlap", type=unit_arg, default=TILE_OVERLAP, help="overlap of neighbouring tiles")
    p.add_argument("--save-dir", help="write annotated images here")
    p.add_argument("--json", help="write the detections as JSON")
    p.add_argument("--max-frames", type=count_arg, default=0, help="stop after N frames (cameras, videos)")
    p.add_argument("--quiet", action="store_true")
    p.set_defaults(func=cmd_predict)

    ins = sub.add_parser("inspect", help="the live inspection pipeline without the GUI")
    ins.add_argument("--weights", required=True, help=WEIGHTS_HELP)
    ins.add_argument("--source", required=True, type=source_arg, help="demo, camera index, URL, folder, video or image")
    ins.add_argument("--db", required=True,
                     help="records: a SQLite file (created if missing) or postgresql://USER@HOST/DB for a plant")
    ins.add_argument("--line", help="this line's name in the records (several lines share one database)")
    ins.add_argument("--spool", metavar="DIR",
                     help="a folder, best on another disk, where records wait when the database cannot take them "
                          "(a full disk, a server away) beyond what memory holds (default: the application folder)")
    ins.add_argument("--opcua", metavar="URL",
                     help="serve the PLC handshake, e.g. opc.tcp://0.0.0.0:4840 (one frame judged per Trigger)")
    ins.add_argument("--modbus", metavar="HOST:PORT",
                     help="serve the PLC handshake over Modbus TCP, e.g. 0.0.0.0:502 (one frame judged per Trigger)")
    ins.add_argument("--opcua-security", choices=["auto", "strict", "open"], default="auto",
                     help="auto: SecurityPolicy None and anonymous access on loopback only; strict: never; open: on "
                          "the network too (an administrator's choice, warned)")
    ins.add_argument("--modbus-allow", metavar="ADDRESSES",
                     help="the PLCs a Modbus server answers, e.g. 10.1.2.5,10.1.3.0/24 (others are closed)")
    ins.add_argument("--user", help="the station account inspect runs under (its password from the secret store)")
    ins.add_argument("--mqtt", metavar="URL", help="publish each result as JSON, e.g. mqtt://broker:1883/line1/results "
                                                   "or mqtts://broker:8883/line1/results?ca=ca.pem (password: sdgas secrets)")
    ins.add_argument("--save-ng", help="save NG images to dated folders here")
    ins.add_argument("--save-all", action="store_true", help="with --save-ng, save every judged image")
    ins.add_argument("--keep-ng-days", type=float, metavar="N", help="image retention: NG images are deleted after N days")
    ins.add_argument("--keep-ok-days", type=float, metavar="M", help="image retention: OK images after M days")
    ins.add_argument("--max-images-gb", type=float, metavar="X",
                     help="image retention: at most X GB of images (OK ones go first, never the newest hour)")
    ins.add_argument("--min-free-gb", type=float, default=1.0, metavar="G",
                     help="stop saving images below G GB free on their disk (the records come first; default 1)")
    ins.add_argument("--max-frames", type=count_arg, default=0)
    ins.add_argument("--recipe", help="recipe name or JSON file (default: one threshold, --conf)")
    ins.add_argument("--conf", type=unit_arg, help="default confidence threshold of the recipe")
    ins.add_argument("--watch", action="store_true", help="keep watching a folder for new images")
    ins.add_argument("--demo-fps", type=rate_arg, default=_INSPECT.demo_fps,
                     help="pace of the demo line (0: as fast as possible)")
    ins.add_argument("--collect", metavar="DIR",
                     help="collect frames for review into this dataset folder: every NG, plus the options below")
    ins.add_argument("--collect-band", metavar="LO-HI",
                     help="also frames whose top score lies in this band, e.g. 0.2-0.5 (the model is unsure)")
    ins.add_argument("--collect-every", type=count_arg, default=0, metavar="N", help="also one frame in N")
    ins.add_argument("--imgsz", type=imgsz_arg)
    ins.add_argument("--device", default="auto", help="cpu, cuda[:N] or auto; OpenVINO also gpu, npu")
    ins.add_argument("--threads", type=count_arg, default=0, help="CPU threads of the runtime (0: its default)")
    ins.add_argument("--tile", type=count_arg, default=0, metavar="N",
                   help="cut large images into N-pixel tiles (small defects in 2-8k images); 0: off")
    ins.add_argument("--tile-overlap", type=unit_arg, default=TILE_OVERLAP, help="overlap of neighbouring tiles")
    ins.set_defaults(func=cmd_inspect)

    ex = sub.add_parser("export", help="a deployable model: ONNX or OpenVINO, fp32, fp16 or INT8, metadata inside")
    ex.add_argument("--weights", required=True, help="a .pt checkpoint, bundled or registered model name")
    ex.add_argument("--format", choices=["onnx", "openvino"])
    ex.add_argument("--fastest", action="store_true",
                    help="the fastest runtime this CPU has, checked against the weights (INT8 with --data or the "
                         "weights' own data) and cached in the application folder for the live view")
    ex.add_argument("--imgsz", type=imgsz_arg, help="the fixed input size (default: the weights' own)")
    ex.add_argument("--half", action="store_true", help="fp16 weights (OpenVINO: bf16/f16 where the CPU has it)")
    ex.add_argument("--int8", action="store_true", help="INT8 post-training quantization (NNCF), needs --data")
    ex.add_argument("--data", help="dataset: INT8 calibration (training images), parity and accuracy (validation)")
    ex.add_argument("--out", help="file (.onnx) or folder (OpenVINO); default beside the weights")
    ex.add_argument("--json", help="also write what was exported and measured as JSON")
    ex.set_defaults(func=cmd_export)

    ds = sub.add_parser("dataset", help="dataset tools")
    dsub = ds.add_subparsers(dest="dataset_command", metavar="ACTION", required=True, parser_class=type(ds))
    c = dsub.add_parser("check", help="validate a dataset and print its report")
    c.add_argument("path")
    c.set_defaults(func=cmd_dataset)
    from core.data.formats import FORMATS

    cv = dsub.add_parser("convert", help="convert a dataset to another format")
    cv.add_argument("path")
    cv.add_argument("--to", required=True, choices=list(FORMATS))
    cv.add_argument("--out", required=True, help="an empty or new folder")
    cv.set_defaults(func=cmd_dataset_convert)

    rp = sub.add_parser("report", help="an inspection report from the records: pdf, html, csv or json")
    rp.add_argument("--db", required=True,
                    help="the records: a SQLite file (inspect --db, the live view) or a postgresql:// URL")
    rp.add_argument("--format", required=True, choices=["pdf", "html", "csv", "json"])
    rp.add_argument("--out", required=True, help="the report file (csv also writes OUT_detections.csv)")
    rp.add_argument("--from", dest="t_from", metavar="T", help="start, ISO date or time (local unless it says)")
    rp.add_argument("--to", dest="t_to", metavar="T", help="end (exclusive)")
    rp.add_argument("--source", help="only this source")
    rp.add_argument("--model", help="only this model id (as recorded, NAME:HASH)")
    rp.add_argument("--recipe", help="only this recipe")
    rp.add_argument("--val", metavar="FILE", help="a val --json file: escape and overkill rates against ground truth")
    rp.set_defaults(func=cmd_report)

    cm = sub.add_parser("cameras", help="industrial cameras (GenICam: GigE Vision, USB3 Vision) and their settings")
    cm.add_argument("--show", metavar="URI", help="one camera's settings, e.g. pylon://SERIAL")
    cm.add_argument("--cti", help="a GenTL producer (.cti file or folder) besides GENICAM_GENTL64_PATH")
    cm.set_defaults(func=cmd_cameras)

    ms = sub.add_parser("models", help="the model registry: list, register, remove")
    msub = ms.add_subparsers(dest="models_command", metavar="ACTION", required=True, parser_class=type(ms))
    ml = msub.add_parser("list", help="bundled and registered models")
    ml.add_argument("--json", nargs="?", const="-", metavar="FILE",
                    help="the model cards as JSON, to FILE or (with no FILE) to standard output")
    ml.set_defaults(func=cmd_models_list)
    mr = msub.add_parser("register", help="copy weights into the registry under a name")
    mr.add_argument("weights", help="a weights file (e.g. runs/…/weights/best.pt)")
    mr.add_argument("--name", required=True)
    mr.add_argument("--replace", action="store_true", help="replace a model of that name")
    mr.set_defaults(func=cmd_models_register)
    ma = msub.add_parser("approve", help="approve a registered model for the line (an engineer's signed change)")
    ma.add_argument("name")
    ma.add_argument("--user", required=True, help="the engineer who approves (the password is asked for)")
    ma.add_argument("--reason", required=True, help="why, e.g. the validation run and its figures")
    ma.add_argument("--stdin", action="store_true", help="read the password as one line from standard input")
    ma.set_defaults(func=cmd_models_approve)
    mx = msub.add_parser("remove", help="remove a registered model")
    mx.add_argument("name")
    mx.set_defaults(func=cmd_models_remove)
