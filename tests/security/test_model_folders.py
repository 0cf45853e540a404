"""A model folder is data, not code (issue 13, items 2, 3, 5, 8 and 12): each case an adversarial review reproduced.

Every test builds a real model folder with ``save_pretrained``, edits its ``config.json`` or weights the way an
attacker (or a broken export) would, and loads it through the public ``emozoo.load_model``. Each asserts the
promise of docs/security.md: no file outside the folder is read, no hub is contacted, nothing of the size a record
asks for is allocated before the weights file proves it, and every fault is a one-line emozoo error naming the
file and the key. Memory bounds are enforced with ``setrlimit(RLIMIT_AS)`` in a child process (``capped.py``).
"""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file, save_file

import emozoo
from emozoo.errors import EmozooError, WeightsError
from emozoo.model import create_model
from emozoo.zoo import load_empathic_insight, save_pretrained

from .capped import load_capped

CNN = {"widths": [8, 16], "img_size": 32}


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    torch.manual_seed(0)
    return Path(save_pretrained(create_model("cnn-tiny", "mlp", backbone_args=CNN).eval(), tmp_path / "m"))


def _edit(folder: Path, edit) -> Path:
    cfg = json.loads((folder / "config.json").read_text())
    edit(cfg)
    (folder / "config.json").write_text(json.dumps(cfg))
    return folder


def _one_line_error(folder: Path, *needles: str, kind: type[Exception] = WeightsError) -> str:
    with pytest.raises(EmozooError) as info:
        emozoo.load_model(folder)
    msg = str(info.value)
    assert isinstance(info.value, kind), f"{type(info.value).__name__}: {msg}"
    assert "\n" not in msg and str(folder) in msg, msg
    for needle in needles:
        assert needle in msg, msg
    return msg


# -- item 2: constructor kwargs from config.json never read files or name a hub repo ----------------------------


@pytest.fixture
def no_network(monkeypatch):
    """Any attempt to fetch from the hub fails the test (offline, and the download functions record calls)."""
    import huggingface_hub

    calls = []
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")

    def record(*args, **kwargs):
        calls.append((args, kwargs))
        raise OSError("the test forbids network access")

    monkeypatch.setattr(huggingface_hub, "hf_hub_download", record)
    monkeypatch.setattr(huggingface_hub.file_download, "hf_hub_download", record)
    return calls


@pytest.mark.parametrize(
    ("impl", "key", "value"),
    [
        ("open_clip", "timm_model_name", "hf-hub:attacker-org/evil-model"),
        ("open_clip", "timm_model_pretrained", True),
        ("timm", "checkpoint_path", "/etc/passwd"),
        ("timm", "pretrained_cfg_overlay", {"file": "/etc/passwd"}),
        ("timm", "pretrained_cfg_overlay", {"hf_hub_id": "attacker-org/evil-model"}),
        ("timm", "pretrained_cfg", {"hf_hub_id": "attacker-org/evil-model"}),
        ("timm", "cache_dir", "/tmp"),
    ],
)
def test_backbone_args_that_load_files_or_name_repos_are_refused(tmp_path, no_network, impl, key, value):
    model = create_model("clip-vit-b16", impl=impl, backbone_args={"depth": 1, "img_size": 32})
    folder = Path(save_pretrained(model, tmp_path / "m"))
    args = {"depth": 1, "img_size": 32, key: value}
    if key == "timm_model_pretrained":
        args["timm_model_name"] = "hf-hub:attacker-org/evil-model"
    _edit(folder, lambda c: c["model"].__setitem__("backbone_args", args))
    _one_line_error(folder, "config.json", "backbone_args", key if key != "timm_model_pretrained" else "timm_model")
    assert no_network == []


def test_pretrained_in_a_folder_record_is_ignored(folder, no_network, tmp_path):
    """The folder's own weights are loaded, never a file or repo that the record names."""
    want = create_model("cnn-tiny", "mlp", backbone_args=CNN)
    want.load_state_dict(load_file(folder / "model.safetensors"))
    _edit(folder, lambda c: c["model"].update(pretrained="/etc/passwd"))
    got = emozoo.load_model(folder)
    for k, v in want.state_dict().items():
        assert torch.equal(got.state_dict()[k], v), k
    assert no_network == []


# -- item 3: nothing of the size a record asks for is allocated before the weights prove it ---------------------


HUGE = [  # (edit of a cnn-tiny + mlp record, the key the error must name)
    (lambda c: c["model"]["head_args"].update(hidden_dim=1_500_000), "hidden_dim"),
    (lambda c: c["model"]["head_args"].update(hidden_dim=400_000_000), "hidden_dim"),
    (lambda c: c["model"]["backbone_args"].update(widths=[8, 100_000_000]), "widths"),
    (lambda c: c["model"]["backbone_args"].update(img_size=100_000), "img_size"),
    (lambda c: c["model"].update(num_emotions=10**9), "num_emotions"),
]


