"""Any vendor's GenICam camera through ``harvesters`` and the vendor's GenTL producer (``.cti``).

The producers come from ``GENICAM_GENTL64_PATH`` (the standard variable a vendor's installer
sets: folders, separated like PATH) or from the source itself (``genicam://SERIAL?cti=FILE``).
The ``genicam`` wheel that harvesters installs ships one simulated producer, ``viky.cti``, which
the tests use. Everything harvesters- and GenTL-specific lives here.
"""
from __future__ import annotations

import os
import threading
import time
from pathlib import Path

from .base import Backend, CameraError, CameraInfo, Device, DeviceLost, Feature, FeatureError, Grab

POLL_S = 0.002
_ACCESS = {0: "absent", 1: "unreadable", 2: "rw", 3: "ro", 4: "rw"}   # GenApi NI, NA, WO, RO, RW
_KIND = {"IInteger": "int", "IFloat": "float", "IEnumeration": "enum", "IBoolean": "bool",
         "IString": "string", "ICommand": "command"}


def _harvesters():
    try:
        from genicam.gentl import GenericException as GenTLError
        from genicam.genapi import GenericException as GenApiError
        from harvesters.core import Harvester
    except ImportError:
        raise CameraError("GenICam cameras need harvesters: pip install harvesters (and the camera "
                          "vendor's GenTL producer, a .cti file)") from None
    return Harvester, (GenTLError, GenApiError)


def producers(extra: str | None = None) -> list[str]:
    """The GenTL producer files to load: ``extra`` (a .cti file or a folder), then those in the
    folders of GENICAM_GENTL64_PATH."""
    where = [extra] if extra else []
    where += [p for p in os.environ.get("GENICAM_GENTL64_PATH", "").split(os.pathsep) if p]
    found: list[str] = []
    for w in where:
        p = Path(w)
        for f in ([p] if p.suffix == ".cti" else sorted(p.glob("*.cti")) if p.is_dir() else []):
            if f.is_file() and str(f) not in found:
                found.append(str(f))
    return found


class _Harvesters:
    """One Harvester per set of producers, shared by the cameras opened through it (a producer
    is loaded once per process)."""
    _lock = threading.Lock()
    _by_ctis: dict[tuple, object] = {}

    @classmethod
    def get(cls, ctis: tuple):
        Harvester, _ = _harvesters()
        with cls._lock:
            h = cls._by_ctis.get(ctis)
            if h is None:
                h = Harvester()
                for c in ctis:
                    h.add_file(c, check_existence=True, check_validity=True)
                cls._by_ctis[ctis] = h
            return h


def _prop(d, key: str) -> str:
    v = d.property_dict.get(key) if hasattr(d, "property_dict") else None
    return "" if v is None else str(v)


class HarvestersDevice(Device):
    def __init__(self, ia, info: CameraInfo):
        self.ia, self.info = ia, info
        _, self._errors = _harvesters()
        self._nm = ia.remote_device.node_map
        self.incomplete = 0       # buffers the producer delivered incomplete (harvesters discards them)
        from harvesters.core import ImageAcquirer

        ia.add_callback(ImageAcquirer.Events.INCOMPLETE_BUFFER, self._on_incomplete)

    def _on_incomplete(self):
        self.incomplete += 1

    def _node(self, name: str):
        if not self._nm.has_node(name):
            return None
        return self._nm.get_node(name)

    def get(self, name: str) -> Feature:
        node = self._node(name)
        if node is None:
            return Feature(name, "absent")
        access = _ACCESS.get(int(node.get_access_mode()), "unreadable")
        kind = _KIND.get(type(node).__name__, "")
        if access == "unreadable" or kind == "command":
            return Feature(name, access, kind=kind)
        if kind == "enum":
            return Feature(name, access, node.value, kind, tuple(node.symbolics))
        if kind in ("int", "float"):
            inc = node.inc if kind == "int" or node.has_inc() else None
            return Feature(name, access, node.value, kind, min=node.min, max=node.max, inc=inc)
        return Feature(name, access, node.value, kind)

    def set(self, name: str, value) -> None:
        f = self.get(name)
        if f.access == "absent":
            raise FeatureError(f"{self.info.serial}: this camera has no feature {name}")
        if not f.writable:
            raise FeatureError(f"{self.info.serial}: {name} is read-only now")
        try:
            self._node(name).value = {"int": int, "float": float}.get(f.kind, lambda v: v)(value)
        except self._errors as e:
            raise FeatureError(f"{self.info.serial}: {name} = {value!r} refused ({str(e).split(' : ')[0]})") from None

    def execute(self, name: str) -> None:
        node = self._node(name)
        if node is None or _ACCESS.get(int(node.get_access_mode())) != "rw":
            raise FeatureError(f"{self.info.serial}: command {name} is not available")
        node.execute()

    def start(self, buffers: int) -> None:
        self.ia.timeout_period_on_update_event_data_call = 0   # one look per poll (grab)
        self.ia.num_buffers = max(buffers, self.ia.min_num_buffers)
        self.ia.start()

    def stop(self) -> None:
        if self.ia.is_acquiring():
            self.ia.stop()

    def grab(self, timeout_s: float) -> Grab | None:
        before = self.incomplete
        deadline = time.monotonic() + timeout_s
        while True:   # GenTL's own wait holds the GIL (the model would starve): poll, and sleep between
            try:
                buf = self.ia.try_fetch(timeout=1e-4)
            except self._errors as e:
                raise DeviceLost(f"{self.info.uri}: {str(e).split(' : ')[0]}") from None
            if buf is not None:
                break
            if self.incomplete > before:
                return Grab(None, "", 0, 0, error="buffer incomplete (the producer discarded it)")
            if time.monotonic() >= deadline:
                return None
            time.sleep(POLL_S)
        with buf:
            c = buf.payload.components[0]
            return Grab(c.data.copy(), str(c.data_format), int(c.width), int(c.height),
                        int(buf.module.frame_id), int(buf.timestamp))

    def close(self) -> None:
        try:
            self.stop()
        finally:
            self.ia.destroy()


class HarvestersBackend(Backend):
    name = "genicam"
    package = "harvesters"

    def __init__(self, cti: str | None = None):
        self.cti = cti

    def _harvester(self):
        ctis = tuple(producers(self.cti))
        if not ctis:
            raise CameraError("no GenTL producer: install the camera vendor's SDK (it sets GENICAM_GENTL64_PATH) "
                              "or name its .cti file: genicam://SERIAL?cti=/path/producer.cti")
        h = _Harvesters.get(ctis)
        h.update()
        return h

    @staticmethod
    def _info(d) -> CameraInfo:
        return CameraInfo("genicam", _prop(d, "serial_number") or _prop(d, "id_"), _prop(d, "model"),
                          _prop(d, "vendor"), _prop(d, "user_defined_name"), _prop(d, "tl_type"))

    def cameras(self) -> list[CameraInfo]:
        return [self._info(d) for d in self._harvester().device_info_list]

    def open(self, ident: str) -> Device:
        h = self._harvester()
        infos = [self._info(d) for d in h.device_info_list]
        if not infos:
            raise DeviceLost("genicam: no camera found by the GenTL producer(s)")
        info = self.find(ident, infos)
        _, errors = _harvesters()
        try:
            ia = h.create(infos.index(info))
        except errors as e:
            raise DeviceLost(f"{info.uri}: cannot open ({str(e).split(' : ')[0]})") from None
        return HarvestersDevice(ia, info)
