"""Streaming under a real 2-process DDP run (CPU, gloo), and the bad-sample limit stopping a run."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

import lightning as L
import numpy as np
import pytest

from emozoo.data.datamodule import EmotionDataModule
from emozoo.errors import DataError
from emozoo.model import create_model
from emozoo.module import EmotionModule
from tests.conftest import REPO, _png, make_shard_set, write_tar

SCRIPT = textwrap.dedent(
    """
    import json, sys
    import lightning as L, torch
    import torch.distributed as dist
    from emozoo.data.datamodule import EmotionDataModule
    from emozoo.model import create_model
    from emozoo.module import EmotionModule

    root, out = sys.argv[1], sys.argv[2]
    torch.set_num_threads(1)

    class Keys(L.Callback):
        def __init__(self):
            self.keys, self.epochs = [], []

        def on_validation_batch_end(self, trainer, module, outputs, batch, batch_idx, dataloader_idx=0):
            self.keys += list(batch["key"]) if batch["num_samples"] else []

        def on_validation_epoch_end(self, trainer, module):
            gathered = [None] * trainer.world_size
            dist.all_gather_object(gathered, {"rank": trainer.global_rank, "keys": self.keys})
            self.epochs.append(gathered)
            self.keys = []

        def on_train_end(self, trainer, module):
            steps = [None] * trainer.world_size
            dist.all_gather_object(steps, trainer.global_step)
            if trainer.is_global_zero:
                json.dump({"epochs": self.epochs, "steps": steps}, open(out, "w"))

    L.seed_everything(0)
    dm = EmotionDataModule(root, None, train=("big", "train"), val=("hq", "val"), targets=["weak"],
                           batch_size=4, eval_batch_size=3, num_workers=2, shuffle_buffer=4)
    model = create_model("cnn-tiny", "mlp", backbone_args={"img_size": 16})
    dm.image_config = model.data_config
    trainer = L.Trainer(accelerator="cpu", devices=2, strategy="ddp", max_epochs=2, logger=False,
                        enable_checkpointing=False, enable_progress_bar=False, enable_model_summary=False,
                        num_sanity_val_steps=0, callbacks=[Keys()])
    trainer.fit(EmotionModule(model, lr=1e-3), datamodule=dm)
    """
)


@pytest.mark.slow
def test_two_process_ddp_finishes_and_evaluates_each_key_once(tmp_path):
    make_shard_set(tmp_path / "data" / "big", "train", 30, 10, "weak", seed=1)  # 3 shards
    keys = make_shard_set(tmp_path / "data" / "hq", "val", 17, 6, "ratings", seed=2)  # 3 shards, uneven: 6, 6, 5
    (tmp_path / "run.py").write_text(SCRIPT)
    out = tmp_path / "out.json"
    env = {**os.environ, "PYTHONPATH": str(REPO), "OMP_NUM_THREADS": "1"}
    proc = subprocess.run(
        [sys.executable, str(tmp_path / "run.py"), str(tmp_path / "data"), str(out)],
        cwd=tmp_path,
        env=env,
        timeout=240,
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    result = json.loads(out.read_text())
    assert len(result["epochs"]) == 2 and result["steps"][0] == result["steps"][1] > 0
    for gathered in result["epochs"]:
        per_rank = {g["rank"]: g["keys"] for g in gathered}
        seen = per_rank[0] + per_rank[1]
        assert sorted(seen) == sorted(keys) and len(seen) == len(set(seen))  # each key once across the ranks
        assert len(per_rank[0]) == 11 and len(per_rank[1]) == 6  # shards 0 and 2 on rank 0, shard 1 on rank 1


def test_mostly_bad_training_data_stops_the_run_naming_the_shards(tmp_path):
    make_shard_set(tmp_path / "big", "train", 6, 6, "weak")
    rng = np.random.default_rng(0)
    for i in (1, 2):
        write_tar(
            tmp_path / "big" / f"train-{i:06d}.tar",
            [{"__key__": f"bad{i}-{j}", "png": _png(rng), "json": b"{broken"} for j in range(10)],
        )
    manifest = json.loads((tmp_path / "big" / "manifest.json").read_text())
    manifest["splits"]["train"]["count"] = 26
    (tmp_path / "big" / "manifest.json").write_text(json.dumps(manifest))
    model = create_model("cnn-tiny", "mlp", backbone_args={"img_size": 16})
    dm = EmotionDataModule(
        str(tmp_path), model.data_config, train=("big", "train"), batch_size=4, num_workers=0, shuffle_buffer=4
    )
    trainer = L.Trainer(
        accelerator="cpu",
        max_epochs=1,
        limit_train_batches=2,
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
    )
    expected = r"training samples were bad .*data\.max_bad_fraction=0\.01.*train-00000[12]\.tar"
    with pytest.raises(DataError, match=expected):
        trainer.fit(EmotionModule(model, max_bad_fraction=0.01), datamodule=dm)


def test_batch_level_normalisation_gives_the_same_numbers(tiny_data):
    """Workers normalise whole batches (CPU) or hand uint8 to the device (GPU): both equal per-sample transforms."""
    from types import SimpleNamespace

    import torch
    import webdataset as wds

    from emozoo.backbones import DataConfig, create_transform
    from emozoo.data.pipeline import decode_image, eval_pipeline, make_loader, split_transform
    from emozoo.data.shardset import find_shards

    cfg = DataConfig(input_size=(3, 24, 24), mean=(0.48, 0.46, 0.41), std=(0.27, 0.26, 0.28))
    urls = find_shards(tiny_data, "hq", "test").urls
    samples = wds.DataPipeline(wds.SimpleShardList(urls), wds.tarfile_to_samples())
    reference = [create_transform(cfg)(decode_image(sample)) for sample in samples]  # per sample, as before
    batched = next(iter(make_loader(eval_pipeline(urls, create_transform(cfg), 24), 0)))["image"]
    assert torch.equal(batched, torch.stack(reference))
    # In a loader worker the batch is normalised in place in shared memory: still the same numbers.
    from_worker = next(iter(make_loader(eval_pipeline(urls, create_transform(cfg), 24), 1)))["image"]
    assert torch.equal(from_worker, batched)
    dm = EmotionDataModule(str(tiny_data), cfg, test=("hq", "test"), num_workers=0)
    assert not dm._normalize_on_device()
    dm.trainer = SimpleNamespace(strategy=SimpleNamespace(root_device=torch.device("cuda")))
    assert dm._normalize_on_device()
    raw = next(iter(make_loader(eval_pipeline(urls, split_transform(create_transform(cfg))[0], 24), 0)))
    assert raw["image"].dtype == torch.uint8
    raw_from_worker = next(iter(make_loader(eval_pipeline(urls, split_transform(create_transform(cfg))[0], 24), 1)))
    assert torch.equal(raw_from_worker["image"], raw["image"])
    assert torch.equal(dm.on_after_batch_transfer(raw, 0)["image"], batched)
