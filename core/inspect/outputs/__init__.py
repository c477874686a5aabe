"""Result outputs: where each inspection goes besides the records (a PLC over OPC UA, an MQTT broker).

``open_outputs({"opcua": "opc.tcp://0.0.0.0:4840", "mqtt": "mqtt://host:1883/topic"})`` gives the
started outputs; each runs on its own thread, and a failing one never stops inspection.
"""
from .base import Output, OutputState
from .factory import open_outputs, parse_specs

__all__ = ["Output", "OutputState", "open_outputs", "parse_specs"]
