"""`rltransfer zoo ...`: train, list, show, verify, evaluate and import teachers."""

from __future__ import annotations

import argparse
import contextlib
import sys
import warnings
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

from rltransfer.cli.common import add_json_arg, add_zoo_arg, format_table, print_json
from rltransfer.errors import BrokenTeacherWarning, ChecksumError, ConfigError, UnknownTeacherError
from rltransfer.io import strict_json
from rltransfer.make import make_env, parse_env_kwargs
from rltransfer.rollouts import evaluate, policy_act
from rltransfer.zoo import default_zoo, list_cards, load_teacher, validate_entry_name, verify_zoo
from rltransfer.zoo.importing import import_sb3
from rltransfer.zoo.recipes import load_recipe, train_teacher


def register(subparsers: Any) -> None:
    """Add the zoo subcommand and its sub-subcommands."""
    zoo = subparsers.add_parser(
        "zoo", help="manage the teacher zoo", description="Train, list, inspect, verify, evaluate and import teachers."
    )
    commands = zoo.add_subparsers(dest="zoo_command", metavar="ZOO_COMMAND", required=True)

    train = commands.add_parser(
        "train",
        help="train a teacher from a recipe and add it to the zoo",
        description="Train a teacher from an RL-Zoo-style YAML recipe, evaluate it, "
        "sample source transitions, and write card.json + policy.safetensors.",
    )
    train.add_argument("recipe", metavar="RECIPE", help="path to agents/recipes/NAME.yaml")
    add_zoo_arg(train)
    train.add_argument("--force", action="store_true", help="replace an existing teacher of that name")
    train.add_argument("--steps", type=int, default=None, help="override the recipe's n_timesteps")
    train.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    train.set_defaults(handler=_train)

    listing = commands.add_parser("list", help="list the teachers", description="List the zoo's teachers.")
    add_zoo_arg(listing)
    add_json_arg(listing)
    listing.set_defaults(handler=_list)

    show = commands.add_parser("show", help="print one teacher's card", description="Print a teacher's card.")
    show.add_argument("name", metavar="NAME", help="teacher name or folder")
    add_zoo_arg(show)
    show.set_defaults(handler=_show)

    verify = commands.add_parser(
        "verify",
        help="check every card and checksum",
        description="Load every teacher: card format, sha256 of weights and "
        "transitions, architecture. Exit 2 if any fails.",
    )
    add_zoo_arg(verify)
    verify.set_defaults(handler=_verify)

    evaluate = commands.add_parser(
        "eval",
        help="evaluate a teacher on its source task",
        description="Run deterministic episodes of a teacher on its source task.",
    )
    evaluate.add_argument("name", metavar="NAME", help="teacher name or folder")
    evaluate.add_argument("--episodes", type=int, default=10, help="number of episodes (default 10)")
    evaluate.add_argument("--seed", type=int, default=0, help="first episode seed (default 0)")
    add_zoo_arg(evaluate)
    evaluate.set_defaults(handler=_eval)

    imp = commands.add_parser(
        "import-sb3",
        help="turn an SB3 .zip model into a teacher (trusts the file)",
        description="Convert an existing Stable-Baselines3 model zip into a teacher "
        "(card + safetensors). Loading an SB3 zip unpickles it: only import files you "
        "trust. The resulting teacher loads without unpickling.",
    )
    imp.add_argument("path", metavar="PATH.zip", help="SB3 model saved with model.save()")
    imp.add_argument("--env", required=True, metavar="ID", help="the env id the model was trained on")
    imp.add_argument("--env-kwargs", default=None, metavar="KWARGS", help="gym.make kwargs of that env")
    imp.add_argument("--name", required=True, help="teacher name in the zoo")
    imp.add_argument("--episodes", type=int, default=10, help="evaluation episodes for the card")
    imp.add_argument("--force", action="store_true", help="replace an existing teacher of that name")
    add_zoo_arg(imp)
    imp.set_defaults(handler=_import)


def _zoo_dir(args: argparse.Namespace) -> Path:
    return Path(args.zoo) if args.zoo else default_zoo()


def _show_warning(
    message: Warning | str, category: type[Warning], filename: str, lineno: int, file: Any = None, line: Any = None
) -> None:
    if issubclass(category, BrokenTeacherWarning):
        print(f"rltransfer: warning: {message}", file=sys.stderr)
    else:
        sys.stderr.write(warnings.formatwarning(message, category, filename, lineno, line))


