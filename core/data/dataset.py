"""The training/validation dataset over validated samples, with RAM caching and augmentation."""
from __future__ import annotations

import random
import signal
import cv2
import numpy as np
import torch
from torch.utils.data import Dataset

from .augment import augment_hsv, flip_lr, flip_ud, mosaic4, random_affine
from .imageio import read_image
from core.config import AugmentConfig

from .preprocess import Preprocess, to_chw
from .validate import Sample


# "auto" caches decoded images in RAM when they fit in this many bytes
RAM_CACHE_LIMIT = 2e9


class DetectionDataset(Dataset):
    """Items: (image uint8 (3, S, S) in the model's channel order, labels (n, 5) float [cls, x1, y1,
    x2, y2] in input pixels, index). Without augmentation the image is ``preprocess``'s letterbox,
    exactly as inference sees it; ``preprocess.to_input`` turns a batch into the model's input."""

    def __init__(self, samples: list[Sample], imgsz: int, augment: bool = False,
                 aug: AugmentConfig | None = None, cache: bool | str = "auto", seed: int = 0,
                 preprocess: Preprocess | None = None):
        self.samples = samples
        self.imgsz = imgsz
        self.preprocess = preprocess or Preprocess(imgsz)
        if self.preprocess.imgsz != imgsz:
            raise ValueError(f"preprocess image size {self.preprocess.imgsz} differs from the dataset's {imgsz}")
        self.augment = augment
        self.aug = aug or AugmentConfig()
        self.mosaic_enabled = augment and self.aug.mosaic > 0
        self.seed = seed
        self.epoch = 0
        self._cache: list | None = None
        if cache == "auto":
            est = sum(min(1.0, (imgsz / max(s.width, s.height)) ** 2) * s.width * s.height * 3 for s in samples)
            cache = est < RAM_CACHE_LIMIT
        if cache:
            self._cache = [None] * len(samples)

    def __len__(self):
        return len(self.samples)

    def close_mosaic(self) -> None:
        self.mosaic_enabled = False

    def load(self, i: int):
        """Image resized so its long side is ``imgsz`` (cached), with boxes scaled alike."""
        s = self.samples[i]
        if self._cache is not None and self._cache[i] is not None:
            img = self._cache[i]
        else:
            img = read_image(s.image)
            r = self.imgsz / max(img.shape[:2])
            if r != 1:
                interp = cv2.INTER_LINEAR if r > 1 else cv2.INTER_AREA
                img = cv2.resize(img, (round(img.shape[1] * r), round(img.shape[0] * r)), interpolation=interp)
            if self._cache is not None:
                self._cache[i] = img
        r = img.shape[1] / s.width
        return img, s.boxes * r, s.classes.copy()

    def fill_cache(self) -> None:
        if self._cache is not None:
            for i in range(len(self)):
                self.load(i)

    def __getitem__(self, i: int):
        rng = random.Random(hash((self.seed, self.epoch, i)) & 0xFFFFFFFF)
        a = self.aug
        if self.augment and self.mosaic_enabled and rng.random() < a.mosaic:
            idx = [i] + [rng.randrange(len(self)) for _ in range(3)]
            img, boxes, classes = mosaic4([self.load(j) for j in idx], self.imgsz, rng)
            img, boxes, classes = random_affine(img, boxes, classes, a.degrees, a.translate, a.scale, a.shear,
                                                border=(-self.imgsz // 2, -self.imgsz // 2), rng=rng)
        else:
            img, boxes, classes = self.load(i)
            img, info = self.preprocess.letterbox(img)
            if len(boxes):
                r = info.ratio
                boxes = boxes * r
                boxes[:, [0, 2]] += info.pad_x
                boxes[:, [1, 3]] += info.pad_y
            if self.augment:
                img, boxes, classes = random_affine(img, boxes, classes, a.degrees, a.translate, a.scale, a.shear,
                                                    rng=rng)
        if self.augment:
            augment_hsv(img, a.hsv_h, a.hsv_s, a.hsv_v, rng)
            if rng.random() < a.fliplr:
                img, boxes = flip_lr(img, boxes)
            if rng.random() < a.flipud:
                img, boxes = flip_ud(img, boxes)
        labels = np.zeros((len(boxes), 5), np.float32)
        if len(boxes):
            labels[:, 0] = classes
            labels[:, 1:] = boxes
        chw = to_chw(img, self.preprocess.channel_order)
        return torch.from_numpy(chw), torch.from_numpy(labels), i


def quiet_worker(_worker_id: int) -> None:
    """DataLoader ``worker_init_fn``: workers ignore Ctrl-C and SIGTERM and leave stopping to the
    main process (a terminal's Ctrl-C reaches the whole process group, and forked workers would
    otherwise run the trainer's handler too, or die mid-batch)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)


def collate(batch):
    """-> images uint8 (B, 3, S, S), targets (N, 6) [batch_idx, cls, x1, y1, x2, y2], indices."""
    imgs, labels, idx = zip(*batch)
    targets = []
    for b, lab in enumerate(labels):
        if len(lab):
            targets.append(torch.cat([torch.full((len(lab), 1), float(b)), lab], 1))
    t = torch.cat(targets) if targets else torch.zeros((0, 6))
    return torch.stack(imgs), t, list(idx)
