"""Command line: argument parsing -> core calls. One-line errors, non-zero exit on failure."""
from __future__ import annotations

import argparse
import json
import sys

PROG = "sdgas"


class CliError(Exception):
    """A user-facing failure: printed as one line, exit status 1."""


class _Parser(argparse.ArgumentParser):
    def error(self, message):  # one line, not the usage block
        sys.stderr.write(f"{self.prog}: error: {message}\n")
        raise SystemExit(2)


def _imgsz(v: str) -> int:
    try:
        n = int(v)
    except ValueError:
        raise argparse.ArgumentTypeError(f"image size must be an integer, got '{v}'")
    if n < 32 or n % 32:
        raise argparse.ArgumentTypeError(f"image size must be a positive multiple of 32, got {n}")
    return n


def write_json(path: str, obj) -> None:
    from core.util.io import atomic_write_text

    atomic_write_text(path, json.dumps(obj, indent=2))


# ------------------------------------------------------------------------------------- commands

def cmd_info(args) -> int:
    from core.model import build_model, count_gflops, count_params

    model = build_model(args.model, num_classes=args.classes)
    params = count_params(model)
    model.fuse()
    info = {"model": args.model, "imgsz": args.imgsz, "num_classes": args.classes,
            "params": params, "params_fused": count_params(model),
            "gflops": round(count_gflops(model, args.imgsz), 3)}
    print(f"{args.model}: {info['params'] / 1e6:.3f} M params (training form), "
          f"{info['params_fused'] / 1e6:.3f} M fused, {info['gflops']:.2f} GFLOPs at {args.imgsz}x{args.imgsz}, "
          f"{args.classes} classes")
    if args.json:
        write_json(args.json, info)
    return 0


def build_parser() -> argparse.ArgumentParser:
    from core.model import MODEL_NAMES

    p = _Parser(prog=PROG, description="SD-GASNet Inspector: surface-defect detection.")
    sub = p.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)

    g = sub.add_parser("gui", help="the desktop application")
    g.add_argument("--source")
    g.add_argument("--weights")

    i = sub.add_parser("info", help="parameters and GFLOPs of a model")
    i.add_argument("--model", default="sdgasnet-n", choices=MODEL_NAMES)
    i.add_argument("--imgsz", type=_imgsz, default=640)
    i.add_argument("--classes", type=int, default=80, help="number of classes (default 80)")
    i.add_argument("--json", help="also write the figures as JSON to this file")
    i.set_defaults(func=cmd_info)

    from core import cli_commands
    cli_commands.register(sub, _imgsz)
    return p


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command in (None, "gui"):
        from app.launch import run_gui
        return run_gui(source=getattr(args, "source", None), weights=getattr(args, "weights", None))
    try:
        return int(args.func(args) or 0)
    except CliError as e:
        sys.stderr.write(f"{PROG} {args.command}: error: {e}\n")
        return 1
    except (ValueError, FileNotFoundError, OSError) as e:
        sys.stderr.write(f"{PROG} {args.command}: error: {e}\n")
        return 1
    except KeyboardInterrupt:
        sys.stderr.write(f"{PROG} {args.command}: interrupted\n")
        return 130


if __name__ == "__main__":
    raise SystemExit(main())
