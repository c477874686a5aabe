"""The model registry: a folder of registered models, each with its model card.

    <registry>/<name>/weights.pt   the inference weights (training state stripped)
    <registry>/<name>/card.json    name, weights hash, classes, image size, metrics, dataset,
                                   kind, parent teacher, created, registered, source

The registry lives in the application folder (``SDGAS_HOME``, else ``~/.sdgas``) under
``models/``. ``--weights NAME`` resolves a registered name everywhere (``core.detector``), through
``ModelRegistry.checked_path``: a weights file that is not the one its card describes (swapped or
changed under ``models/``) is refused, naming it.
"""
from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import re
import shutil
from dataclasses import asdict, dataclass, field
from pathlib import Path

from core.config import BUNDLED_MODELS
from core.model.checkpoint import CheckpointError, load_checkpoint, save_checkpoint
from core.util.io import write_json
from core.util.paths import app_dir

NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
_TRAINING_STATE = ("raw_model", "ema", "optimizer", "ema_updates", "scaler", "iter_in_epoch", "global_iter",
                   "best_fitness", "history", "rng", "finished")


def registry_dir() -> Path:
    return app_dir() / "models"


@dataclass
class ModelCard:
    name: str
    weights: str                 # path of the registered weights file
    hash: str
    classes: list[str]
    imgsz: int
    model: str                   # architecture, e.g. sdgasnet-n
    kind: str                    # teacher | student
    metrics: dict = field(default_factory=dict)
    dataset: str = ""
    parent: str = ""             # the teacher of a student: a registered name, else its path
    created: str = ""            # when the weights were trained
    registered: str = ""
    source: str = ""             # the file it was registered from
    file_sha256: str = ""        # SHA-256 of weights.pt's bytes (cards of older versions: empty)
    approved_by: str = ""        # the engineer who approved it for the line (a signed change), "" not approved
    approved_role: str = ""
    approved_at: str = ""
    approval_reason: str = ""

    @property
    def approved(self) -> bool:
        return bool(self.approved_by)

    def to_json(self) -> dict:
        return asdict(self)

    def figures(self) -> str:
        """What an engineer looks at before approving it: its validation figures and where they come from."""
        m = self.metrics or {}
        shown = ", ".join(f"{k} {v:.3f}" for k, v in m.items() if isinstance(v, (int, float))) or "no validation figures"
        return (f"{self.name}: {self.kind} {self.model}, {len(self.classes)} classes, {self.imgsz}px; {shown}"
                f" on {self.dataset or 'its validation set'}; registered {self.registered.replace('T', ' ')}")


def check_name(name: str) -> str:
    if not NAME_RE.match(name or ""):
        raise ValueError(f"'{name}': a model name is 1-64 letters, digits, '.', '_' or '-', starting with a "
                         "letter or digit")
    if name in BUNDLED_MODELS:
        raise ValueError(f"'{name}' names a bundled model; choose another name")
    return name


def _iso(t) -> str:
    try:
        return dt.datetime.fromtimestamp(float(t)).isoformat(timespec="seconds")
    except (TypeError, ValueError, OverflowError, OSError):
        return ""


