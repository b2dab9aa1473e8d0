"""Find host-device synchronisations in a training step, on any device (the CPU included).

On a GPU, reading a tensor's value on the host (``.item()``, ``bool(t)``, ``if t > 0:``,
``.tolist()``, ``.nonzero()``, boolean-mask indexing, ...) stalls the host until the GPU has
caught up, so the next kernels cannot be queued ahead. PyTorch's own detector
(``torch.cuda.set_sync_debug_mode``) needs a GPU; this one intercepts the same operations with a
``TorchFunctionMode``, so a CPU test can assert that a step has none (or only known ones).

    with HostSyncRecorder() as syncs:
        loss = module.training_step(batch, 0)
        loss.backward()
    print(syncs.sites())   # {"domains/remote_sensing/tokenizer.py:237 __bool__": 1, ...}
"""

from __future__ import annotations

import traceback
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch.overrides import TorchFunctionMode

SYNCING = frozenset(
    {
        "__bool__",
        "__float__",
        "__int__",
        "__index__",
        "item",
        "tolist",
        "numpy",
        "cpu",
        "nonzero",
        "argwhere",
        "masked_select",
        "unique",
        "unique_consecutive",
        "bincount",
        "histc",
    }
)
"""Functions that copy a device tensor's value (or a data-dependent shape) to the host."""

_ROOT = Path(__file__).resolve().parents[1]


@dataclass
class HostSync:
    """One intercepted call: the function and the first frame of this repository above it."""

    function: str
    site: str


def _bool_index(args: tuple[Any, ...]) -> bool:
    """``t[mask]`` with a boolean tensor: its output size depends on the mask's values."""
    if len(args) < 2:
        return False
    index = args[1]
    parts = index if isinstance(index, tuple) else (index,)
    return any(isinstance(p, torch.Tensor) and p.dtype == torch.bool for p in parts)


def _caller_site() -> str:
    """``path:line`` of the innermost frame in this repository (not in this module)."""
    for frame in reversed(traceback.extract_stack()[:-2]):
        path = Path(frame.filename).resolve()
        if path == Path(__file__).resolve() or not path.is_relative_to(_ROOT):
            continue
        if ".venv" in path.parts or "site-packages" in path.parts:
            continue
        return f"{path.relative_to(_ROOT)}:{frame.lineno}"
    return "<outside the repository>"


class HostSyncRecorder(TorchFunctionMode):
    """Records every call that would synchronise the host with a device.

    Attributes:
        syncs: The recorded calls, in order.
    """

    def __init__(self) -> None:
        super().__init__()
        self.syncs: list[HostSync] = []

    def __torch_function__(
        self,
        func: Any,
        types: Any,
        args: tuple[Any, ...] = (),
        kwargs: dict[str, Any] | None = None,
    ) -> Any:
        name = getattr(func, "__name__", str(func))
        if name in SYNCING or (name == "__getitem__" and _bool_index(args)):
            self.syncs.append(HostSync(name, _caller_site()))
        return func(*args, **(kwargs or {}))

    def sites(self) -> Counter[str]:
        """How often each ``"path:line function"`` synchronised."""
        return Counter(f"{sync.site} {sync.function}" for sync in self.syncs)


def require(condition: torch.Tensor, message: str) -> None:
    """Raise ``ValueError(message)`` unless every element of ``condition`` is true, without a
    host sync on an accelerator.

    On the CPU the check is immediate. On a GPU it is queued as a device-side assertion
    (``torch._assert_async``): a failure stops the run at the next synchronisation with
    ``message`` in the CUDA error instead of stalling the host on every batch to check.

    Args:
        condition: Boolean tensor of any shape.
        message: The error, naming what is wrong.

    Raises:
        ValueError: On the CPU, when some element is false.
    """
    if condition.device.type == "cpu":
        with torch._C.DisableTorchFunction():  # no sync on the CPU: HostSyncRecorder ignores it
            ok = bool(condition.all())
        if not ok:
            raise ValueError(message)
        return
    torch._assert_async(condition.all(), message)
