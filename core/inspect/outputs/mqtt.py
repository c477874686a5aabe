"""MQTT: one JSON message per inspection (the records row and its detections, no image), QoS 1.

``mqtt://[user@]host[:port]/topic``, or over TLS ``mqtts://[user@]host[:8883]/topic?ca=CA.pem`` (the
broker's certificate checked against that CA, its host name included), with a client certificate
``&cert=CLIENT.pem&key=CLIENT.key`` where the broker asks for one. The password of ``user`` comes from
the secret store (``core.security.secrets``, under ``mqtt[s]://user@host:port``), never the URL
(a legacy URL password still works, and is shown nowhere). The client connects in the background and
reconnects with back-off (1 s doubling to 30 s); messages published while the broker is away wait
in the client (up to ``MAX_QUEUED``) and go out when it returns. QoS 1 is "at least once": a message
in flight when the connection broke may arrive twice; its ``uid`` tells the copies apart.
"""
from __future__ import annotations

import json
import threading
import urllib.parse
from pathlib import Path

from .base import Output, OutputState

MAX_QUEUED = 100_000      # about 50 MB of messages: hours of a line at 8 frames/s


def parse_mqtt_url(url: str) -> dict:
    if "#" in url:
        raise ValueError(f"--mqtt {url}: the topic has a wildcard (#); one publishes to a plain topic")
    from core.security.secrets import redact

    u = urllib.parse.urlsplit(url)
    if u.scheme not in ("mqtt", "tcp", "mqtts", "ssl") or not u.hostname:
        raise ValueError(f"--mqtt {redact(url)}: expected mqtt://HOST[:PORT]/TOPIC or mqtts://HOST[:PORT]/TOPIC?ca=CA.pem")
    tls = u.scheme in ("mqtts", "ssl")
    q = dict(urllib.parse.parse_qsl(u.query))
    unknown = sorted(set(q) - {"ca", "cert", "key", "password"})
    if unknown:
        raise ValueError(f"--mqtt {redact(url)}: unknown option(s) {', '.join(unknown)} (ca, cert, key)")
    if not tls and (q.get("ca") or q.get("cert")):
        raise ValueError(f"--mqtt {redact(url)}: ca/cert need mqtts:// (TLS)")
    for k in ("ca", "cert", "key"):
        if q.get(k) and not Path(q[k]).is_file():
            raise ValueError(f"--mqtt {redact(url)}: {k} file {q[k]} not found")
    if bool(q.get("cert")) != bool(q.get("key")):
        raise ValueError(f"--mqtt {redact(url)}: a client certificate needs both cert= and key=")
    topic = u.path.lstrip("/") or "sdgas/inspections"
    if any(c in topic for c in "#+"):
        raise ValueError(f"--mqtt {url}: the topic '{topic}' has a wildcard (# or +); one publishes to a plain topic")
    try:
        port = u.port or (8883 if tls else 1883)
    except ValueError:
        raise ValueError(f"--mqtt {redact(url)}: the port is not a number") from None
    scheme = "mqtts" if tls else "mqtt"
    return {"host": u.hostname, "port": port, "topic": topic, "user": u.username,
            "password": u.password or q.get("password"), "tls": tls, "ca": q.get("ca"), "cert": q.get("cert"),
            "key": q.get("key"), "secret": f"{scheme}://{u.username or ''}@{u.hostname}:{port}",
            "shown": f"{scheme}://{u.hostname}:{port}/{topic}"}


class MqttOutput(Output):
    name = "mqtt"

    def __init__(self, url: str, line: str | None = None, client_id: str | None = None):
        import paho.mqtt.client as mqtt

        self.cfg = parse_mqtt_url(url)
        self.line = line
        self._mqtt = mqtt
        self.client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=client_id or "",
                                  protocol=mqtt.MQTTv311)
        if self.cfg["user"]:
            from core.security.secrets import get_secret, remember

            password = self.cfg["password"] or get_secret(self.cfg["secret"])
            remember(password or "")
            self.client.username_pw_set(self.cfg["user"], password)
        if self.cfg["tls"]:
            import ssl

            # the broker's certificate and host name are checked (against ca=, else the system's CAs)
            self.client.tls_set(ca_certs=self.cfg["ca"], certfile=self.cfg["cert"], keyfile=self.cfg["key"],
                                cert_reqs=ssl.CERT_REQUIRED, tls_version=ssl.PROTOCOL_TLS_CLIENT)
        self.client.max_queued_messages_set(MAX_QUEUED)
        self.client.max_inflight_messages_set(100)
        self.client.reconnect_delay_set(1, 30)
        self.client.on_connect = self._on_connect
        self.client.on_disconnect = self._on_disconnect
        self.client.on_connect_fail = self._on_connect_fail
        self.client.on_publish = self._on_publish
        self._lock = threading.Lock()
        self.connected = False
        self.published = self.acked = self.refused = 0
        self.last_error = ""
        self.closed = False

    def start(self, wait: float = 1.0) -> "MqttOutput":
        """Connects in the background; waits up to ``wait`` s so the first state shown is true."""
        import time

        self.client.connect_async(self.cfg["host"], self.cfg["port"], keepalive=10)
        self.client.loop_start()       # paho's own thread: connects, reconnects, sends
        deadline = time.time() + wait
        while not self.connected and not self.last_error and time.time() < deadline:
            time.sleep(0.05)
        return self

    def _on_connect(self, client, userdata, flags, reason_code, properties):
        self.connected = not reason_code.is_failure
        self.last_error = "" if self.connected else f"refused: {reason_code}"

    def _on_connect_fail(self, client, userdata):
        self.connected = False
        self.last_error = "broker unreachable: retrying"

    def _on_disconnect(self, client, userdata, flags, reason_code, properties):
        self.connected = False
        self.last_error = "broker away: reconnecting"

    def _on_publish(self, client, userdata, mid, reason_code, properties):
        with self._lock:
            self.acked += 1

    def publish(self, result, record) -> None:
        msg = record.to_json()
        if self.line and not msg.get("line"):
            msg["line"] = self.line
        info = self.client.publish(self.cfg["topic"], json.dumps(msg, separators=(",", ":")), qos=1)
        with self._lock:
            if info.rc in (self._mqtt.MQTT_ERR_SUCCESS, self._mqtt.MQTT_ERR_NO_CONN):
                self.published += 1       # NO_CONN: queued in the client, sent on reconnect
            else:
                self.refused += 1
                self.last_error = f"{self.refused} message(s) not queued: {self._mqtt.error_string(info.rc)}"

    def state(self) -> OutputState:
        with self._lock:
            queued = self.published - self.acked
            detail = f"{queued} waiting" if queued else ""
            if self.last_error and not self.connected or self.refused:
                detail = ", ".join(x for x in (detail, self.last_error) if x)
            if self.closed:
                detail = f"{queued} not delivered" if queued else ""
            return OutputState("mqtt", self.cfg["shown"], self.connected, detail, self.acked, queued, self.refused,
                               self.closed)

    def flush(self, timeout: float = 10.0) -> bool:
        """Wait until every message is acknowledged by the broker (True) or ``timeout`` passes."""
        import time

        deadline = time.time() + timeout
        while time.time() < deadline:
            with self._lock:
                if self.acked >= self.published:
                    return True
            time.sleep(0.05)
        return False

    def close(self) -> None:
        self.flush(5.0)
        self.closed = True
        self.client.disconnect()
        self.client.loop_stop()
        self.connected = False
