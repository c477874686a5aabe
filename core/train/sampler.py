"""The epoch sampler: a deterministic shuffle per epoch, sharded over ranks, able to start mid-epoch
(an exact resume), and the dataset adapter that hands each worker the epoch for its augmentation."""
from __future__ import annotations

import math

import torch
from torch.utils.data import Sampler

from core.data.dataset import DetectionDataset


class EpochSampler(Sampler):
    """Deterministic per-epoch shuffle, sharded over ranks, able to start mid-epoch.

    Yields (epoch, index) so that dataset workers know the epoch for their augmentation RNG.
    """

    def __init__(self, n: int, seed: int, shuffle: bool = True, rank: int = 0, world: int = 1):
        self.n, self.seed, self.shuffle, self.rank, self.world = n, seed, shuffle, rank, world
        self.epoch, self.start = 0, 0
        self.per_rank = math.ceil(n / world)

    def set_epoch(self, epoch: int, start: int = 0):
        self.epoch, self.start = epoch, start

    def __iter__(self):
        if self.shuffle:
            g = torch.Generator().manual_seed(self.seed + self.epoch)
            order = torch.randperm(self.n, generator=g).tolist()
        else:
            order = list(range(self.n))
        order += order[: self.per_rank * self.world - self.n]  # pad so every rank gets the same count
        mine = order[self.rank::self.world]
        return iter([(self.epoch, i) for i in mine[self.start:]])

    def __len__(self):
        return self.per_rank - self.start


class EpochDataset(torch.utils.data.Dataset):
    """Adapter: (epoch, i) -> the dataset item with that epoch's augmentation."""

    def __init__(self, ds: DetectionDataset):
        self.ds = ds

    def __len__(self):
        return len(self.ds)

    def __getitem__(self, key):
        epoch, i = key
        self.ds.epoch = epoch
        return self.ds[i]
