"""Train one student in a run folder: `train_student(TrainConfig(...), run_dir)`.

`config` holds TrainConfig, `folder` the run-folder contract (every file name, read/write helpers),
`checkpoint` Ctrl-C checkpoints and resuming, `result` the RunResult written last, `train` the loop.
"""

from rltransfer.training.checkpoint import load_checkpoint, save_checkpoint
from rltransfer.training.config import MAX_N_ENVS, MAX_SEED, MAX_TIMESTEPS, TrainConfig
from rltransfer.training.folder import (
    CHECKPOINT_DIR,
    COMMAND_FILE,
    CONFIG_FILE,
    DECISIONS_FILE,
    EPISODES_FILE,
    ERROR_FILE,
    RESULT_FILE,
    RUN_ENTRIES,
    STUDENT_DIR,
    TB_DIR,
    clear_run_folder,
    exclusive_run_folder,
    has_checkpoint,
    is_finished,
    read_config,
    read_episodes,
    read_error,
    run_folder_state,
    write_error,
    write_run_header,
)
from rltransfer.training.result import RunResult, finish_run
from rltransfer.training.train import (
    EpisodeRecorder,
    check_target,
    check_target_env,
    make_student_env,
    resolve_settings,
    save_student,
    train_student,
)

__all__ = [
    "CHECKPOINT_DIR",
    "COMMAND_FILE",
    "CONFIG_FILE",
    "DECISIONS_FILE",
    "EPISODES_FILE",
    "ERROR_FILE",
    "MAX_N_ENVS",
    "MAX_SEED",
    "MAX_TIMESTEPS",
    "RESULT_FILE",
    "RUN_ENTRIES",
    "STUDENT_DIR",
    "TB_DIR",
    "EpisodeRecorder",
    "RunResult",
    "TrainConfig",
    "check_target",
    "check_target_env",
    "clear_run_folder",
    "exclusive_run_folder",
    "finish_run",
    "has_checkpoint",
    "is_finished",
    "load_checkpoint",
    "make_student_env",
    "read_config",
    "read_episodes",
    "read_error",
    "resolve_settings",
    "run_folder_state",
    "save_checkpoint",
    "save_student",
    "train_student",
    "write_error",
    "write_run_header",
]
