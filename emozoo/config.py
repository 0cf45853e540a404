"""Typed experiment configs, loaded in layers: dataclass defaults, ``configs/default.yaml``, an experiment file,
then ``key=value`` overrides. Every layer is validated against the dataclasses before any work starts; an unknown
key fails with the closest valid key, a wrong type with the key and the expected type.

An experiment file may start with ``defaults: [backbone/clip-vit-b16, data/emonet]``: each entry merges
``configs/<group>/<name>.yaml`` under ``<group>`` before the file's own keys. On the command line,
``backbone=clip-vit-l14`` is shorthand for the group file if one exists, else for ``backbone.name=clip-vit-l14``.

The configs directory is ``$EMOZOO_CONFIG_DIR``, else ``./configs`` (a checkout), else the ``configs/`` shipped
inside the package, so an installed wheel runs ``emozoo train smoke`` from any folder. Its ``default.yaml`` must
exist: without it a run would silently differ from the demo.

Experiment files and overrides come from other people, so they are data: a resolver (``${oc.env:TOKEN}`` and any
other ``${name:...}``) is refused before anything is resolved, since it could copy the environment or a file into
the run's name and from there into a published model card. Plain references to other keys (``${optim.lr}``) stay.
A number that is NaN or infinite is refused, naming the file (or the command line) and the key.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from difflib import get_close_matches
from pathlib import Path
from typing import Any

from omegaconf import DictConfig, ListConfig, OmegaConf
from omegaconf.errors import OmegaConfBaseException

from emozoo.config_checks import (
    check_finite,
    check_key_path,
    check_keys,
    check_no_resolvers,
    has_resolver,
    wrap_omegaconf_error,
)
from emozoo.errors import ConfigError
from emozoo.resources import packaged_path

__all__ = ["ExperimentConfig", "config_dir", "load_config", "to_yaml"]


@dataclass
class BackboneConfig:
    name: str = "vit-tiny"  # registry name: `emozoo zoo backbones`
    pretrained: str | None = None  # None: random init; "true", a file, local-dir:DIR or hf-hub:org/name
    impl: str | None = None  # timm | open_clip | hf, where the entry has several
    img_size: int | None = None  # run at another resolution than the native one
    crop_pct: float | None = None  # override the centre-crop fraction of the preprocessing (e.g. 0.62: face crop)
    model_args: dict[str, Any] = field(default_factory=dict)  # extra library constructor kwargs
    freeze: str = "none"  # all | none | last_n_blocks=N
    grad_checkpointing: bool = False
    compile: bool = False  # torch.compile the backbone


@dataclass
class HeadConfig:
    name: str = "mlp"  # registry name: mlp | linear | per-emotion
    hidden_dim: int = 256
    hidden_dims: list[int] | None = None  # per-emotion head layer widths, e.g. [128, 32] (Empathic-Insight Small)
    dropout: float = 0.1


@dataclass
class SynthFaceConfig:
    num_big: int = 24000
    num_binary: int = 3000
    num_hq_val: int = 300
    num_hq_test: int = 1000
    image_size: int = 128
    seed: int = 0
    shard_size: int = 1000


@dataclass
class ShardDataConfig:
    """The ``data:`` section: which shard set (or embedding cache) a run reads, and how it is loaded.

    Named apart from ``emozoo.backbones.DataConfig``, a backbone's preprocessing record (timm's name for it).
    """

    root: str = "shards/synthface"  # holds <subset>/{train,val,test}-%06d.tar + manifest.json
    synthface: SynthFaceConfig | None = field(default_factory=SynthFaceConfig)  # generate if missing; null: never
    batch_size: int = 64  # per device
    eval_batch_size: int = 128
    num_workers: int = 2
    shuffle_buffer: int = 1000
    augment: bool = True
    max_bad_fraction: float = 0.01  # stop when more than this fraction of samples is undecodable or invalid
    embeddings: str | None = None  # root of cached embeddings (emozoo embed), read instead of root; None: images
    # decoded, cropped training images kept in shared memory across epochs, up to this many MiB per device (at most
    # half the free /dev/shm); 0: decode every epoch. 24k faces at 48 px take 158 MiB.
    cache_mb: int = 1024


@dataclass
class StageConfig:
    name: str = "train"
    data: str = "big"  # subset under data.root, or a path
    split: str = "train"
    targets: list[str] = field(default_factory=lambda: ["weak"])  # label fields that drive the loss
    epochs: float = 1.0  # passes over the split's samples (resampled shards; may be fractional)
    lr: float | None = None  # None: optim.lr
    freeze: str | None = None  # None: backbone.freeze; e.g. "all" trains the head only in this stage
    val_data: str | None = "hq"  # None: no validation
    val_split: str = "val"


@dataclass
class EvalConfig:
    data: str | None = "hq"  # None: no test pass; the model is still exported (a chained stage's hand-over)
    split: str = "test"
    n_bootstrap: int = 1000


@dataclass
class LossConfig:
    intensity: float = 1.0
    binary: float = 1.0
    distribution: float = 0.5


@dataclass
class OptimConfig:
    lr: float = 1e-3
    weight_decay: float = 0.05
    layer_decay: float | None = None  # layer-wise LR decay factor per block, e.g. 0.75
    backbone_lr_scale: float = 1.0
    warmup_frac: float = 0.05
    betas: list[float] = field(default_factory=lambda: [0.9, 0.999])
    ema_decay: float | None = None  # exponential moving average of the weights (e.g. 0.998); None: off


@dataclass
class TrainerConfig:
    accelerator: str = "auto"
    devices: Any = "auto"
    num_nodes: int = 1
    strategy: str = "auto"
    precision: str = "auto"  # bf16-mixed on a bf16 GPU, 32-true on the CPU (emozoo.devices.training_precision)
    gradient_clip_val: float | None = 1.0
    log_every_n_steps: int = 10
    fast_dev_run: bool = False
    deterministic: bool = False
    enable_progress_bar: bool = True
    limit_val_batches: float = 1.0
    checkpoint_every_n_steps: int = 0  # 0: a checkpoint at each epoch end only


@dataclass
class ExperimentConfig:
    name: str = "synthface-demo"
    seed: int = 0
    run_dir: str = "runs"
    checkpoint_dir: str = "checkpoints"
    version: str | None = None  # run version under run_dir/name and checkpoint_dir/name; None: next free
    resume: str | None = None  # auto (newest complete checkpoint of the newest version) | path to a .ckpt | None
    init_from: str | None = None  # start from these weights: an exported model dir or a Lightning .ckpt
    backbone: BackboneConfig = field(default_factory=BackboneConfig)
    head: HeadConfig = field(default_factory=HeadConfig)
    data: ShardDataConfig = field(default_factory=ShardDataConfig)
    loss: LossConfig = field(default_factory=LossConfig)
    optim: OptimConfig = field(default_factory=OptimConfig)
    trainer: TrainerConfig = field(default_factory=TrainerConfig)
    stages: list[StageConfig] = field(default_factory=lambda: [StageConfig()])
    eval: EvalConfig = field(default_factory=EvalConfig)


def config_dir() -> Path:
    """``$EMOZOO_CONFIG_DIR``, else ``./configs`` (a checkout), else the ``configs/`` shipped in the package."""
    env = os.environ.get("EMOZOO_CONFIG_DIR")
    if env:
        return Path(env)
    if (Path.cwd() / "configs" / "default.yaml").is_file():
        return Path.cwd() / "configs"
    return packaged_path("configs")


def _load_yaml(path: Path) -> DictConfig:
    if not path.is_file():
        raise ConfigError(f"config file not found: {path}")
    try:
        cfg = OmegaConf.load(path)
    except Exception as err:  # yaml.YAMLError, RecursionError on absurd nesting, a decoding error
        raise ConfigError(f"{path}: not valid YAML: {err}".splitlines()[0]) from None
    if not isinstance(cfg, DictConfig):
        raise ConfigError(f"{path}: expected a mapping of config keys at the top level")
    check_no_resolvers(cfg, str(path))  # before anything reads a value, which would resolve it
    return cfg


def _resolve_experiment(exp: str) -> Path:
    path = Path(exp)
    if path.suffix in (".yaml", ".yml") or path.exists():
        return path
    path = config_dir() / "experiment" / f"{exp}.yaml"
    if not path.is_file():
        names = sorted(p.stem for p in path.parent.glob("*.yaml"))
        close = get_close_matches(exp, names, n=1)
        hint = f"did you mean {close[0]!r}? " if close else ""
        raise ConfigError(f"no experiment {exp!r} in {path.parent}; {hint}known: {', '.join(names) or 'none'}")
    return path


def _merge(base: DictConfig, layer: DictConfig, source: str) -> DictConfig:
    check_keys(layer, ExperimentConfig, source)
    try:
        merged = OmegaConf.merge(base, layer)
    except OmegaConfBaseException as err:
        raise wrap_omegaconf_error(err, source) from None
    check_finite(merged, source)  # the earlier layers passed, so a NaN found now came from this one
    return merged


def _with_defaults(cfg: DictConfig, source: str) -> DictConfig:
    """Expand a file's ``defaults:`` list into group layers placed before its own keys."""
    defaults = cfg.pop("defaults", None)
    if defaults is None:
        return cfg
    if not isinstance(defaults, ListConfig):
        raise ConfigError(f"{source}: 'defaults' must be a list like [backbone/vit-b16]")
    merged = OmegaConf.create({})
    for item in defaults:
        group, _, name = str(item).partition("/")
        layer = _load_yaml(config_dir() / group / f"{name}.yaml")
        merged = OmegaConf.merge(merged, {group: layer})
    return OmegaConf.merge(merged, cfg)


