"""'Test connection' for the line's settings: each one tried once, with a sentence for the person.

    for c in check_connections(db="postgresql://…", opcua="opc.tcp://0.0.0.0:4840", mqtt="mqtt://…"):
        print(c.ok, c.what, c.detail)

The records database is connected (PostgreSQL) or opened read-only (a SQLite file; a new file is
not created by a test); the OPC UA port is bound and released (the station serves on it at Start,
the PLC connects to it); the MQTT broker is connected to and left. Blocking (up to ``timeout``
each): a GUI calls this off its thread. Messages never carry a password.
"""
from __future__ import annotations

import os
import socket
import threading
import urllib.parse
from dataclasses import dataclass
from pathlib import Path


@dataclass
class Check:
    what: str          # "records", "OPC UA", "MQTT"
    target: str        # what was tried, without secrets
    ok: bool
    detail: str


def check_connections(db: str = "", opcua: str = "", mqtt: str = "", timeout: float = 5.0) -> list[Check]:
    out = [check_records(db, timeout)]
    if opcua:
        out.append(check_opcua(opcua))
    if mqtt:
        out.append(check_mqtt(mqtt, timeout))
    return out


def check_records(db: str, timeout: float = 5.0) -> Check:
    from .options import default_records

    if str(db).startswith(("postgresql://", "postgres://")):
        from .records_pg import pg_connect, safe_url

        try:
            pg_connect(db, timeout).close()
        except Exception as e:  # noqa: BLE001 - every failure is a sentence for the person
            return Check("records", safe_url(db), False, str(e).replace(db, safe_url(db)))
        return Check("records", safe_url(db), True, "connected; the records tables are in place")
    path = Path(db or default_records())
    if not path.exists():
        parent = next((p for p in [path.parent, *path.parent.parents] if p.exists()), None)
        if parent is None or not os.access(parent, os.W_OK):
            return Check("records", str(path), False, f"cannot create it: {parent or path.parent} is not writable")
        return Check("records", str(path), True, "a new records file is created here at the first Start")
    import sqlite3

    from .records_sqlite import _check_schema

    try:
        con = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=timeout)
        try:
            _check_schema(con, path)      # read only: a test changes nothing
        finally:
            con.close()
    except (ValueError, sqlite3.DatabaseError) as e:
        return Check("records", str(path), False, str(e) if str(path) in str(e) else f"{path}: {e}")
    return Check("records", str(path), True, "a records file of this program; the next rows are added to it")


def check_opcua(url: str) -> Check:
    """The station serves here: can this PC bind the port now?"""
    u = urllib.parse.urlsplit(url)
    try:
        host, port = u.hostname or "0.0.0.0", u.port or 4840
    except ValueError:
        return Check("OPC UA", url, False, "the port is not a number")
    s = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM)
    try:
        s.bind((host, port))
    except OSError as e:
        why = "in use by another program (or another copy of this one)" if e.errno in (98, 10048) else e.strerror
        return Check("OPC UA", url, False, f"this PC cannot serve on {host}:{port}: {why}")
    finally:
        s.close()
    return Check("OPC UA", url, True, f"port {port} is free on {host}: the PLC connects to this PC's address there")


def check_mqtt(url: str, timeout: float = 5.0) -> Check:
    import paho.mqtt.client as mqtt

    from .outputs.mqtt import parse_mqtt_url

    try:
        cfg = parse_mqtt_url(url)
    except ValueError as e:
        return Check("MQTT", "", False, str(e).replace(url, "the URL"))
    done, result = threading.Event(), {}

    def on_connect(client, userdata, flags, reason_code, properties):
        result["rc"] = reason_code
        done.set()

    c = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, protocol=mqtt.MQTTv311)
    if cfg["user"]:
        c.username_pw_set(cfg["user"], cfg["password"])
    c.on_connect = on_connect
    try:
        c.connect(cfg["host"], cfg["port"], keepalive=10)
    except OSError as e:
        return Check("MQTT", cfg["shown"], False, f"no broker reachable at {cfg['host']}:{cfg['port']} ({e.strerror or e})")
    c.loop_start()
    try:
        if not done.wait(timeout):
            return Check("MQTT", cfg["shown"], False, f"the broker did not answer within {timeout:.0f} s")
        rc = result["rc"]
        if rc.is_failure:
            return Check("MQTT", cfg["shown"], False, f"the broker refused: {rc}")
        return Check("MQTT", cfg["shown"], True, f"connected; results go to the topic '{cfg['topic']}'")
    finally:
        c.disconnect()
        c.loop_stop()
