"""The interface every result output keeps, and opening them from their settings."""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class OutputState:
    """What the live view shows of an output."""
    name: str                  # "opcua", "mqtt"
    target: str                # where it sends, without passwords
    connected: bool
    detail: str = ""           # e.g. "3 queued", "broker away: retrying in 4 s"
    sent: int = 0
    queued: int = 0
    errors: int = 0
    closed: bool = False

    def line(self) -> str:
        mark = "closed" if self.closed else "connected" if self.connected else "not connected"
        extra = f", {self.detail}" if self.detail else ""
        return f"{self.name} {self.target}: {mark}, {self.sent} sent{extra}"


class Output:
    """``publish`` is called on the inference thread and must never block nor raise; the output
    sends on its own thread. ``trigger`` is not None for an output that drives the inspection
    (the PLC handshake): the pipeline then judges one frame per trigger."""

    name = "output"
    trigger = None

    def start(self) -> "Output":
        return self

    def publish(self, result, record) -> None:   # core.inspect.pipeline.InspectionResult, records.InspectionRecord
        raise NotImplementedError

    def state(self) -> OutputState:
        raise NotImplementedError

    def close(self) -> None:
        pass
