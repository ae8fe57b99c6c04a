"""The teacher zoo: one folder per teacher, `card.json` + `policy.safetensors` (+ `transitions.npz`).

Loading rebuilds the SB3 policy from the card and reads the weights with safetensors; nothing is
ever unpickled. Every file's sha256 is on the card and checked on every load.
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import io
import json
import os
import platform
import zipfile
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np
import torch
from safetensors import SafetensorError
from safetensors.torch import load as load_safetensors
from safetensors.torch import save as save_safetensors
from stable_baselines3.common.policies import BasePolicy

from rltransfer.errors import CardFormatError, ChecksumError, ForeignFileError, UnknownTeacherError
from rltransfer.io import atomic_directory
from rltransfer.policies import build_policy, encode_policy_kwargs
from rltransfer.registry import suggest
from rltransfer.spaces import SpaceSignature

FORMAT_VERSION = 1
CARD_FILE = "card.json"
WEIGHTS_FILE = "policy.safetensors"
TRANSITIONS_FILE = "transitions.npz"
TRANSITION_KEYS = ("obs", "actions", "rewards", "next_obs", "terminated", "source")


def default_zoo() -> Path:
    """$RLTRANSFER_ZOO, else ./agents if present, else the repository's agents/ folder."""
    env_value = os.environ.get("RLTRANSFER_ZOO")
    if env_value:
        return Path(env_value)
    local = Path.cwd() / "agents"
    if local.is_dir():
        return local
    return Path(__file__).resolve().parents[1] / "agents"


def sha256_file(path: Path) -> str:
    """Hex sha256 of a file's bytes."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def library_versions() -> dict[str, str]:
    """Versions of the libraries a teacher was made with."""
    import stable_baselines3

    from rltransfer import __version__

    return {
        "python": platform.python_version(),
        "rltransfer": __version__,
        "stable_baselines3": stable_baselines3.__version__,
        "gymnasium": gym.__version__,
        "torch": torch.__version__,
        "numpy": np.__version__,
    }


@dataclass(kw_only=True, frozen=True)
class TeacherCard:
    """Everything needed to rebuild, check and judge a teacher.

    Attributes:
        name: Folder name in the zoo.
        env_id: Gymnasium id of the source task.
        env_kwargs: gym.make kwargs of the source task.
        family: Task family, e.g. "CartPole".
        algo: SB3 algorithm name ("ppo", "a2c", "dqn", "sac", "td3").
        policy_kwargs: JSON-safe SB3 policy kwargs (net_arch, activation_fn name, ...).
        observation_space: Signature of the source observation space.
        action_space: Signature of the source action space.
        n_timesteps: Training steps.
        seed: Training seed.
        evaluation: {"mean", "std", "episodes"} of the deterministic policy on the source task.
        weights_sha256: sha256 of policy.safetensors.
        transitions_sha256: sha256 of transitions.npz, or None when absent.
        hyperparams: Algorithm hyperparameters used in training.
        libraries: Library versions used in training.
        created: ISO date-time of creation.
        notes: Free text (e.g. "imported from an SB3 zip; trusted by the user").
        format_version: Card format version.
    """

    name: str
    env_id: str
    env_kwargs: dict[str, Any] = field(default_factory=dict)
    family: str
    algo: str
    policy_kwargs: dict[str, Any] = field(default_factory=dict)
    observation_space: SpaceSignature
    action_space: SpaceSignature
    n_timesteps: int
    seed: int
    evaluation: dict[str, float] = field(default_factory=dict)
    weights_sha256: str = ""
    transitions_sha256: str | None = None
    hyperparams: dict[str, Any] = field(default_factory=dict)
    libraries: dict[str, str] = field(default_factory=dict)
    created: str = ""
    notes: str = ""
    format_version: int = FORMAT_VERSION

    @property
    def eval_mean(self) -> float:
        """Mean evaluation return on the source task (nan when not evaluated)."""
        return float(self.evaluation.get("mean", float("nan")))

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe dict."""
        data = asdict(self)
        data["observation_space"] = self.observation_space.to_dict()
        data["action_space"] = self.action_space.to_dict()
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any], *, where: str = "card") -> TeacherCard:
        """Parse and validate a card dict; newer formats and missing fields raise CardFormatError."""
        if not isinstance(data, dict):
            raise CardFormatError(f"{where} is not a JSON object", fix="restore the card from the zoo")
        version = data.get("format_version")
        if not isinstance(version, int):
            raise CardFormatError(f"{where} has no integer format_version", fix="restore the card")
        if version > FORMAT_VERSION:
            raise CardFormatError(
                f"{where} has format version {version}, newer than this rltransfer reads ({FORMAT_VERSION})",
                fix="upgrade rltransfer (pip install -U rltransfer)",
            )
        known = {f for f in cls.__dataclass_fields__}
        values = {key: value for key, value in data.items() if key in known}
        try:
            values["observation_space"] = SpaceSignature.from_dict(data["observation_space"])
            values["action_space"] = SpaceSignature.from_dict(data["action_space"])
            card = cls(**values)
        except (KeyError, TypeError) as exc:
            raise CardFormatError(f"{where} is missing or has a wrong field ({exc})", fix="restore the card") from exc
        if not card.weights_sha256:
            raise CardFormatError(f"{where} has no weights_sha256", fix="restore the card")
        return card


