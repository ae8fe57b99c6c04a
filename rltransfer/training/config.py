"""TrainConfig: one student run, fully resolved and validated, saved as the run's config.json."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields
from typing import Any, cast

from rltransfer.errors import ConfigError
from rltransfer.policies import ALGOS, algo_class
from rltransfer.transfer.config import TransferConfig
from rltransfer.transfer.methods import get_method
from rltransfer.zoo.hyperparams import check_hyperparams, check_policy_kwargs

MAX_TIMESTEPS = 10**10
"""Most environment steps one run may ask for (10 billion: days of training even for the fastest envs)."""
MAX_N_ENVS = 1024
"""Most parallel training environments of one run (each is a Python object stepped in this process)."""
MAX_SEED = 2**31 - 1 - MAX_N_ENVS
"""Largest seed: numpy takes seeds below 2**32, and env k of a run is seeded with seed + k."""


@dataclass(kw_only=True, frozen=True)
class TrainConfig:
    """A student run, fully resolved.

    Attributes:
        env_id: Target environment id.
        env_kwargs: gym.make kwargs of the target.
        algo: SB3 algorithm of the student.
        total_timesteps: Environment steps to train for.
        seed: Seed of environments, networks and sampling.
        method: A name of rltransfer.transfer.methods.METHODS ("scratch", "kickstart", "auto", ...).
        teacher: Teacher name or folder, "auto" for the top of the ranking, or None for scratch.
        zoo: Zoo folder (None: the default zoo).
        n_envs: Parallel training environments (None: the hyperparams of record).
        hyperparams: Algorithm kwargs overriding the hyperparams of record.
        policy_kwargs: Policy kwargs overriding the hyperparams of record.
        mapping: Mapping.to_dict() of teacher → student spaces; None: identity when the spaces match,
            else found by rltransfer.selection.find_mapping.
        transfer: Options of the transfer method. Given as a dict (as `--transfer` gives), the options
            named override the method's defaults (kickstart: linear schedule, no layer matching, ...);
            given as a TransferConfig, it is used as it is. Stored as the resolved TransferConfig;
            config.json keeps only the options given (see `transfer_options`).
    """

    env_id: str
    env_kwargs: dict[str, Any] = field(default_factory=dict)
    algo: str = "ppo"
    total_timesteps: int = 50_000
    seed: int = 0
    method: str = "scratch"
    teacher: str | None = None
    zoo: str | None = None
    n_envs: int | None = None
    hyperparams: dict[str, Any] = field(default_factory=dict)
    policy_kwargs: dict[str, Any] = field(default_factory=dict)
    mapping: dict[str, Any] | None = None
    transfer: TransferConfig | dict[str, Any] = field(default_factory=dict)
    _given: tuple[str, ...] = field(init=False, repr=False, default=())

    def __post_init__(self) -> None:
        if self.algo.lower() not in ALGOS:
            algo_class(self.algo)
        if not 0 < self.total_timesteps <= MAX_TIMESTEPS:
            raise ConfigError(
                f"--steps must be in [1, {MAX_TIMESTEPS:.0e}], got {self.total_timesteps}", fix="pass --steps N"
            )
        if self.n_envs is not None and not 0 < self.n_envs <= MAX_N_ENVS:
            raise ConfigError(
                f"n_envs must be in [1, {MAX_N_ENVS}], got {self.n_envs}", fix=f"pass --n-envs N with N <= {MAX_N_ENVS}"
            )
        if not 0 <= self.seed <= MAX_SEED:
            raise ConfigError(f"--seed must be in [0, {MAX_SEED}], got {self.seed}", fix="pass --seed K, e.g. 0")
        check_hyperparams(self.algo, self.hyperparams)
        check_policy_kwargs(self.policy_kwargs)
        defaults = get_method(self.method).defaults()
        given = self.transfer
        if isinstance(given, TransferConfig):
            base = TransferConfig.from_dict(defaults)
            names = tuple(f.name for f in fields(TransferConfig) if getattr(given, f.name) != getattr(base, f.name))
            resolved = given
        else:
            TransferConfig.from_dict(given)  # the user's options alone first: their errors name no default
            names = tuple(given)
            resolved = TransferConfig.from_dict({**defaults, **given})
        object.__setattr__(self, "transfer", resolved)
        object.__setattr__(self, "_given", names)

    def __repr__(self) -> str:
        """The constructor call, with `transfer` as the options given (command.txt of API runs shows it)."""
        shown = {f.name: getattr(self, f.name) for f in fields(self) if f.init}
        shown["transfer"] = self.transfer_options()
        return f"TrainConfig({', '.join(f'{name}={value!r}' for name, value in shown.items())})"

    @property
    def transfer_config(self) -> TransferConfig:
        """The resolved TransferConfig of the run (what `transfer` holds once the config is built)."""
        return cast(TransferConfig, self.transfer)

    def transfer_options(self) -> dict[str, Any]:
        """The transfer options the run was given (what config.json stores); the method supplies the rest."""
        return {name: getattr(self.transfer, name) for name in self._given}

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe dict (saved as config.json)."""
        data = asdict(self)
        del data["_given"]
        data["transfer"] = self.transfer_options()
        return data
