"""Benchmarks that write results/*.md: each module has register(subparsers) for `rltransfer bench NAME`."""

BENCH_MODULES = ("selection", "controller", "distill", "suite")
"""Modules of rltransfer.benchmarks, each adding one `rltransfer bench` subcommand."""
