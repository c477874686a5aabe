"""The audit trail's hash chain: `audit verify` names the first row edited, removed or re-ordered; signed
changes carry user, role, reason, old and new; users, roles and lock-out."""
import sqlite3

import pytest


@pytest.fixture
def home(tmp_path, monkeypatch):
    monkeypatch.setenv("SDGAS_HOME", str(tmp_path / "home"))
    return tmp_path


def _trail(db, n=6):
    from core.inspect.records import RecordsWriter

    w = RecordsWriter(db, batch=1, interval=0.01, line="L1")
    for i in range(n):
        w.audit("threshold scratches", i / 10, (i + 1) / 10)
    w.close()


def _verify(db, capsys):
    from core.cli import main

    rc = main(["audit", "verify", "--db", str(db)])
    return rc, capsys.readouterr().out


def test_an_intact_trail_verifies_and_each_kind_of_tampering_is_named(home, capsys):
    db = home / "r.sqlite"
    _trail(db)
    rc, out = _verify(db, capsys)
    assert rc == 0 and "intact: 6 rows" in out

    con = sqlite3.connect(db)
    ids = [r[0] for r in con.execute("SELECT id FROM audit ORDER BY id")]
    # an edited row: the threshold of row 3 loosened after the fact
    con.execute("UPDATE audit SET new_value = '0.9' WHERE id = ?", (ids[2],))
    con.commit()
    rc, out = _verify(db, capsys)
    assert rc == 4 and f"row {ids[2]} was altered" in out, out
    con.execute("UPDATE audit SET new_value = '0.3' WHERE id = ?", (ids[2],))
    con.commit()
    assert _verify(db, capsys)[0] == 0

    # a re-ordered pair: rows 2 and 3 swapped whole (hashes and all)
    cols = "ts, user, line, what, old_value, new_value, role, reason, prev_hash, hash"
    a = con.execute(f"SELECT {cols} FROM audit WHERE id = ?", (ids[1],)).fetchone()
    b = con.execute(f"SELECT {cols} FROM audit WHERE id = ?", (ids[2],)).fetchone()
    sets = ", ".join(f"{c.strip()} = ?" for c in cols.split(","))
    con.execute(f"UPDATE audit SET {sets} WHERE id = ?", (*b, ids[1]))
    con.execute(f"UPDATE audit SET {sets} WHERE id = ?", (*a, ids[2]))
    con.commit()
    rc, out = _verify(db, capsys)
    assert rc == 4 and f"row {ids[1]}:" in out and "re-ordered" in out, out
    con.execute(f"UPDATE audit SET {sets} WHERE id = ?", (*a, ids[1]))
    con.execute(f"UPDATE audit SET {sets} WHERE id = ?", (*b, ids[2]))
    con.commit()
    assert _verify(db, capsys)[0] == 0

    # a deleted row in the middle
    con.execute("DELETE FROM audit WHERE id = ?", (ids[3],))
    con.commit()
    rc, out = _verify(db, capsys)
    assert rc == 4 and f"row {ids[4]}:" in out and "removed" in out, out


def test_rows_removed_from_the_end_are_seen_through_the_stations_anchor(home, capsys):
    db = home / "r.sqlite"
    _trail(db, 4)
    con = sqlite3.connect(db)
    last = con.execute("SELECT MAX(id) FROM audit").fetchone()[0]
    con.execute("DELETE FROM audit WHERE id = ?", (last,))
    con.commit()
    rc, out = _verify(db, capsys)
    assert rc == 4 and f"row {last}" in out and "from the end" in out, out


def test_rows_from_before_the_chain_are_sealed_on_migration(home, capsys):
    """A schema-3 file (no hash columns) gains the chain in place, over its rows in their order."""
    db = home / "old.sqlite"
    con = sqlite3.connect(db)
    con.executescript("""
        CREATE TABLE inspections (id INTEGER PRIMARY KEY AUTOINCREMENT, ts TEXT NOT NULL, source TEXT, frame TEXT,
            image_path TEXT, verdict TEXT NOT NULL, n_defects INTEGER NOT NULL DEFAULT 0, model_id TEXT,
            recipe_id TEXT, error TEXT, latency_ms REAL, frame_age_ms REAL, line TEXT, uid TEXT, part_id TEXT,
            camera_frame_id INTEGER, camera_ts INTEGER);
        CREATE TABLE detections (inspection_id INTEGER NOT NULL, class_id INTEGER NOT NULL, class_name TEXT,
            score REAL, x1 REAL, y1 REAL, x2 REAL, y2 REAL, is_defect INTEGER NOT NULL DEFAULT 1);
        CREATE TABLE audit (id INTEGER PRIMARY KEY AUTOINCREMENT, ts TEXT NOT NULL, user TEXT, line TEXT,
            what TEXT NOT NULL, old_value TEXT, new_value TEXT);
        INSERT INTO audit (ts, user, line, what, old_value, new_value) VALUES ('t1', 'ann', 'L1', 'recipe', NULL, 'a');
        INSERT INTO audit (ts, user, line, what, old_value, new_value) VALUES ('t2', 'bob', 'L1', 'recipe', 'a', 'b');
        PRAGMA user_version = 3;""")
    con.close()
    _trail(db, 2)
    rc, out = _verify(db, capsys)
    assert rc == 0 and "intact: 4 rows" in out, out


