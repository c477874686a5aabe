"""What every sub-command shares: argument types with argparse's one-line errors, the options of
commands that run weights on images, one-line output, and checks that an output can be written."""
from __future__ import annotations

import argparse
from pathlib import Path

from core.config import BUNDLED_MODELS, TILE_OVERLAP
from core.model.architecture import imgsz_problem

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


def add_runtime_options(p) -> None:
    """The options of each command that runs weights on images (val, predict, inspect): input size,
    device, runtime threads and tiling."""
    p.add_argument("--imgsz", type=imgsz_arg)
    p.add_argument("--device", default="auto", help="cpu, cuda[:N] or auto; OpenVINO also gpu, npu")
    p.add_argument("--threads", type=count_arg, default=0, help="CPU threads of the runtime (0: its default)")
    p.add_argument("--tile", type=count_arg, default=0, metavar="N",
                   help="cut large images into N-pixel tiles (small defects in 2-8k images); 0: off")
    p.add_argument("--tile-overlap", type=unit_arg, default=TILE_OVERLAP, help="overlap of neighbouring tiles")


def add_action(actions, name: str, help: str, func, *positional: str):
    """One ACTION of a command that has several (``models remove NAME``): its positional arguments,
    then the function that runs it; returns its parser for any further options."""
    p = actions.add_parser(name, help=help)
    for arg in positional:
        p.add_argument(arg)
    p.set_defaults(func=func)
    return p


def one_line(text) -> str:
    """``text`` as one line of output: a control character (a newline or an escape sequence in a file
    name) is shown escaped, as Python writes it in a string literal, so one item stays one line."""
    s = str(text)
    return s if s.isprintable() else "".join(c if c.isprintable() else repr(c)[1:-1] for c in s)


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