def _apply_overrides(cfg: DictConfig, overrides: list[str]) -> DictConfig:
    for item in overrides:
        if "=" not in item:
            raise ConfigError(f"override {item!r} is not key=value (e.g. trainer.precision=32-true)")
        key, value = item.split("=", 1)
        if "." not in key and key in ExperimentConfig.__dataclass_fields__:
            group_file = config_dir() / key / f"{value}.yaml"
            if group_file.is_file():
                cfg = _merge(cfg, OmegaConf.create({key: _load_yaml(group_file)}), f"command line ({group_file})")
                continue
            if key in ("backbone", "head"):  # backbone=clip-vit-l14 names a registry entry
                key = f"{key}.name"
        check_key_path(key, ExperimentConfig, "command line")
        if has_resolver(value):
            raise ConfigError(f"command line: {key}={value}: resolvers (${{name:...}}) are disabled; give the value")
        try:
            parsed = OmegaConf.from_dotlist([f"value={value}"])["value"]
            OmegaConf.update(cfg, key, parsed, merge=True)
        except OmegaConfBaseException as err:
            raise wrap_omegaconf_error(err, f"command line ({item})") from None
        check_finite(cfg, "command line")
    return cfg


def load_config(experiment: str | None = None, overrides: list[str] | None = None) -> ExperimentConfig:
    """Build and validate an ``ExperimentConfig``.

    Args:
        experiment: an experiment YAML path, or a name under ``configs/experiment/``; None for the default.
        overrides: ``key=value`` strings applied last.

    Raises:
        ConfigError: an unknown key (with the closest valid one), a wrong type, a resolver, a NaN or infinite
            number, a value out of range, or a missing file (``default.yaml`` included).
    """
    cfg = OmegaConf.structured(ExperimentConfig)
    default = config_dir() / "default.yaml"
    if not default.is_file():
        raise ConfigError(
            f"{default}: the default config is missing; reinstall emozoo, or set EMOZOO_CONFIG_DIR to a folder "
            "with a default.yaml"
        )
    sources = [str(default)]
    cfg = _merge(cfg, _with_defaults(_load_yaml(default), str(default)), str(default))
    if experiment:
        path = _resolve_experiment(experiment)
        cfg = _merge(cfg, _with_defaults(_load_yaml(path), str(path)), str(path))
        sources.append(str(path))
    if overrides:
        cfg = _apply_overrides(cfg, list(overrides))
        sources.append("command line")
    try:
        obj: ExperimentConfig = OmegaConf.to_object(cfg)
    except OmegaConfBaseException as err:  # e.g. an interpolation to a key that does not exist
        raise wrap_omegaconf_error(err, " + ".join(sources)) from None
    try:
        _check_values(obj)
    except ConfigError as err:
        raise ConfigError(f"{' + '.join(sources)}: {err}") from None
    return obj