class ModelRegistry:
    def __init__(self, root: str | os.PathLike | None = None):
        self.root = Path(root) if root else registry_dir()

    def path(self, name: str) -> Path:
        return self.root / name / "weights.pt"

    def __contains__(self, name: str) -> bool:
        return bool(NAME_RE.match(str(name))) and self.path(str(name)).is_file()

    def register(self, weights: str | os.PathLike, name: str, replace: bool = False) -> ModelCard:
        """Copy ``weights`` (verified) into the registry as ``name`` and write its card."""
        check_name(name)
        src = Path(weights)
        ck = load_checkpoint(src)
        folder = self.root / name
        if (folder / "weights.pt").exists() and not replace:
            raise FileExistsError(f"a model named '{name}' is registered already ({folder}); choose another name")
        meta = {k: v for k, v in ck.items() if k not in ("format", "version", "model", "hash", *_TRAINING_STATE)}
        digest = save_checkpoint(folder / "weights.pt", ck["model"], meta)
        args = ck.get("train_args") or {}
        teacher = args.get("teacher") or ""
        card = ModelCard(
            name=name, weights=str(folder / "weights.pt"), hash=digest, classes=list(ck["names"]),
            imgsz=int(ck.get("imgsz") or 0), model=str((ck.get("model_config") or {}).get("name", "")),
            kind=str(ck.get("kind") or ("student" if teacher else "teacher")),
            metrics=dict(ck.get("metrics") or (ck.get("bundle") or {}).get("val") or {}),
            dataset=str(args.get("data") or (ck.get("bundle") or {}).get("data") or ""),
            parent=self._parent_name(teacher), created=_iso(ck.get("created")),
            registered=dt.datetime.now().isoformat(timespec="seconds"), source=str(src.resolve()),
            file_sha256=_file_sha256(folder / "weights.pt"))
        write_json(folder / "card.json", card.to_json())
        return card

    def _parent_name(self, teacher: str) -> str:
        if not teacher:
            return ""
        t = str(Path(teacher).resolve())
        for c in self.list():
            if c.source == t or c.weights == t:
                return c.name
        return teacher

    def list(self) -> list[ModelCard]:
        """Every registered model whose card reads, newest first (unreadable cards are skipped)."""
        cards = []
        if not self.root.is_dir():
            return cards
        for d in sorted(self.root.iterdir()):
            try:
                c = ModelCard(**json.loads((d / "card.json").read_text()))
            except (OSError, ValueError, TypeError):
                continue
            if Path(c.weights).is_file():
                cards.append(c)
        return sorted(cards, key=lambda c: c.registered, reverse=True)

    def card(self, name: str) -> ModelCard:
        for c in self.list():
            if c.name == name:
                return c
        raise KeyError(f"no registered model named '{name}'")

    def checked_path(self, name: str) -> Path:
        """The weights of ``name``, once they are shown to be what its card says: the file's SHA-256
        (or, for a card of an older version, the weights' content hash) matches."""
        p = self.path(name)
        try:
            card = ModelCard(**json.loads((self.root / name / "card.json").read_text()))
        except (OSError, ValueError, TypeError) as e:
            raise CheckpointError(f"{self.root / name / 'card.json'}: the model card of '{name}' is unreadable ({e}); "
                                  "the model is not used") from None
        if card.file_sha256:
            got, want = _file_sha256(p), card.file_sha256
        else:
            got, want = load_checkpoint(p).get("hash") or "", card.hash
        if got != want:
            raise CheckpointError(f"{p}: not the registered model '{name}' (its hash {got[:16]}… differs from the "
                                  f"card's {want[:16]}…): the file was replaced or changed after registration, and is "
                                  "not used. Register the intended weights again (models register --replace).")
        return p

    def card_for(self, weights) -> ModelCard | None:
        """The card of the registered model whose weights file ``weights`` is, else None."""
        try:
            w = Path(weights).resolve()
        except (OSError, TypeError):
            return None
        return next((c for c in self.list() if Path(c.weights).resolve() == w), None)

    def approve(self, name: str, signature) -> ModelCard:
        """Approve ``name`` for the line: ``signature`` (``core.security.users.Signature`` of
        ``model.approve``) is written into its card; a model changed since is refused by ``checked_path``."""
        if signature.action != "model.approve":
            raise ValueError(f"an approval is signed for model.approve, not {signature.action}")
        self.checked_path(name)
        card = self.card(name)
        card.file_sha256 = card.file_sha256 or _file_sha256(self.path(name))
        card.approved_by, card.approved_role, card.approval_reason = signature.user, signature.role, signature.reason
        card.approved_at = dt.datetime.now().isoformat(timespec="seconds")
        write_json(self.root / name / "card.json", card.to_json())
        return card

    def remove(self, name: str) -> None:
        if name not in self:
            raise KeyError(f"no registered model named '{name}'")
        shutil.rmtree(self.root / name)


def model_card(name_or_weights, registry: ModelRegistry | None = None) -> ModelCard | None:
    """The card of a registered model given by its name or its registered weights file, else None."""
    reg = registry or ModelRegistry()
    if str(name_or_weights) in reg:
        try:
            return reg.card(str(name_or_weights))
        except KeyError:
            return None
    return reg.card_for(name_or_weights)


def _file_sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


__all__ = ["ModelRegistry", "ModelCard", "CheckpointError", "registry_dir", "check_name", "model_card"]
