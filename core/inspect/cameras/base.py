"""What every camera backend provides, in GenICam standard feature names (SFNC).

A ``Backend`` lists cameras and opens one as a ``Device``; a device reads and writes features by
their SFNC names (``ExposureTime``, ``PixelFormat``...), starts and stops acquisition, fires a
software trigger and hands back ``Grab`` buffers. Vendor specifics stay in the backend's own file.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np


class CameraError(RuntimeError):
    """A camera could not be found, opened or driven; the message says which and why."""


class DeviceLost(CameraError):
    """The camera went away (cable pulled, power cycled): reopen it when it is back."""


class FeatureError(CameraError):
    """A feature is absent, read-only, or refused the value; the message names it."""


@dataclass(frozen=True)
class CameraInfo:
    """One camera as a backend lists it; ``uri`` is what ``--source`` takes."""
    backend: str
    serial: str
    model: str = ""
    vendor: str = ""
    user_name: str = ""      # DeviceUserID: a name the plant gave the camera
    transport: str = ""      # GigE Vision, USB3 Vision, emulation...

    @property
    def uri(self) -> str:
        return f"{self.backend}://{self.serial}"

    def matches(self, ident: str) -> bool:
        """``ident`` names this camera: its serial number or its user-defined name."""
        return ident in (self.serial, self.user_name) and ident != ""

    def label(self) -> str:
        name = f" '{self.user_name}'" if self.user_name else ""
        return f"{self.vendor} {self.model}{name} (serial {self.serial}, {self.transport or self.backend})".strip()


@dataclass(frozen=True)
class Feature:
    """A feature as the camera reports it. ``access``: "rw", "ro" (read-only now), "absent" (the
    camera has no such feature) or "unreadable" (present but not available at the moment)."""
    name: str
    access: str
    value: object = None
    kind: str = ""                       # int, float, enum, bool, string, command
    choices: tuple = ()                  # an enumeration's entries that can be set now
    min: float | None = None
    max: float | None = None
    inc: float | None = None

    @property
    def writable(self) -> bool:
        return self.access == "rw"


@dataclass
class Grab:
    """One buffer from the camera. ``error`` set: the transport lost (part of) it."""
    raw: np.ndarray | None
    pixel_format: str
    width: int
    height: int
    frame_id: int | None = None          # the camera's block / frame id
    timestamp: int | None = None         # the camera's timestamp (ticks, device clock)
    error: str | None = None


class Device:
    """An open camera. Every call comes from one thread (the source's), so none needs a lock."""

    info: CameraInfo

    def get(self, name: str) -> Feature:
        raise NotImplementedError

    def set(self, name: str, value) -> None:
        """Write ``name``; raises FeatureError when absent, read-only or out of range."""
        raise NotImplementedError

    def execute(self, name: str) -> None:
        """Run a command feature (``TriggerSoftware``, ``AcquisitionStart``...)."""
        raise NotImplementedError

    def start(self, buffers: int) -> None:
        raise NotImplementedError

    def stop(self) -> None:
        raise NotImplementedError

    def grab(self, timeout_s: float) -> Grab | None:
        """The next buffer, or None when none came within ``timeout_s``; DeviceLost when gone."""
        raise NotImplementedError

    def close(self) -> None:
        raise NotImplementedError


class Backend:
    """A camera SDK. ``name`` is the URI scheme; the SDK is imported only when used."""

    name = ""
    package = ""     # what pip installs for it

    def cameras(self) -> list[CameraInfo]:
        raise NotImplementedError

    def open(self, ident: str) -> Device:
        """The camera whose serial number or user-defined name is ``ident`` ("" : the first)."""
        raise NotImplementedError

    def find(self, ident: str, found: list[CameraInfo] | None = None) -> CameraInfo:
        """The camera ``ident`` names: serial number, user-defined name, "#N" (the N-th listed) or
        "" (the first); DeviceLost when it is not there."""
        found = self.cameras() if found is None else found
        if not found:
            raise DeviceLost(f"{self.name}: no camera found")
        if not ident:
            return found[0]
        if ident.startswith("#") and ident[1:].isdigit() and int(ident[1:]) < len(found):
            return found[int(ident[1:])]
        for c in found:
            if c.matches(ident):
                return c
        raise DeviceLost(f"{self.name}://{ident}: no such camera (found: {', '.join(c.serial for c in found)})")
