"""Teacher folders on disk: `card.json` + `policy.safetensors` (+ `transitions.npz`), one per teacher.

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
import warnings
import zipfile
from dataclasses import replace
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np
import stable_baselines3
import torch
from safetensors import SafetensorError
from safetensors.torch import load as load_safetensors
from safetensors.torch import save as save_safetensors
from stable_baselines3.common.policies import BasePolicy

import rltransfer
from rltransfer.errors import (
    BrokenTeacherWarning,
    CardFormatError,
    ChecksumError,
    ForeignFileError,
    RLTransferError,
    UnknownTeacherError,
)
from rltransfer.io import atomic_directory, strict_json
from rltransfer.policies import build_policy, encode_policy_kwargs
from rltransfer.registry import suggest
from rltransfer.zoo.card import CARD_FILE, TeacherCard, check_weights_fit_card, read_card, validate_entry_name

WEIGHTS_FILE = "policy.safetensors"
TRANSITIONS_FILE = "transitions.npz"
TRANSITION_KEYS = ("obs", "actions", "rewards", "next_obs", "terminated", "source")
WEIGHTS_METADATA_FORMAT = "rltransfer-teacher"
_ZIP_EPOCH = (1980, 1, 1, 0, 0, 0)


def default_zoo() -> Path:
    """$RLTRANSFER_ZOO, else ./agents if present, else the repository's agents/ folder."""
    env_value = os.environ.get("RLTRANSFER_ZOO")
    if env_value:
        return Path(env_value)
    local = Path.cwd() / "agents"
    if local.is_dir():
        return local
    return Path(__file__).resolve().parents[2] / "agents"


