"""Import a user's SB3 model zip (trusted, unpickled once) as a zoo teacher."""

from __future__ import annotations

import os
import zipfile
from pathlib import Path
from typing import Any

from rltransfer.errors import ConfigError, ForeignFileError, IncompatibleSpacesError
from rltransfer.make import make_env
from rltransfer.policies import ALGOS, POLICY_CLASSES, LayerNormDQNPolicy
from rltransfer.spaces import SpaceSignature
from rltransfer.zoo.card import TeacherCard, validate_entry_name
from rltransfer.zoo.publish import ZooEntry, publish_teacher


def import_sb3(
    path: str | os.PathLike[str],
    *,
    env_id: str,
    env_kwargs: dict[str, Any],
    name: str,
    zoo: Path,
    episodes: int = 10,
    overwrite: bool = False,
    transitions: int = 4000,
) -> TeacherCard:
    """Load an SB3 zip (this unpickles it: the user trusts it), check its spaces, write zoo/name."""
    validate_entry_name(name)
    if episodes < 1:
        raise ConfigError(
            f"--episodes {episodes} is not a positive number of episodes", fix="pass --episodes 1 or more"
        )
    zip_path = Path(path)
    if not zip_path.is_file() or not zipfile.is_zipfile(zip_path):
        raise ForeignFileError(f"{zip_path} is not an SB3 model zip", fix="give the file written by model.save()")
    with zipfile.ZipFile(zip_path) as archive:
        if "data" not in archive.namelist():
            raise ForeignFileError(f"{zip_path} has no SB3 'data' entry", fix="give the file written by model.save()")
    env = make_env(env_id, env_kwargs)
    model, found = _load_any(zip_path)
    obs_sig, act_sig = SpaceSignature.of(model.observation_space), SpaceSignature.of(model.action_space)
    if not (
        obs_sig.same_as(SpaceSignature.of(env.observation_space))
        and act_sig.same_as(SpaceSignature.of(env.action_space))
    ):
        raise IncompatibleSpacesError(
            f"the model's spaces {obs_sig.describe()}/{act_sig.describe()} differ from {env_id}'s",
            fix="pass the --env the model was trained on",
        )
    entry = ZooEntry(
        name=name,
        env_id=env_id,
        env_kwargs=env_kwargs,
        algo=found,
        policy_kwargs=dict(model.policy_kwargs),
        n_timesteps=int(model.num_timesteps),
        seed=int(model.seed or 0),
        notes=f"imported from {zip_path.name}; the user trusted that pickled file",
    )
    try:
        return publish_teacher(
            model.policy,
            zoo / name,
            entry=entry,
            env=env,
            eval_episodes=episodes,
            eval_seed=10_000,
            transitions=transitions,
            transitions_seed=0,
            overwrite=overwrite,
        )
    finally:
        env.close()


def _load_any(zip_path: Path) -> tuple[Any, str]:
    """Load with the first SB3 class that accepts the file; name the algo by its policy class."""
    for algo in ALGOS.values():
        try:
            model = algo.load(zip_path, device="cpu")
        except Exception:
            continue
        for algo_name, policy_class in POLICY_CLASSES.items():
            if type(model.policy) is policy_class or (algo_name == "dqn" and type(model.policy) is LayerNormDQNPolicy):
                return model, algo_name
    raise ForeignFileError(f"{zip_path} holds no MLP policy of {sorted(ALGOS)}", fix="save it with SB3 >= 2.0")
