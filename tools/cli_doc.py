"""Regenerate docs/cli.md from the parser: python tools/cli_doc.py > docs/cli.md"""
import contextlib
import io
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from core.cli import build_parser  # noqa: E402

INTRO = """# Command line

Generated from `python main.py COMMAND --help` (`python tools/cli_doc.py > docs/cli.md`). Exit
status 0 on success; on failure a one-line reason on standard error and a non-zero status. A name
with a control character in it (a newline or an escape sequence in a file name) is shown escaped,
as `a\\nb.png`, so that each file stays on one line of output.

`--data` takes an Ultralytics `data.yaml`, a Pascal VOC folder, COCO JSON, or `demo[:N[:SEED]]`:
the built-in synthetic line as a dataset (val split: the N frames the `demo` source plays, labels
where the line drew each defect; train split: N frames of another line; N defaults to 200).
`--weights` takes a weights file (`.pt`), an exported `.onnx` file or OpenVINO folder (`docs/export.md`), a bundled model by name: `default` (the NEU-DET model, or the
demo model when the source is the demo line), `demo`, or `fast` (the smaller `sdgasnet-t` NEU-DET model,
as fast as YOLO26n in INT8), or a registered model's name (`models list`). With no command, or `gui [--source S]
[--weights W]`, `main.py` opens the desktop application.
"""


def main():
    p = build_parser()
    print(INTRO)
    for cmd in (["info"], ["train"], ["distill"], ["val"], ["predict"], ["inspect"], ["export"], ["dataset", "check"],
                ["dataset", "convert"], ["report"], ["models", "list"], ["models", "register"], ["models", "approve"],
                ["models", "remove"], ["users", "add"], ["users", "passwd"], ["users", "role"], ["users", "list"], ["users", "unlock"],
                ["users", "remove"], ["certs", "list"], ["certs", "trust"], ["certs", "reject"], ["certs", "show"],
                ["secrets", "set"], ["secrets", "list"], ["secrets", "remove"], ["audit", "verify"],
                ["audit", "export"]):
        buf = io.StringIO()
        with contextlib.redirect_stdout(buf), contextlib.suppress(SystemExit):
            p.parse_args([*cmd, "--help"])
        text = buf.getvalue().replace("usage: sdgas", "usage: python main.py")
        print(f"## `{' '.join(cmd)}`\n\n```\n{text.rstrip()}\n```\n")


if __name__ == "__main__":
    main()
