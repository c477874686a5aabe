"""SD-GASNet Inspector. No arguments (or ``gui``): the desktop application; otherwise the CLI."""
import multiprocessing
import sys


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if not argv or argv[0] == "gui":
        from app.launch import keep_early_interrupt

        keep_early_interrupt()
        from core.cli import build_parser  # the same options `main.py --help` lists

        args = build_parser().parse_args(["gui", *argv[1:]])
        from app.launch import run_gui

        return run_gui(source=args.source, weights=args.weights)
    from core.cli import main as cli_main

    return cli_main(argv)


if __name__ == "__main__":
    multiprocessing.freeze_support()  # frozen builds start dataloader/training children safely
    raise SystemExit(main())
