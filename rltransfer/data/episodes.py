"""Episodes as datasets hold them, recorded from any env, and their rows in the zoo's `transitions.npz` layout."""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

import gymnasium as gym
import numpy as np

from rltransfer.errors import DatasetError


@dataclass(frozen=True, eq=False)
class Episode:
    """One episode, laid out as Minari's EpisodeData: T steps and the T + 1 observations around them.

    Attributes:
        observations: (T + 1, ...) the reset observation, then the observation after every step.
        actions: (T,) discrete or (T, k) continuous actions.
        rewards: (T,) rewards of the env the episode ran in (float64).
        terminations: (T,) termination flags.
        truncations: (T,) truncation flags; the last step of an episode cut short is truncated.
        seed: The reset seed, None when unknown.
        labels: (T, ...) the teacher's own actions where the executed ones were perturbed (DART); None when the
            actions are the teacher's.
    """

    observations: np.ndarray
    actions: np.ndarray
    rewards: np.ndarray
    terminations: np.ndarray
    truncations: np.ndarray
    seed: int | None = None
    labels: np.ndarray | None = None

    def __post_init__(self) -> None:
        steps = len(self.rewards)
        sizes = {
            "observations": len(self.observations) - 1,
            "actions": len(self.actions),
            **({} if self.labels is None else {"labels": len(self.labels)}),
            "terminations": len(self.terminations),
            "truncations": len(self.truncations),
        }
        wrong = [name for name, size in sizes.items() if size != steps]
        if steps < 1 or wrong:
            raise DatasetError(
                f"an episode of {steps} rewards has {wrong or 'no steps'} of other lengths",
                fix="give T >= 1 steps: T + 1 observations and T actions, rewards, terminations and truncations",
            )

    def __len__(self) -> int:
        return len(self.rewards)

    @property
    def episode_return(self) -> float:
        """Sum of the rewards, added step by step as `rltransfer.rollouts.evaluate` adds them."""
        return float(np.cumsum(self.rewards, dtype=np.float64)[-1])

    @property
    def targets(self) -> np.ndarray:
        """The actions a student imitates: the teacher's own (labels) where recorded, else the executed ones."""
        return self.actions if self.labels is None else self.labels

    def with_actions(self, actions: np.ndarray) -> Episode:
        """The same episode with other actions (relabelled) and no separate labels; the rest as recorded."""
        return Episode(
            self.observations, np.asarray(actions), self.rewards, self.terminations, self.truncations, self.seed
        )

    def with_labels(self, labels: np.ndarray) -> Episode:
        """The same episode with the teacher's own actions (DART labels) beside the executed ones."""
        return replace(self, labels=np.asarray(labels).reshape(len(self), *np.shape(self.actions)[1:]))


class EpisodeRecorder(gym.Wrapper[Any, Any, Any, Any]):
    """Records every episode stepped through it; an episode left unfinished at the next reset is truncated."""

    def __init__(self, env: gym.Env[Any, Any]) -> None:
        super().__init__(env)
        self.episodes: list[Episode] = []
        self.steps = 0
        self._open: dict[str, Any] | None = None

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None) -> tuple[Any, dict[str, Any]]:
        """Reset the env and start a new episode."""
        self._close()
        obs, info = self.env.reset(seed=seed, options=options)
        self._open = {"seed": seed, "obs": [obs], "actions": [], "rewards": [], "terminated": [], "truncated": []}
        return obs, info

    def step(self, action: Any) -> tuple[Any, Any, bool, bool, dict[str, Any]]:
        """One env step, recorded (the episode closes when the env ends it)."""
        if self._open is None:
            raise RuntimeError("EpisodeRecorder.step called before reset")
        obs, reward, terminated, truncated, info = self.env.step(action)
        self.steps += 1
        for key, value in zip(
            ("obs", "actions", "rewards", "terminated", "truncated"),
            (obs, action, float(reward), bool(terminated), bool(truncated)),
            strict=True,
        ):
            self._open[key].append(value)
        if terminated or truncated:
            self._close()
        return obs, reward, terminated, truncated, info

    def finish(self) -> list[Episode]:
        """Every recorded episode, the one still running closed as truncated."""
        self._close()
        return list(self.episodes)

    def _close(self) -> None:
        record, self._open = self._open, None
        if record is None or not record["rewards"]:
            return
        truncated = list(record["truncated"])
        if not (record["terminated"][-1] or truncated[-1]):
            truncated[-1] = True
        self.episodes.append(
            Episode(
                observations=np.asarray(record["obs"]),
                actions=np.asarray(record["actions"]),
                rewards=np.asarray(record["rewards"], dtype=np.float64),
                terminations=np.asarray(record["terminated"], dtype=bool),
                truncations=np.asarray(truncated, dtype=bool),
                seed=record["seed"],
            )
        )


