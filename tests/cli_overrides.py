"""CLI overrides shared by the recipe tests."""

from foundations.cli.lightning_cli import ONE_CPU_PROCESS_ARGS

ONE_CPU_PROCESS = [*ONE_CPU_PROCESS_ARGS, "--trainer.precision", "32-true"]
"""Run a full-size GPU recipe (bf16, DDP, all devices) as one full-precision CPU process."""
