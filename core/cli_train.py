"""The training commands: ``train`` (a teacher run) and ``distill`` (a student against a frozen teacher)."""
from __future__ import annotations

import os
from pathlib import Path

from core.cli_args import count_arg, imgsz_arg, parse_sets, positive_arg
from core.config import TRAIN_CHOICES, TrainConfig, read_train_file, split_names

_TRAIN = TrainConfig()
_TRAIN_KEYS = frozenset(_TRAIN.to_dict())


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
        from core.detector import architecture_of
        from core.train.auto_settings import suggest_for

        # timed on the architecture the run trains: its starting weights' (a student's: its teacher's)
        arch = mine.get("teacher") or mine.get("weights")
        sug = suggest_for(mine["data"], args.budget, from_weights=bool(mine.get("weights")),
                          model=architecture_of(str(arch)) if arch else mine.get("model") or _TRAIN.model)
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

    t = sub.add_parser("train", help="teacher run")
    t.add_argument("--model", choices=MODEL_NAMES, help=f"default {_TRAIN.model}")
    t.add_argument("--weights", help="start from these weights (a file, default, or a registered model): "
                                     "fine-tuning instead of training from scratch")
    t.add_argument("--budget", help="about how long training may take (30min, 1h, overnight, or e.g. 45min): "
                                    "settings not given are chosen from the dataset for it, and the run re-plans its "
                                    "epochs from its own times to end within it (docs/training.md)")
    _common_run(t)
    t.set_defaults(func=cmd_train)

    d = sub.add_parser("distill", help="self-distillation run against a frozen teacher")
    d.add_argument("--teacher", help="teacher weights (best.pt of a train run); not needed with --resume")
    d.add_argument("--weights", help="the student starts from these weights (e.g. the teacher's own) instead of "
                                     "from scratch; they must have the teacher's architecture")
    _common_run(d, student=True)
    d.set_defaults(func=cmd_distill)
