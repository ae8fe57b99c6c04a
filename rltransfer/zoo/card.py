"""The teacher card (`card.json`) and the checks of its values, and of its weights against it.

A card is untrusted input: a wrong type must give a CardFormatError, and a card that claims a network
far larger than its weights (net_arch [200000, 200000]) must be refused from the safetensors shapes,
before SB3 allocates it.
"""

from __future__ import annotations

import itertools
import json
import math
import re
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from rltransfer.errors import CardFormatError, EntryNameError, RLTransferError
from rltransfer.policies import POLICY_CLASSES, acts_in, decode_policy_kwargs, encode_policy_kwargs
from rltransfer.spaces import SpaceSignature

FORMAT_VERSION = 1
CARD_FILE = "card.json"
_ENTRY_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._+-]{0,127}")
_ALGO_NAMES = frozenset(POLICY_CLASSES)
REQUIRED_FIELDS = ("name", "env_id", "family", "algo", "observation_space", "action_space", "n_timesteps", "seed")
_FIELD_TYPES: dict[str, tuple[type, ...]] = {
    "name": (str,),
    "env_id": (str,),
    "family": (str,),
    "algo": (str,),
    "weights_sha256": (str,),
    "created": (str,),
    "notes": (str,),
    "env_kwargs": (dict,),
    "policy_kwargs": (dict,),
    "evaluation": (dict,),
    "hyperparams": (dict,),
    "libraries": (dict,),
    "observation_space": (dict,),
    "action_space": (dict,),
    "n_timesteps": (int,),
    "seed": (int,),
}
_SHA256 = re.compile(r"[0-9a-f]{64}")
_FIX = "restore the card, or re-create the teacher with `rltransfer zoo train`"

DEFAULT_NET_ARCH = {"ppo": [64, 64], "a2c": [64, 64], "dqn": [64, 64], "sac": [256, 256], "td3": [400, 300]}
"""SB3's net_arch when a card gives none."""
MAX_WIDTH = 1 << 20
MAX_LAYERS = 64
MAX_CRITICS = 32
_BOOL_KWARGS = (
    "ortho_init",
    "use_sde",
    "full_std",
    "squash_output",
    "use_expln",
    "share_features_extractor",
    "normalize_images",
    "layer_norm",
)


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def check_card_fields(data: Mapping[str, Any], *, where: str) -> None:
    """Every required field present and every field of its JSON type (CardFormatError otherwise)."""
    missing = [key for key in REQUIRED_FIELDS if key not in data]
    if missing:
        raise CardFormatError(f"{where} lacks the field(s) {missing}", fix=_FIX)
    for key, types in _FIELD_TYPES.items():
        if key in data and (not isinstance(data[key], types) or (types == (int,) and isinstance(data[key], bool))):
            expected = "/".join(t.__name__ for t in types)
            raise CardFormatError(f"{where}: {key} must be a {expected}, not {data[key]!r:.60}", fix=_FIX)
    for key in ("weights_sha256", "transitions_sha256"):
        value = data.get(key)
        if value is not None and not (isinstance(value, str) and _SHA256.fullmatch(value)):
            raise CardFormatError(f"{where}: {key} is not a sha256 hex digest ({value!r:.60})", fix=_FIX)
    for key, value in data.get("evaluation", {}).items():
        if value is not None and not _is_number(value):
            raise CardFormatError(f"{where}: evaluation.{key} must be a finite number, not {value!r:.60}", fix=_FIX)


def check_signature(signature: SpaceSignature, *, where: str, role: str) -> None:
    """A signature that describes a buildable Box or Discrete space."""
    problem = ""
    if signature.kind == "discrete":
        if not 1 <= signature.n < 1 << 31:
            problem = f"n = {signature.n} is not a positive action/observation count"
    else:
        size = math.prod(signature.shape)
        bounds = np.asarray([*signature.low, *signature.high], dtype=np.float64)
        try:  # a dtype must be a name: np.dtype also takes dicts and lists (structured types) and raises ValueError
            numeric = isinstance(signature.dtype, str) and np.issubdtype(np.dtype(signature.dtype), np.number)
        except (TypeError, ValueError):
            numeric = False
        if len(signature.shape) > 32 or any(dim < 1 for dim in signature.shape):
            problem = f"shape {signature.shape} is not a list of positive sizes"
        elif not len(signature.low) == len(signature.high) == size:
            given = f"{len(signature.low)}/{len(signature.high)}"
            problem = f"shape {signature.shape} holds {size} values but low/high give {given}"
        elif np.isnan(bounds).any() or (np.asarray(signature.low) > np.asarray(signature.high)).any():
            problem = "low/high are NaN or low > high"
        elif not numeric:
            problem = f'dtype "{signature.dtype}" is not a numeric dtype'
    if problem:
        raise CardFormatError(f"{where}: {role} {problem}", fix=_FIX)


