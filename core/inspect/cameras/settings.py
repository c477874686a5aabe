"""Camera settings in SFNC names, as a recipe holds them, and how they are written to a camera.

A recipe's ``camera`` is a plain mapping ``{"ExposureTime": 8000, "Gain": 2.0, ...}`` over the
features in ``FEATURES``; the trigger features belong to the station's acquisition mode
(``TRIGGER_MODES``), not to a product. ``apply`` writes them in an order a camera accepts (auto
off before a manual value, offsets cleared before a larger ROI) and reads each back: what the
camera really took is what gets recorded.
"""
from __future__ import annotations

from collections.abc import Mapping

from .base import Device, FeatureError

# feature -> type of its value, in the order they are written
FEATURES: dict[str, type] = {
    "PixelFormat": str,
    "Width": int, "Height": int, "OffsetX": int, "OffsetY": int,
    "ExposureAuto": str, "GainAuto": str,
    "ExposureTime": float, "Gain": float,
    "AcquisitionFrameRate": float,
    "TriggerActivation": str,
}
# features that stop acquisition while written (the payload size changes)
NEEDS_STOP = ("PixelFormat", "Width", "Height")

# acquisition mode -> (TriggerMode, TriggerSource); "hardware" takes the line named in the source
TRIGGER_MODES = {"free-run": ("Off", None), "software": ("On", "Software"), "hardware": ("On", "Line1")}


def validate(camera: Mapping) -> dict:
    """A recipe's camera settings, checked: known SFNC names, values of the right type."""
    out = {}
    for k, v in dict(camera or {}).items():
        if k not in FEATURES:
            raise ValueError(f"camera setting '{k}' is not one of {', '.join(FEATURES)} "
                             "(trigger mode and source are set by the source's acquisition mode)")
        try:
            out[k] = FEATURES[k](v)
        except (TypeError, ValueError):
            raise ValueError(f"camera setting {k}: {v!r} is not a {FEATURES[k].__name__}") from None
        if FEATURES[k] in (int, float) and out[k] < 0:
            raise ValueError(f"camera setting {k} must be >= 0, got {v}")
    return out


def needs_stop(camera: Mapping, device: Device) -> bool:
    """Writing ``camera`` changes the buffer layout, so acquisition must stop around it."""
    for k in NEEDS_STOP:
        if k in camera and str(device.get(k).value) != str(camera[k]):
            return True
    return False


def apply(device: Device, camera: Mapping, trigger: tuple[str, str | None] | None = None) -> tuple[dict, list[str]]:
    """Write ``camera`` (and the trigger mode) to ``device``; returns (what it reads back, problems).

    A feature the camera lacks or will not take is a problem named in the list, never an exception:
    the caller shows and records it."""
    camera = validate(camera)
    problems: list[str] = []

    def put(name, value):
        try:
            device.set(name, value)
        except FeatureError as e:
            problems.append(str(e))

    if trigger is not None and (trigger[0] != "Off" or device.get("TriggerMode").access != "absent"):
        mode, source = trigger    # (a camera without TriggerMode always runs free)
        if device.get("TriggerSelector").writable:
            put("TriggerSelector", "FrameStart")
        put("TriggerMode", mode)
        if source is not None:
            put("TriggerSource", source)
    if any(k in camera for k in ("Width", "Height")):   # a larger ROI fits only once offsets are 0
        for k in ("OffsetX", "OffsetY"):
            if k in camera and device.get(k).writable:
                put(k, 0)
    for k in FEATURES:
        if k not in camera:
            continue
        if k in ("ExposureTime", "Gain") and camera.get(k.replace("Time", "") + "Auto") is None:
            auto = device.get(k.replace("Time", "") + "Auto")
            if auto.writable and auto.value != "Off":   # a manual value means manual
                put(auto.name, "Off")
        put(k, camera[k])
    readback = {k: device.get(k).value for k in camera}
    if trigger is not None:
        readback["TriggerMode"] = device.get("TriggerMode").value
    return readback, problems
