"""Image retention and the disk-full guard for the images a station saves (``--save-ng``).

``Policy``: NG (and ERROR) images are kept ``ng_days``, OK images ``ok_days``, and all of them together
at most ``max_gb``; over the quota OK images go first, oldest first, then NG ones; an image of the
newest ``keep_newest_h`` hours is never deleted. Only files named as the pipeline names images
(``…_OK.png``, ``…_NG.png``, ``…_ERROR.png``) are touched: a records database or anything else in the
folder never is. ``RetentionWorker`` applies it in the background and writes what it deleted to the
audit trail.

``DiskGuard``: below ``min_free_gb`` free (or 2 % of the disk) under the image folder, the pipeline
stops saving images, says so on screen, and each record whose image was not saved names why, so the
disk fills with nothing that puts the records database at risk.
"""
from __future__ import annotations

import os
import re
import shutil
import threading
import time
from dataclasses import asdict, dataclass
from pathlib import Path

IMAGE = re.compile(r"_(OK|NG|ERROR)\.(png|jpe?g)$", re.I)
GB = 1024 ** 3


@dataclass(frozen=True)
class Policy:
    ng_days: float | None = None          # None: kept until the quota needs the room
    ok_days: float | None = None
    max_gb: float | None = None           # all images together; None: no quota
    keep_newest_h: float = 1.0
    min_free_gb: float = 1.0              # the disk-full guard

    @classmethod
    def from_settings(cls, d: dict | None) -> "Policy | None":
        if not d:
            return None
        known = {k: d[k] for k in ("ng_days", "ok_days", "max_gb", "keep_newest_h", "min_free_gb") if d.get(k) is not None}
        return cls(**{k: float(v) for k, v in known.items()})

    @property
    def deletes(self) -> bool:
        """Whether it ever deletes (else only the disk-full guard is in force)."""
        return any(v is not None for v in (self.ng_days, self.ok_days, self.max_gb))

    def to_json(self) -> dict:
        return asdict(self)


@dataclass
class Deleted:
    by_age_ng: int = 0
    by_age_ok: int = 0
    by_quota_ok: int = 0
    by_quota_ng: int = 0
    bytes: int = 0
    left_bytes: int = 0
    over_quota: bool = False           # still over it: only the newest hour is left

    @property
    def files(self) -> int:
        return self.by_age_ng + self.by_age_ok + self.by_quota_ok + self.by_quota_ng


def _images(folder: Path) -> list[tuple[float, int, str, str]]:
    """(mtime, size, path, OK|NG) of every image the pipeline saved under ``folder`` (ERROR counts as NG)."""
    out, stack = [], [str(folder)]
    while stack:
        try:
            with os.scandir(stack.pop()) as it:
                for e in it:
                    if e.is_dir(follow_symlinks=False):
                        stack.append(e.path)
                    elif e.is_file(follow_symlinks=False):
                        m = IMAGE.search(e.name)
                        if m:
                            st = e.stat(follow_symlinks=False)
                            out.append((st.st_mtime, st.st_size, e.path, "OK" if m[1].upper() == "OK" else "NG"))
        except OSError:
            continue
    return out


def apply(folder: str | Path, policy: Policy, now: float | None = None, delete=os.unlink) -> Deleted:
    """Delete what ``policy`` no longer keeps; returns what went. Empty day folders are removed too."""
    now = time.time() if now is None else now
    folder = Path(folder)
    res = Deleted()
    if not folder.is_dir():
        return res
    newest = now - policy.keep_newest_h * 3600
    kept = []

    def gone(item, field_name):
        try:
            delete(item[2])
        except FileNotFoundError:
            pass
        except OSError:
            kept.append(item)
            return
        setattr(res, field_name, getattr(res, field_name) + 1)
        res.bytes += item[1]

    for item in sorted(_images(folder)):
        t, _, _, verdict = item
        days = policy.ok_days if verdict == "OK" else policy.ng_days
        if t < newest and days is not None and t < now - days * 86400:
            gone(item, "by_age_ok" if verdict == "OK" else "by_age_ng")
        else:
            kept.append(item)
    total = sum(i[1] for i in kept)
    if policy.max_gb is not None and total > policy.max_gb * GB:
        limit = policy.max_gb * GB
        for verdict, field_name in (("OK", "by_quota_ok"), ("NG", "by_quota_ng")):
            for item in [i for i in kept if i[3] == verdict and i[0] < newest]:   # oldest first (sorted)
                if total <= limit:
                    break
                before = res.bytes
                gone(item, field_name)
                total -= res.bytes - before
        res.over_quota = total > limit
    res.left_bytes = total
    for d in sorted((p for p in folder.rglob("*") if p.is_dir()), key=lambda p: len(p.parts), reverse=True):
        try:
            d.rmdir()                     # only empty ones go
        except OSError:
            pass
    return res


class RetentionWorker:
    """Applies ``policy`` to ``folder`` every ``every_s`` (and once at start) on its own thread; each run
    that deleted something is written to the audit trail (``records``, a ``RecordsWriter``)."""

    def __init__(self, folder, policy: Policy, records=None, every_s: float = 600.0, on_state=None):
        self.folder, self.policy, self.records, self.every_s = Path(folder), policy, records, every_s
        self.on_state = on_state or (lambda state, msg: None)
        self.runs: list[Deleted] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="retention", daemon=True)

    def start(self) -> "RetentionWorker":
        self._thread.start()
        return self

    def _run(self):
        while not self._stop.is_set():
            try:
                d = apply(self.folder, self.policy)
            except Exception as e:  # noqa: BLE001 - retention failing must not stop the line; it is shown
                self.on_state("warning", f"image retention under {self.folder} failed: {e}")
            else:
                self.runs.append(d)
                if d.files and self.records is not None:
                    self.records.audit("retention", None, {
                        "folder": str(self.folder), "policy": self.policy.to_json(), "deleted": d.files,
                        "deleted_ng_by_age": d.by_age_ng, "deleted_ok_by_age": d.by_age_ok,
                        "deleted_ok_by_quota": d.by_quota_ok, "deleted_ng_by_quota": d.by_quota_ng,
                        "freed_mb": round(d.bytes / 2 ** 20, 1)}, user="image retention policy")
                if d.over_quota:
                    self.on_state("warning", f"images under {self.folder} are over their {self.policy.max_gb} GB "
                                             "quota with only the newest hour left")
            self._stop.wait(self.every_s)

    def close(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(30)


class DiskGuard:
    """Whether images may still be saved under ``folder``: ``problem()`` is None, or why not (checked at
    most every ``every_s``)."""

    def __init__(self, folder, min_free_gb: float = 1.0, every_s: float = 2.0):
        self.folder, self.min_free, self.every_s = Path(folder), min_free_gb * GB, every_s
        self._at, self._problem = 0.0, None

    def problem(self) -> str | None:
        now = time.monotonic()
        if now - self._at >= self.every_s:
            self._at = now
            p = self.folder
            while not p.exists() and p != p.parent:
                p = p.parent
            try:
                u = shutil.disk_usage(p)
            except OSError as e:
                self._problem = f"images not saved: {self.folder} unreadable ({e})"
                return self._problem
            floor = max(self.min_free, 0.02 * u.total)
            self._problem = None if u.free >= floor else (
                f"images not saved: the disk under {self.folder} is nearly full ({u.free / GB:.1f} GB free, "
                f"below {floor / GB:.1f} GB); the records come first")
        return self._problem
