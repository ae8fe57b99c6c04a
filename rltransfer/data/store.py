"""Datasets on disk: Minari datasets (read and written with `minari`, locally) and the zoo's `transitions.npz`.

A dataset folder written here is a Minari dataset folder (`data/metadata.json` + `data/main_data.hdf5`),
so `MINARI_DATASETS_PATH=<its parent> minari.load_dataset("<folder name>")` reads it too; or, with
`format="npz"`, a `transitions.npz` in the zoo's layout beside a `dataset.json`. rltransfer's provenance
(teacher, card checksums, mapping, seed, env steps) is the `rltransfer` key of the metadata. Nothing is
ever downloaded, and nothing is written outside the output folder.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import warnings
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np
from gymnasium.envs.registration import EnvSpec

from rltransfer.data.episodes import Episode, episodes_from_rows, episodes_to_rows
from rltransfer.errors import CardFormatError, DatasetError, OutputError
from rltransfer.io import atomic_directory, json_safe, strict_json
from rltransfer.registry import suggest
from rltransfer.spaces import SpaceSignature
from rltransfer.zoo import CARD_FILE, TRANSITIONS_FILE, read_card, transitions_npz_bytes

FORMATS = ("minari", "npz")
METADATA_KEY = "rltransfer"
"""The key of rltransfer's provenance block in a dataset's metadata."""
LABELS_INFO = "teacher_action"
"""Minari infos key of the teacher's own actions when the executed ones were perturbed (DART)."""
NPZ_METADATA_FILE = "dataset.json"
_MINARI_METADATA = "metadata.json"
_DATASET_ID = re.compile(r"(?:[-_\w][-_\w/]*[-_\w]/)?[-_\w]+?-v\d+")
_ID_FIX = 'give an id of the form "name-v0" or "namespace/name-v0"'


@dataclass(frozen=True, eq=False)
class Dataset:
    """Episodes with the spaces and env they were recorded in, and where they came from.

    Attributes:
        episodes: The episodes, in recorded order.
        observation_space: Observation space of every episode.
        action_space: Action space of every episode.
        env_spec: The env the episodes ran in (None when the file does not say).
        dataset_id: Minari dataset id ("name-v0").
        metadata: rltransfer's provenance block (teacher, mapping, seed, env steps, filters...).
        path: The folder or file it was read from (None before it is written).
        format: "minari" or "npz".
    """

    episodes: tuple[Episode, ...]
    observation_space: gym.Space[Any]
    action_space: gym.Space[Any]
    env_spec: EnvSpec | None
    dataset_id: str
    metadata: dict[str, Any] = field(default_factory=dict)
    path: Path | None = None
    format: str = "minari"

    @property
    def total_steps(self) -> int:
        """Env steps over all episodes."""
        return sum(len(episode) for episode in self.episodes)

    @property
    def returns(self) -> np.ndarray:
        """Return of every episode."""
        return np.asarray([episode.episode_return for episode in self.episodes], dtype=np.float64)

    @property
    def ended_episodes(self) -> tuple[Episode, ...]:
        """The episodes the env ended (terminated or truncated); all of them when none did."""
        ended = tuple(e for e in self.episodes if e.terminations[-1] or e.truncations[-1])
        return ended or self.episodes

    def recorded_in(self, env: gym.Env[Any, Any]) -> bool:
        """Whether the episodes ran in `env` itself: same id and kwargs (as JSON has them: lists for tuples)."""
        target, recorded = env.spec, self.env_spec
        if target is None or recorded is None:
            return False
        return (target.id, _as_json(target.kwargs)) == (recorded.id, _as_json(recorded.kwargs))

    @property
    def env_id(self) -> str | None:
        """Gymnasium id of the env, None when unknown."""
        return self.env_spec.id if self.env_spec is not None else None


def _as_json(kwargs: dict[str, Any]) -> Any:
    return json.loads(json.dumps(dict(kwargs), sort_keys=True, default=str))


def check_dataset_id(dataset_id: str) -> str:
    """`dataset_id` when Minari accepts it, else DatasetError."""
    if not _DATASET_ID.fullmatch(dataset_id):
        raise DatasetError(f'"{dataset_id}" is not a Minari dataset id', fix=_ID_FIX)
    return dataset_id


def default_dataset_id(out: Path) -> str:
    """The id a dataset written to `out` gets without --name: the folder's name, with "-v0" if it has no version."""
    name = re.sub(r"[^-\w]+", "-", out.name).strip("-") or "dataset"
    return name if re.search(r"-v\d+$", name) else f"{name}-v0"