@contextlib.contextmanager
def one_line_warnings() -> Iterator[None]:
    """Show each BrokenTeacherWarning (a skipped teacher) as one `rltransfer: warning: ...` line on stderr."""
    with warnings.catch_warnings():
        warnings.simplefilter("always", BrokenTeacherWarning)
        warnings.showwarning = _show_warning
        yield


def _positive_episodes(episodes: int) -> int:
    if episodes < 1:
        raise ConfigError(
            f"--episodes {episodes} is not a positive number of episodes", fix="pass --episodes 1 or more"
        )
    return episodes


def _train(args: argparse.Namespace) -> int:
    recipe = load_recipe(args.recipe)
    if args.steps is not None:
        recipe = replace(recipe, n_timesteps=args.steps)  # Recipe checks it is positive
    zoo = _zoo_dir(args)
    print(f"training {recipe.name}: {recipe.algo} on {recipe.env} for {recipe.n_timesteps} steps")
    card = train_teacher(recipe, zoo, progress_bar=not args.no_progress, overwrite=args.force)
    print(
        f"wrote {zoo / card.name}: eval return {card.eval_mean:.1f} ± {card.evaluation['std']:.1f} "
        f"over {int(card.evaluation['episodes'])} episodes"
    )
    return 0


def _list(args: argparse.Namespace) -> int:
    zoo = _zoo_dir(args)
    if not zoo.is_dir():
        raise UnknownTeacherError(
            f"zoo {zoo} is not a folder", fix="pass --zoo DIR, or train teachers with `zoo train`"
        )
    with one_line_warnings():
        cards = list_cards(zoo)
    if args.json:
        print_json([{**card.to_dict(), "eval_mean": card.eval_mean} for card in cards])
        return 0
    rows = [
        [
            c.name,
            c.env_id,
            c.family,
            c.algo,
            c.observation_space.describe(),
            c.action_space.describe(),
            c.n_timesteps,
            c.eval_mean,
        ]
        for c in cards
    ]
    print(format_table(["name", "env_id", "family", "algo", "obs", "action", "steps", "eval_mean"], rows))
    return 0


def _show(args: argparse.Namespace) -> int:
    teacher = load_teacher(args.name, args.zoo)
    print(strict_json(teacher.card.to_dict(), indent=2))
    return 0


def _verify(args: argparse.Namespace) -> int:
    zoo = _zoo_dir(args)
    results = verify_zoo(zoo)
    if not results:
        raise UnknownTeacherError(f"no teachers in {zoo}", fix="pass --zoo DIR or train one with `zoo train`")
    for result in results:
        print(f"{'ok  ' if result.ok else 'FAIL'}  {result.name}{'  ' + result.problem if result.problem else ''}")
    failed = [r for r in results if not r.ok]
    if failed:
        raise ChecksumError(
            f"{len(failed)} of {len(results)} teachers failed verification",
            fix="restore or re-train the teachers marked FAIL",
        )
    print(f"{len(results)} teachers verified")
    return 0


def _eval(args: argparse.Namespace) -> int:
    _positive_episodes(args.episodes)
    teacher = load_teacher(args.name, args.zoo)
    env = make_env(teacher.card.env_id, teacher.card.env_kwargs)
    result = evaluate(env, policy_act(teacher.policy), episodes=args.episodes, seed=args.seed)
    print(
        f"{teacher.name} on {teacher.card.env_id}: return {result.mean:.1f} ± {result.std:.1f} over "
        f"{args.episodes} episodes (card: {teacher.card.eval_mean:.1f})"
    )
    return 0


def _import(args: argparse.Namespace) -> int:
    validate_entry_name(args.name)
    _positive_episodes(args.episodes)
    print(
        f"warning: loading {args.path} unpickles it; import only SB3 files you trust. "
        "The teacher written to the zoo loads without unpickling."
    )
    card = import_sb3(
        args.path,
        env_id=args.env,
        env_kwargs=parse_env_kwargs(args.env_kwargs),
        name=args.name,
        zoo=_zoo_dir(args),
        episodes=args.episodes,
        overwrite=args.force,
    )
    print(f"imported {card.name}: {card.algo} on {card.env_id}, eval return {card.eval_mean:.1f}")
    return 0
