"""What every dataset format shares: the form readers return, the writer's and the editor's common
part, and the guard that keeps two hands on one dataset from losing each other's work.

A format is one module of this package with
- ``detect(path)``: the file or folder that anchors a dataset of this format at ``path``, or None;
- ``read(anchor)``: the dataset as a ``DatasetSpec`` (boxes as written; pixels only in ``validate``);
- ``Writer(out, names)``: a new dataset (``dataset convert``, the demo line);
- ``Editor.open(anchor, spec)``: one image's labels read and written for the labelling view, keeping
  what the user did not touch. New labels are written by the same functions as the ``Writer``'s,
  so a converted dataset and one saved in the labelling view hold the same files.
The registry (``formats/__init__``) lists the modules; a new format is one module and one row.

Two hands: every write of a dataset's files happens under ``dataset_lock`` (a lock file in
``.sdgas/``, released by the OS if its holder dies). A file that holds one image's labels is
written only if it still holds what this editor read (else ``SaveConflict``, naming it); a file
shared by many images (COCO JSON, CVAT XML, ``review.json``) is read again under the lock and the
one image's change applied to what is on disk now.
"""
from __future__ import annotations

import hashlib
import os
import shutil
import threading
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from core.data.annotation import Annotation, Item
from core.data.imageio import IMAGE_EXTS
from core.util.io import atomic_write_bytes, read_regular

SPLITS = ("train", "val", "test")
# The problem of an image that has no label file: nobody judged it, so it is neither a defect nor an
# OK part, and training it as defect-free would teach the model that its defects are not ones.
UNLABELLED = ("no label file: the image is unlabelled and is not trained on (label it, or mark it "
              "defect-free: an empty label file)")
LOCK_FILE = Path(".sdgas") / "lock"
LOCK_TIMEOUT_S = 15.0


@dataclass
class RawBox:
    cls: int | str          # class id (YOLO/COCO) or name (VOC, CVAT)
    box: tuple[float, float, float, float]  # x1 y1 x2 y2; normalised when ``normalized``
    normalized: bool = False


@dataclass
class RawSample:
    image: Path
    boxes: list[RawBox] = field(default_factory=list)
    label_file: Path | None = None
    problem: str | None = None      # a label-level problem that makes the sample unusable
    size_hint: tuple[int, int] | None = None  # (w, h) as the label file claims


@dataclass
class DatasetSpec:
    root: Path
    format: str
    names: list[str]
    splits: dict[str, list[RawSample]]
    problems: dict[str, list[tuple[str, str]]] = field(default_factory=dict)  # split -> (file, why), not per image

    def split(self, name: str) -> list[RawSample]:
        if name not in self.splits:
            have = ", ".join(s for s in self.splits if self.splits[s]) or "none"
            raise ValueError(f"dataset {self.root} has no '{name}' split (has: {have})")
        return self.splits[name]


class DatasetError(ValueError):
    """The dataset as a whole cannot be read; the message says where and why."""


class SaveConflict(ValueError):
    """A file changed on disk since this editor read it; nothing was written. ``path`` names it."""

    def __init__(self, path: str | os.PathLike, what: str = "it"):
        self.path = Path(path)
        super().__init__(f"{path}: {what} changed on disk since it was opened here (another program or window "
                         "saved it); nothing was written: reload to see the other change, then edit again")


# ------------------------------------------------------------------------------ one writer
_held = threading.local()


@contextmanager
def dataset_lock(root: str | os.PathLike):
    """Exclusive access to the dataset at ``root`` among processes and threads (re-entrant in one thread)."""
    from filelock import FileLock, Timeout

    path = (Path(root) / LOCK_FILE).resolve()
    held = _held.__dict__.setdefault("paths", set())
    if path in held:
        yield
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    lock = FileLock(str(path), timeout=LOCK_TIMEOUT_S)
    try:
        lock.acquire()
    except Timeout:
        raise OSError(f"{root}: another program has been writing this dataset for {LOCK_TIMEOUT_S:.0f} s "
                      f"(it holds {path}); try again") from None
    held.add(path)
    try:
        yield
    finally:
        held.discard(path)
        lock.release()


def digest(data: bytes | None) -> str | None:
    return None if data is None else hashlib.sha1(data).hexdigest()


def read_bytes(path: Path) -> bytes | None:
    """The file's bytes, or None when there is no file; NotRegularFile (an OSError) for a FIFO, a
    device or a folder of that name, which is never opened."""
    try:
        return read_regular(path)
    except FileNotFoundError:
        return None


def stamp(path: Path) -> tuple | None:
    """(inode, modification time, size): an atomic write by anyone gives a new inode."""
    try:
        st = path.stat()
    except FileNotFoundError:
        return None
    return st.st_ino, st.st_mtime_ns, st.st_size


# ------------------------------------------------------------------------------ shared rules
def class_list(path: Path) -> list[str]:
    """A ``classes.txt``: one name a line (blank lines skipped); [] when there is none."""
    data = read_bytes(path)
    if data is None:
        return []
    return [ln.strip() for ln in data.decode("utf-8-sig").splitlines() if ln.strip()]


def class_list_text(names: list[str]) -> str:
    return "\n".join(names) + "\n"