class Teacher:
    """A loaded, verified teacher: its card, its SB3 policy (eval mode, CPU) and its folder."""

    def __init__(self, card: TeacherCard, policy: BasePolicy, path: Path) -> None:
        self.card = card
        self.policy = policy
        self.path = path

    @property
    def name(self) -> str:
        """The teacher's zoo name."""
        return self.card.name

    @property
    def observation_space(self) -> gym.Space[Any]:
        """The source observation space."""
        return self.policy.observation_space

    @property
    def action_space(self) -> gym.Space[Any]:
        """The source action space."""
        return self.policy.action_space

    def predict(self, obs: np.ndarray, *, deterministic: bool = True) -> np.ndarray:
        """Actions for a batch (or one) of source-space observations, as SB3's policy.predict."""
        action, _ = self.policy.predict(obs, deterministic=deterministic)
        return np.asarray(action)

    def load_transitions(self) -> dict[str, np.ndarray] | None:
        """The stored source transitions (checksummed, loaded without pickle), or None."""
        path = self.path / TRANSITIONS_FILE
        if self.card.transitions_sha256 is None or not path.exists():
            return None
        if sha256_file(path) != self.card.transitions_sha256:
            raise ChecksumError(
                f"{path} does not match the sha256 on its card (tampered or corrupt)",
                fix=f"restore {path} or re-create the teacher with `rltransfer zoo train`",
            )
        with np.load(path, allow_pickle=False) as data:
            return {key: np.asarray(data[key]) for key in data.files}

    def __repr__(self) -> str:
        return f"Teacher({self.card.name!r}, {self.card.algo} on {self.card.env_id})"


def _check_not_pickle(path: Path) -> None:
    if zipfile.is_zipfile(path):
        raise ForeignFileError(
            f"{path} is a zip archive (an SB3 model saved with pickle), not a teacher",
            fix="convert it once with `rltransfer zoo import-sb3 PATH.zip --env ID --name NAME`",
        )


def resolve_teacher_dir(name_or_path: str | os.PathLike[str], zoo: str | os.PathLike[str] | None = None) -> Path:
    """Find a teacher folder from a zoo name or a path; unknown names raise UnknownTeacherError."""
    candidate = Path(name_or_path)
    if candidate.is_file():
        _check_not_pickle(candidate)
        if candidate.name in (CARD_FILE, WEIGHTS_FILE):
            return candidate.parent
        raise ForeignFileError(f"{candidate} is not a teacher folder", fix="give a folder with card.json")
    if candidate.is_dir() and (candidate / CARD_FILE).exists():
        return candidate
    zoo_dir = Path(zoo) if zoo is not None else default_zoo()
    folder = zoo_dir / str(name_or_path)
    if folder.is_dir() and (folder / CARD_FILE).exists():
        return folder
    names = list_teacher_names(zoo_dir)
    raise UnknownTeacherError(
        f'unknown teacher "{name_or_path}" in zoo {zoo_dir}.{suggest(str(name_or_path), names)}',
        fix="run `rltransfer zoo list` to see the teachers, or pass --zoo DIR",
    )


def list_teacher_names(zoo: str | os.PathLike[str] | None = None) -> list[str]:
    """Names of the folders in a zoo that hold a card."""
    zoo_dir = Path(zoo) if zoo is not None else default_zoo()
    if not zoo_dir.is_dir():
        return []
    return sorted(p.name for p in zoo_dir.iterdir() if (p / CARD_FILE).is_file())


def read_card(folder: Path) -> TeacherCard:
    """Read and validate a folder's card.json (not the weights)."""
    path = folder / CARD_FILE
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise CardFormatError(f"{path} is missing", fix="give a teacher folder with card.json") from exc
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise CardFormatError(f"{path} is not valid JSON ({exc})", fix="restore the card") from exc
    return TeacherCard.from_dict(data, where=str(path))


