"""Reusable shared-memory buffers for the image batches that loader workers send to the main process.

Why: a DataLoader worker hands each batch to the main process through shared memory. By default every batch gets
a fresh segment, and the kernel work of creating, zero-filling, faulting in and unmapping it cost about 1 ms per
MB on this project's CPUs: for small images as much as decoding them (see bench/README.md). Here each worker keeps
a few segments and writes its next batch into one the main process is done with.

Safety rests on one rule: a worker reuses a slot only after the main process has *seen the storage freed*. Each
slot has a state in a small shared table: free, *sent* (a worker wrote a batch into it) or *held* (the main process
received that batch). The main process tracks every held batch with a ``StorageWeakRef``, which expires only when
no tensor or view of that memory is left in the main process (a batch handed on to yet another process is not
tracked), and marks the slot free when it expires. A batch the consumer keeps (a list of batches, a view of an
image) keeps its slot held, and the worker falls back to a fresh segment: never a wait, never an overwrite. The
table is polled when batches arrive, so a slot comes back one batch after its memory is released.

A loop that stops early (``break``, ``limit_val_batches``, a sanity check) leaves batches prefetched, and the next
``iter()`` of a loader with persistent workers drops them unseen: their slots stay *sent*. Each worker frees its
own *sent* slots when it starts its next pass (``start_pass``): by then every batch of its earlier pass has been
produced, and the main process received it before that ``iter()`` (then it is *held*) or never will.

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
    inherit); in the workers call ``start_pass`` as each pass starts and ``empty`` for every batch, and in the main
    process ``received`` for every batch.

    Shared memory: a worker holds at most ``slots`` batch buffers, for as long as it lives. The default, 8, covers
    what ``make_loader``'s loader has in flight per worker (a prefetch queue of 4, the batch being consumed, the
    one Lightning fetches ahead) plus the batches whose release is noticed only when the next one arrives; with 6,
    a batch in a few dozen still needed a fresh segment. E.g. uint8 batches of 64 images at 384 px: 8 × 28 MB.

    Args:
        slots: buffers per worker.
        max_workers: workers with a higher id allocate fresh memory every time.
    """

    KEY = "_buffer_slot"
    FREE, SENT, HELD = 0, 1, 2  # slot states in ``busy``

    def __init__(self, slots: int = 8, max_workers: int = 32) -> None:
        self.slots = slots
        self.busy = torch.zeros(max_workers, slots, dtype=torch.uint8).share_memory_()
        self.attached = False  # to one loader (``make_loader``): two would share the workers' rows
        self._ring: dict[int, torch.Tensor] = {}  # in a worker: slot -> its buffer (a flat byte tensor)
        self._held: list[tuple[StorageWeakRef, int, int]] = []  # in the main process

    def start_pass(self) -> None:
        """In a worker, as its pipeline starts a pass: free the slots of batches the main process never received.

        A slot still *sent* here belongs to a batch of an earlier pass that an abandoned loop left prefetched and
        the loader dropped unseen. It cannot still be on its way: a persistent worker starts a new pass only after
        the loader's ``iter()`` has told it to, and from then on the loader returns no batch of the old pass. The
        main process never writes a *sent* slot of this row meanwhile, so no write here races with one there.
        Outside a worker (``num_workers=0``) there is nothing to do.
        """
        info = get_worker_info()
        if info is None or info.id >= self.busy.shape[0]:
            return
        row = self.busy[info.id]
        for s in range(self.slots):
            if row[s] == self.SENT:
                row[s] = self.FREE

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
                if row[s] != self.FREE:
                    continue
                buf = self._ring.get(s)
                if buf is None or buf.numel() < nbytes:  # first use, or larger batches than before
                    buf = self._ring[s] = _shared_bytes(nbytes)
                row[s] = self.SENT
                return buf[:nbytes].view(dtype).view(shape), (info.id, s)
        return _shared_bytes(nbytes).view(dtype).view(shape), None

    def received(self, tensor: torch.Tensor, slot: Sequence[int] | None) -> None:
        """Main process: track a slot-backed batch tensor, and free the slots whose memory is gone."""
        held = []
        for ref, w, s in self._held:
            if ref.expired():
                self.busy[w, s] = self.FREE
            else:
                held.append((ref, w, s))
        if slot is not None:  # a pair (worker, slot); the loader's default_convert turns it into a list
            w, s = int(slot[0]), int(slot[1])
            self.busy[w, s] = self.HELD
            held.append((StorageWeakRef(tensor.untyped_storage()), w, s))
        self._held = held


def _shared_bytes(nbytes: int) -> torch.Tensor:
    storage = torch.UntypedStorage._new_shared(max(nbytes, 1))
    return torch.empty(0, dtype=torch.uint8).set_(storage)
