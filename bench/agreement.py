"""``emozoo agreement``: the sparse table path against the dense (images, raters, 40) one, side by side.

Same table, same result: peak traced memory and time of ``interrater_agreement_sparse`` on the per-rating arrays
versus building the dense array the command used to build and running ``interrater_agreement`` on it (which now
takes the same sparse path inside, so the difference is the array alone; the old pairwise loop was slower still). The
table has many raters with few ratings each, the shape that made the dense array explode (issue 13 item 6).

    OMP_NUM_THREADS=1 python bench/agreement.py [--raters 4000] [--images 2000]
"""

from __future__ import annotations

import argparse
import json
import platform
import time
import tracemalloc

import numpy as np

from emozoo.metrics.interrater import interrater_agreement, interrater_agreement_sparse


def _table(n_images: int, n_raters: int, per_unit: int, seed: int = 0):
    rng = np.random.default_rng(seed)
    image = np.repeat(np.arange(n_images), 2 * per_unit)
    emotion = np.repeat(np.stack([rng.choice(40, 2, replace=False) for _ in range(n_images)]).ravel(), per_unit)
    rater = rng.permutation(image.size) % n_raters
    keep = np.unique(np.stack([image, rater, emotion], 1), axis=0, return_index=True)[1]
    return image[keep], rater[keep], emotion[keep], rng.integers(0, 2, keep.size).astype(float)


def _measure(fn):
    tracemalloc.start()
    start = time.perf_counter()
    out = fn()
    seconds = time.perf_counter() - start
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return out, seconds, peak


def _cpu() -> str:
    try:
        with open("/proc/cpuinfo") as fh:
            return next(line.split(":", 1)[1].strip() for line in fh if line.startswith("model name"))
    except (OSError, StopIteration):
        return platform.processor() or platform.machine()


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--raters", type=int, default=4000)
    ap.add_argument("--images", type=int, default=2000)
    ap.add_argument("--per-unit", type=int, default=5)
    a = ap.parse_args()
    image, rater, emotion, value = _table(a.images, a.raters, a.per_unit)
    names = [f"h{i}" for i in range(a.raters)]

    def dense():
        r = np.full((a.images, a.raters, 40), np.nan)
        r[image, rater, emotion] = value
        return interrater_agreement(r, names)

    sparse_out, s_time, s_peak = _measure(lambda: interrater_agreement_sparse(image, rater, emotion, value, names))
    dense_out, d_time, d_peak = _measure(dense)
    same = json.dumps(sparse_out["overall"], sort_keys=True) == json.dumps(dense_out["overall"], sort_keys=True)
    print(f"CPU: {_cpu()}; {value.size} ratings, {a.images} images, {a.raters} raters")
    print(f"dense : {d_time:6.2f} s, peak {d_peak / 2**20:8.1f} MiB")
    print(f"sparse: {s_time:6.2f} s, peak {s_peak / 2**20:8.1f} MiB")
    print(f"ratio dense/sparse: time {d_time / s_time:.1f}x, memory {d_peak / s_peak:.0f}x; same result: {same}")


if __name__ == "__main__":
    main()
