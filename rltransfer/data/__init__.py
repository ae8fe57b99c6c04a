"""Teachers that are only data: trajectories recorded, filtered and relabelled, as Minari datasets or npz.

`episodes` holds the Episode type and the recorder every rollout goes through, `store` reads and writes
datasets (Minari, locally; the zoo's `transitions.npz`), `curate` records a mapped teacher in a target,
filters episodes and relabels actions. `rltransfer data export|filter|show` are these functions.
"""

from rltransfer.data.curate import DEFAULT_EPISODES, EpisodeFilter, filter_dataset, record_teacher, relabel, summary
from rltransfer.data.episodes import Episode, EpisodeRecorder, episodes_from_rows, episodes_to_rows
from rltransfer.data.store import (
    FORMATS,
    METADATA_KEY,
    Dataset,
    check_dataset_id,
    datasets_root,
    default_dataset_id,
    read_dataset,
    write_dataset,
)

__all__ = [
    "DEFAULT_EPISODES",
    "FORMATS",
    "METADATA_KEY",
    "Dataset",
    "Episode",
    "EpisodeFilter",
    "EpisodeRecorder",
    "check_dataset_id",
    "datasets_root",
    "default_dataset_id",
    "episodes_from_rows",
    "episodes_to_rows",
    "filter_dataset",
    "read_dataset",
    "record_teacher",
    "relabel",
    "summary",
    "write_dataset",
]
