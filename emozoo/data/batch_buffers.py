"""Reusable shared-memory buffers for the image batches that loader workers send to the main process.

Why: a DataLoader worker hands each batch to the main process through shared memory. By default every batch gets
a fresh segment, and the kernel work of creating, zero-filling, faulting in and unmapping it cost about 1 ms per
MB on this project's CPUs: for small images as much as decoding them (see bench/README.md). Here each worker keeps
a few segments and writes its next batch into one the main process is done with.

Safety rests on one rule: a worker reuses a slot only after the main process has *seen the storage freed*. The
main process tracks every slot-backed batch it received with a ``StorageWeakRef`` (it expires only when no tensor
or view of that memory is left, whoever holds it) and marks the slot free in a small shared table when it
expires. A batch the consumer keeps (a list of batches, a view of an image) keeps its slot busy, and the worker
falls back to a fresh segment: never a wait, never an overwrite. The table is polled when batches arrive, so a
slot comes back one batch after its memory is released.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
from torch.multiprocessing.reductions import StorageWeakRef
from torch.utils.data import get_worker_info

__all__ = ["BatchBuffers"]


class BatchBuffers:
    """A per-worker ring of shared-memory batch buffers, and the main process's record of which are in use.

    Create it in the main process before the loader's workers start (the busy table is shared memory that they
    inherit), use ``empty`` in the workers and ``received`` in the main process for every batch.

    Shared memory: a worker holds at most ``slots`` batch buffers. The default, 6, is what ``make_loader``'s
    loader has in flight per worker anyway (a prefetch queue of 4, the batch being consumed, and the next one
    Lightning fetches ahead), so steady state finds a free buffer and /dev/shm holds no more than without reuse;
    e.g. uint8 batches of 64 images at 384 px: 6 × 28 MB per worker.

    Args:
        slots: buffers per worker.
        max_workers: workers with a higher id allocate fresh memory every time.
    """

    KEY = "_buffer_slot"

    def __init__(self, slots: int = 6, max_workers: int = 32) -> None:
        self.slots = slots
        self.busy = torch.zeros(max_workers, slots, dtype=torch.uint8).share_memory_()
        self._ring: dict[int, torch.Tensor] = {}  # in a worker: slot -> its buffer (a flat byte tensor)
        self._held: list[tuple[StorageWeakRef, int, int]] = []  # in the main process

    def __getstate__(self) -> dict[str, Any]:
        # Under the spawn start method the pipeline is pickled into each worker: send the table, not the rings.
        return {"slots": self.slots, "busy": self.busy, "_ring": {}, "_held": []}

    def empty(self, shape: Sequence[int], dtype: torch.dtype) -> tuple[torch.Tensor, tuple[int, int] | None]:
        """An uninitialised tensor for a batch, and its slot (``None`` outside a worker or without a free slot).

        In a worker the tensor always lives in shared memory, so sending it costs no copy.
        """
        info = get_worker_info()
        nbytes = int(torch.Size(shape).numel()) * dtype.itemsize
        if info is None:
            return torch.empty(shape, dtype=dtype), None
        if info.id < self.busy.shape[0]:
            row = self.busy[info.id]
            for s in range(self.slots):
                if row[s]:
                    continue
                buf = self._ring.get(s)
                if buf is None or buf.numel() < nbytes:  # first use, or larger batches than before
                    buf = self._ring[s] = _shared_bytes(nbytes)
                row[s] = 1
                return buf[:nbytes].view(dtype).view(shape), (info.id, s)
        return _shared_bytes(nbytes).view(dtype).view(shape), None

    def received(self, tensor: torch.Tensor, slot: Sequence[int] | None) -> None:
        """Main process: track a slot-backed batch tensor, and free the slots whose memory is gone."""
        held = []
        for ref, w, s in self._held:
            if ref.expired():
                self.busy[w, s] = 0
            else:
                held.append((ref, w, s))
        if slot is not None:  # a pair (worker, slot); the loader's default_convert turns it into a list
            held.append((StorageWeakRef(tensor.untyped_storage()), int(slot[0]), int(slot[1])))
        self._held = held


def _shared_bytes(nbytes: int) -> torch.Tensor:
    storage = torch.UntypedStorage._new_shared(max(nbytes, 1))
    return torch.empty(0, dtype=torch.uint8).set_(storage)
