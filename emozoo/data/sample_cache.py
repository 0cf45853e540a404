"""Decode once: a bounded shared-memory cache of the training images after their deterministic preprocessing.

Why: a training epoch decodes, resizes and crops every image again, and on a 2-core machine those loader workers
take their time from the model: the demo decoded the same 24,000 JPEGs six times. The geometric half of an
``ImageTransform`` (``geometry``) is a function of the image bytes alone, so its uint8 output can be kept; only
the random half (``augment``, a flip) runs again on each visit. A cached pass therefore yields exactly what an
uncached one does, batch for batch: the same samples in the same order, the same random flips (``augment`` draws
the same random numbers either way).

Layout. One shared uint8 tensor ``(capacity, C, H, W)`` and one shared ``filled`` flag per slot, created in the
main process before the loader's workers start, so every worker reads and writes the same memory. A sample's
slot is its shard's offset (the shards' sample counts in ``manifest.json``, in URL order) plus its position in
the shard, which ``numbered`` attaches before the shuffle. Samples past ``capacity``, in a shard without a count,
or at a position the manifest does not account for (a shard that holds more than it says) are decoded every
time, as without a cache. A sample that fails to decode is never cached, so it is reported on every visit.

Concurrency. With resampled shards two workers may decode the same sample at once. Both write the same bytes (the
geometry is deterministic), and each sets the flag only after its write, under a lock that readers also take to
test the flag. The lock is what orders the flag after the pixels for another process on every CPU (x86 keeps
store order anyway, ARM does not), so a reader never sees a flagged slot half-written. It costs about a
microsecond per sample, against the millisecond of decoding it saves.

Bounds. ``max_bytes`` (``data.cache_mb``) caps the tensor, and so does half the free space in ``/dev/shm``, where
shared memory lives: a container's small ``/dev/shm`` gets a smaller cache, never a crash.
"""

from __future__ import annotations

import multiprocessing
import shutil
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import torch

__all__ = ["SampleCache", "numbered", "shm_free_bytes"]

INDEX_KEY = "__index__"  # a sample's position in its shard, attached by ``numbered``


def shm_free_bytes(path: str = "/dev/shm") -> int | None:
    """Free bytes where shared memory lives, or None where there is no such mount (then only ``max_bytes`` binds)."""
    try:
        return shutil.disk_usage(path).free
    except OSError:
        return None


def numbered(tar_stage: Callable[[Iterator[dict]], Iterator[dict]]) -> Callable[[Iterator[dict]], Iterator[dict]]:
    """``tar_stage`` run one shard at a time, each sample given its position in its shard (``__index__``).

    One shard at a time because resampling may draw the same shard twice in a row, and a count that went on
    across the two would give the second visit's samples positions the shard does not have.
    """

    def stage(src: Iterator[dict]) -> Iterator[dict]:
        for shard in src:
            for index, sample in enumerate(tar_stage(iter([shard]))):
                sample[INDEX_KEY] = index
                yield sample

    return stage


class SampleCache:
    """Shared-memory slots for the ``geometry`` outputs of a fixed list of shards.

    Args:
        urls: the shards, in the order the pipeline is given them.
        counts: samples per shard file name (``manifest.json``); shards missing here are not cached.
        shape: the uint8 tensor ``geometry`` returns, ``(C, H, W)``.
        max_bytes: the most memory the pixels may take; the tensor holds ``min(samples, max_bytes // sample)``.
        shm_bytes: free shared memory (default: measured); the cache takes at most half of it.
    """

    def __init__(
        self,
        urls: Sequence[str],
        counts: dict[str, int],
        shape: Sequence[int],
        max_bytes: int,
        shm_bytes: int | None = -1,
    ) -> None:
        self.shape = tuple(int(s) for s in shape)
        sample_bytes = max(1, int(torch.Size(self.shape).numel()))
        shm = shm_free_bytes() if shm_bytes == -1 else shm_bytes
        budget = max_bytes if shm is None else min(max_bytes, shm // 2)
        self.offsets: dict[str, tuple[int, int]] = {}  # url -> (first slot, samples)
        total = 0
        for url in urls:
            count = counts.get(Path(url).name)
            if count is not None and count > 0 and url not in self.offsets:
                self.offsets[url] = (total, int(count))
                total += int(count)
        self.num_samples = total
        self.capacity = max(0, min(total, budget // sample_bytes))
        self.pixels = torch.zeros((self.capacity, *self.shape), dtype=torch.uint8).share_memory_()
        self.filled = torch.zeros(self.capacity, dtype=torch.uint8).share_memory_()
        self.lock = multiprocessing.Lock()  # inherited by the loader's workers, like the tensors

    @property
    def nbytes(self) -> int:
        """Shared memory the pixels take."""
        return self.pixels.numel()

    def slot(self, sample: dict[str, Any]) -> int | None:
        """The sample's slot, or None when it has none (no count, past the manifest's count, past capacity)."""
        place = self.offsets.get(sample.get("__url__", ""))
        index = sample.get(INDEX_KEY)
        if place is None or index is None or not 0 <= index < place[1]:
            return None
        slot = place[0] + index
        return slot if slot < self.capacity else None

    def get(self, slot: int | None) -> torch.Tensor | None:
        """A copy of the cached image in ``slot``, or None when it is not there (yet)."""
        if slot is None:
            return None
        with self.lock:
            if not self.filled[slot]:
                return None
        return self.pixels[slot].clone()  # a copy: augment and the batch must never write into the cache

    def put(self, slot: int | None, image: torch.Tensor) -> None:
        """Keep ``image`` in ``slot`` (a no-op without a slot, or for an image of another shape or dtype)."""
        if slot is None or image.dtype != torch.uint8 or tuple(image.shape) != self.shape:
            return
        self.pixels[slot].copy_(image)
        with self.lock:  # after the pixels; the lock publishes them to the process that next tests the flag
            self.filled[slot] = 1

    def __repr__(self) -> str:
        filled = int(self.filled.sum()) if self.capacity else 0
        return (
            f"SampleCache({filled}/{self.capacity} of {self.num_samples} samples, {self.nbytes / 2**20:.0f} MiB, "
            f"shape={self.shape})"
        )