def datasets_root(root: str | os.PathLike[str] | None = None) -> Path:
    """Where dataset ids are looked up: `root`, else $MINARI_DATASETS_PATH, else ~/.minari/datasets (Minari's)."""
    if root is not None:
        return Path(root)
    return Path(os.environ.get("MINARI_DATASETS_PATH") or Path.home() / ".minari" / "datasets")


def read_dataset(source: str | os.PathLike[str], *, root: str | os.PathLike[str] | None = None) -> Dataset:
    """Read a dataset: a Minari dataset folder (or its data/), a transitions.npz (or its folder), or an id.

    An id ("name-v0") is looked up under `datasets_root(root)`; nothing is downloaded and nothing is written.
    """
    path = Path(source)
    if path.is_file():
        if path.suffix == ".npz":
            return _read_npz(path)
        if path.name == _MINARI_METADATA:
            return _read_minari(path.parent)
        raise DatasetError(f"{path} is not a dataset", fix="give a Minari dataset folder or a transitions.npz")
    if path.is_dir():
        for data in (path / "data", path):
            if (data / _MINARI_METADATA).is_file():
                return _read_minari(data)
        if (path / TRANSITIONS_FILE).is_file():
            return _read_npz(path / TRANSITIONS_FILE)
        raise DatasetError(
            f"{path} holds no dataset (no data/metadata.json, no {TRANSITIONS_FILE})",
            fix="give the --out folder of `rltransfer data export`, a Minari dataset folder or a transitions.npz",
        )
    base = datasets_root(root)
    if (base / str(source) / "data" / _MINARI_METADATA).is_file():
        return _read_minari(base / str(source) / "data")
    known = sorted(str(p.parent.parent.relative_to(base)) for p in base.glob("**/data/metadata.json"))
    raise DatasetError(
        f'no dataset "{source}" (not a file or folder, nor a dataset id in {base}).{suggest(str(source), known)}',
        fix="give a dataset folder or transitions.npz, or an id under --datasets DIR ($MINARI_DATASETS_PATH)",
    )


def find_dataset(source: str | os.PathLike[str], *, root: str | os.PathLike[str] | None = None) -> Dataset | None:
    """The dataset `source` names (as read_dataset reads it), or None when it names none, e.g. a teacher folder.

    A folder with a teacher's card.json is a teacher, not its transitions.npz; an id counts only when it is
    under `datasets_root(root)`.
    """
    path = Path(source)
    if path.exists():
        markers = ("data/" + _MINARI_METADATA, _MINARI_METADATA, TRANSITIONS_FILE)
        if path.is_dir() and ((path / CARD_FILE).is_file() or not any((path / m).is_file() for m in markers)):
            return None
        if path.is_file() and path.suffix != ".npz" and path.name != _MINARI_METADATA:
            return None
        return read_dataset(path)
    if _DATASET_ID.fullmatch(str(source)) and (datasets_root(root) / str(source) / "data" / _MINARI_METADATA).is_file():
        return read_dataset(source, root=root)
    return None


def _minari() -> Any:
    """The `minari` module (an optional dependency: only datasets need it), or one line saying how to get it."""
    try:
        import minari
    except ImportError as exc:
        raise DatasetError(
            f"Minari datasets need the minari package ({exc})", fix="pip install 'rltransfer[data]'"
        ) from exc
    return minari


def _read_minari(data_path: Path) -> Dataset:
    minari = _minari()
    try:
        dataset = minari.MinariDataset(data_path)
        metadata = dataset.storage.metadata
        seeds = [info.get("seed") for info in dataset.storage.get_episode_metadata(dataset.episode_indices)]
        episodes = tuple(
            Episode(
                observations=np.asarray(data.observations),
                actions=np.asarray(data.actions),
                rewards=np.asarray(data.rewards, dtype=np.float64),
                terminations=np.asarray(data.terminations, dtype=bool),
                truncations=np.asarray(data.truncations, dtype=bool),
                seed=int(seed) if seed is not None else None,
                labels=_labels(data.infos, len(data.rewards)),
            )
            for data, seed in zip(dataset.iterate_episodes(), seeds, strict=True)
        )
    except (ValueError, TypeError, KeyError, AssertionError, OSError) as exc:
        raise DatasetError(
            f"{data_path} is not a readable Minari dataset ({type(exc).__name__}: {str(exc)[:200]})",
            fix="restore it, or write it again with `rltransfer data export`",
        ) from exc
    if not episodes:
        raise DatasetError(f"{data_path} holds no episodes", fix="export a dataset with at least one episode")
    return Dataset(
        episodes=episodes,
        observation_space=dataset.observation_space,
        action_space=dataset.action_space,
        env_spec=dataset.env_spec,
        dataset_id=str(metadata["dataset_id"]),
        metadata=dict(metadata.get(METADATA_KEY) or {}),
        path=data_path.parent if data_path.name == "data" else data_path,
        format="minari",
    )


