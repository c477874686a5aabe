"""CSV that a spreadsheet opens as data, never as formulas: every CSV the project writes goes through
``writer`` (OWASP's rule against CSV injection: a text cell that starts with ``=``, ``+``, ``-``,
``@``, a tab or a carriage return gets a leading single quote, so a folder, file, model or class
named ``=HYPERLINK(...)`` shows as that text and runs nothing)."""
from __future__ import annotations

import csv

FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def neutral(value):
    """``value`` as a cell: text that a spreadsheet would take as a formula gets a leading quote;
    numbers stay numbers (a negative number is not text, and no spreadsheet runs it)."""
    if isinstance(value, str) and value.startswith(FORMULA_START):
        return "'" + value
    return value


class writer:  # noqa: N801 - a drop-in for csv.writer
    """``csv.writer`` whose rows are neutralised cell by cell."""

    def __init__(self, f, **fmt):
        self._w = csv.writer(f, **fmt)

    def writerow(self, row):
        return self._w.writerow([neutral(v) for v in row])

    def writerows(self, rows):
        for row in rows:
            self.writerow(row)
