"""Industrial cameras (GenICam: GigE Vision, USB3 Vision) behind one interface.

``BACKENDS`` is the table of camera SDKs, by the URI scheme a source names: a new backend is one
file with a ``Backend`` subclass and one row here. Each SDK is imported only when its scheme is
used, so the application runs without any of them.
"""
from __future__ import annotations

import importlib
from urllib.parse import parse_qs, urlsplit

from .base import Backend, CameraError, CameraInfo

# scheme -> (module, class, what it is)
BACKENDS = {
    "pylon": ("backend_pylon", "PylonBackend", "Basler cameras through pypylon (and its emulation)"),
    "genicam": ("backend_harvesters", "HarvestersBackend", "any GenICam camera through harvesters and a GenTL producer"),
}


def is_camera_uri(spec: str) -> bool:
    return str(spec).split("://", 1)[0] in BACKENDS and "://" in str(spec)


def backend(scheme: str, cti: str | None = None) -> Backend:
    if scheme not in BACKENDS:
        raise CameraError(f"unknown camera backend '{scheme}' (known: {', '.join(BACKENDS)})")
    module, cls, _ = BACKENDS[scheme]
    b = getattr(importlib.import_module(f"{__name__}.{module}"), cls)
    return b(cti) if scheme == "genicam" else b()


def parse_uri(uri: str) -> tuple[str, str, dict[str, str]]:
    """``pylon://SERIAL?trigger=software`` -> ("pylon", "SERIAL", {"trigger": "software"}); SERIAL may
    also be the camera's user-defined name; ``?index=N`` picks the N-th camera listed."""
    u = urlsplit(uri)
    if u.scheme not in BACKENDS:
        raise CameraError(f"'{uri}': not a camera (schemes: {', '.join(s + '://' for s in BACKENDS)})")
    query = {k: v[-1] for k, v in parse_qs(u.query).items()}
    ident = (u.netloc + u.path).strip("/")
    if query.get("index", "").isdigit():   # the N-th camera the backend lists
        ident = f"#{query['index']}"
    return u.scheme, ident, query


def list_cameras(cti: str | None = None) -> tuple[list[CameraInfo], list[str]]:
    """Every camera each backend finds, and for each backend that cannot look, why not."""
    found, problems = [], []
    for scheme, (_, _, what) in BACKENDS.items():
        try:
            found += backend(scheme, cti).cameras()
        except Exception as e:  # noqa: BLE001 - an SDK that cannot look is reported, the others still list
            problems.append(f"{scheme}: {e}")
    return found, problems


# what the settings dialog and ``cameras --show`` read: the recipe's features, then the station's
SHOWN = ("DeviceVendorName", "DeviceModelName", "DeviceSerialNumber", "DeviceUserID", "SensorWidth", "SensorHeight",
         "TriggerMode", "TriggerSource")


def features(device) -> list:
    """Every feature the settings speak of, as this camera has it (``base.Feature``: value, access)."""
    from .settings import FEATURES

    return [device.get(n) for n in (*FEATURES, *SHOWN)]
