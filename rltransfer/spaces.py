"""Space signatures: small, serialisable descriptions of observation and action spaces.

A signature is stored on every teacher card and compared by selection, so that spaces can be
checked without building an environment.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import gymnasium as gym
import numpy as np

from rltransfer.errors import CardFormatError, IncompatibleSpacesError


def _encode_bound(value: float) -> float | str:
    if math.isinf(value):
        return "inf" if value > 0 else "-inf"
    return float(value)


def _decode_bound(value: float | str) -> float:
    return float(value)


_ACTION_FIX = (
    "wrap the environment in a gymnasium.ActionWrapper whose action_space is Discrete(N) (one action per "
    "combination, decoded in action()) or a Box"
)
_OBSERVATION_FIX = "wrap the environment with gymnasium.wrappers.FlattenObservation (observations become a Box)"


def unsupported_space_fix(space: gym.Space[Any], *, role: str = "") -> str:
    """The wrapper that makes `space` a Box or Discrete: FlattenObservation only fits observations."""
    if role == "action":
        return _ACTION_FIX
    if role == "observation":
        return _OBSERVATION_FIX
    if isinstance(space, (gym.spaces.MultiDiscrete, gym.spaces.MultiBinary)):
        return f"for observations, {_OBSERVATION_FIX}; for actions, {_ACTION_FIX}"
    return _OBSERVATION_FIX


@dataclass(kw_only=True, frozen=True)
class SpaceSignature:
    """What a space is, without the space object.

    Attributes:
        kind: "box" or "discrete" (the only kinds rltransfer's MLP policies handle).
        shape: Shape of one element of the space.
        low: Flat lower bounds (box only).
        high: Flat upper bounds (box only).
        n: Number of actions (discrete only).
        dtype: numpy dtype name.
    """

    kind: str
    shape: tuple[int, ...]
    low: tuple[float, ...] = ()
    high: tuple[float, ...] = ()
    n: int = 0
    dtype: str = "float32"

    @classmethod
    def of(cls, space: gym.Space[Any], *, role: str = "") -> SpaceSignature:
        """Describe a Gymnasium space; unsupported kinds raise IncompatibleSpacesError.

        `role` ("observation" or "action") names the space in the error and picks the wrapper it suggests.
        """
        if isinstance(space, gym.spaces.Discrete):
            return cls(kind="discrete", shape=(), n=int(space.n), dtype=str(space.dtype))
        if isinstance(space, gym.spaces.Box):
            return cls(
                kind="box",
                shape=tuple(int(d) for d in space.shape),
                low=tuple(float(v) for v in np.asarray(space.low, dtype=np.float64).ravel()),
                high=tuple(float(v) for v in np.asarray(space.high, dtype=np.float64).ravel()),
                dtype=str(space.dtype),
            )
        raise IncompatibleSpacesError(
            f"{role + ' ' if role else ''}space {space} is not supported (only Box and Discrete)",
            fix=unsupported_space_fix(space, role=role),
        )

    @property
    def dim(self) -> int:
        """Flat size: number of box dimensions, or number of discrete actions."""
        return self.n if self.kind == "discrete" else int(np.prod(self.shape, dtype=np.int64))

    def to_space(self) -> gym.Space[Any]:
        """Rebuild the Gymnasium space this signature describes."""
        if self.kind == "discrete":
            return gym.spaces.Discrete(self.n)
        dtype = np.dtype(self.dtype)
        low = np.asarray(self.low, dtype=dtype).reshape(self.shape)
        high = np.asarray(self.high, dtype=dtype).reshape(self.shape)
        return gym.spaces.Box(low=low, high=high, shape=self.shape, dtype=dtype.type)

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe dict (infinite bounds as the strings "inf" and "-inf")."""
        out: dict[str, Any] = {"kind": self.kind, "shape": list(self.shape), "dtype": self.dtype}
        if self.kind == "discrete":
            out["n"] = self.n
        else:
            out["low"] = [_encode_bound(v) for v in self.low]
            out["high"] = [_encode_bound(v) for v in self.high]
        return out

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> SpaceSignature:
        """Inverse of to_dict; a malformed dict raises CardFormatError."""
        try:
            kind = str(data["kind"])
            if kind == "discrete":
                return cls(kind=kind, shape=(), n=int(data["n"]), dtype=str(data.get("dtype", "int64")))
            if kind == "box":
                return cls(
                    kind=kind,
                    shape=tuple(int(d) for d in data["shape"]),
                    low=tuple(_decode_bound(v) for v in data["low"]),
                    high=tuple(_decode_bound(v) for v in data["high"]),
                    dtype=str(data.get("dtype", "float32")),
                )
        except (KeyError, TypeError, ValueError) as exc:
            raise CardFormatError(
                f"malformed space signature {data!r} ({exc})",
                fix="re-create the card with `rltransfer zoo train` or `zoo import-sb3`",
            ) from exc
        raise CardFormatError(f'unknown space kind "{kind}"', fix='use "box" or "discrete"')

    def describe(self) -> str:
        """Short human form, e.g. 'Box(4,)' or 'Discrete(2)'."""
        return f"Discrete({self.n})" if self.kind == "discrete" else f"Box{self.shape}"

    def same_as(self, other: SpaceSignature) -> bool:
        """True when both describe the same space (bounds compared with a tolerance)."""
        if self.kind != other.kind or self.shape != other.shape or self.n != other.n:
            return False
        if self.kind == "discrete":
            return True
        return bool(
            np.allclose(self.low, other.low, rtol=1e-5, equal_nan=True)
            and np.allclose(self.high, other.high, rtol=1e-5, equal_nan=True)
        )
