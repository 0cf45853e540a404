"""Devices on the CPU: ``auto`` resolution, one-line errors for bad devices, which autocast opens for which
device and precision, and that a batch reaches the model on the model's device."""

from __future__ import annotations

import json
import warnings

import pytest
import torch
from torch import nn

import emozoo
from emozoo.backbones import DataConfig
from emozoo.cli import main
from emozoo.devices import autocast, pin_memory, resolve_device
from emozoo.errors import ConfigError
from emozoo.scoring import score_batches


@pytest.mark.parametrize(
    ("cuda", "mps", "want"), [(True, True, "cuda"), (False, True, "mps"), (False, False, "cpu"), (True, False, "cuda")]
)
def test_auto_picks_cuda_then_mps_then_cpu(monkeypatch, cuda, mps, want):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: cuda)
    monkeypatch.setattr(torch.backends.mps, "is_available", lambda: mps)
    assert resolve_device("auto") == resolve_device(None) == resolve_device(" AUTO ") == torch.device(want)


def test_explicit_devices(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 2)
    monkeypatch.setattr(torch.backends.mps, "is_available", lambda: True)
    assert resolve_device("cpu") == torch.device("cpu")
    assert resolve_device("cuda") == torch.device("cuda")
    assert resolve_device("cuda:1") == torch.device("cuda", 1)
    assert resolve_device(torch.device("cuda", 0)) == torch.device("cuda", 0)
    assert resolve_device("mps") == torch.device("mps")


@pytest.mark.parametrize(
    ("spec", "cuda", "message"),
    [
        ("gpu", True, "unknown device 'gpu'; use auto, cpu, cuda, cuda:N or mps"),
        ("cuda:x", True, "unknown device 'cuda:x'"),
        ("cpu:1", True, "unknown device 'cpu:1'"),
        ("", True, "unknown device ''"),
        ("cuda", False, "device 'cuda': CUDA is not available here"),
        ("cuda:2", True, "device 'cuda:2' does not exist: 2 CUDA device(s) here (cuda:0..cuda:1)"),
        ("mps", False, "device 'mps': Apple MPS is not available here"),
    ],
)
def test_bad_devices_are_one_line_errors(monkeypatch, spec, cuda, message):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: cuda)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 2 if cuda else 0)
    monkeypatch.setattr(torch.backends.mps, "is_available", lambda: False)
    with pytest.raises(ConfigError) as err:
        resolve_device(spec)
    assert message in str(err.value) and "\n" not in str(err.value)


def _tiny_model_dir(tmp_path):
    torch.manual_seed(0)
    model = emozoo.create_model("cnn-tiny", "mlp", backbone_args={"widths": (8, 16), "img_size": 32})
    return model.save_pretrained(tmp_path / "tiny")


@pytest.mark.parametrize("command", ["predict", "eval", "embed"])
def test_commands_refuse_a_bad_device_in_one_line(tmp_path, capsys, command):
    model_dir = _tiny_model_dir(tmp_path)
    (tmp_path / "x.png").write_bytes(b"not read: the device is checked first")
    argv = {
        "predict": ["predict", str(tmp_path / "x.png"), "--model", str(model_dir)],
        "eval": ["eval", "--model", str(model_dir), "--data", str(tmp_path)],
        "embed": ["embed", "--backbone", "cnn-tiny", "--data", str(tmp_path)],
    }[command]
    assert main([*argv, "--device", "tpu"]) == 2
    err = capsys.readouterr().err.strip()
    assert err == f"emozoo {command}: error: unknown device 'tpu'; use auto, cpu, cuda, cuda:N or mps"


def test_load_model_moves_to_the_device_and_checks_it_first(tmp_path, monkeypatch):
    model_dir = _tiny_model_dir(tmp_path)
    model = emozoo.load_model(model_dir, device="cpu")
    assert {p.device.type for p in model.parameters()} == {"cpu"}
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    with pytest.raises(ConfigError, match="CUDA is not available"):
        emozoo.load_model(tmp_path / "absent", device="cuda")  # the device fails before the missing folder


def test_which_autocast_opens():
    assert not isinstance(autocast("32", "cpu"), torch.autocast)
    assert not isinstance(autocast("32", "cuda"), torch.autocast)
    with autocast("bf16", torch.device("cpu")):
        assert torch.is_autocast_enabled("cpu") and torch.get_autocast_dtype("cpu") == torch.bfloat16
        assert not torch.is_autocast_enabled("cuda")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # without a GPU torch warns that a CUDA autocast would be disabled
        for device in ("cuda", "cuda:1", "mps"):
            ctx = autocast("bf16", device)
            assert isinstance(ctx, torch.autocast)
            assert ctx.device == torch.device(device).type and ctx.fast_dtype == torch.bfloat16
    with pytest.raises(ValueError, match="precision must be one of"):
        autocast("fp16", "cpu")