def episodes_to_rows(episodes: list[Episode] | tuple[Episode, ...], *, source: int = 1) -> dict[str, np.ndarray]:
    """The rows of `transitions.npz` (obs, actions, rewards, next_obs, terminated, source) plus `truncated`.

    `source` marks every row's policy as the zoo does (0 random, 1 teacher); `truncated` keeps the episode
    ends that `terminated` alone cannot tell; `labels`, only when some episode has them, the DART labels.
    """
    rows = {
        "obs": np.concatenate([e.observations[:-1] for e in episodes]).astype(np.float32),
        "actions": np.concatenate([e.actions for e in episodes]),
        "rewards": np.concatenate([e.rewards for e in episodes]).astype(np.float32),
        "next_obs": np.concatenate([e.observations[1:] for e in episodes]).astype(np.float32),
        "terminated": np.concatenate([e.terminations for e in episodes]).astype(bool),
        "source": np.full(sum(len(e) for e in episodes), source, dtype=np.int8),
        "truncated": np.concatenate([e.truncations for e in episodes]).astype(bool),
    }
    if any(e.labels is not None for e in episodes):
        rows["labels"] = np.concatenate([e.targets for e in episodes])
    return rows


def episodes_from_rows(arrays: dict[str, np.ndarray], *, where: str) -> list[Episode]:
    """Split `transitions.npz` rows into episodes.

    An episode ends at a terminated or truncated row, where the next row does not start from this row's
    next_obs (the zoo's random phase is cut when its teacher phase starts), and at the last row.
    """
    missing = [key for key in ("obs", "actions", "rewards", "next_obs", "terminated") if key not in arrays]
    rows = len(arrays["obs"]) if "obs" in arrays and np.ndim(arrays["obs"]) else 0
    if missing or rows == 0 or any(len(np.atleast_1d(arrays[key])) != rows for key in arrays):
        raise DatasetError(
            f"{where} lacks {missing} or holds no rows or arrays of different lengths",
            fix="give a transitions.npz as `rltransfer zoo train` or `rltransfer data export --format npz` writes it",
        )
    obs, next_obs = np.asarray(arrays["obs"]), np.asarray(arrays["next_obs"])
    terminated = np.asarray(arrays["terminated"], dtype=bool)
    truncated = np.asarray(arrays.get("truncated", np.zeros(rows, dtype=bool)), dtype=bool)
    flat_obs, flat_next = obs.reshape(rows, -1), next_obs.reshape(rows, -1)
    breaks = np.zeros(rows, dtype=bool)
    breaks[:-1] = np.any(flat_next[:-1] != flat_obs[1:], axis=1)
    ends = terminated | truncated | breaks
    ends[-1] = True
    episodes, start = [], 0
    for stop in np.flatnonzero(ends) + 1:
        cut = np.zeros(stop - start, dtype=bool)
        cut[-1] = truncated[stop - 1] or not terminated[stop - 1]
        episodes.append(
            Episode(
                observations=np.concatenate([obs[start:stop], next_obs[stop - 1 : stop]]),
                actions=np.asarray(arrays["actions"][start:stop]),
                rewards=np.asarray(arrays["rewards"][start:stop], dtype=np.float64),
                terminations=terminated[start:stop].copy(),
                truncations=cut,
                labels=np.asarray(arrays["labels"][start:stop]) if "labels" in arrays else None,
            )
        )
        start = int(stop)
    return episodes
