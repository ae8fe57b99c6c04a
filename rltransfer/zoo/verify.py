"""`zoo verify`: check every teacher of a zoo without raising for a bad one."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from rltransfer.errors import CardFormatError, ChecksumError, RLTransferError
from rltransfer.make import make_env
from rltransfer.spaces import SpaceSignature
from rltransfer.zoo.card import TeacherCard
from rltransfer.zoo.store import TRANSITIONS_FILE, default_zoo, list_teacher_names, load_teacher


@dataclass(frozen=True)
class VerifyResult:
    """Outcome of checking one teacher folder."""

    name: str
    ok: bool
    problem: str = ""


def verify_zoo(zoo: str | os.PathLike[str] | None = None) -> list[VerifyResult]:
    """Check every card, checksum and architecture in a zoo, and that each card's env has its spaces.

    Never raises for a bad teacher.
    """
    zoo_dir = Path(zoo) if zoo is not None else default_zoo()
    results = []
    for name in list_teacher_names(zoo_dir):
        try:
            teacher = load_teacher(zoo_dir / name)
            if teacher.card.transitions_sha256 is not None and not (teacher.path / TRANSITIONS_FILE).is_file():
                raise ChecksumError(
                    f"{teacher.path / TRANSITIONS_FILE} is missing although its card has its sha256",
                    fix="restore the file or re-create the teacher with `rltransfer zoo train`",
                )
            teacher.load_transitions()
            _check_env_matches(teacher.card)
            results.append(VerifyResult(name, True))
        except RLTransferError as exc:
            results.append(VerifyResult(name, False, exc.line()))
    return results


def _check_env_matches(card: TeacherCard) -> None:
    """The card's env_id (with its env_kwargs) has the spaces the card claims."""
    try:
        env = make_env(card.env_id, card.env_kwargs)
    except RLTransferError:
        raise
    except Exception as exc:  # the env's own constructor, on kwargs from an untrusted card
        raise CardFormatError(
            f"card {card.name}: {card.env_id} cannot be made with env_kwargs {card.env_kwargs} "
            f"({type(exc).__name__}: {exc})",
            fix="restore the card",
        ) from exc
    try:
        spaces = SpaceSignature.of(env.observation_space), SpaceSignature.of(env.action_space)
    finally:
        env.close()
    claimed = card.observation_space, card.action_space
    if not all(made.same_as(card_sig) for made, card_sig in zip(spaces, claimed, strict=True)):
        raise CardFormatError(
            f"card {card.name} claims {claimed[0].describe()} → {claimed[1].describe()}, but its env {card.env_id} has "
            f"{spaces[0].describe()} → {spaces[1].describe()}",
            fix="restore the card: its env_id or its spaces were changed",
        )