def load_teacher(name_or_path: str | os.PathLike[str], zoo: str | os.PathLike[str] | None = None) -> Teacher:
    """Load and verify a teacher by zoo name or folder path (checksums checked, no unpickling)."""
    folder = resolve_teacher_dir(name_or_path, zoo)
    card = read_card(folder)
    weights_path = folder / WEIGHTS_FILE
    if not weights_path.exists():
        raise CardFormatError(f"{weights_path} is missing", fix="restore the weights or re-train the teacher")
    _check_not_pickle(weights_path)
    raw = weights_path.read_bytes()
    if hashlib.sha256(raw).hexdigest() != card.weights_sha256:
        raise ChecksumError(
            f"{weights_path} does not match the sha256 on its card (tampered or corrupt)",
            fix=f"restore the file or re-create the teacher with `rltransfer zoo train` ({card.name})",
        )
    try:
        state = load_safetensors(raw)
    except (SafetensorError, ValueError) as exc:
        raise ForeignFileError(f"{weights_path} is not a safetensors file ({exc})", fix="restore it") from exc
    policy = build_policy(
        card.algo, card.observation_space.to_space(), card.action_space.to_space(), card.policy_kwargs
    )
    try:
        policy.load_state_dict(state, strict=True)
    except RuntimeError as exc:
        raise CardFormatError(
            f"{weights_path} does not fit the architecture on its card ({str(exc).splitlines()[0]})",
            fix="restore the matching card and weights",
        ) from exc
    return Teacher(card, policy, folder)


def save_teacher(
    policy: BasePolicy,
    card: TeacherCard,
    out_dir: str | os.PathLike[str],
    *,
    transitions: dict[str, np.ndarray] | None = None,
    overwrite: bool = False,
) -> TeacherCard:
    """Write a teacher folder atomically; return the card with checksums filled in."""
    state = {key: value.detach().cpu().contiguous() for key, value in policy.state_dict().items()}
    weights = save_safetensors(state, metadata={"format": "rltransfer-teacher", "algo": card.algo})
    transitions_bytes = None
    if transitions is not None:
        missing = set(TRANSITION_KEYS) - set(transitions)
        if missing:
            raise CardFormatError(f"transitions lack {sorted(missing)}", fix=f"give {TRANSITION_KEYS}")
        buffer = io.BytesIO()
        arrays: dict[str, Any] = {key: np.asarray(transitions[key]) for key in TRANSITION_KEYS}
        np.savez_compressed(buffer, **arrays)
        transitions_bytes = buffer.getvalue()
    card = replace(
        card,
        weights_sha256=hashlib.sha256(weights).hexdigest(),
        transitions_sha256=hashlib.sha256(transitions_bytes).hexdigest() if transitions_bytes else None,
        libraries=card.libraries or library_versions(),
        created=card.created or _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        policy_kwargs=encode_policy_kwargs(card.policy_kwargs),
    )
    with atomic_directory(out_dir, overwrite=overwrite) as staging:
        (staging / WEIGHTS_FILE).write_bytes(weights)
        if transitions_bytes is not None:
            (staging / TRANSITIONS_FILE).write_bytes(transitions_bytes)
        (staging / CARD_FILE).write_text(json.dumps(card.to_dict(), indent=2, allow_nan=False) + "\n")
    return card


def list_cards(zoo: str | os.PathLike[str] | None = None) -> list[TeacherCard]:
    """Cards of every teacher in a zoo (cards only; weights are checked by verify_zoo)."""
    zoo_dir = Path(zoo) if zoo is not None else default_zoo()
    return [read_card(zoo_dir / name) for name in list_teacher_names(zoo_dir)]


@dataclass(frozen=True)
class VerifyResult:
    """Outcome of checking one teacher folder."""

    name: str
    ok: bool
    problem: str = ""


def verify_zoo(zoo: str | os.PathLike[str] | None = None) -> list[VerifyResult]:
    """Check every card, checksum and architecture in a zoo; never raises for a bad teacher."""
    from rltransfer.errors import RLTransferError

    zoo_dir = Path(zoo) if zoo is not None else default_zoo()
    results = []
    for name in list_teacher_names(zoo_dir):
        try:
            teacher = load_teacher(zoo_dir / name)
            teacher.load_transitions()
            results.append(VerifyResult(name, True))
        except RLTransferError as exc:
            results.append(VerifyResult(name, False, exc.line()))
    return results