def _labels(infos: Any, steps: int) -> np.ndarray | None:
    """The DART labels of a Minari episode (infos[LABELS_INFO], one per observation), None when not recorded."""
    if not isinstance(infos, dict) or LABELS_INFO not in infos:
        return None
    return np.asarray(infos[LABELS_INFO])[:steps]


def _read_npz(path: Path) -> Dataset:
    try:
        with np.load(path, allow_pickle=False) as data:
            arrays = {key: np.asarray(data[key]) for key in data.files}
    except (ValueError, OSError, EOFError, KeyError, zipfile.BadZipFile) as exc:
        raise DatasetError(f"{path} is not an npz of plain arrays ({exc})", fix="give a transitions.npz") from exc
    spec, info = _npz_env(path.parent)
    episodes = tuple(episodes_from_rows(arrays, where=str(path)))
    seeds = info.get("seeds")
    if isinstance(seeds, list) and len(seeds) == len(episodes):
        episodes = tuple(replace(episode, seed=seed) for episode, seed in zip(episodes, seeds, strict=True))
    signatures: dict[str, Any] = info.get("spaces") or {}
    try:
        spaces = [SpaceSignature.from_dict(signatures[role]).to_space() for role in ("observation", "action")]
    except (CardFormatError, KeyError, TypeError) as exc:
        raise DatasetError(
            f"{path} has no {NPZ_METADATA_FILE} or {CARD_FILE} beside it that names its spaces",
            fix=f"keep the teacher's {CARD_FILE} (or the exported {NPZ_METADATA_FILE}) in its folder",
        ) from exc
    return Dataset(
        episodes=episodes,
        observation_space=spaces[0],
        action_space=spaces[1],
        env_spec=spec,
        dataset_id=str(info.get("dataset_id") or default_dataset_id(path.parent)),
        metadata=dict(info.get(METADATA_KEY) or {}),
        path=path,
        format="npz",
    )


def _npz_env(folder: Path) -> tuple[EnvSpec | None, dict[str, Any]]:
    """The env spec and metadata of a transitions.npz: its dataset.json, or the zoo teacher's card beside it."""
    if (folder / NPZ_METADATA_FILE).is_file():
        try:
            info = json.loads((folder / NPZ_METADATA_FILE).read_text(encoding="utf-8"))
            spec = EnvSpec.from_json(info["env_spec"]) if info.get("env_spec") else None
        except (ValueError, KeyError, TypeError) as exc:
            raise DatasetError(f"{folder / NPZ_METADATA_FILE} is malformed ({exc})", fix="export it again") from exc
        return spec, info
    if (folder / CARD_FILE).is_file():
        card = read_card(folder)
        spaces = {"observation": card.observation_space.to_dict(), "action": card.action_space.to_dict()}
        spec = None
        if card.env_id in gym.registry:
            base = gym.spec(card.env_id)
            spec = replace(base, kwargs={**base.kwargs, **card.env_kwargs})
        provenance = {
            "kind": "zoo transitions (random-policy rows, then teacher rows)",
            "teacher": {"name": card.name, "algo": card.algo, "weights_sha256": card.weights_sha256},
            "env_id": card.env_id,
        }
        return spec, {"spaces": spaces, "dataset_id": f"{card.name}-transitions-v0", METADATA_KEY: provenance}
    return None, {}


def check_output_folder(out: str | os.PathLike[str], *, not_inside: Path | None = None) -> Path:
    """`out` as a Path, or OutputError when it is a non-empty folder, a file, or inside the input dataset."""
    target = Path(out)
    if target.is_file() or (target.is_dir() and any(target.iterdir())):
        raise OutputError(f"--out {target} already exists and is not empty", fix="choose a new or empty --out folder")
    if not_inside is not None:
        source = not_inside.resolve()
        folder = source if source.is_dir() else source.parent
        if target.resolve() == folder or folder in target.resolve().parents:
            raise OutputError(f"--out {target} is inside the input {not_inside}", fix="choose a folder outside it")
    return target


