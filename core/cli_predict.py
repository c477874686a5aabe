"""Weights over images: ``val`` (scored against a dataset's labels) and ``predict`` (the detections)."""
from __future__ import annotations

import sys
from pathlib import Path

from core.cli_args import (WEIGHTS_HELP, add_runtime_options, check_folder_writable, check_writable, count_arg,
                           one_line, positive_arg, source_arg, unit_arg)
from core.config import NMS_IOU, PREDICT_CONF, VAL_CONF, ValConfig

_VAL = ValConfig()


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


def register(sub) -> None:
    v = sub.add_parser("val", help="evaluate weights on a dataset split")
    v.add_argument("--weights", required=True, help=WEIGHTS_HELP)
    v.add_argument("--data", required=True, help="data.yaml, VOC folder, COCO json/folder, or demo[:N] (the demo line)")
    v.add_argument("--split", default="val", choices=["train", "val", "test"])
    v.add_argument("--batch", type=positive_arg, default=_VAL.batch)
    add_runtime_options(v)
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
    add_runtime_options(p)
    p.add_argument("--save-dir", help="write annotated images here")
    p.add_argument("--json", help="write the detections as JSON")
    p.add_argument("--max-frames", type=count_arg, default=0, help="stop after N frames (cameras, videos)")
    p.add_argument("--quiet", action="store_true")
    p.set_defaults(func=cmd_predict)
