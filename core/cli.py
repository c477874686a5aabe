"""Command line: argument parsing -> ``Detector`` calls. One-line errors, non-zero exit on failure.

``main.py`` starts the GUI itself (with no arguments or ``gui``), so nothing in ``core`` names ``app``.
"""
from __future__ import annotations

import argparse
import os
import sys

from core import cli_admin, cli_data, cli_inspect, cli_models, cli_predict, cli_train
from core.cli_args import one_line

PROG = "sdgas"


class _Parser(argparse.ArgumentParser):
    def error(self, message):  # one line, not the usage block
        sys.stderr.write(f"{self.prog}: error: {message}\n")
        raise SystemExit(2)


def build_parser() -> argparse.ArgumentParser:
    p = _Parser(prog=PROG, description="SD-GASNet Inspector: surface-defect detection.")
    sub = p.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    g = sub.add_parser("gui", help="the desktop application (the default with no command)")
    g.add_argument("--source")
    g.add_argument("--weights")
    for commands in (cli_models, cli_train, cli_predict, cli_inspect, cli_data, cli_admin):   # as `--help` lists them
        commands.register(sub)
    return p


def main(argv: list[str] | None = None) -> int:
    from core.security.secrets import install_log_filter, redact

    install_log_filter()           # no password reaches a log line
    argv = sys.argv[1:] if argv is None else argv
    args = build_parser().parse_args(argv)
    if args.command in (None, "gui"):
        sys.stderr.write(f"{PROG}: the desktop application starts from main.py (python main.py gui)\n")
        return 2
    try:
        return int(args.func(args) or 0)
    except (ValueError, FileNotFoundError, OSError, NotImplementedError) as e:
        sys.stderr.write(f"{PROG} {args.command}: error: {redact(one_line(e))}\n")
        return 1
    except KeyboardInterrupt:
        sys.stderr.write(f"{PROG} {args.command}: interrupted\n")
        return 130
    except Exception as e:  # noqa: BLE001 - one line for the user; SDGAS_DEBUG=1 shows the traceback
        if os.environ.get("SDGAS_DEBUG"):
            raise
        sys.stderr.write(f"{PROG} {args.command}: unexpected error: {type(e).__name__}: {redact(one_line(e))} "
                         "(SDGAS_DEBUG=1 shows where; please report it)\n")
        return 1


if __name__ == "__main__":
    raise SystemExit(main())
