"""Reusable shared-memory buffers for the image batches that loader workers send to the main process.

Why: a DataLoader worker hands each batch to the main process through shared memory. By default every batch gets
a fresh segment, and the kernel work of creating, zero-filling, faulting in and unmapping it cost about 1 ms per
MB on this project's CPUs: for small images as much as decoding them (see bench/README.md). Here each worker keeps
a few segments and writes its next batch into one the main process is done with.

Safety rests on one rule: a worker reuses a slot only after the main process has *seen the storage freed*. The
main process tracks every slot-backed batch it received with a ``StorageWeakRef``, which expires only when no
tensor or view of that memory is left in the main process (a batch handed on to yet another process is not
tracked), and marks the slot free in a small shared table when it expires. A batch the consumer keeps (a list of
batches, a view of an image) keeps its slot busy, and the worker falls back to a fresh segment: never a wait,
never an overwrite. The table is polled when batches arrive, so a slot comes back one batch after its memory is
released; slots of batches a loader dropped unseen come back at its next pass (``new_pass``).

Shared memory held: ``slots`` batch buffers per worker for as long as the worker lives (persistent loader
workers live for a whole fit, validation ones too).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch.multiprocessing.reductions import StorageWeakRef
from torch.utils.data import get_worker_info

__all__ = ["BatchBuffers"]


class BatchBuffers:
    """A per-worker ring of shared-memory batch buffers, and the main process's record of which are in use.

    Create it in the main process before the loader's workers start (the busy table is shared memory that they
    inherit), use ``empty`` in the workers and ``received`` in the main process for every batch.

    Shared memory: a worker holds at most ``slots`` batch buffers, for as long as it lives. The default, 8, covers
    what ``make_loader``'s loader has in flight per worker (a prefetch queue of 4, the batch being consumed, the
    one Lightning fetches ahead) plus the batches whose release is noticed only when the next one arrives; with 6,
    a batch in a few dozen still needed a fresh segment. E.g. uint8 batches of 64 images at 384 px: 8 × 28 MB.

    Args:
        slots: buffers per worker.
        max_workers: workers with a higher id allocate fresh memory every time.
    """

    KEY = "_buffer_slot"

    def __init__(self, slots: int = 8, max_workers: int = 32) -> None:
        self.slots = slots
        self.busy = torch.zeros(max_workers, slots, dtype=torch.uint8).share_memory_()
        self.attached = False  # to one loader (``make_loader``): two would share the workers' rows
        self._ring: dict[int, torch.Tensor] = {}  # in a worker: slot -> its buffer (a flat byte tensor)
        self._held: list[tuple[StorageWeakRef, int, int]] = []  # in the main process
        self._stale: torch.Tensor | None = None  # slots busy when the current pass started (``new_pass``)

    def new_pass(self) -> None:
        """Main process, before each ``iter(loader)``: batches of an abandoned pass are about to be dropped.

        A loop that stops early (``break``, ``limit_val_batches``, a sanity check) leaves batches prefetched; the
        next ``iter()`` of a loader with persistent workers drops them without their reaching ``received``, so
        their slots would stay busy for good. Here the busy slots are noted before the new pass starts; when its
        first batch arrives (after the loader has dropped the old ones), those that nothing in this process holds
        are freed. Only slots busy *before* the pass are considered, and a busy slot cannot be claimed again until
        it is freed, so a batch of the new pass is never among them, whatever the order in which the workers'
        writes become visible here.
        """
        self._stale = self.busy.clone()

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
        if self._stale is not None:  # the first batch of a new pass: the previous pass's leftovers are gone
            kept = {(w, s) for _, w, s in held}
            for w, s in self._stale.nonzero().tolist():
                if (w, s) not in kept:
                    self.busy[w, s] = 0
            self._stale = None
        if slot is not None:  # a pair (worker, slot); the loader's default_convert turns it into a list
            held.append((StorageWeakRef(tensor.untyped_storage()), int(slot[0]), int(slot[1])))
        self._held = held


def _shared_bytes(nbytes: int) -> torch.Tensor:
    storage = torch.UntypedStorage._new_shared(max(nbytes, 1))
    return torch.empty(0, dtype=torch.uint8).set_(storage)
