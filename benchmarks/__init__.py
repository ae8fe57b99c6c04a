"""Benchmarks that write results/*.md, kept beside the library, not in it (as RL Zoo and imitation do).

    python -m benchmarks NAME [options]      # or: make bench (every benchmark with its defaults)

Each module of BENCH_MODULES has register(subparsers), adding its subcommand with a `handler`.
"""

BENCH_MODULES = ("selection", "controller", "distill", "suite", "representation", "mapping")
"""Modules of benchmarks/, each one subcommand of `python -m benchmarks`."""
PROGRAM = "python -m benchmarks"
"""How the benchmarks are invoked: the first words of the command every results file starts with."""
