"""``Detector``: the one facade the CLI, the GUI's services and scripts call.

    from core import Detector
    d = Detector("runs/student/weights/best.pt")     # weights, "default", or a model name to train
    d.val(data="data.yaml")                         # metrics dict, as `val --json`
    d.predict(source="images/")                     # detections per image, as `predict --json`
    Detector("sdgasnet-n").train(data=D, epochs=30, imgsz=320)
    d.distill(data=D, epochs=30, imgsz=320)          # a student of d's weights

Each method is one use case; the machinery lives in ``core.train``, ``core.eval``, ``core.infer``
and ``core.inspect``.
"""
from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from core.config import (BUNDLED_MODELS, NMS_IOU, PREDICT_CONF, STUDENT_INHERITS, TILE_OVERLAP, TRAINING_STARTS, VAL_CONF,
                         TrainConfig, ValConfig)
from core.model.architecture import NUM_CLASSES
from core.util.paths import models_dir, project_root

MODELS_DIR = models_dir()
# "default" means the demo model whenever the source is the demo line
BUNDLED = {name: file for name, (file, _) in BUNDLED_MODELS.items()}
_VAL = ValConfig()


def is_demo_source(source: str | None) -> bool:
    return source is not None and (str(source) == "demo" or str(source).startswith("demo:"))


def resolve_weights(name: str, source: str | None = None) -> Path:
    """A weights path, a bundled model's name (``default``: the demo model when ``source`` is the
    demo line and it is bundled; ``demo``), or the name of a registered model (``core.registry``)."""
    name = str(name)
    if name == "default" and is_demo_source(source) and (MODELS_DIR / BUNDLED["demo"]).is_file():
        name = "demo"
    if name in BUNDLED:
        p = MODELS_DIR / BUNDLED[name]
        if not p.is_file():
            raise FileNotFoundError(f"{p}: the bundled '{name}' model is not in this installation; "
                                    "open a weights file or train one")
        return p
    from core.registry import ModelRegistry

    reg = ModelRegistry()
    if not Path(name).exists() and name in reg:
        return reg.checked_path(name)
    return Path(name)


def start_facts(weights: str) -> tuple[dict, list[str]]:
    """The model configuration and the class names stored in the weights ``weights`` names (a file, a
    bundled or a registered model): the architecture a run that starts from them trains, and the
    classes that keep their class layers in it (``core.train.teacher.class_rows``)."""
    from core.model.checkpoint import load_checkpoint

    ck = load_checkpoint(resolve_weights(weights))
    return dict(ck["model_config"]), [str(n) for n in ck.get("names", [])]


def architecture_of(weights: str) -> dict:
    """The model configuration stored in the weights ``weights`` names: ``start_facts``' first half."""
    return start_facts(weights)[0]


def model_name(requested: str, weights: Path, source: str | None = None) -> str | None:
    """What operators and records call ``weights``: the bundled or registered name it was asked by or
    is stored as (``default`` on the demo line is ``demo``); None for any other file."""
    requested = str(requested)
    if requested == "default" and is_demo_source(source) and (MODELS_DIR / BUNDLED["demo"]).is_file():
        return "demo"
    try:
        p = Path(weights).resolve()
    except OSError:
        return None
    for n, f in BUNDLED.items():
        if p == (MODELS_DIR / f).resolve():
            return n
    from core.registry import ModelRegistry

    reg = ModelRegistry()
    if p.name == "weights.pt" and p.parent.parent == reg.root.resolve() and p.parent.name in reg:
        return p.parent.name
    return None


def known_models() -> dict[str, str]:
    """Weights hash (first 12 hex digits, as records carry it) -> the bundled or registered name."""
    from core.infer.backends import read_metadata
    from core.registry import ModelRegistry

    out = {}
    for n, f in BUNDLED.items():
        try:
            out[str(read_metadata(MODELS_DIR / f).get("hash", ""))[:12]] = n
        except Exception:  # noqa: BLE001 - a bundled file missing or damaged names nothing
            continue
    for c in ModelRegistry().list():
        out.setdefault(str(c.hash)[:12], c.name)
    out.pop("", None)
    return out


