"""The review state beside a dataset: model proposals not yet accepted, and frames from the line.

Kept in ``<root>/.sdgas/review.json`` (``{image key: {"proposals": [[cls, x1, y1, x2, y2, score]],
"from_line": bool, "reviewed": bool, "collected": ISO time}}``), never in the label files: a
proposal is not a label until a person accepts it, so training never sees one. ``cls`` is a class
id, or the name of a class the dataset does not have yet (the model's, added only when accepted).

Several hands write it: the labelling view, ``inspect --collect`` adding frames, another window.
Each change is made under the dataset lock to the file as it is on disk then, so none loses
another's entries; deciding on an image whose entry changed on disk since it was read here (new
proposals arrived) is refused with ``SaveConflict``.
"""
from __future__ import annotations

import json
from pathlib import Path

from core.data.annotation import Box
from core.data.formats import SaveConflict
from core.data.formats.base import dataset_lock, stamp
from core.util.io import atomic_write_text

REVIEW_FILE = Path(".sdgas") / "review.json"


class ReviewStore:
    def __init__(self, root: str | Path):
        self.root = Path(root)
        self.path = self.root / REVIEW_FILE
        self._stamp = None
        self.data: dict = self._read()
        self._seen = {k: _text(v) for k, v in self.data.items()}   # each entry as last read or written here

    def _read(self) -> dict:
        self._stamp = stamp(self.path)
        try:
            d = json.loads(self.path.read_text())
            return d if isinstance(d, dict) else {}
        except (OSError, ValueError):
            return {}

    def _change(self, key: str | None, change, check: bool = False) -> None:
        """``change(data)`` applied to the file as on disk now, under the lock (``check``: refused if
        ``key``'s entry changed on disk since it was read here)."""
        with dataset_lock(self.root):
            self.data = self._read()
            if check and _text(self.data.get(key)) != self._seen.get(key, _text(None)):
                raise SaveConflict(self.path, f"the review of {key}")
            change(self.data)
            atomic_write_text(self.path, json.dumps(self.data))
            self._stamp = stamp(self.path)
        for k in (self.data if key is None else [key]):
            self._seen[k] = _text(self.data.get(k))

    def entry(self, key: str) -> dict:
        return self.data.get(key, {})

    def proposals(self, key: str) -> list[Box]:
        """The image's proposals as on disk now (what a decision on them is then checked against)."""
        if stamp(self.path) != self._stamp:
            self.data = self._read()
        self._seen[key] = _text(self.data.get(key))
        out = []
        for p in self.entry(key).get("proposals", []):
            try:
                c, x1, y1, x2, y2, s = p
                out.append(Box(c if isinstance(c, str) else int(c), float(x1), float(y1), float(x2), float(y2),
                               score=float(s)))
            except (TypeError, ValueError):
                continue
        return out

    def from_line(self, key: str) -> bool:
        return bool(self.entry(key).get("from_line"))

    def unreviewed(self, key: str) -> bool:
        e = self.entry(key)
        return bool(e.get("proposals")) or (bool(e.get("from_line")) and not e.get("reviewed"))

    def set_proposals(self, key: str, boxes: list[Box], **extra) -> None:
        props = [[b.cls, round(b.x1, 2), round(b.y1, 2), round(b.x2, 2), round(b.y2, 2),
                  round(float(b.score or 0.0), 4)] for b in boxes]

        def change(data):
            data[key] = {**data.get(key, {}), "proposals": props, **extra}

        self._change(key, change)

    def mark_reviewed(self, key: str, remaining: list[Box] | None = None) -> None:
        """Decisions made: the proposals left (if any) stay; the frame counts as reviewed when none do."""
        if not self.entry(key):
            return
        props = [[b.cls, b.x1, b.y1, b.x2, b.y2, float(b.score or 0.0)] for b in (remaining or [])]

        def change(data):
            if data.get(key):
                data[key] = {**data[key], "proposals": props, "reviewed": not props}

        self._change(key, change, check=True)

    def remap_classes(self, mapping: dict[int, int | None]) -> None:
        """Class ids of the proposals after a merge (None: the proposal goes)."""
        def change(data):
            for e in data.values():
                props = []
                for p in e.get("proposals", []):
                    c = p[0] if isinstance(p[0], str) else mapping.get(int(p[0]), int(p[0]))
                    if c is not None:
                        props.append([c, *p[1:]])
                e["proposals"] = props

        self._change(None, change)


def _text(entry) -> str:
    return json.dumps(entry, sort_keys=True)