def net_arch_lists(algo: str, net_arch: Any, *, where: str) -> dict[str, list[int]]:
    """The card's net_arch as SB3 reads it: {"pi", "vf"} (PPO/A2C), {"pi", "qf"} (SAC/TD3) or {"q"} (DQN)."""
    if net_arch is None:
        net_arch = DEFAULT_NET_ARCH[algo]
    heads = {"ppo": ("pi", "vf"), "a2c": ("pi", "vf"), "sac": ("pi", "qf"), "td3": ("pi", "qf")}.get(algo, ("q",))
    if isinstance(net_arch, list):
        lists = {head: net_arch for head in heads}
    elif isinstance(net_arch, dict) and algo != "dqn" and set(net_arch) <= set(heads):
        if algo in ("sac", "td3") and set(net_arch) != set(heads):
            raise CardFormatError(f"{where}: net_arch {net_arch} needs both pi and qf", fix=_FIX)
        lists = {head: net_arch.get(head, []) for head in heads}
    else:
        raise CardFormatError(
            f"{where}: net_arch {net_arch!r:.80} is not a list of layer widths"
            + ("" if algo == "dqn" else f" or a dict with keys {list(heads)}"),
            fix=_FIX,
        )
    for head, widths in lists.items():
        if not isinstance(widths, list) or len(widths) > MAX_LAYERS:
            raise CardFormatError(f"{where}: net_arch {head} {widths!r:.80} is not a list of layer widths", fix=_FIX)
        if not all(_is_int(width) and 1 <= width <= MAX_WIDTH for width in widths):
            raise CardFormatError(
                f"{where}: net_arch {head} {widths!r:.80} has a width outside 1..{MAX_WIDTH}", fix=_FIX
            )
    return lists


def check_policy_kwargs(algo: str, policy_kwargs: Mapping[str, Any], action_kind: str, *, where: str) -> None:
    """Values of the plain policy kwargs of their type, and an action space the algorithm can act in."""
    if not acts_in(algo, action_kind):
        raise CardFormatError(f"{where}: algo {algo} cannot act in a {action_kind} action space", fix=_FIX)
    net_arch_lists(algo, policy_kwargs.get("net_arch"), where=where)
    for key in _BOOL_KWARGS:
        if key in policy_kwargs and not isinstance(policy_kwargs[key], bool):
            raise CardFormatError(f"{where}: policy_kwargs.{key} must be true or false", fix=_FIX)
    for key in ("log_std_init", "clip_mean"):
        if key in policy_kwargs and not _is_number(policy_kwargs[key]):
            raise CardFormatError(f"{where}: policy_kwargs.{key} must be a finite number", fix=_FIX)
    if "layer_norm" in policy_kwargs and algo != "dqn":
        raise CardFormatError(f"{where}: policy_kwargs.layer_norm is for DQN only", fix=_FIX)
    critics = policy_kwargs.get("n_critics", 2)
    if "n_critics" in policy_kwargs and (algo not in ("sac", "td3") or not _is_int(critics)):
        raise CardFormatError(f"{where}: policy_kwargs.n_critics must be an integer (SAC/TD3 only)", fix=_FIX)
    if not 1 <= critics <= MAX_CRITICS:
        raise CardFormatError(f"{where}: policy_kwargs.n_critics {critics} is outside 1..{MAX_CRITICS}", fix=_FIX)


