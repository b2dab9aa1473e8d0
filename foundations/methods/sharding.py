"""Fully sharded data parallelism (FSDP2) for the self-supervised methods.

Each transformer block becomes its own FSDP unit (its weights are gathered just before it runs
and freed after), the remaining parameters (tokenizers, tokens, heads, projections) form one
unit at the method itself. Lightning's ``ModelParallelStrategy`` calls
:meth:`SSLMethod.configure_model <foundations.methods.base.SSLMethod.configure_model>`, which
applies :func:`shard_method` on the strategy's data-parallel mesh. :class:`FullyShardedStrategy`
is that strategy with every process in the data-parallel group (``recipes/strategies/fsdp.yaml``).
"""

from __future__ import annotations

from datetime import timedelta
from functools import partial

import torch
import torch.distributed as dist
from lightning.fabric.plugins.collectives.torch_collective import default_pg_timeout
from lightning.pytorch.strategies import ModelParallelStrategy
from torch import nn
from torch.distributed.device_mesh import DeviceMesh
from torch.distributed.fsdp import FSDPModule, fully_shard, register_fsdp_forward_method

from foundations.encoders.trunk import TransformerTrunk

# Lightning calls these on the method rather than ``forward``; FSDP gathers the method's own
# unit (every parameter outside the blocks) only around registered methods.
STEP_METHODS = ("training_step", "validation_step", "test_step", "predict_step")


def transformer_blocks(module: nn.Module) -> list[nn.Module]:
    """Every block of every transformer trunk inside ``module``, in module order.

    This covers the trunk of each :class:`~foundations.encoders.Encoder` (student, teacher or
    momentum copies, every encoder of a multimodal method) and trunks used elsewhere, such as the
    MAE decoder's.

    Args:
        module: The method (or any module) to search.

    Returns:
        The blocks, each an ``nn.Module``.
    """
    return [
        block
        for trunk in module.modules()
        if isinstance(trunk, TransformerTrunk)
        for block in trunk.blocks
    ]


def replicate_scalars(module: nn.Module, mesh: DeviceMesh) -> set[nn.Parameter]:
    """Keep 0-dim parameters whole on every rank, averaging their gradients over ``mesh``.

    ``fully_shard`` refuses scalar parameters (the learnable ``logit_scale`` / ``logit_bias`` of
    the CLIP and SigLIP objectives). Left out of FSDP they are ordinary replicated tensors, kept
    identical across ranks by averaging each gradient as soon as it is accumulated; every rank
    must therefore use them in each backward pass, as the alignment losses do.

    Args:
        module: The method whose scalar parameters are collected.
        mesh: The data-parallel mesh the rest of the method is sharded over.

    Returns:
        The scalar parameters, to pass to ``fully_shard`` as ``ignored_params``.
    """
    scalars = {param for param in module.parameters() if param.ndim == 0}
    average = partial(_average_gradient, group=mesh.get_group(), size=mesh.size())
    for param in scalars:
        if param.requires_grad:
            param.register_post_accumulate_grad_hook(average)
    return scalars


def _average_gradient(param: torch.Tensor, group: dist.ProcessGroup, size: int) -> None:
    if param.grad is not None:
        dist.all_reduce(param.grad, group=group)  # gloo has no ReduceOp.AVG
        param.grad.div_(size)


def shard_method(module: nn.Module, mesh: DeviceMesh) -> nn.Module:
    """Shard a method's parameters over ``mesh`` with FSDP2, in place.

    Every transformer block is sharded as its own unit, then ``module`` itself as the root unit
    holding all other parameters except scalars (see :func:`replicate_scalars`). The root's step
    methods (``training_step``, ...) are registered as forward methods, so the root unit is
    gathered for the whole step, including calls such as ``encoder.tokenize`` and
    ``encoder.encode_tokens`` that bypass ``forward``.
    Parameters stay in their original shapes as ``DTensor`` shards (dimension 0 split over the
    mesh), identically for an encoder and its EMA copy, so momentum updates between them remain
    element-wise on the local shards. Calling it again on a sharded module does nothing.

    Args:
        module: The method to shard (an :class:`~foundations.methods.base.SSLMethod`).
        mesh: A one-dimensional mesh of the data-parallel ranks.

    Returns:
        ``module``, now also an ``FSDPModule``.

    Raises:
        ValueError: When ``mesh`` is not one-dimensional.
    """
    if isinstance(module, FSDPModule):
        return module
    if mesh.ndim != 1:
        raise ValueError(f"shard_method needs a 1-D data-parallel mesh, got {mesh.ndim} dimensions")
    for block in transformer_blocks(module):
        fully_shard(block, mesh=mesh)
    fully_shard(module, mesh=mesh, ignored_params=replicate_scalars(module, mesh))
    for name in STEP_METHODS:
        register_fsdp_forward_method(module, name)
    return module


class FullyShardedStrategy(ModelParallelStrategy):
    """Lightning's ``ModelParallelStrategy`` as plain FSDP2: all processes shard the model.

    The parent's ``"auto"`` sizes give one data-parallel rank per node and tensor parallelism
    within it, which our methods do not implement; here the data-parallel size is the world size
    (whatever ``devices`` and ``num_nodes`` resolve to) and there is no tensor parallelism.

    Args:
        save_distributed_checkpoint: ``True``: each rank writes its shard into a checkpoint
            folder; ``False``: rank 0 writes one full file, loadable without this strategy (on
            any number of processes, or by ``SSLMethod.load_from_checkpoint``).
        process_group_backend: ``torch.distributed`` backend (NCCL on GPUs, gloo on the CPU by
            default).
        timeout: Timeout of the process group's collectives.
    """

    def __init__(
        self,
        save_distributed_checkpoint: bool = True,
        process_group_backend: str | None = None,
        timeout: timedelta | None = default_pg_timeout,
    ) -> None:
        super().__init__(
            data_parallel_size="auto",
            tensor_parallel_size=1,
            save_distributed_checkpoint=save_distributed_checkpoint,
            process_group_backend=process_group_backend,
            timeout=timeout,
        )

    def setup_environment(self) -> None:
        self._data_parallel_size = self.num_nodes * self.num_processes
        super().setup_environment()
