"""Opening the result outputs from their settings (CLI options, the GUI's line connections)."""
from __future__ import annotations

from .base import Output


def parse_specs(opcua: str | None = None, mqtt: str | None = None) -> dict:
    """The outputs asked for (CLI options, recipe or settings), checked: {"opcua": url, "mqtt": url}."""
    out = {}
    if opcua:
        if not opcua.startswith("opc.tcp://"):
            raise ValueError(f"--opcua {opcua}: expected opc.tcp://HOST:PORT (e.g. opc.tcp://0.0.0.0:4840)")
        out["opcua"] = opcua
    if mqtt:
        from .mqtt import parse_mqtt_url

        parse_mqtt_url(mqtt)     # raises with the reason
        out["mqtt"] = mqtt
    return out


def open_outputs(specs: dict, wait: bool = True, **context) -> list[Output]:
    """Start the outputs of ``specs``; ``context``: model_id, recipes (names by index),
    on_recipe (index -> None), line. One that cannot start raises, naming it, and none is left running;
    with ``wait=False`` (a GUI thread) a server starts in the background and reports through its state."""
    started: list[Output] = []
    try:
        for kind, target in specs.items():
            if kind == "opcua":
                from .opcua import OpcUaStation

                started.append(OpcUaStation(target, **context).start(wait=wait))
            elif kind == "mqtt":
                from .mqtt import MqttOutput

                started.append(MqttOutput(target, line=context.get("line")).start(wait=1.0 if wait else 0.0))
            else:
                raise ValueError(f"unknown result output '{kind}' (choose opcua or mqtt)")
    except BaseException:
        for o in started:
            o.close()
        raise
    return started
