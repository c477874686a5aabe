"""The station without the GUI: ``inspect`` (the live inspection pipeline, its records, line outputs
and the account it runs under) and ``cameras`` (the industrial cameras it can read)."""
from __future__ import annotations

import json
import signal
import sys
import threading
from pathlib import Path

from core.cli_args import (WEIGHTS_HELP, add_runtime_options, check_folder_writable, count_arg, one_line, rate_arg,
                           source_arg, unit_arg)
from core.config import InspectConfig

_INSPECT = InspectConfig()


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


def register(sub) -> None:
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
    add_runtime_options(ins)
    ins.set_defaults(func=cmd_inspect)

    cm = sub.add_parser("cameras", help="industrial cameras (GenICam: GigE Vision, USB3 Vision) and their settings")
    cm.add_argument("--show", metavar="URI", help="one camera's settings, e.g. pylon://SERIAL")
    cm.add_argument("--cti", help="a GenTL producer (.cti file or folder) besides GENICAM_GENTL64_PATH")
    cm.set_defaults(func=cmd_cameras)
