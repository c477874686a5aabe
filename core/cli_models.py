"""The models themselves: ``info`` (size and cost), ``export`` (a deployable runtime) and ``models``
(the registry: list, register, approve, remove)."""
from __future__ import annotations

import json

from core.cli_args import add_action, imgsz_arg, one_line, positive_arg
from core.config import BUNDLED_MODELS, TrainConfig
from core.model.architecture import NUM_CLASSES


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


def register(sub) -> None:
    from core.model.architecture import MODEL_NAMES

    i = sub.add_parser("info", help="parameters and GFLOPs of a model or a weights file")
    i.add_argument("--model", default=TrainConfig().model, choices=MODEL_NAMES)
    i.add_argument("--weights", help="a weights file instead of --model (its classes and image size)")
    i.add_argument("--imgsz", type=imgsz_arg, help="default: the weights' image size, else 640")
    i.add_argument("--classes", type=positive_arg, default=NUM_CLASSES, help=f"number of classes (default {NUM_CLASSES})")
    i.add_argument("--json", help="also write the figures as JSON to this file")
    i.set_defaults(func=cmd_info)

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

    ms = sub.add_parser("models", help="the model registry: list, register, remove")
    msub = ms.add_subparsers(dest="models_command", metavar="ACTION", required=True, parser_class=type(ms))
    ml = add_action(msub, "list", "bundled and registered models", cmd_models_list)
    ml.add_argument("--json", nargs="?", const="-", metavar="FILE",
                    help="the model cards as JSON, to FILE or (with no FILE) to standard output")
    mr = msub.add_parser("register", help="copy weights into the registry under a name")
    mr.add_argument("weights", help="a weights file (e.g. runs/…/weights/best.pt)")
    mr.add_argument("--name", required=True)
    mr.add_argument("--replace", action="store_true", help="replace a model of that name")
    mr.set_defaults(func=cmd_models_register)
    ma = add_action(msub, "approve", "approve a registered model for the line (an engineer's signed change)",
                    cmd_models_approve, "name")
    ma.add_argument("--user", required=True, help="the engineer who approves (the password is asked for)")
    ma.add_argument("--reason", required=True, help="why, e.g. the validation run and its figures")
    ma.add_argument("--stdin", action="store_true", help="read the password as one line from standard input")
    add_action(msub, "remove", "remove a registered model", cmd_models_remove, "name")
