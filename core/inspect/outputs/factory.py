"""Opening the result outputs from their settings (CLI options, the GUI's line connections).

``KINDS`` is the one list: a new output is one file plus one row here.
"""
from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import Callable

from .base import Output


def _check_opcua(url: str) -> None:
    if not url.startswith("opc.tcp://"):
        raise ValueError(f"--opcua {url}: expected opc.tcp://HOST:PORT (e.g. opc.tcp://0.0.0.0:4840)")


def _check_modbus(spec: str) -> None:
    from .modbus import parse_modbus_target

    parse_modbus_target(spec)


def _check_mqtt(url: str) -> None:
    from .mqtt import parse_mqtt_url

    parse_mqtt_url(url)     # raises with the reason


@dataclass(frozen=True)
class Kind:
    check: Callable[[str], None]     # raises ValueError with the reason
    opener: str                      # "module:Class"
    plc: bool                        # carries the PLC handshake (then the PLC triggers each frame)


KINDS: dict[str, Kind] = {
    "opcua": Kind(_check_opcua, "opcua:OpcUaStation", True),
    "modbus": Kind(_check_modbus, "modbus:ModbusStation", True),
    "mqtt": Kind(_check_mqtt, "mqtt:MqttOutput", False),
}


def parse_specs(opcua: str | None = None, mqtt: str | None = None, modbus: str | None = None) -> dict:
    """The outputs asked for (CLI options, settings), checked: {"opcua": url, "modbus": "host:port", "mqtt": url}."""
    out = {}
    for kind, spec in (("opcua", opcua), ("modbus", modbus), ("mqtt", mqtt)):
        if spec:
            KINDS[kind].check(spec)
            out[kind] = spec
    return out


def open_outputs(specs: dict, wait: bool = True, **context) -> list[Output]:
    """Start the outputs of ``specs``; ``context``: model_id, recipes (names by index),
    on_recipe (index -> None), line, on_state. One that cannot start raises, naming it, and none is
    left running; with ``wait=False`` (a GUI thread) a server starts in the background and reports
    through its state. Two PLC handshakes (OPC UA and Modbus at once) would judge each frame twice: refused."""
    if sum(KINDS[k].plc for k in specs if k in KINDS) > 1:
        raise ValueError("one PLC handshake at a time: choose --opcua or --modbus")
    started: list[Output] = []
    try:
        for kind, target in specs.items():
            if kind not in KINDS:
                raise ValueError(f"unknown result output '{kind}' (choose {', '.join(KINDS)})")
            module, cls = KINDS[kind].opener.split(":")
            Out = getattr(importlib.import_module(f"{__package__}.{module}"), cls)
            if KINDS[kind].plc:
                started.append(Out(target, **context).start(wait=wait))
            else:
                started.append(Out(target, line=context.get("line")).start(wait=1.0 if wait else 0.0))
    except BaseException:
        for o in started:
            o.close()
        raise
    return started
