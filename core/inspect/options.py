"""``InspectOptions``: one inspection's settings as one value.

The CLI (``inspect``) and the GUI (its settings) each build one; ``Detector.inspect`` carries it whole
to the ``InspectionSession``, which hands the pipeline what it needs. Defaults live here once (their
constants in ``core.config``); a front end changes only what its user chose.
"""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from core.config import TILE_OVERLAP, InspectConfig
from core.util.paths import app_dir

from .recipe import Recipe
from .retention import Policy

_INSPECT = InspectConfig()


def default_records() -> str:
    """The records database of the application folder (the live view's, unless set)."""
    return str(app_dir() / "records.sqlite")


def default_images() -> str:
    """Where the live view saves judged images, unless set."""
    return str(app_dir() / "images")


@dataclass(frozen=True)
class CollectOptions:
    """Frames kept for review (``core.inspect.collect``): every NG, plus a score band and one in N."""
    folder: str
    band: tuple[float, float] | None = None
    every: int = 0


@dataclass(frozen=True)
class ViewOptions:
    """One camera of a station of several (``core.inspect.multiview``): its source, and its own model
    and recipe (None: the session's)."""
    name: str
    source: str
    weights: str | None = None
    recipe: str | None = None               # a saved recipe's name


@dataclass(frozen=True)
class InspectOptions:
    """What to inspect, under which recipe, and where results go."""
    source: object = "demo"                 # what the user typed (str), or a core.inspect.sources.Source
    recipe: Recipe = field(default_factory=Recipe)   # the recipe in force at start (a PLC or the GUI may switch)
    db: str | None = None                   # a SQLite file or a postgresql:// URL; None: no records
    save_ng: str | None = None              # NG images to dated folders here
    save_all: bool = False                  # ... and OK images too
    watch: bool = False                     # a folder source keeps watching for new images
    demo_fps: float = _INSPECT.demo_fps     # pace of the demo line (0: as fast as possible)
    max_frames: int = 0                     # stop after N frames (0: when the source ends)
    imgsz: int | None = None                # the model's input size (None: the weights' own)
    tile: int = 0                           # tiled inference with tiles of N pixels (0: off)
    tile_overlap: float = TILE_OVERLAP
    collect: CollectOptions | None = None   # frames collected for review
    outputs: Mapping[str, str] = field(default_factory=dict)   # {"opcua": url, "modbus": "host:port", "mqtt": url}
    line: str | None = None                 # this line's name in a shared database
    outbox: str | None = None               # where rows that cannot reach a remote database wait
    spool: str | None = None                # a folder (best on another disk) where rows the database cannot
                                            # take wait beyond memory; None: the application folder
    views: tuple[ViewOptions, ...] = ()     # a station of several cameras (then ``source`` is ignored)
    opcua_security: str = "auto"            # outputs.opcua.SECURITY_MODES: None/anonymous on loopback only
    modbus_allow: tuple[str, ...] = ()      # the PLCs' addresses or networks a Modbus server answers (empty: any)
    user: object = None                     # core.security.users.User the session runs under (audit trail)
    retention: object = None                # core.inspect.retention.Policy for the saved images; None: keep all
    approval: Mapping | None = None         # the registered model's approval (name, approved_by, role, at, reason)

    @classmethod
    def from_settings(cls, values: Mapping, recipe: Recipe, source: str | None = None) -> "InspectOptions":
        """The live view's inspection: its settings (``core.settings.Settings``), the recipe it shows."""
        return cls(source=source if source is not None else values["source"], recipe=recipe,
                   db=values["db"] or default_records(), save_ng=values["save_ng"] or default_images(),
                   save_all=bool(values["save_all"]), watch=bool(values["watch_folder"]),
                   demo_fps=float(values["demo_fps"]),
                   outputs={k: values[k] for k in ("opcua", "modbus", "mqtt") if values.get(k)},
                   line=values["line"] or None, opcua_security=values["opcua_security"],
                   modbus_allow=tuple(x.strip() for x in values["modbus_allow"].split(",") if x.strip()),
                   retention=Policy.from_settings(values["retention"]))