def test_huge_records_are_refused_within_a_memory_cap(tmp_path):
    """Sizes out of bounds are refused by the schema; a record within every bound that describes a ~20 GB ViT
    beside a small weights file is refused from the safetensors header. All in a process that could not hold even
    one layer of what the records ask for."""
    torch.manual_seed(0)
    folders = []
    for i, (edit, _) in enumerate(HUGE):
        model = create_model("cnn-tiny", "mlp", backbone_args=CNN)
        folders.append(_edit(Path(save_pretrained(model, tmp_path / f"m{i}")), edit))
    small = create_model("vit-tiny", "mlp", backbone_args={"depth": 1, "img_size": 32})
    vit = Path(save_pretrained(small, tmp_path / "vit"))
    big = {"depth": 24, "embed_dim": 8192, "num_heads": 64, "img_size": 32}
    folders.append(_edit(vit, lambda c: c["model"].update(backbone_args=big)))
    results = load_capped(folders, extra_mb=512)
    for (_, needle), out in zip(HUGE, results):
        assert not out["loaded"] and out["type"] == "WeightsError" and needle in out["message"], out
    out = results[-1]
    assert not out["loaded"] and "shape mismatch" in out["message"] and "model.safetensors" in out["message"], out


@pytest.mark.parametrize("size", [[3, 100_000, 100_000], [3, 0, 32], [1, 32, 32], [3, 32]])
def test_preprocessing_input_size_is_bounded(folder, size):
    _edit(folder, lambda c: c["preprocessing"].update(input_size=size))
    _one_line_error(folder, "preprocessing.input_size")


# -- item 5 (weights): dtype and finite values --------------------------------------------------------------------


def _rewrite_weights(folder: Path, change) -> None:
    state = load_file(folder / "model.safetensors")
    change(state)
    save_file(state, folder / "model.safetensors")


@pytest.mark.parametrize("bad", [float("nan"), float("inf")])
def test_non_finite_weights_are_refused(folder, bad):
    _rewrite_weights(folder, lambda s: s["head.intensity.bias"].__setitem__(3, bad))
    _one_line_error(folder, "head.intensity.bias", "NaN or inf")


def test_integer_weights_for_a_float_parameter_are_refused(folder):
    _rewrite_weights(folder, lambda s: s.__setitem__("head.intensity.bias", torch.zeros(40, dtype=torch.int64)))
    _one_line_error(folder, "dtype", "head.intensity.bias")


def test_non_finite_empathic_heads_are_refused(tmp_path):
    from tests.zoo.conftest import write_release

    write_release(tmp_path / "rel", (128, 32), 16, extras=False)
    state = torch.load(tmp_path / "rel" / "model_anger_best.pth", weights_only=True)
    state["layers.0.bias"][0] = float("nan")
    torch.save(state, tmp_path / "rel" / "model_anger_best.pth")
    with pytest.raises(WeightsError, match=r"model_anger_best.*NaN or inf.*layers\.0\.bias") as info:
        load_empathic_insight(tmp_path / "rel", "small")
    assert "\n" not in str(info.value)


# -- item 8: one line, never a traceback ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("edit", "needles"),
    [
        (lambda c: c["model"]["head_args"].update(hiden_dim=8), ("model.head_args", "'hiden_dim'", "'hidden_dim'")),
        (lambda c: c["model"]["backbone_args"].update(img_szie=8), ("backbone_args", "'img_szie'", "'img_size'")),
        (lambda c: c["model"].update(bakbone="cnn-tiny"), ("'bakbone'", "'backbone'")),
        (lambda c: c.update(preprocesing={}), ("'preprocesing'", "'preprocessing'")),
        (lambda c: c["preprocessing"].update(crop_pct=0), ("preprocessing.crop_pct",)),
        (lambda c: c["preprocessing"].pop("input_size"), ("preprocessing", "input_size")),
        (lambda c: c["model"].update(backbone="cnn-tiyn"), ("model.backbone",)),
        (lambda c: c["model"]["head_args"].update(hidden_dim="256"), ("hidden_dim",)),
        (lambda c: c["model"]["head_args"].update(hidden_dim=True), ("hidden_dim",)),
        (lambda c: c["model"].update(head_args=[1, 2]), ("head_args",)),
        (lambda c: c.update(model="cnn-tiny"), ("model",)),
    ],
)
def test_bad_records_give_one_line_naming_file_and_key(folder, edit, needles):
    _one_line_error(_edit(folder, edit), "config.json", *needles)