def write_dataset(dataset: Dataset, out: str | os.PathLike[str], *, format: str = "minari") -> Path:
    """Write `dataset` to the new folder `out` atomically (a staging folder beside it, then a rename)."""
    if format not in FORMATS:
        raise DatasetError(f'unknown dataset format "{format}"', fix=f"choose one of {', '.join(FORMATS)}")
    target = check_output_folder(out)
    check_dataset_id(dataset.dataset_id)
    with atomic_directory(target) as staging:
        if format == "npz":
            _write_npz(dataset, staging)
        else:
            _write_minari(dataset, staging)
    return target


def _write_npz(dataset: Dataset, folder: Path) -> None:
    (folder / TRANSITIONS_FILE).write_bytes(transitions_npz_bytes(episodes_to_rows(dataset.episodes)))
    info = {
        "format": "rltransfer-transitions",
        "dataset_id": dataset.dataset_id,
        "env_spec": dataset.env_spec.to_json() if dataset.env_spec is not None else None,
        "spaces": {
            "observation": SpaceSignature.of(dataset.observation_space).to_dict(),
            "action": SpaceSignature.of(dataset.action_space).to_dict(),
        },
        "seeds": [episode.seed for episode in dataset.episodes],
        METADATA_KEY: dataset.metadata,
    }
    (folder / NPZ_METADATA_FILE).write_text(strict_json(info, indent=2, sort_keys=True) + "\n", encoding="utf-8")


def _label_infos(episode: Episode) -> dict[str, np.ndarray]:
    """Minari infos carrying an episode's DART labels (LABELS_INFO), none when it has no labels.

    Minari keeps one info per observation: the last observation, where no action is taken, repeats the last label.
    """
    if episode.labels is None:
        return {}
    return {LABELS_INFO: np.concatenate([episode.labels, episode.labels[-1:]])}


def _write_minari(dataset: Dataset, folder: Path) -> None:
    minari = _minari()
    buffers = [
        minari.data_collector.EpisodeBuffer(
            id=index,
            seed=episode.seed,
            observations=episode.observations,
            actions=episode.actions,
            rewards=list(episode.rewards),
            terminations=list(episode.terminations),
            truncations=list(episode.truncations),
            infos=_label_infos(episode),
        )
        for index, episode in enumerate(dataset.episodes)
    ]
    folder = folder.resolve()  # Minari resolves MINARI_DATASETS_PATH itself: a relative one fails
    root = folder / ".minari"
    with _minari_root(root), warnings.catch_warnings():
        warnings.filterwarnings("ignore", category=UserWarning, module=r"minari(\.|$)")  # "X is set to None"
        try:
            created = minari.create_dataset_from_buffers(
                dataset_id=dataset.dataset_id,
                buffer=buffers,
                observation_space=dataset.observation_space,
                action_space=dataset.action_space,
                algorithm_name=str(dataset.metadata.get("algorithm", "rltransfer")),
                author="rltransfer",
                description=str(dataset.metadata.get("description", "")) or None,
                data_format="hdf5",
                jpeg_encoding=False,
            )
        except (ValueError, TypeError, AssertionError) as exc:  # Minari's own checks of ids, spaces and data
            raise DatasetError(
                f"Minari refused the dataset ({type(exc).__name__}: {str(exc)[:200]})", fix="check the episodes' spaces"
            ) from exc
        extra: dict[str, Any] = {METADATA_KEY: json.loads(strict_json(json_safe(dataset.metadata)))}
        if dataset.env_spec is not None:  # as Minari stores it, without making the env (env=spec would)
            with contextlib.suppress(TypeError):  # kwargs that are not JSON: the env cannot be recovered
                extra["env_spec"] = dataset.env_spec.to_json()
        created.storage.update_metadata(extra)
    os.replace(root / dataset.dataset_id / "data", folder / "data")
    shutil.rmtree(root)


@contextlib.contextmanager
def _minari_root(root: Path) -> Iterator[None]:
    """MINARI_DATASETS_PATH set to `root` for the block (Minari reads it on every call), then restored."""
    before = os.environ.get("MINARI_DATASETS_PATH")
    os.environ["MINARI_DATASETS_PATH"] = str(root)
    try:
        yield
    finally:
        if before is None:
            os.environ.pop("MINARI_DATASETS_PATH", None)
        else:
            os.environ["MINARI_DATASETS_PATH"] = before
