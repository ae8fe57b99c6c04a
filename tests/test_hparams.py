"""TensorBoard HParams: every run of a comparison is a session with its method, teacher and hyperparameters."""

from __future__ import annotations

from pathlib import Path

from tensorboard.backend.event_processing.event_file_loader import EventFileLoader
from tensorboard.plugins.hparams import plugin_data_pb2

from rltransfer.experiments import GridSpec, run_grid


def session_hparams(run_dir: Path) -> dict[str, object]:
    """The HParams session-start values written in a folder's TensorBoard event files."""
    found: dict[str, object] = {}
    for path in sorted(run_dir.rglob("events.out.tfevents.*")):
        for event in EventFileLoader(str(path)).Load():
            for value in event.summary.value:
                if value.metadata.plugin_data.plugin_name != "hparams":
                    continue
                data = plugin_data_pb2.HParamsPluginData.FromString(value.metadata.plugin_data.content)
                if data.HasField("session_start_info"):
                    for name, item in data.session_start_info.hparams.items():
                        found[name] = item.WhichOneof("kind") and getattr(item, item.WhichOneof("kind"))
    return found


def test_each_run_of_a_comparison_is_an_hparams_session(tiny_zoo: Path, tmp_path: Path) -> None:
    spec = GridSpec(
        env_ids=("CartPole-v1",),
        methods=("scratch", "kickstart"),
        seeds=(0,),
        total_timesteps=512,
        teacher="tiny-ppo",
        zoo=str(tiny_zoo),
        n_envs=2,
        policy_kwargs={"net_arch": [16]},
        hyperparams={"n_steps": 64, "batch_size": 64, "n_epochs": 2},
        transfer={"weight": 0.5},
    )
    run_grid(spec, tmp_path / "out", workers=1, progress=False)
    tb = tmp_path / "out" / "tb" / "CartPole-v1"
    scratch, kickstart = session_hparams(tb / "scratch" / "seed0"), session_hparams(tb / "kickstart" / "seed0")
    assert scratch["method"] == "scratch" and scratch["teacher"] == "none" and scratch["mode"] == "none"
    assert kickstart["method"] == "kickstart" and kickstart["teacher"] == "tiny-ppo"
    assert kickstart["mode"] == "representation" and kickstart["transfer/weight"] == 0.5
    assert kickstart["hp/n_steps"] == 64 and kickstart["algo"] == "ppo" and kickstart["net_arch"] == "[16]"
