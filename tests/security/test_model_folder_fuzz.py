"""Fuzzing ``load_model`` with mutated model folders: a correct model or a one-line emozoo error, in bounded memory.

A few hundred mutants of two real folders (cnn-tiny + mlp, and a head-only per-emotion model) are loaded in one
child process capped with ``setrlimit(RLIMIT_AS)`` at 1 GiB above the import baseline. Mutations: values of the
``config.json`` record replaced by hostile ones (huge or negative sizes, wrong types, hub names, deep nesting,
unknown keys, deleted keys), the record's bytes corrupted, and the weights file truncated, bit-flipped, given a
lying header, or filled with NaN. A mutant that loads must be the model its files describe: every tensor equal to
the file's, and finite outputs. The counts are printed (``pytest -s``) for the README.
"""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest
import torch

from emozoo.model import create_model
from emozoo.zoo import save_pretrained

from .capped import run_capped

N_CONFIG, N_WEIGHTS = 200, 100
HOSTILE = [
    None,
    -1,
    0,
    1,
    3,
    2**31,
    10**12,
    1.5,
    -0.5,
    1e308,
    True,
    "x",
    "hf-hub:attacker-org/evil",
    "/etc/passwd",
    [],
    [8, 16],
    [3, 32, 32],
    {},
    {"checkpoint_path": "/etc/passwd"},
    "x" * 10_000,
    [[[[[[[[[[1]]]]]]]]]],
]

CHILD = """
import math, traceback
from pathlib import Path
from safetensors.torch import load_file
counts = {"loaded": 0, "emozoo_error": 0, "multi_line": 0, "wrong_model": 0, "other": 0}
examples = []
for folder in sys.argv[2:]:
    try:
        model = emozoo.load_model(folder)
    except EmozooError as err:
        counts["multi_line" if "\\n" in str(err) else "emozoo_error"] += 1
        continue
    except Exception as err:
        counts["other"] += 1
        examples.append(f"{folder}: {type(err).__name__}: {str(err)[:200]}")
        continue
    want = load_file(str(Path(folder) / "model.safetensors"))
    state = model.state_dict()
    ok = want.keys() == state.keys() and all(torch.equal(state[k], want[k].to(state[k].dtype)) for k in want)
    x = torch.randn(2, *model.data_config.input_size) if model.backbone is not None else torch.randn(2, 16)
    with torch.no_grad():
        out = model(x) if model.backbone is not None else model.forward_embeddings(x)
    ok = ok and all(bool(torch.isfinite(v).all()) for v in out.values())
    counts["loaded" if ok else "wrong_model"] += 1
    if not ok:
        examples.append(f"{folder}: loaded but not the model its files describe")
print(json.dumps({"counts": counts, "examples": examples[:10]}))
"""


def _paths(obj, prefix=()):
    """Every (path, value) in a JSON tree."""
    yield prefix, obj
    if isinstance(obj, dict):
        for k, v in obj.items():
            yield from _paths(v, (*prefix, k))
    elif isinstance(obj, list):
        for i, v in enumerate(obj):
            yield from _paths(v, (*prefix, i))


def _set(obj, path, value):
    for key in path[:-1]:
        obj = obj[key]
    if value is _DELETE:
        del obj[path[-1]]
    else:
        obj[path[-1]] = value


_DELETE = object()
_LIES = {
    "dtype": ["I64", "F16", "BOOL", "X9"],
    "shape": [[], [0], [10**9], [4, 4]],
    "data_offsets": [[0, 0], [0, 10**12], [5, 1]],
}


def _mutate_config(rng: random.Random, base: dict) -> str:
    cfg = json.loads(json.dumps(base))
    kind = rng.random()
    if kind < 0.1:  # byte-level damage
        text = json.dumps(cfg)
        i = rng.randrange(len(text))
        return text[:i] + rng.choice(["", "NaN", "Infinity", "\x00", "{", "]", "1e999", '"']) + text[i + 1 :]
    paths = [p for p, _ in _paths(cfg) if p]
    path = rng.choice(paths)
    if kind < 0.2 and not isinstance(path[-1], int):
        _set(cfg, path, _DELETE)
    elif kind < 0.3 and isinstance(_get(cfg, path[:-1]), dict):
        _set(cfg, (*path[:-1], rng.choice(["pretrained_cfg", "checkpoint_path", "cache_dir", "extra", "hidden"])), 1)
    else:
        _set(cfg, path, rng.choice(HOSTILE))
    return json.dumps(cfg)


def _get(obj, path):
    for key in path:
        obj = obj[key]
    return obj


def _mutate_weights(rng: random.Random, data: bytes) -> bytes:
    kind = rng.randrange(5)
    n = int.from_bytes(data[:8], "little")
    if kind == 0:  # truncated
        return data[: rng.randrange(len(data))]
    if kind == 1:  # bit flips anywhere
        out = bytearray(data)
        for _ in range(rng.randint(1, 8)):
            i = rng.randrange(len(out))
            out[i] ^= 1 << rng.randrange(8)
        return bytes(out)
    if kind == 2:  # a header that lies about one tensor's dtype, shape or offsets
        header = json.loads(data[8 : 8 + n])
        key = rng.choice([k for k in header if k != "__metadata__"])
        field = rng.choice(["dtype", "shape", "data_offsets"])
        header[key][field] = rng.choice(_LIES[field])
        raw = json.dumps(header).encode()
        return len(raw).to_bytes(8, "little") + raw + data[8 + n :]
    if kind == 3:  # header length field damaged
        return rng.choice([0, 1, n - 1, n + 1, 2**63]).to_bytes(8, "little") + data[8:]
    out = bytearray(data)  # NaN bytes in the data region (float32 quiet NaN)
    i = 8 + n + 4 * rng.randrange((len(data) - 8 - n) // 4)
    out[i : i + 4] = b"\x00\x00\xc0\x7f"
    return bytes(out)


@pytest.mark.slow
def test_mutated_folders_load_correctly_or_fail_in_one_line(tmp_path: Path):
    torch.manual_seed(0)
    models = [
        create_model("cnn-tiny", "mlp", backbone_args={"widths": [8, 16], "img_size": 32}),
        create_model(None, "per-emotion", embed_dim=16, head_args={"hidden_dims": [8]}),
    ]
    bases = [Path(save_pretrained(m, tmp_path / f"base{i}")) for i, m in enumerate(models)]
    rng = random.Random(13)
    folders = []
    for i in range(N_CONFIG + N_WEIGHTS):
        base = bases[i % 2]
        out = tmp_path / f"mut{i}"
        out.mkdir()
        config, weights = (base / "config.json").read_text(), (base / "model.safetensors").read_bytes()
        if i < N_CONFIG:
            config = _mutate_config(rng, json.loads(config))
        else:
            weights = _mutate_weights(rng, weights)
        (out / "config.json").write_text(config)
        (out / "model.safetensors").write_bytes(weights)
        folders.append(out)
    result = run_capped(CHILD, 1024, *map(str, bases + folders))
    counts = result["counts"]
    print(f"\nfuzz: {len(folders)} mutated model folders ({N_CONFIG} config.json, {N_WEIGHTS} weights): {counts}")
    assert counts["other"] == counts["multi_line"] == counts["wrong_model"] == 0, result["examples"]
    assert counts["loaded"] >= len(bases)  # the unmutated folders load: the loader is not just refusing everything
    assert counts["emozoo_error"] > len(folders) // 2  # most mutants are broken, and the checks see it