def test_a_signed_change_holds_user_role_reason_old_and_new(home):
    from core.inspect.records import RecordsWriter, read_audit
    from core.security.users import AuthError, UserStore

    users = UserStore()
    users.add("eng-anna", "engineer", "engineer-pw-1")
    users.add("op-otto", "operator", "operator-pw-1")
    with pytest.raises(AuthError, match="reason"):
        users.sign("eng-anna", "engineer-pw-1", "  ", "recipe.edit")
    with pytest.raises(AuthError, match="wrong user name or password"):
        users.sign("eng-anna", "not-her-password", "tighter scratches", "recipe.edit")
    with pytest.raises(AuthError, match="may not recipe edit"):
        users.sign("op-otto", "operator-pw-1", "I want to", "recipe.edit")
    sig = users.sign("eng-anna", "engineer-pw-1", "scratches escaped on line 3", "recipe.edit")
    db = home / "r.sqlite"
    w = RecordsWriter(db, line="L3")
    w.audit("threshold scratches", 0.5, 0.35, signature=sig)
    w.close()
    (ts, user, line, what, old, new, role, reason), = read_audit(db)
    assert (user, role, reason, what, old, new) == ("eng-anna", "engineer", "scratches escaped on line 3",
                                                   "threshold scratches", "0.5", "0.35")


def test_passwords_are_slow_salted_hashes_and_wrong_ones_lock_the_account(home, capsys, monkeypatch):
    import io
    import json
    import os

    from core.cli import main
    from core.security import users as U

    monkeypatch.setattr("sys.stdin", io.StringIO("admin-pw-123\n"))
    assert main(["users", "add", "root-admin", "--role", "administrator", "--stdin"]) == 0
    path = U.users_file()
    assert os.stat(path).st_mode & 0o777 == 0o600
    data = json.loads(path.read_text())["users"]["root-admin"]
    assert data["hash"].startswith("$argon2id$") and "admin-pw-123" not in path.read_text()
    store = U.UserStore()
    for _ in range(U.LOCK_AFTER):
        with pytest.raises(U.AuthError, match="wrong"):
            store.authenticate("root-admin", "guess")
    with pytest.raises(U.AuthError, match="locked"):
        store.authenticate("root-admin", "admin-pw-123")       # even the right password, while locked
    assert main(["users", "unlock", "root-admin"]) == 0
    assert store.authenticate("root-admin", "admin-pw-123").role == "administrator"
    with pytest.raises(U.AuthError, match="wrong user name"):
        store.authenticate("nobody", "admin-pw-123")            # says no more for an unknown name
    capsys.readouterr()
    assert main(["users", "list"]) == 0 and "root-admin" in capsys.readouterr().out


def test_audit_export_pdf_and_csv(home, capsys):
    import csv

    from core.cli import main

    db = home / "r.sqlite"
    _trail(db, 3)
    assert main(["audit", "export", "--db", str(db), "--format", "csv", "--out", str(home / "a.csv")]) == 0
    rows = list(csv.reader(open(home / "a.csv")))
    assert rows[0][:3] == ["id", "ts", "user"] and len(rows) == 4
    assert main(["audit", "export", "--db", str(db), "--format", "pdf", "--out", str(home / "a.pdf")]) == 0
    from pypdf import PdfReader

    text = "".join(p.extract_text() for p in PdfReader(home / "a.pdf").pages)
    assert "intact: 3 rows" in text and "threshold scratches" in text


def test_a_signed_line_change_is_recorded_once_and_the_next_start_finds_it(home):
    """Line connections saved with a signature land in the trail at once; the next Start, which compares
    its outputs with the trail, writes no unsigned copy."""
    from core.detector import Detector
    from core.inspect.audit import outputs_value, record_change
    from core.inspect.records import read_audit
    from core.security.users import UserStore

    users = UserStore()
    users.add("adm-ada", "administrator", "admin-pw-123")
    sig = users.sign("adm-ada", "admin-pw-123", "line 3 joins the plant broker", "line.edit")
    db = home / "r.sqlite"
    specs = {"mqtt": "mqtt://line3@127.0.0.1:1/plant/l3"}
    record_change(db, "outputs", {}, outputs_value(specs), signature=sig)
    s = Detector("demo", "cpu").inspect("demo", db=str(db), demo_fps=0, imgsz=64, max_frames=1, outputs=specs).start()
    s.wait(60)
    s.stop()
    outputs = [r for r in read_audit(db) if r[3] == "outputs"]
    assert len(outputs) == 1 and (outputs[0][1], outputs[0][6], outputs[0][7]) == \
        ("adm-ada", "administrator", "line 3 joins the plant broker")
