"""SD-GASNet Inspector. No arguments: the desktop application; otherwise the command line."""
import multiprocessing
import sys


def main() -> int:
    from core.cli import main as cli_main

    return cli_main(sys.argv[1:])


if __name__ == "__main__":
    multiprocessing.freeze_support()  # frozen builds start dataloader/training children safely
    raise SystemExit(main())
