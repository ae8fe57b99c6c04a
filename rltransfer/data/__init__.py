"""Teachers that are only data: trajectories recorded, filtered and relabelled, as Minari datasets or npz.

`episodes` holds the Episode type and the recorder every rollout goes through, `store` reads and writes
datasets (Minari, locally; the zoo's `transitions.npz`), `curate` records a mapped teacher in a target,
filters episodes and relabels actions. `rltransfer data export|filter|show` are these functions. Names
load on first use, so `rltransfer.transfer` can read datasets without importing `curate` (which uses it).
"""

from __future__ import annotations

from rltransfer.registry import lazy_exports

_EXPORTS = {
    "DEFAULT_EPISODES": "curate",
    "EpisodeFilter": "curate",
    "filter_dataset": "curate",
    "record_teacher": "curate",
    "relabel": "curate",
    "summary": "curate",
    "Episode": "episodes",
    "EpisodeRecorder": "episodes",
    "episodes_from_rows": "episodes",
    "episodes_to_rows": "episodes",
    "FORMATS": "store",
    "METADATA_KEY": "store",
    "Dataset": "store",
    "check_dataset_id": "store",
    "datasets_root": "store",
    "default_dataset_id": "store",
    "find_dataset": "store",
    "read_dataset": "store",
    "write_dataset": "store",
}

__all__ = sorted(_EXPORTS)


__getattr__ = lazy_exports(__name__, _EXPORTS, globals())
