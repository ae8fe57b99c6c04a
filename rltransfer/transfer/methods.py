"""The method registry: every method `train` and `compare` know, by name, in one table.

A Method names its builder by a string entry point ("module:function"), as Gymnasium's registry
does for environments: listing or validating methods (`rltransfer --help`, TrainConfig) stays free
of torch and SB3, which only the builder module imports.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from rltransfer.registry import lookup
from rltransfer.transfer.config import Mode


@dataclass(frozen=True)
class Method:
    """One compared method.

    Attributes:
        name: Its name on the command line and in run folders.
        description: One line on what it does.
        builder: Entry point "module:function" of the function that builds its student.
        mode: Transfer mode it runs the controller in (the `mode` default of its TransferConfig).
        transfer_defaults: Other TransferConfig defaults of the method; the user's options override them.
        needs_teacher: Whether the method needs a teacher (all but scratch).
        takes_dataset: Whether its teacher may be only data (a dataset): instance and auto.
    """

    name: str
    description: str
    builder: str
    mode: Mode = Mode.NONE
    transfer_defaults: MappingProxyType[str, Any] = field(default_factory=lambda: MappingProxyType({}))
    needs_teacher: bool = True
    takes_dataset: bool = False

    def defaults(self) -> dict[str, Any]:
        """The TransferConfig options this method starts from, before the user's."""
        return {"mode": self.mode, **self.transfer_defaults}

    def build_function(self) -> Callable[..., Any]:
        """The builder function (imports its module: torch and SB3)."""
        module, _, function = self.builder.partition(":")
        return getattr(importlib.import_module(module), function)  # type: ignore[no-any-return]


_BUILDERS = "rltransfer.transfer.builders"

METHODS: dict[str, Method] = {
    method.name: method
    for method in (
        Method(
            "scratch",
            "no transfer: the student learns from its own experience only",
            f"{_BUILDERS}:build_scratch",
            needs_teacher=False,
        ),
        Method(
            "finetune",
            "copy the teacher's weights (through the mapping), then train as usual",
            f"{_BUILDERS}:build_finetune",
        ),
        Method(
            "kickstart",
            "RL loss plus a decaying distillation loss towards the teacher (Schmitt et al. 2018)",
            f"{_BUILDERS}:build_transfer",
            mode=Mode.REPRESENTATION,
            transfer_defaults=MappingProxyType(
                {
                    "weight_schedule": "linear",
                    "hidden_matching": False,
                    "init_from_teacher": False,
                    "distil_init": False,
                }
            ),
        ),
        Method(
            "jsrl",
            "the teacher acts for the first h steps of each episode, h shrinking on a curriculum (Uchendu et al.)",
            f"{_BUILDERS}:build_jsrl",
        ),
        Method(
            "instance",
            "teacher trajectories replayed into the student's updates",
            f"{_BUILDERS}:build_transfer",
            mode=Mode.INSTANCE,
            takes_dataset=True,
        ),
        Method(
            "representation",
            "distil-initialise (DAgger, layer-wise matching) and critic warm-up, then a decaying distillation term",
            f"{_BUILDERS}:build_transfer",
            mode=Mode.REPRESENTATION,
        ),
        Method(
            "auto",
            "the transfer controller chooses among representation, instance and none",
            f"{_BUILDERS}:build_transfer",
            mode=Mode.AUTO,
            takes_dataset=True,
        ),
    )
}
"""Every method train_student and compare know, by name."""


def get_method(name: str) -> Method:
    """The Method of a name (case-insensitive, did-you-mean on typos)."""
    return lookup(METHODS, name, what="method")


def method_builder(name: str) -> Callable[..., Any]:
    """The builder function of a method name (did-you-mean on typos)."""
    return get_method(name).build_function()