@pytest.mark.parametrize(
    ("text", "needle"),
    [
        ('{"model": {"head_args": {"dropout": NaN}}}', "NaN"),
        ('{"model": {"head_args": {"dropout": Infinity}}}', "Infinity"),
        ('{"model": {"head_args": {"dropout": 1e999}}}', "out of range"),
        ("[" * 100_000 + "]" * 100_000, "nested"),
        ('{"model": ' + "[" * 50 + "]" * 50 + "}", "nested"),
        ("", "not valid JSON"),
        ("\xff\xfe garbage", "not valid JSON"),
        ("[]", "not an emozoo model record"),
    ],
)
def test_unparseable_records_give_one_line(folder, text, needle):
    (folder / "config.json").write_text(text, encoding="latin-1")
    _one_line_error(folder, "config.json", needle)


@pytest.mark.parametrize(
    "content",
    [b"", b"\x00" * 7, b"garbage that is not a safetensors file at all", (10**12).to_bytes(8, "little") + b"{}"],
    ids=["empty", "short", "garbage", "huge-header-length"],
)
def test_broken_safetensors_give_one_line(folder, content):
    (folder / "model.safetensors").write_bytes(content)
    _one_line_error(folder, "model.safetensors", "not a valid safetensors file")


def test_safetensors_header_lying_about_sizes_gives_one_line(folder):
    data = (folder / "model.safetensors").read_bytes()
    n = int.from_bytes(data[:8], "little")
    header = json.loads(data[8 : 8 + n])
    header["head.intensity.bias"]["shape"] = [4000]  # more elements than its bytes hold
    raw = json.dumps(header).encode()
    (folder / "model.safetensors").write_bytes(len(raw).to_bytes(8, "little") + raw + data[8 + n :])
    _one_line_error(folder, "model.safetensors", "head.intensity.bias")


@pytest.mark.parametrize(
    ("write", "needle"),
    [
        (lambda p: p.write_bytes(b""), "refused to load"),
        (lambda p: p.write_bytes(b"\x80\x02garbage"), "refused to load"),
        (lambda p: torch.save({"layers.0.weight": torch.zeros(128), "layers.0.bias": torch.zeros(128)}, p), "layers.0"),
        (lambda p: torch.save({"layers.x.weight": torch.zeros(1, 1)}, p), "layers.N.weight"),
    ],
    ids=["empty-pth", "garbage-pth", "1d-weight", "non-numeric-layer"],
)
def test_broken_empathic_heads_give_one_line(tmp_path, write, needle):
    from tests.zoo.conftest import write_release

    write_release(tmp_path / "rel", (128, 32), 16, extras=False)
    write(tmp_path / "rel" / "model_anger_best.pth")
    with pytest.raises(WeightsError) as info:
        load_empathic_insight(tmp_path / "rel", "small")
    assert needle in str(info.value) and "\n" not in str(info.value), str(info.value)


# -- item 12: the weights are as readable as the record ------------------------------------------------------------


@pytest.mark.parametrize("umask", [0o022, 0o002, 0o077])
def test_weights_get_the_config_file_mode(tmp_path, umask):
    old = os.umask(umask)
    try:
        folder = Path(save_pretrained(create_model("cnn-tiny", "linear", backbone_args=CNN), tmp_path / "m"))
    finally:
        os.umask(old)
    mode = lambda name: stat.S_IMODE((folder / name).stat().st_mode)  # noqa: E731
    assert mode("model.safetensors") == mode("config.json") == 0o666 & ~umask


def test_unreadable_folders_in_a_zoo_glob_do_not_stop_the_listing(tmp_path, monkeypatch):
    """Item 8's ``PermissionError`` from the zoo glob: a shared drive holds other people's unreadable folders.
    (Tests may run as root, which reads everything, so the refusal is simulated on ``Path.is_file``.)"""
    (tmp_path / "runs" / "mine").mkdir(parents=True)
    (tmp_path / "runs" / "theirs").mkdir()
    manifest = tmp_path / "zoo.yaml"
    manifest.write_text("checkpoints:\n  shared:\n    format: emozoo\n    source: runs/*\n")
    monkeypatch.setenv("EMOZOO_ZOO", str(manifest))
    is_file = Path.is_file

    def refuse(self):
        if "theirs" in str(self):
            raise PermissionError(13, "Permission denied", str(self))
        return is_file(self)

    monkeypatch.setattr(Path, "is_file", refuse)
    rows = {r["name"]: r for r in emozoo.zoo.list_checkpoints()}
    assert rows["shared"]["present"] is False