class Probe(nn.Module):
    """Records, for each forward, the device and dtype of its input and which autocasts are open."""

    def __init__(self, device: str):
        super().__init__()
        self.anchor = nn.Parameter(torch.zeros(1, device=device))
        self.data_config = DataConfig(input_size=(3, 4, 4))
        self.seen: list[tuple] = []

    def forward(self, images: torch.Tensor) -> dict[str, torch.Tensor]:
        on = (torch.is_autocast_enabled("cpu"), torch.is_autocast_enabled("cuda"))
        self.seen.append((images.device, images.dtype, *on))
        n = images.shape[0]
        return {"intensity": torch.zeros(n, 40), "distribution": torch.full((n, 40), 1 / 40)}


def _batches():
    return [{"image": torch.randint(0, 256, (2, 3, 4, 4), dtype=torch.uint8), "num_samples": 2}]


def test_batches_reach_the_model_on_its_device():
    """A model on another device (``meta`` stands in for an accelerator here) gets its inputs there, normalised."""
    model = Probe("meta")
    [(batch, outputs)] = list(score_batches(model, _batches()))
    assert model.seen == [(torch.device("meta"), torch.float32, False, False)]
    assert outputs["intensity"].device.type == "cpu" and batch["num_samples"] == 2


def test_bf16_autocast_follows_the_model_not_the_machine(monkeypatch):
    """With CUDA present, a CPU model under bf16 gets the CPU autocast (a CUDA one would change nothing)."""
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    model = Probe("cpu")
    list(score_batches(model, _batches(), precision="bf16"))
    assert model.seen == [(torch.device("cpu"), torch.float32, True, False)]


def test_batches_are_pinned_only_for_cuda():
    assert pin_memory(torch.device("cuda")) and pin_memory(torch.device("cuda", 1))
    assert not pin_memory(torch.device("cpu")) and not pin_memory(torch.device("mps"))


def test_eval_on_an_accelerator_normalises_on_the_device_with_the_same_numbers(tmp_path, monkeypatch):
    """On an accelerator the eval loader sends uint8 images and ``score_batches`` normalises them where the model
    is; simulated here by making ``evaluate`` believe the model is elsewhere. The report is bitwise the same."""
    from emozoo.data import pipeline
    from emozoo.inference import evaluating
    from tests.conftest import make_shard_set

    make_shard_set(tmp_path / "hq", "test", 12, 6, "ratings", seed=2)
    torch.manual_seed(0)
    model = emozoo.create_model("cnn-tiny", "mlp", backbone_args={"widths": (8, 16), "img_size": 32})
    kw = {"n_bootstrap": 5, "workers": 0, "device": "cpu"}
    on_cpu = emozoo.evaluate(model, tmp_path / "hq", **kw)
    seen = []
    original = pipeline.eval_pipeline  # evaluate imports it on call: patched in its module

    def spy(*args, **kwargs):
        seen.append(kwargs.get("normalize"))
        return original(*args, **kwargs)

    monkeypatch.setattr(pipeline, "eval_pipeline", spy)
    monkeypatch.setattr(evaluating, "module_device", lambda m: torch.device("cuda"))
    monkeypatch.setattr(evaluating, "pin_memory", lambda d: False)  # no CUDA to pin for here
    elsewhere = emozoo.evaluate(model, tmp_path / "hq", **kw)
    assert seen == [False]  # uint8 images left the loader
    assert json.dumps(elsewhere, sort_keys=True, default=str) == json.dumps(on_cpu, sort_keys=True, default=str)


def test_training_precision_auto_follows_the_documented_rule(monkeypatch):
    from emozoo.devices import training_precision

    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert training_precision("auto") == "32-true"  # CPU: bf16 autocast is emulated or slower there
    assert training_precision("bf16-mixed") == "bf16-mixed"  # an explicit choice is kept
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda: True)
    assert training_precision("auto") == "bf16-mixed"
    assert training_precision("auto", accelerator="cpu") == "32-true"
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda: False)
    assert training_precision("auto") == "16-mixed"


def test_the_demo_config_lets_the_rule_choose():
    from emozoo.config import load_config

    assert load_config().trainer.precision == "auto"
