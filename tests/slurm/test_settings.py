"""The rule for training settings that the cluster also sets: taken as the cluster setting, or refused in one line.

The bug it fixes: ``trainer.num_nodes=4`` used to render ``--nodes=1`` and append ``trainer.num_nodes=1``.
"""

from __future__ import annotations

import shlex
from pathlib import Path

import pytest

from emozoo.cli import main
from emozoo.errors import ConfigError
from emozoo.slurm import resolve_launch
from tests.slurm.fakes import sbatch_options

REPO = Path(__file__).resolve().parents[2]
PRETRAIN = "configs/experiment/pretrain_big.yaml"


def _srun_args(script: str) -> list[str]:
    (line,) = [ln for ln in script.splitlines() if ln.startswith("srun ")]
    return shlex.split(line)


def _last(args: list[str], key: str) -> str:
    return [a.split("=", 1)[1] for a in args if a.startswith(f"{key}=")][-1]


def test_issue_example_asks_for_four_nodes(monkeypatch, capsys):
    monkeypatch.chdir(REPO)
    argv = ["slurm", "--cluster", "juwels-booster", "--dry-run", PRETRAIN, "trainer.num_nodes=4"]
    assert main(argv) == 0
    out = capsys.readouterr().out
    script = out[out.index("#!/bin/bash") :]
    assert sbatch_options(script)["nodes"] == "4"
    args = _srun_args(script)
    assert _last(args, "trainer.num_nodes") == "4"  # what train.py ends up with: the last override wins
    assert [a for a in args if a.startswith("trainer.num_nodes=")] == ["trainer.num_nodes=4"]
    assert "trainer.num_nodes=4 (from the command line) taken as --nodes 4" in out


@pytest.mark.parametrize(
    ("override", "cluster_key", "value"),
    [
        ("trainer.num_nodes=3", "nodes", 3),
        ("trainer.devices=2", "gpus_per_node", 2),
        ("trainer.accelerator=cpu", "accelerator", "cpu"),
        ("trainer.accelerator=cuda", "accelerator", "gpu"),
        ("trainer.strategy=ddp_find_unused_parameters_true", "strategy", "ddp_find_unused_parameters_true"),
    ],
)
def test_training_setting_is_taken_as_cluster_setting(monkeypatch, override, cluster_key, value):
    monkeypatch.chdir(REPO)
    from emozoo.slurm import load_cluster

    before = getattr(load_cluster("default"), cluster_key)
    launch = resolve_launch("default", [], None, ["optim.lr=0.1", override])
    assert getattr(launch.cluster, cluster_key) == value
    assert launch.overrides == ["optim.lr=0.1"]  # the script appends the cluster's value instead
    # a change is said; "cuda" on a gpu cluster is the same request, so there is nothing to say
    assert [override in n for n in launch.notes] == ([True] if before != value else [])


@pytest.mark.parametrize(
    ("override", "flag", "message"),
    [
        (
            "trainer.num_nodes=4",
            "nodes=2",
            "trainer.num_nodes=4 (from the command line) conflicts with --nodes 2: "
            "use --nodes 4 alone, or trainer.num_nodes=2 to keep --nodes 2",
        ),
        ("trainer.devices=8", "gpus_per_node=4", "conflicts with --set gpus_per_node=4: use --set gpus_per_node=8"),
        ("trainer.accelerator=cpu", "accelerator=gpu", "conflicts with --set accelerator=gpu"),
        ("trainer.strategy=fsdp", "strategy=ddp", "conflicts with --set strategy=ddp: use --set strategy=fsdp"),
    ],
)
def test_conflict_with_a_flag_is_refused_in_one_line(monkeypatch, capsys, override, flag, message):
    monkeypatch.chdir(REPO)
    with pytest.raises(ConfigError) as err:
        resolve_launch("default", [flag], None, [override])
    assert message in str(err.value) and "\n" not in str(err.value)
    argv = ["slurm", "--dry-run", "--set", flag, override]
    assert main(argv) == 2
    captured = capsys.readouterr()
    assert message in captured.err and "#!/bin/bash" not in captured.out  # nothing rendered, nothing submitted


def test_same_value_twice_is_no_conflict(monkeypatch):
    monkeypatch.chdir(REPO)
    launch = resolve_launch("default", ["nodes=4"], None, ["trainer.num_nodes=4", "trainer.devices=auto"])
    assert (launch.cluster.nodes, launch.cluster.gpus_per_node, launch.notes) == (4, 8, [])


def test_experiment_file_setting_counts_too(tmp_path, monkeypatch):
    monkeypatch.chdir(REPO)
    exp = tmp_path / "exp.yaml"
    exp.write_text("name: wide\ntrainer:\n  num_nodes: 6\n")
    launch = resolve_launch("default", [], str(exp), [])
    assert launch.cluster.nodes == 6 and "from the experiment config" in launch.notes[0]
    with pytest.raises(
        ConfigError, match=r"trainer.num_nodes=6 \(from the experiment config\) conflicts with --nodes 2"
    ):
        resolve_launch("default", ["nodes=2"], str(exp), [])
    # the last command-line value wins over the file, as in load_config
    assert resolve_launch("default", ["nodes=2"], str(exp), ["trainer.num_nodes=2"]).cluster.nodes == 2


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ("trainer.strategy=ddp_spawn", "cannot run under srun"),
        ("trainer.devices=[0,1]", "--set gpus_per_node=N"),
        ("trainer.accelerator=tpu", "gpu or cpu"),
    ],
)
def test_settings_that_cannot_run_under_srun_are_refused(monkeypatch, override, message):
    monkeypatch.chdir(REPO)
    with pytest.raises(ConfigError, match=message):
        resolve_launch("default", [], None, [override])
