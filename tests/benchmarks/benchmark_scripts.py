"""Import a benchmark script as ``make bench`` does (``benchmarks/`` is not a package).

Every test goes through ``benchmarks/run_all.py``'s ``load_script``, so each script is
imported once per process under one name (``bench_<stem>``), which scripts that register
entry points (``rs_ssl_step.py`` registers a timm model) need.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

RUN_ALL = Path(__file__).resolve().parents[2] / "benchmarks" / "run_all.py"


def load_benchmark(script: str) -> ModuleType:
    """``benchmarks/<script>`` as a module."""
    name = "bench_run_all"  # the name run_all.load_script("run_all.py") would give it
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(name, RUN_ALL)
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
    return sys.modules[name].load_script(script)
