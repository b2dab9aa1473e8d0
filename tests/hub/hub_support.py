"""Shared by the hub tests: a toy run trained once per session, a loopback HTTP server.

Not a conftest.py: a second ``conftest`` module would shadow ``tests/methods/conftest.py``
for its ``from conftest import ...``. Test modules import these fixtures by name.
"""

from __future__ import annotations

import functools
import http.server
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from foundations import api

RECIPE = Path(__file__).resolve().parents[2] / "recipes" / "core" / "simclr_toy.yaml"


_RUNS: dict[str, Path] = {}


@pytest.fixture(scope="session")
def toy_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A ``foundations fit`` run folder of the SimCLR toy recipe (two steps), trained once."""
    if "toy" in _RUNS:
        return _RUNS["toy"]
    root = tmp_path_factory.mktemp("toy_run")
    api.fit(
        RECIPE,
        {
            "trainer.max_steps": 2,
            "trainer.default_root_dir": root,
            "trainer.enable_progress_bar": False,
            "data.init_args.num_samples": 320,
            "data.init_args.batch_size": 32,
        },
    )
    _RUNS["toy"] = root
    return root


@pytest.fixture(scope="session")
def toy_checkpoint(toy_run: Path) -> Path:
    return next(toy_run.rglob("last.ckpt"))


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        pass


class LoopbackServer:
    """A static HTTP server for one folder on 127.0.0.1 (any free port), in a thread."""

    def __init__(self, folder: Path) -> None:
        handler = functools.partial(_QuietHandler, directory=str(folder))
        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture()
def serve() -> Iterator[Callable[[Path], LoopbackServer]]:
    """``serve(folder)`` starts a :class:`LoopbackServer`; all are stopped after the test."""
    servers: list[LoopbackServer] = []

    def start(folder: Path) -> LoopbackServer:
        servers.append(LoopbackServer(folder))
        return servers[-1]

    yield start
    for server in servers:
        if server.server.socket.fileno() != -1:
            server.stop()