def _check_values(cfg: ExperimentConfig) -> None:
    if not cfg.stages and not cfg.init_from and not cfg.backbone.pretrained:
        raise ConfigError(
            "stages is empty and there are no weights to evaluate: give a training stage, "
            "init_from=MODEL_DIR or backbone.pretrained=..."
        )
    known = {"weak", "binary", "ratings"}
    for i, stage in enumerate(cfg.stages):
        bad = [t for t in stage.targets if t not in known]
        if bad:
            raise ConfigError(f"stages[{i}].targets: unknown target {bad[0]!r}; valid: {sorted(known)}")
        if stage.epochs <= 0:
            raise ConfigError(f"stages[{i}].epochs must be > 0, got {stage.epochs}")
        if stage.lr is not None and stage.lr <= 0:
            raise ConfigError(f"stages[{i}].lr must be > 0 or null (optim.lr), got {stage.lr}")
    if cfg.optim.lr <= 0:
        raise ConfigError(f"optim.lr must be > 0, got {cfg.optim.lr}")
    if cfg.optim.weight_decay < 0 or not 0.0 <= cfg.optim.warmup_frac <= 1.0:
        raise ConfigError(
            f"optim.weight_decay must be >= 0 and optim.warmup_frac in [0, 1], got "
            f"{cfg.optim.weight_decay} and {cfg.optim.warmup_frac}"
        )
    if cfg.optim.ema_decay is not None and not 0.0 < cfg.optim.ema_decay < 1.0:
        raise ConfigError(f"optim.ema_decay must be in (0, 1) or null, got {cfg.optim.ema_decay}")
    if cfg.backbone.crop_pct is not None and not 0.1 <= cfg.backbone.crop_pct <= 1.0:
        raise ConfigError(f"backbone.crop_pct must be in [0.1, 1.0], got {cfg.backbone.crop_pct}")
    if cfg.data.batch_size < 1 or cfg.data.eval_batch_size < 1:
        raise ConfigError(
            f"data.batch_size and data.eval_batch_size must be >= 1, got {cfg.data.batch_size} and "
            f"{cfg.data.eval_batch_size}"
        )
    if cfg.head.hidden_dim < 1 or not 0.0 <= cfg.head.dropout < 1.0:
        raise ConfigError(
            f"head.hidden_dim must be >= 1 and head.dropout in [0, 1), got {cfg.head.hidden_dim} and {cfg.head.dropout}"
        )
    if not 0.0 <= cfg.data.max_bad_fraction <= 1.0:
        raise ConfigError(f"data.max_bad_fraction must be in [0, 1], got {cfg.data.max_bad_fraction}")
    if cfg.data.cache_mb < 0:
        raise ConfigError(f"data.cache_mb must be >= 0 (0 turns the decode cache off), got {cfg.data.cache_mb}")


def to_yaml(cfg: ExperimentConfig) -> str:
    return OmegaConf.to_yaml(OmegaConf.structured(cfg))