def num(v: float) -> str:
    """A pixel coordinate as the XML formats write it: at most two decimals, none when whole."""
    s = f"{float(v):.2f}".rstrip("0").rstrip(".")
    return "0" if s == "-0" else s


def images_in(folder: Path) -> list[Path]:
    """The images directly in ``folder``, by name."""
    return sorted(p for p in folder.iterdir() if p.suffix.lower() in IMAGE_EXTS) if folder.is_dir() else []


def image_key(image: Path, root: Path) -> str:
    """The image's path relative to the dataset root (the review file's key)."""
    try:
        return image.resolve().relative_to(root.resolve()).as_posix()
    except ValueError:
        return image.resolve().as_posix()


def keep_original(path: Path) -> None:
    """A label file that could not be read is kept as ``<file>.orig`` before the first save over it."""
    if path.exists() and not path.with_name(path.name + ".orig").exists():
        shutil.copy2(path, path.with_name(path.name + ".orig"))


# ------------------------------------------------------------------------------------ writer
class Writer:
    """A new dataset in one format; ``close()`` returns what ``--data`` takes. Images are given as a
    file to copy or an array to encode (PNG); labels are written atomically by the format."""
    images_per_split = False    # YOLO: images/<split>/; the others share images/

    def __init__(self, out: str | os.PathLike, names: list[str]):
        self.out, self.names = Path(out), list(names)
        self._files: dict[str, str] = {}    # stem -> image file name

    def add(self, split: str, stem: str, image, boxes, classes, w: int, h: int) -> None:
        """``image``: a file to copy, an array to encode, or None for an image added already under
        ``stem`` (listed in this split too)."""
        if image is None:
            self.label(split, stem, self._files[stem], boxes, classes, w, h, again=True)
            return
        folder = self.out / "images" / split if self.images_per_split else self.out / "images"
        folder.mkdir(parents=True, exist_ok=True)
        if isinstance(image, (str, os.PathLike)):
            name = f"{stem}{Path(image).suffix.lower()}"
            shutil.copy2(image, folder / name)
        else:
            import cv2

            name = f"{stem}.png"
            ok, buf = cv2.imencode(".png", image)
            if not ok:
                raise ValueError(f"cannot encode image {stem}")
            atomic_write_bytes(folder / name, buf.tobytes())
        self._files[stem] = name
        self.label(split, stem, name, boxes, classes, w, h, again=False)

    def label(self, split: str, stem: str, name: str, boxes, classes, w: int, h: int, again: bool) -> None:
        raise NotImplementedError

    def close(self) -> Path:
        raise NotImplementedError


# ------------------------------------------------------------------------------------ editor
class Editor:
    """One image's labels, read and written for the labelling view (``core.labels.project``).

    Subclasses read with ``_read`` (which remembers what a per-image file held) and write with
    ``_write``/``_remove`` under ``dataset_lock`` (which refuse a file that changed since)."""
    format = ""
    names_in_labels = False     # boxes name their class (VOC, CVAT): a rename rewrites the files
    splits_here = True          # ``write_splits`` can split the dataset

    def __init__(self, root: Path, names: list[str]):
        self.root, self.names = Path(root), list(names)
        self._seen: dict[Path, str | None] = {}   # per-image file -> digest as last read or written

    # the contract
    def load(self, item: Item, width: int, height: int) -> Annotation:
        raise NotImplementedError

    def save(self, item: Item, ann: Annotation) -> None:
        raise NotImplementedError

    def write_names(self, names: list[str]) -> None:
        raise NotImplementedError

    def data_spec(self) -> str:
        return str(self.root)

    def write_splits(self, splits: dict[str, list[Item]]) -> str:
        """Write the split lists; returns what ``--data`` takes."""
        raise ValueError(f"a {self.format} dataset cannot be re-split here: convert it to YOLO or VOC first "
                         "(python main.py dataset convert D --to yolo --out DIR)")

    def use_classes(self, names: list[str], removed: int | None = None) -> None:
        """The class list the next saves write boxes by, before ``write_names`` writes the list: a
        rename or merge reads the files under the old list and rewrites them under this one
        (``removed``: the class a merge takes out)."""
        self.names = list(names)

    def label_file(self, item: Item) -> Path | None:
        """The file holding only this image's labels, if the format has one."""
        return None

    def shared_files(self) -> list[Path]:
        """Files holding many images' labels (and the classes): COCO JSON, CVAT XML."""
        return []

    def name_files(self) -> list[Path]:
        """Files holding only the class list."""
        return []

    # per-image files
    def _read(self, path: Path) -> bytes | None:
        data = read_bytes(path)
        self._seen[path] = digest(data)
        return data

    def _check(self, path: Path) -> None:
        """Under the lock: the file holds what this editor last read or wrote (or was never read here)."""
        if path in self._seen and digest(read_bytes(path)) != self._seen[path]:
            raise SaveConflict(path, "its labels")

    def _write(self, path: Path, text: str) -> None:
        data = text.encode("utf-8")
        with dataset_lock(self.root):
            if digest(read_bytes(path)) != digest(data):
                self._check(path)
                atomic_write_bytes(path, data)
            self._seen[path] = digest(data)

    def _remove(self, path: Path, keep_as: Path | None = None) -> None:
        with dataset_lock(self.root):
            if path.exists():
                self._check(path)
                os.replace(path, keep_as) if keep_as else path.unlink()
            self._seen[path] = None
