"""The teacher zoo: one folder per teacher, `card.json` + `policy.safetensors` (+ `transitions.npz`).

`card` holds the card and its checks, `store` reads and writes teacher folders, `publish` turns a
policy into an evaluated entry, `verify` checks a whole zoo; `recipes`, `importing` and
`hyperparams` make teachers from YAML recipes and SB3 zips.
"""

from __future__ import annotations

from rltransfer.zoo.card import CARD_FILE, FORMAT_VERSION, TeacherCard, read_card, validate_entry_name
from rltransfer.zoo.publish import ZooEntry, publish_teacher
from rltransfer.zoo.store import (
    TRANSITION_KEYS,
    TRANSITIONS_FILE,
    WEIGHTS_FILE,
    Teacher,
    default_zoo,
    library_versions,
    list_cards,
    list_teacher_names,
    load_teacher,
    load_teachers,
    resolve_teacher_dir,
    save_teacher,
    sha256_file,
    transitions_npz_bytes,
    weights_bytes,
)
from rltransfer.zoo.verify import VerifyResult, verify_zoo

__all__ = [
    "CARD_FILE",
    "FORMAT_VERSION",
    "TRANSITIONS_FILE",
    "TRANSITION_KEYS",
    "WEIGHTS_FILE",
    "Teacher",
    "TeacherCard",
    "VerifyResult",
    "ZooEntry",
    "default_zoo",
    "library_versions",
    "list_cards",
    "list_teacher_names",
    "load_teacher",
    "load_teachers",
    "publish_teacher",
    "read_card",
    "resolve_teacher_dir",
    "save_teacher",
    "sha256_file",
    "transitions_npz_bytes",
    "validate_entry_name",
    "verify_zoo",
    "weights_bytes",
]
