"""The review state beside a dataset: model proposals not yet accepted, and frames from the line.

Kept in ``<root>/.sdgas/review.json`` (``{image key: {"proposals": [[cls, x1, y1, x2, y2, score]],
"from_line": bool, "reviewed": bool, "collected": ISO time}}``), never in the label files: a
proposal is not a label until a person accepts it, so training never sees one. ``cls`` is a class
id, or the name of a class the dataset does not have yet (the model's, added only when accepted).
"""
from __future__ import annotations

import json
import threading
from pathlib import Path

from core.util.io import atomic_write_text

from .annotation import Box

REVIEW_FILE = Path(".sdgas") / "review.json"


class ReviewStore:
    def __init__(self, root: str | Path):
        self.path = Path(root) / REVIEW_FILE
        self._lock = threading.Lock()
        try:
            d = json.loads(self.path.read_text())
            self.data: dict = d if isinstance(d, dict) else {}
        except (OSError, ValueError):
            self.data = {}

    def entry(self, key: str) -> dict:
        return self.data.get(key, {})

    def proposals(self, key: str) -> list[Box]:
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
        with self._lock:
            e = dict(self.data.get(key, {}))
            e["proposals"] = [[b.cls, round(b.x1, 2), round(b.y1, 2), round(b.x2, 2), round(b.y2, 2),
                               round(float(b.score or 0.0), 4)] for b in boxes]
            e.update(extra)
            self.data[key] = e
            self._save()

    def mark_reviewed(self, key: str, remaining: list[Box] | None = None) -> None:
        """Decisions made: the proposals left (if any) stay; the frame counts as reviewed when none do."""
        with self._lock:
            e = dict(self.data.get(key, {}))
            if not e:
                return
            e["proposals"] = [[b.cls, b.x1, b.y1, b.x2, b.y2, float(b.score or 0.0)] for b in (remaining or [])]
            e["reviewed"] = not e["proposals"]
            self.data[key] = e
            self._save()

    def rename_key(self, old: str, new: str) -> None:
        with self._lock:
            if old in self.data:
                self.data[new] = self.data.pop(old)
                self._save()

    def remap_classes(self, mapping: dict[int, int | None]) -> None:
        """Class ids of the proposals after a merge (None: the proposal goes)."""
        with self._lock:
            for e in self.data.values():
                props = []
                for p in e.get("proposals", []):
                    c = p[0] if isinstance(p[0], str) else mapping.get(int(p[0]), int(p[0]))
                    if c is not None:
                        props.append([c, *p[1:]])
                e["proposals"] = props
            self._save()

    def _save(self):
        atomic_write_text(self.path, json.dumps(self.data))
