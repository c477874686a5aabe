"""Image retention over a folder of 10,000 images: the stated order (by age per verdict, then over the
quota OK first, oldest first), never the newest hour, never a record; the audit trail says what went.
And the disk-full guard: images stop, the records say why, the line goes on."""
import os
import sqlite3
import time
from pathlib import Path


N = 10_000
SIZE = 1024


def _folder(root: Path, now: float) -> dict:
    """10,000 images over 10 days, every 10th NG, the newest ones in the last hour; a records database
    and a note among them."""
    made = {}
    for i in range(N):
        age_h = (N - i) * 240 / N                      # 240 h .. 0.024 h old, oldest first
        t = now - age_h * 3600
        verdict = "NG" if i % 10 == 0 else "OK"
        day = time.strftime("%Y-%m-%d", time.gmtime(t))
        p = root / day / f"{i:05d}_part_{verdict}.png"
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_bytes(b"\0" * SIZE)
        os.utime(p, (t, t))
        made[str(p)] = (t, verdict)
    (root / "records.sqlite").write_bytes(b"SQLite format 3\0" + b"\0" * 5000)
    (root / "README_OK.txt").write_text("not an image")
    return made


def test_ten_thousand_images_deleted_in_the_stated_order_never_a_record(tmp_path):
    from core.inspect.retention import Policy, apply

    now = time.time()
    made = _folder(tmp_path, now)
    order = []
    policy = Policy(ng_days=9, ok_days=7, max_gb=3000 * SIZE / 1024 ** 3, keep_newest_h=1)
    res = apply(tmp_path, policy, now=now, delete=lambda p: (order.append(p), os.unlink(p)))
    left = {str(p) for p in tmp_path.rglob("*.png")}
    assert (tmp_path / "records.sqlite").is_file() and (tmp_path / "README_OK.txt").is_file()
    assert res.files == len(order) == N - len(left)
    # 1. by age: NG older than 9 days and OK older than 7 days
    by_age = order[:res.by_age_ng + res.by_age_ok]
    assert all(now - made[p][0] > (9 if made[p][1] == "NG" else 7) * 86400 for p in by_age)
    assert not any(now - t > (9 if v == "NG" else 7) * 86400 for p, (t, v) in made.items() if p in left)
    # 2. over the quota: every OK (oldest first) before any NG
    quota = order[len(by_age):]
    verdicts = [made[p][1] for p in quota]
    assert verdicts == sorted(verdicts, key=lambda v: v != "OK") and res.by_quota_ok > 0
    oks = [made[p][0] for p in quota if made[p][1] == "OK"]
    assert oks == sorted(oks)
    assert sum(1 for p in left) * SIZE <= policy.max_gb * 1024 ** 3 or res.over_quota
    # 3. the newest hour is never touched, even over the quota
    newest = {p for p, (t, _) in made.items() if t >= now - 3600}
    assert newest and newest <= left
    # the NG images left are the newest ones of their kind
    ng_left = [made[p][0] for p in left if made[p][1] == "NG"]
    ng_gone = [made[p][0] for p in order if made[p][1] == "NG"]
    assert not ng_gone or not ng_left or max(ng_gone) <= min(ng_left)


def test_the_worker_writes_what_it_deleted_to_the_audit_trail(tmp_path):
    from core.inspect.records import RecordsWriter, read_audit
    from core.inspect.retention import Policy, RetentionWorker

    now = time.time()
    imgs = tmp_path / "images"
    for i in range(20):
        p = imgs / "d" / f"{i}_x_{'NG' if i % 2 else 'OK'}.png"
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_bytes(b"\0" * 10)
        os.utime(p, (now - 30 * 86400, now - 30 * 86400))
    w = RecordsWriter(tmp_path / "r.sqlite")
    r = RetentionWorker(imgs, Policy(ng_days=20, ok_days=10), w, every_s=3600).start()
    deadline = time.time() + 10
    while not r.runs and time.time() < deadline:
        time.sleep(0.05)
    r.close()
    w.close()
    assert r.runs[0].files == 20 and not list(imgs.rglob("*.png"))
    (ts, user, line, what, old, new, role, reason), = read_audit(tmp_path / "r.sqlite")
    assert what == "retention" and '"deleted": 20' in new and user.startswith("image retention policy")


def test_a_full_disk_stops_images_and_the_records_say_why(tmp_path, monkeypatch):
    import shutil
    from collections import namedtuple

    from core.detector import Detector

    Usage = namedtuple("Usage", "total used free")
    monkeypatch.setattr(shutil, "disk_usage", lambda p: Usage(100 * 1024 ** 3, 99.5 * 1024 ** 3, 0.5 * 1024 ** 3))
    states = []
    s = Detector("demo", "cpu").inspect("demo", db=str(tmp_path / "r.sqlite"), demo_fps=0, imgsz=64, max_frames=12,
                                        save_ng=str(tmp_path / "images"), save_all=True,
                                        on_state=lambda st, m: states.append((st, m))).start()
    s.wait(120)
    s.stop()
    rows = sqlite3.connect(tmp_path / "r.sqlite").execute("SELECT verdict, image_path, error FROM inspections").fetchall()
    assert len(rows) == 12 and not list((tmp_path / "images").rglob("*.png"))
    assert all(p is None and "images not saved: the disk under" in e and "nearly full" in e for _, p, e in rows)
    assert {v for v, _, _ in rows} <= {"OK", "NG"}                    # the parts are still judged
    assert any(st == "warning" and "nearly full" in m for st, m in states)
