"""CLI overrides shared by the recipe tests."""

ONE_CPU_PROCESS = [
    "--trainer.accelerator",
    "cpu",
    "--trainer.devices",
    "1",
    "--trainer.strategy",
    "auto",
    "--trainer.precision",
    "32-true",
]
"""Run a full-size GPU recipe (bf16, DDP, all devices) as one full-precision CPU process."""