def check_weights_fit_card(
    algo: str,
    policy_kwargs: Mapping[str, Any],
    observation_space: SpaceSignature,
    action_space: SpaceSignature,
    shapes: Mapping[str, tuple[int, ...]],
    *,
    where: str,
) -> None:
    """Every Linear layer the card's architecture implies is a tensor in the weights file.

    Checked from the file's tensor shapes before the policy is built, so that building it never
    allocates more than a few times the file's own size.
    """
    present = set(shapes.values())
    obs_dim, act_dim = observation_space.dim, action_space.dim
    lists = net_arch_lists(algo, policy_kwargs.get("net_arch"), where=where)
    chains = {"pi": (obs_dim, act_dim), "vf": (obs_dim, 1), "qf": (obs_dim + act_dim, 1), "q": (obs_dim, act_dim)}
    for head, widths in lists.items():
        in_dim, out_dim = chains[head]
        dims = [in_dim, *widths, out_dim]
        for width_in, width_out in itertools.pairwise(dims):
            if (width_out, width_in) not in present:
                raise CardFormatError(
                    f"{where} holds no {width_out}×{width_in} layer, which its card's net_arch {head} {widths} and "
                    f"spaces {observation_space.describe()} → {action_space.describe()} need",
                    fix="restore the matching card and weights",
                )
    critics = int(policy_kwargs.get("n_critics", 2)) if algo in ("sac", "td3") else 0
    if 2 * critics > len(shapes):
        raise CardFormatError(
            f"{where} holds {len(shapes)} tensors, too few for the card's {critics} critics",
            fix="restore the matching card and weights",
        )


def validate_entry_name(name: object, *, what: str = "teacher name") -> str:
    r"""Return `name` if it is a plain zoo folder name, never a path; else raise EntryNameError.

    Letters, digits and ``. _ + -``, starting with a letter or digit, at most 128 characters: no
    "", ".", "..", "/", "\", absolute paths or hidden names (the zoo's own staging folders are hidden).
    """
    if not isinstance(name, str) or not _ENTRY_NAME.fullmatch(name):
        raise EntryNameError(
            f"{what} {name!r:.80} is not a plain folder name",
            fix="use letters, digits and . _ + - only, starting with a letter or digit (e.g. cartpole-ppo)",
        )
    return name


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
        mean = self.evaluation.get("mean")
        return float(mean) if mean is not None else float("nan")

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
        check_card_fields(data, where=where)
        known = {f for f in cls.__dataclass_fields__}
        values = {key: value for key, value in data.items() if key in known}
        try:
            values["observation_space"] = SpaceSignature.from_dict(data["observation_space"])
            values["action_space"] = SpaceSignature.from_dict(data["action_space"])
            card = cls(**values)
        except (KeyError, TypeError, OverflowError) as exc:
            raise CardFormatError(f"{where} is missing or has a wrong field ({exc})", fix="restore the card") from exc
        if not card.weights_sha256:
            raise CardFormatError(f"{where} has no weights_sha256", fix="restore the card")
        try:
            validate_entry_name(card.name, what="name")
            # decode → encode: an unknown activation or a kwarg a card cannot hold raises here
            encode_policy_kwargs(decode_policy_kwargs(card.policy_kwargs))
        except RLTransferError as exc:
            raise CardFormatError(f"{where}: {exc.problem}", fix=exc.fix or "restore the card") from exc
        check_signature(card.observation_space, where=where, role="observation_space")
        check_signature(card.action_space, where=where, role="action_space")
        if card.algo.lower() not in _ALGO_NAMES:
            raise CardFormatError(f'{where}: unknown algo "{card.algo}"', fix=f"use one of {sorted(_ALGO_NAMES)}")
        check_policy_kwargs(card.algo.lower(), card.policy_kwargs, card.action_space.kind, where=where)
        return card


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number")


def read_card(folder: Path) -> TeacherCard:
    """Read and validate a folder's card.json (not the weights)."""
    path = folder / CARD_FILE
    try:
        data = json.loads(path.read_text(encoding="utf-8"), parse_constant=_reject_constant)
    except FileNotFoundError as exc:
        raise CardFormatError(f"{path} is missing", fix="give a teacher folder with card.json") from exc
    except (json.JSONDecodeError, UnicodeDecodeError, RecursionError) as exc:
        raise CardFormatError(f"{path} is not valid JSON ({exc})", fix="restore the card") from exc
    except ValueError as exc:  # NaN/Infinity: a card is strict JSON
        raise CardFormatError(f"{path} is not strict JSON ({exc})", fix="restore the card") from exc
    return TeacherCard.from_dict(data, where=str(path))
