"""Data in and out: ``dataset`` (check, convert) and ``report`` (the inspection records as a document)."""
from __future__ import annotations

from core.cli_args import add_action, check_writable, one_line


def _print_report(report) -> None:
    """A dataset report (``core.data.validate.Report``) with its file and class names on one line each."""
    report.names = [one_line(n) for n in report.names]
    report.problems = [(one_line(f), one_line(why)) for f, why in report.problems]
    print(report.summary())


def cmd_dataset(args) -> int:
    from core.data.catalog import open_dataset
    from core.data.validate import split_problems, validate

    spec = open_dataset(args.path)
    print(f"{one_line(spec.root)}: {spec.format} dataset, {len(spec.names)} classes: "
          f"{', '.join(one_line(n) for n in spec.names)}")
    bad = 0
    if not any(spec.splits.values()):
        print("the dataset lists no images")
        bad += 1
    for s, raws in spec.splits.items():
        if not raws and not spec.problems.get(s):
            continue
        _, report = validate(spec, s)
        _print_report(report)
        bad += len(report.problems)
    for where, why in split_problems(spec) if any(spec.splits.values()) else []:
        print(f"{one_line(where)}: {one_line(why)}")
        bad += 1
    if bad:
        print(f"{bad} problem(s) found")
        return 1
    print("no problems found")
    return 0


def cmd_dataset_convert(args) -> int:
    from core.data.convert import convert_dataset

    data, reports = convert_dataset(args.path, args.to, args.out)
    for r in reports:
        _print_report(r)
    print(f"written: {one_line(data)} (use it as --data)")
    return 0


def cmd_report(args) -> int:
    from core.report import ReportFilter, make_report, parse_time, read_validation
    from core.security.secrets import refuse_password_in_argv

    refuse_password_in_argv("--db", args.db)
    flt = ReportFilter(t_from=parse_time(args.t_from) if args.t_from else None,
                       t_to=parse_time(args.t_to) if args.t_to else None,
                       source=args.source, model=args.model, recipe=args.recipe)
    check_writable(args.out)
    from core.detector import known_models

    for p in make_report(args.db, args.format, args.out, flt, read_validation(args.val), known_models=known_models()):
        print(f"written: {one_line(p)}")
    return 0


def register(sub) -> None:
    from core.data.formats import FORMATS

    ds = sub.add_parser("dataset", help="dataset tools")
    dsub = ds.add_subparsers(dest="dataset_command", metavar="ACTION", required=True, parser_class=type(ds))
    add_action(dsub, "check", "validate a dataset and print its report", cmd_dataset, "path")
    cv = add_action(dsub, "convert", "convert a dataset to another format", cmd_dataset_convert, "path")
    cv.add_argument("--to", required=True, choices=list(FORMATS))
    cv.add_argument("--out", required=True, help="an empty or new folder")

    rp = sub.add_parser("report", help="an inspection report from the records: pdf, html, csv or json")
    rp.add_argument("--db", required=True,
                    help="the records: a SQLite file (inspect --db, the live view) or a postgresql:// URL")
    rp.add_argument("--format", required=True, choices=["pdf", "html", "csv", "json"])
    rp.add_argument("--out", required=True, help="the report file (csv also writes OUT_detections.csv)")
    rp.add_argument("--from", dest="t_from", metavar="T", help="start, ISO date or time (local unless it says)")
    rp.add_argument("--to", dest="t_to", metavar="T", help="end (exclusive)")
    rp.add_argument("--source", help="only this source")
    rp.add_argument("--model", help="only this model id (as recorded, NAME:HASH)")
    rp.add_argument("--recipe", help="only this recipe")
    rp.add_argument("--val", metavar="FILE", help="a val --json file: escape and overkill rates against ground truth")
    rp.set_defaults(func=cmd_report)
