"""Basler cameras through ``pypylon`` (its wheel carries the pylon runtime: GigE Vision, USB3
Vision, and the camera emulation that ``PYLON_CAMEMU=N`` turns on for tests and demos).

Everything Basler-specific lives here: pylon's device classes, ``AcquisitionFrameRateEnable``,
the older ``...Abs``/``...Raw`` feature names, and its removal and failed-buffer reporting.
"""
from __future__ import annotations

import numpy as np

from .base import Backend, CameraError, CameraInfo, Device, DeviceLost, Feature, FeatureError, Grab

_TRANSPORT = {"BaslerGigE": "GigE Vision", "BaslerUsb": "USB3 Vision", "BaslerCamEmu": "emulation",
              "BaslerGTC/Basler/GenTL": "GenTL"}
# older Basler GigE cameras name some SFNC features their own way
_ALIASES = {"ExposureTime": ("ExposureTimeAbs",), "Gain": ("GainAbs",),
            "AcquisitionFrameRate": ("AcquisitionFrameRateAbs",)}
_ACCESS = {0: "absent", 1: "unreadable", 2: "rw", 3: "ro", 4: "rw"}   # GenApi NI, NA, WO, RO, RW


_PIXEL_NAMES: dict[int, str] = {}


def _pixel_names(pylon) -> dict[int, str]:
    """pylon's pixel type numbers -> the names its cameras' PixelFormat uses (``RGB8Packed``)."""
    if not _PIXEL_NAMES:
        _PIXEL_NAMES.update({getattr(pylon, n): n[len("PixelType_"):].replace("packed", "Packed")
                             for n in dir(pylon) if n.startswith("PixelType_")})
    return _PIXEL_NAMES


def _pylon():
    try:
        from pypylon import genicam, pylon
    except ImportError:
        raise CameraError("Basler cameras need pypylon: pip install pypylon") from None
    return pylon, genicam


class PylonDevice(Device):
    def __init__(self, cam, info: CameraInfo):
        self.cam, self.info = cam, info
        self.pylon, self.genicam = _pylon()
        self._nm = cam.GetNodeMap()

    def _node(self, name: str):
        for n in (name, *_ALIASES.get(name, ())):
            node = self._nm.GetNode(n)
            if node is not None and node.IsValid() and node.GetAccessMode() != 0:
                return node
        return None

    def get(self, name: str) -> Feature:
        node = self._node(name)
        if node is None:
            return Feature(name, "absent")
        access = _ACCESS.get(int(node.GetAccessMode()), "unreadable")
        kind = type(node).__name__.replace("Parameter", "").lower()
        if access == "unreadable" or kind == "command":
            return Feature(name, access, kind=kind)
        if kind == "enum":
            choices = tuple(e.GetSymbolic() for e in node.GetEntries() if self.genicam.IsAvailable(e))
            return Feature(name, access, node.GetValue(), "enum", choices)
        if kind in ("integer", "float"):
            inc = node.GetInc() if kind == "integer" or node.HasInc() else None
            return Feature(name, access, node.GetValue(), "int" if kind == "integer" else "float",
                           min=node.GetMin(), max=node.GetMax(), inc=inc)
        return Feature(name, access, node.GetValue(), kind)

    def set(self, name: str, value) -> None:
        node = self._node(name)
        if node is None:
            raise FeatureError(f"{self.info.serial}: this camera has no feature {name}")
        if not self.genicam.IsWritable(node):
            raise FeatureError(f"{self.info.serial}: {name} is read-only now")
        if name == "AcquisitionFrameRate":   # Basler: the rate holds only while enabled
            enable = self._nm.GetNode("AcquisitionFrameRateEnable")
            if enable is not None and enable.IsValid() and self.genicam.IsWritable(enable):
                enable.SetValue(True)
        try:
            node.SetValue(type(node.GetValue())(value) if not isinstance(value, str) else value)
        except self.genicam.GenericException as e:
            raise FeatureError(f"{self.info.serial}: {name} = {value!r} refused "
                               f"({e.GetDescription() if hasattr(e, 'GetDescription') else e})") from None

    def execute(self, name: str) -> None:
        node = self._node(name)
        if node is None or not self.genicam.IsWritable(node):
            raise FeatureError(f"{self.info.serial}: command {name} is not available")
        node.Execute()

    def start(self, buffers: int) -> None:
        self.cam.MaxNumBuffer.Value = max(buffers, 2)
        self.cam.StartGrabbing(self.pylon.GrabStrategy_OneByOne)

    def stop(self) -> None:
        if self.cam.IsGrabbing():
            self.cam.StopGrabbing()

    def grab(self, timeout_s: float) -> Grab | None:
        if self.cam.IsCameraDeviceRemoved():
            raise DeviceLost(f"{self.info.uri}: camera removed")
        try:
            r = self.cam.RetrieveResult(int(timeout_s * 1000), self.pylon.TimeoutHandling_Return)
        except self.genicam.GenericException as e:
            raise DeviceLost(f"{self.info.uri}: {e}") from None
        if r is None or not r.IsValid():
            if self.cam.IsCameraDeviceRemoved():
                raise DeviceLost(f"{self.info.uri}: camera removed")
            return None
        try:
            g = Grab(None, _pixel_names(self.pylon).get(r.GetPixelType(), f"0x{r.GetPixelType():08x}"), r.GetWidth(), r.GetHeight(), r.GetBlockID(), r.GetTimeStamp())
            if not r.GrabSucceeded():
                g.error = f"buffer incomplete: {r.GetErrorDescription() or 'error ' + hex(r.GetErrorCode())}"
            else:
                try:
                    g.raw = r.GetArray().copy()
                except ValueError:   # a format pylon's numpy view lacks: the bytes, for pixels.to_bgr to judge
                    g.raw = np.frombuffer(bytes(r.GetBuffer()), np.uint8)
            return g
        finally:
            r.Release()

    def close(self) -> None:
        try:
            self.stop()
            self.cam.Close()
        finally:
            self.cam.DestroyDevice()


class PylonBackend(Backend):
    name = "pylon"
    package = "pypylon"

    def _devices(self):
        pylon, _ = _pylon()
        return pylon.TlFactory.GetInstance().EnumerateDevices()

    @staticmethod
    def _info(d) -> CameraInfo:
        cls = d.GetDeviceClass()
        return CameraInfo("pylon", d.GetSerialNumber(), d.GetModelName(), d.GetVendorName(),
                          d.GetUserDefinedName(), _TRANSPORT.get(cls, cls))

    def cameras(self) -> list[CameraInfo]:
        return [self._info(d) for d in self._devices()]

    def open(self, ident: str) -> Device:
        pylon, genicam = _pylon()
        devs = list(self._devices())
        infos = [self._info(d) for d in devs]
        info = self.find(ident, infos)
        d = devs[infos.index(info)]
        try:
            cam = pylon.InstantCamera(pylon.TlFactory.GetInstance().CreateDevice(d))
            cam.Open()
        except genicam.GenericException as e:
            raise DeviceLost(f"{info.uri}: cannot open ({e})") from None
        return PylonDevice(cam, info)