def sha256_file(path: Path) -> str:
    """Hex sha256 of a file's bytes."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def library_versions() -> dict[str, str]:
    """Versions of the libraries a teacher was made with."""
    return {
        "python": platform.python_version(),
        "rltransfer": rltransfer.__version__,
        "stable_baselines3": stable_baselines3.__version__,
        "gymnasium": gym.__version__,
        "torch": torch.__version__,
        "numpy": np.__version__,
    }


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
        try:
            with np.load(path, allow_pickle=False) as data:
                arrays = {key: np.asarray(data[key]) for key in data.files}
        except (ValueError, OSError, EOFError, KeyError, zipfile.BadZipFile) as exc:
            raise ChecksumError(
                f"{path} is not a transitions file of plain arrays ({str(exc).splitlines()[0] if str(exc) else exc!r})",
                fix=f"restore {path} or re-create the teacher with `rltransfer zoo train`",
            ) from exc
        missing = [key for key in TRANSITION_KEYS if key not in arrays]
        lengths = {len(arrays[key]) if arrays[key].ndim else -1 for key in TRANSITION_KEYS if key in arrays}
        if missing or len(lengths) != 1:
            raise ChecksumError(
                f"{path} lacks {missing} or holds arrays of different lengths",
                fix=f"restore {path} or re-create the teacher with `rltransfer zoo train`",
            )
        return arrays

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
        state = load_safetensors(raw)  # allocates no more than the file holds
    except (SafetensorError, ValueError) as exc:
        raise ForeignFileError(f"{weights_path} is not a safetensors file ({exc})", fix="restore it") from exc
    shapes = {key: tuple(tensor.shape) for key, tensor in state.items()}
    check_weights_fit_card(
        card.algo.lower(),
        card.policy_kwargs,
        card.observation_space,
        card.action_space,
        shapes,
        where=str(weights_path),
    )
    try:
        policy = build_policy(
            card.algo, card.observation_space.to_space(), card.action_space.to_space(), card.policy_kwargs
        )
    except (TypeError, ValueError, AssertionError, AttributeError, RuntimeError) as exc:
        raise CardFormatError(
            f"the policy on card {folder / CARD_FILE} cannot be built ({type(exc).__name__}: {exc})",
            fix="restore the card, or re-create the teacher with `rltransfer zoo train`",
        ) from exc
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
    """Write a teacher folder atomically; return the card with checksums filled in.

    The same weights and transitions always give the same bytes, so the sha256 on the card is
    reproducible; card.json is strict JSON (non-finite numbers become null).
    """
    validate_entry_name(card.name)
    state = {key: value.detach().cpu().contiguous() for key, value in policy.state_dict().items()}
    weights = weights_bytes(state, metadata={"format": WEIGHTS_METADATA_FORMAT, "algo": card.algo})
    transitions_bytes = None
    if transitions is not None:
        missing = set(TRANSITION_KEYS) - set(transitions)
        if missing:
            raise CardFormatError(f"transitions lack {sorted(missing)}", fix=f"give {TRANSITION_KEYS}")
        transitions_bytes = transitions_npz_bytes({key: np.asarray(transitions[key]) for key in TRANSITION_KEYS})
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
        (staging / CARD_FILE).write_text(strict_json(card.to_dict(), indent=2) + "\n")
    return card


def weights_bytes(state: dict[str, torch.Tensor], *, metadata: dict[str, str]) -> bytes:
    """The safetensors bytes of `state` with a sorted header: the same weights always give the same bytes.

    safetensors itself writes the metadata in hash-map order, which differs from call to call.
    """
    raw = save_safetensors(state, metadata=metadata)
    size = int.from_bytes(raw[:8], "little")
    header = json.dumps(json.loads(raw[8 : 8 + size]), sort_keys=True, separators=(",", ":")).encode("utf-8")
    header += b" " * (-len(header) % 8)  # safetensors aligns the data to 8 bytes
    return len(header).to_bytes(8, "little") + header + raw[8 + size :]


def transitions_npz_bytes(arrays: dict[str, np.ndarray]) -> bytes:
    """A compressed .npz of plain arrays with fixed zip timestamps (np.savez stamps the current time)."""
    buffer = io.BytesIO()
    try:
        with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
            for key, array in arrays.items():
                info = zipfile.ZipInfo(f"{key}.npy", date_time=_ZIP_EPOCH)
                info.compress_type = zipfile.ZIP_DEFLATED
                with archive.open(info, "w", force_zip64=True) as handle:
                    np.lib.format.write_array(handle, np.asanyarray(array), allow_pickle=False)
    except ValueError as exc:  # object arrays: nothing is ever pickled into a teacher
        raise CardFormatError(f"transitions hold a non-numeric array ({exc})", fix="give numeric arrays") from exc
    return buffer.getvalue()


def _warn_broken(name: str, exc: RLTransferError) -> None:
    warnings.warn(
        f"skipped teacher {name}: {exc.problem} — {exc.fix or 'restore it'} "
        "(`rltransfer zoo verify` lists every problem)",
        BrokenTeacherWarning,
        stacklevel=3,
    )


def list_cards(zoo: str | os.PathLike[str] | None = None) -> list[TeacherCard]:
    """Cards of every teacher in a zoo (cards only; weights are checked by verify_zoo).

    A card that does not parse is skipped with a BrokenTeacherWarning naming it.
    """
    zoo_dir = Path(zoo) if zoo is not None else default_zoo()
    cards = []
    for name in list_teacher_names(zoo_dir):
        try:
            cards.append(read_card(zoo_dir / name))
        except RLTransferError as exc:
            _warn_broken(name, exc)
    return cards


def load_teachers(zoo: str | os.PathLike[str] | None = None) -> list[Teacher]:
    """Every teacher of a zoo that loads; each broken one is skipped with a BrokenTeacherWarning.

    Raises UnknownTeacherError when the zoo has teachers but none of them loads.
    """
    zoo_dir = Path(zoo) if zoo is not None else default_zoo()
    names = list_teacher_names(zoo_dir)
    teachers = []
    for name in names:
        try:
            teacher = load_teacher(zoo_dir / name)
            teacher.load_transitions()  # checksum and format, so that a later read cannot fail
            teachers.append(teacher)
        except RLTransferError as exc:
            _warn_broken(name, exc)
    if names and not teachers:
        raise UnknownTeacherError(
            f"none of the {len(names)} teachers in zoo {zoo_dir} loads",
            fix="run `rltransfer zoo verify` and restore or re-train them",
        )
    return teachers