def model_names() -> list[str]:
    """The models a station or a pre-labelling may run, by name: the bundled line models present
    (not the starts for training), then the registered ones."""
    from core.registry import ModelRegistry

    bundled = [n for n, f in BUNDLED.items() if (MODELS_DIR / f).is_file() and n not in TRAINING_STARTS]
    return bundled + [c.name for c in ModelRegistry().list()]


@dataclass
class PredictItem:
    """One image or frame of a ``predict`` run."""
    name: str                     # image path, or SOURCE#INDEX for streams and videos
    index: int
    image: np.ndarray | None      # BGR, None when it could not be read
    detections: object | None     # core.infer.predictor.Detections
    error: str | None = None
    stem: str = ""                # a file name for saving it: the image's stem, or frame_NNNNNN

    def to_json(self) -> dict:
        if self.detections is None:
            return {"image": self.name, "error": self.error, "detections": []}
        return self.detections.to_json(self.name)


class Detector:
    """A model: trained weights (loaded and verified here) or an architecture name to train."""

    def __init__(self, model: str = "sdgasnet-n", device: str = "auto", source: str | None = None,
                 threads: int = 0):
        """``source``: where it will look, so that ``default`` can pick the demo model for the demo line.
        ``threads``: the runtime's CPU threads (0: its default)."""
        from core.infer.backends import read_metadata, runtime_of
        from core.model import MODEL_NAMES
        from core.model.checkpoint import load_checkpoint, metadata

        self.device = device
        self.threads = int(threads or 0)
        self.weights: Path | None = None
        self.checkpoint: dict = {}
        self.name: str | None = None   # the bundled or registered name, when it has one
        self._loaded: dict | None = None    # a .pt's contents, read and verified once
        if model in MODEL_NAMES:
            self.model_name = model
        else:
            self.weights = resolve_weights(str(model), source)
            if runtime_of(self.weights) == "pytorch" and self.weights.is_file():
                self._loaded = load_checkpoint(self.weights)
                self.checkpoint = metadata(self._loaded)
            else:
                self.checkpoint = read_metadata(self.weights)  # an exported model's
            self.model_name = self.checkpoint.get("model_config", {}).get("name", "exported")
            self.name = model_name(str(model), self.weights, source)
        self.runtime = None       # a core.export.fastest.RuntimeChoice once use_fastest() found or made one
        self._backend = None      # loaded on first use, shared by the predictors handed out
        self.last_val = None      # the EvalResult of the last val() (curves, confusion matrix)

    # ---------------------------------------------------------------------------- metadata
    @property
    def names(self) -> list[str]:
        return list(self.checkpoint.get("names", []))

    @property
    def label(self) -> str:
        """The model as a person names it: its bundled or registered name, else the weights file."""
        return self.name or (str(self.weights) if self.weights is not None else self.model_name)

    @property
    def imgsz(self) -> int | None:
        return int(self.checkpoint["imgsz"]) if "imgsz" in self.checkpoint else None

    @property
    def metadata(self) -> dict:
        """What the checkpoint says of itself: names, imgsz, preprocess, metrics, kind, hash, ..."""
        return dict(self.checkpoint)

    def _need_weights(self, what: str):
        if self.weights is None:
            raise ValueError(f"{what} needs trained weights; '{self.model_name}' is an untrained architecture")

    def info(self, imgsz: int | None = None, num_classes: int | None = None) -> dict:
        """Parameters and GFLOPs (training form and fused), with the checkpoint's own figures."""
        from core.model import build_model, count_gflops, count_params
        from core.model.checkpoint import model_from_checkpoint

        if self.weights is not None and "params_fused" in self.checkpoint:   # an exported model
            m = self.checkpoint
            return {"model": self.model_name, "imgsz": m["imgsz"], "num_classes": len(self.names),
                    "params": None, "params_fused": m["params_fused"], "gflops": m["gflops"],
                    "weights": str(self.weights), "names": self.names, "kind": m.get("kind"),
                    "metrics": m.get("metrics", {}), "hash": m.get("hash"), "runtime_format": m.get("runtime_format"),
                    "precision": m.get("precision")}
        if self.weights is not None:
            model = model_from_checkpoint(self._loaded, self.weights)
        else:
            model = build_model(self.model_name, num_classes=NUM_CLASSES if num_classes is None else num_classes)
        size = imgsz or self.imgsz or 640
        info = {"model": self.model_name, "imgsz": size, "num_classes": model.num_classes,
                "params": count_params(model)}
        model.fuse()
        info.update(params_fused=count_params(model), gflops=round(count_gflops(model, size), 3))
        if self.weights is not None:
            info.update(weights=str(self.weights), names=self.names, kind=self.checkpoint.get("kind"),
                        metrics=self.checkpoint.get("metrics", {}), hash=self.checkpoint.get("hash"))
        return info

    # ----------------------------------------------------------------------------- training
    def train(self, data: str, callbacks: list | None = None, **cfg) -> dict:
        """A teacher run (or, with ``teacher=``, a student). A Detector of weights fine-tunes them
        (``weights=`` says otherwise), one of an architecture name trains it from scratch, as in
        Ultralytics. Settings are ``TrainConfig``'s; ``callbacks`` replace the default
        console/files/events callbacks. Afterwards this Detector holds the run's best weights."""
        from core.train.trainer import train

        if self.weights is not None and "weights" not in cfg and "teacher" not in cfg and not cfg.get("resume"):
            cfg["weights"] = str(self.weights)
        d = {"model": self.model_name, **cfg, "data": data}
        res = train(TrainConfig.from_dict(d), callbacks)
        best = Path(res.get("run_dir", "")) / "weights" / "best.pt"
        if res.get("status") == "finished" and best.is_file():
            self.__init__(str(best), self.device)
        return res

    def student_settings(self) -> dict:
        """What a student of these weights takes unless told otherwise: the teacher run's epochs,
        image size, batch and augmentation (``STUDENT_INHERITS``), as its checkpoint recorded them."""
        args = self.checkpoint.get("train_args") or {}
        return {k: args[k] for k in STUDENT_INHERITS if args.get(k) is not None}

    def distill(self, data: str, teacher: str | None = None, callbacks: list | None = None, **cfg) -> dict:
        """A self-distilled student of ``teacher`` (default: this Detector's weights); settings not
        given are the teacher's (``student_settings``), then the defaults."""
        t = self if teacher is None else Detector(str(teacher))
        t._need_weights("distill without teacher=")
        return self.train(data, callbacks, teacher=str(teacher or self.weights), **{**t.student_settings(), **cfg})

    # --------------------------------------------------------------------------- evaluation
    def val(self, data: str, split: str = "val", imgsz: int | None = None, batch: int = _VAL.batch,
            conf: float = VAL_CONF, iou: float = NMS_IOU, verdict_conf: float = PREDICT_CONF,
            save_dir: str | None = None, json: str | None = None, log=lambda msg: None, tile: int = 0,
            tile_overlap: float = TILE_OVERLAP) -> dict:
        """Score the weights on a dataset split with the checkpoint's preprocessing; returns the
        metrics as ``val --json`` writes them (``self.last_val`` keeps the full result)."""
        from core.data.catalog import open_dataset
        from core.data.preprocess import Preprocess
        from core.data.validate import validate
        from core.eval.validator import run_validation, save_outputs
        from core.infer.backends import open_backend

        self._need_weights("val")
        spec = open_dataset(data)
        if list(spec.names) != self.names:
            raise ValueError(f"the dataset's classes {spec.names} differ from the model's {self.names}")
        backend = open_backend(self.weights, self.device, self.threads, imgsz, channels_last=False,
                               checkpoint=self._loaded)
        pre = Preprocess.from_checkpoint(backend.meta, imgsz)
        samples, report = validate(spec, split)
        log(report.summary())
        if tile:
            from core.eval.validator import run_validation_tiled
            from core.infer.predictor import Predictor
            from core.infer.tiling import TiledPredictor

            tiled = TiledPredictor(Predictor.of_backend(backend, imgsz, conf, iou), tile, tile_overlap)
            res, _ = run_validation_tiled(tiled, samples, spec.names, verdict_conf=verdict_conf)
        else:
            # the fused module for PyTorch (batches on its device); the exported runtimes as they are
            model = getattr(backend, "model", backend)
            device = getattr(backend, "torch_device", "cpu")
            res, _ = run_validation(model, samples, spec.names, pre.imgsz, batch=batch, device=device, conf=conf,
                                    iou=iou, verdict_conf=verdict_conf, preprocess=pre)
        save_outputs(res, spec.names, save_dir, json)
        self.last_val = res
        return res.to_json()

    # ---------------------------------------------------------------------------- inference
    def backend(self, imgsz: int | None = None):
        """The loaded runtime of these weights (``core.infer.backends``), loaded once and shared by
        every predictor this Detector hands out."""
        from core.infer.backends import open_backend

        self._need_weights("inference")
        b = self._backend
        if b is None or (b.fixed_imgsz and imgsz and int(imgsz) != b.fixed_imgsz):
            run = self.runtime.path if self.runtime is not None and self.runtime.path and not imgsz else None
            b = self._backend = (open_backend(run, self.device, self.threads) if run else
                                 open_backend(self.weights, self.device, self.threads, imgsz, checkpoint=self._loaded))
        return b

    @property
    def loaded_backend(self):
        """The runtime if it is loaded (``backend()`` loads it), else None: for views, which never load."""
        return self._backend

    # ------------------------------------------------------------------------ fastest runtime
    def own_data(self) -> str | None:
        """The dataset these weights were trained or scored on, when it is on this machine (a demo-line
        spec always is): what calibrates and checks an INT8 export."""
        from core.data.catalog import parse_demo

        for d in ((self.checkpoint.get("train_args") or {}).get("data"), (self.checkpoint.get("bundle") or {}).get("data")):
            if not d:
                continue
            try:
                if parse_demo(str(d)) is not None:
                    return str(d)
            except ValueError:
                continue
            for base in (Path.cwd(), project_root()):
                if (base / str(d)).exists():
                    return str((base / str(d)).resolve())
        return None

    def fastest_applies(self) -> bool:
        """Whether ``use_fastest`` can do anything: trained .pt weights with a hash, judging on the CPU."""
        from core.infer.backends import runtime_of
        from core.util.device import select_device

        try:
            cpu = select_device(self.device).type == "cpu"
        except ValueError:
            return False
        return cpu and self.weights is not None and runtime_of(self.weights) == "pytorch" and bool(self.checkpoint.get("hash"))

    def use_fastest(self, prepare: bool = False, data: str | None = None, log=lambda msg: None):
        """Run the fastest checked runtime of these weights on this CPU (``core.export.fastest``):
        the one cached for their hash, or with ``prepare`` made now (minutes: export, INT8
        calibration, accuracy and parity checks, timing), through ``export``. Returns the
        ``RuntimeChoice``, or None when none is cached (and not prepared) or the weights run on a GPU."""
        from core.export.fastest import cached_choice, prepare_fastest

        if not self.fastest_applies():
            return None
        h = self.checkpoint["hash"]
        choice = cached_choice(h)
        if choice is None and prepare:
            choice = prepare_fastest(self.weights, h, self.export, data or self.own_data(), log)
        if choice is not None:
            self.runtime = choice
            self._backend = None
        return choice

    def predictor(self, conf: float = PREDICT_CONF, iou: float = NMS_IOU, imgsz: int | None = None,
                  tile: int = 0, tile_overlap: float = TILE_OVERLAP):
        """A new ``Predictor`` with these thresholds over the shared backend (no other caller's
        settings reach it); ``tile`` > 0: a ``TiledPredictor`` over it (``core.infer.tiling``)."""
        from core.infer.predictor import Predictor

        p = Predictor.of_backend(self.backend(imgsz), imgsz, conf, iou, name=self.name)
        if tile:
            from core.infer.tiling import TiledPredictor

            return TiledPredictor(p, tile, tile_overlap)
        return p

    def predict(self, source: str, conf: float = PREDICT_CONF, iou: float = NMS_IOU, imgsz: int | None = None,
                max_frames: int = 0, stream: bool = False, tile: int = 0, tile_overlap: float = TILE_OVERLAP):
        """Detections for an image, folder, video, camera or ``demo``: a list of ``predict --json``
        entries, or with ``stream=True`` an iterator of ``PredictItem`` (images included).
        ``tile``: cut images into tiles of this many pixels (large images, small defects)."""
        items = self._predict_items(source, self.predictor(conf, iou, imgsz, tile, tile_overlap), max_frames)
        return items if stream else [it.to_json() for it in items]

    def _predict_items(self, spec: str, pred, max_frames: int) -> Iterator[PredictItem]:
        from core.inspect.sources import open_source

        source = open_source(spec, demo_fps=0)
        source.open()
        n = 0
        try:
            while not max_frames or n < max_frames:
                try:
                    f = source.read()
                except Exception as e:  # noqa: BLE001 - a camera that drops out ends the run, reported
                    yield PredictItem(source.describe(), -1, None, None, str(e))  # index -1: the source failed
                    return
                if f is None:
                    return
                n += 1
                name = _frame_label(source, f)
                stem = f"frame_{f.index:06d}" if source.live or f.name.isdigit() else Path(f.name).stem
                if f.image is None:
                    yield PredictItem(name, f.index, None, None, f.error, stem)
                    continue
                yield PredictItem(name, f.index, f.image, pred(f.image), None, stem)
        finally:
            source.close()

    def inspect(self, options=None, on_result=None, on_state=None, wait_outputs: bool = True, **changes):
        """An ``InspectionSession`` (not started) of these weights: ``options`` is an
        ``core.inspect.options.InspectOptions`` (source, recipe, records, outputs, ...) or just the
        source; ``changes`` replace its fields (``d.inspect("demo", db="r.sqlite")``). The session
        gets a predictor of its own; the recipe in force sets its floor frame by frame."""
        from dataclasses import replace

        from core.inspect.options import InspectOptions
        from core.inspect.recipe import RecipeStore
        from core.inspect.session import InspectionSession
        from core.settings import recipes_dir

        if options is not None and not isinstance(options, InspectOptions):
            options = InspectOptions(source=options)
        options = replace(options or InspectOptions(), **changes)
        from core.inspect.multiview import is_station_file, load_station

        if not options.views and is_station_file(options.source):   # several cameras, one part
            options = replace(options, views=load_station(options.source))
        if options.approval is None and self.weights is not None:
            from core.registry import ModelRegistry

            card = ModelRegistry().card_for(self.weights)
            if card is not None and card.approved:     # audited, and named in the live view
                options = replace(options, approval={"model": card.name, "approved_by": card.approved_by,
                                                     "role": card.approved_role, "at": card.approved_at,
                                                     "reason": card.approval_reason})
        pred = self.predictor(imgsz=options.imgsz, tile=options.tile, tile_overlap=options.tile_overlap)
        view_preds = [(Detector(v.weights, self.device, threads=self.threads) if v.weights else self)
                      .predictor(imgsz=options.imgsz, tile=options.tile, tile_overlap=options.tile_overlap)
                      for v in options.views]
        return InspectionSession(options, pred, on_result=on_result, on_state=on_state,
                                 recipe_store=RecipeStore(recipes_dir()), wait_outputs=wait_outputs,
                                 view_predictors=view_preds)

    def export(self, format: str = "onnx", imgsz: int | None = None, half: bool = False, int8: bool = False,
               data: str | None = None, out: str | None = None, log=lambda msg: None):
        """An ONNX file or OpenVINO folder of these weights (``core.export``), checked against them
        on the same images; returns an ``ExportResult`` (``.path``, ``.parity``, ``.accuracy``)."""
        from core.export.exporter import export_model

        self._need_weights("export")
        return export_model(self.weights, format, imgsz, half, int8, data, out, log=log)


def _frame_label(source, f) -> str:
    """What a prediction is called: the image path, or SOURCE#INDEX for a stream or video."""
    where = source.describe()
    if source.live or f.name.isdigit():
        return f"{where}#{f.index}"
    return str(Path(where) / f.name) if Path(where).is_dir() else where
