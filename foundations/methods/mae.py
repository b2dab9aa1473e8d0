"""MAE: drop most tokens, encode the rest, reconstruct the dropped ones (He et al., 2022)."""

from __future__ import annotations

from typing import Any, Protocol, runtime_checkable

import torch
from torch import Tensor, nn

from foundations.encoders.encoder import Encoder
from foundations.encoders.masking import hidden_index, random_keep_index
from foundations.encoders.tokens import TokenBatch, gather_tokens
from foundations.encoders.trunk import TransformerTrunk
from foundations.methods.base import SSLMethod
from foundations.methods.views import batch_size_of, make_view
from foundations.objectives.mae import MAELoss


class MAEDecoder(nn.Module):
    """A light transformer that predicts every token's target from the visible ones.

    Mask tokens are placed at hidden positions using the tokenizer's positional embeddings
    (projected to the decoder width), so any tokenizer that reports ``pos`` works: 2D/3D
    patches, wavelengths, observation times.

    Args:
        encoder_dim: Width of the encoder tokens.
        target_dim: Per-token target width P.
        embed_dim: Decoder width.
        depth: Decoder blocks.
        num_heads: Decoder attention heads.
    """

    def __init__(
        self, encoder_dim: int, target_dim: int, embed_dim: int, depth: int, num_heads: int
    ) -> None:
        super().__init__()
        self.embed = nn.Linear(encoder_dim, embed_dim)
        self.pos_embed = nn.Linear(encoder_dim, embed_dim)
        self.mask_token = nn.Parameter(torch.zeros(1, 1, embed_dim))
        nn.init.normal_(self.mask_token, std=0.02)
        self.blocks = TransformerTrunk(embed_dim, depth, num_heads)
        self.predict = nn.Linear(embed_dim, target_dim)

    def forward(
        self,
        visible: Tensor,
        keep_index: Tensor,
        full: TokenBatch,
        predict_index: Tensor | None = None,
    ) -> Tensor:
        """Predict targets from ``visible`` ``[B, K, D]``.

        Args:
            visible: Encoded visible tokens.
            keep_index: ``[B, K]`` positions of the visible tokens among the N.
            full: The tokenizer's output for all N tokens (positions, padding).
            predict_index: ``[B, M]`` positions to predict; ``None`` predicts all N. MAE asks
                for the hidden ones only, so the output layer runs on ``M = N - K`` tokens.

        Returns:
            ``[B, N, P]``, or ``[B, M, P]`` with ``predict_index``.
        """
        batch, num_tokens = full.batch_size, full.num_tokens
        embedded = self.embed(visible)  # under autocast its dtype may differ from `visible`'s
        x = self.mask_token.expand(batch, num_tokens, -1).to(embedded.dtype).clone()
        x.scatter_(1, keep_index.unsqueeze(-1).expand(-1, -1, x.shape[-1]), embedded)
        assert full.pos is not None
        x = x + self.pos_embed(full.pos.to(embedded.dtype))
        x = self.blocks(x, full.padding_mask)
        if predict_index is not None:
            x = gather_tokens(x, predict_index)
        return self.predict(x)


@runtime_checkable
class SummaryTargetTokenizer(Protocol):
    """A tokenizer that also describes each whole sample by a fixed-length target vector."""

    summary_dim: int

    def summary_target(self, inputs: Any) -> Tensor:
        """``[B, summary_dim]`` targets of a batch of raw inputs."""
        ...


class MAE(SSLMethod):
    """Masked modelling on any tokenizer that provides ``pos`` and ``target``.

    Args:
        encoder: The modality encoder; only visible tokens pass through its trunk.
        augment: Optional light view policy applied before tokenizing.
        mask_ratio: Fraction of tokens hidden from the encoder.
        decoder_dim: Decoder width.
        decoder_depth: Decoder blocks.
        decoder_heads: Decoder attention heads.
        norm_target: Normalise each target patch by its own mean and variance.
        target_dim: Per-token target width; inferred from the tokenizer's ``target_dim``
            attribute when ``None``.
        huber_delta: Score reconstructions with the Huber loss switching to absolute error at
            this error (see :class:`~foundations.objectives.mae.MAELoss`), for heavy-tailed
            targets such as photometry; None keeps MAE's squared error.
        summary_weight: With ``w > 0``, a linear head on the pooled embedding of the visible
            tokens also predicts the tokenizer's per-sample ``summary_target(inputs)`` (width
            ``summary_dim``), computed from the whole input, hidden tokens included; its
            error (Huber with ``huber_delta``, else squared), times ``w``, joins the loss.
            A hand-made descriptor as the target, as MaskFeat (Wei et al., 2022) predicts
            HOG: for light curves the folded shape, which the reconstruction alone can
            leave to the decoder.

    Raises:
        ValueError: When the tokenizer has no ``target_dim``, on ``norm_target`` with one
            value per token, or on ``summary_weight > 0`` with a tokenizer that has no
            summary target.
    """

    def __init__(
        self,
        encoder: Encoder,
        augment: nn.Module | None = None,
        mask_ratio: float = 0.75,
        decoder_dim: int = 128,
        decoder_depth: int = 2,
        decoder_heads: int = 4,
        norm_target: bool = True,
        target_dim: int | None = None,
        lr: float = 1.5e-3,
        weight_decay: float = 0.05,
        warmup_ratio: float = 0.1,
        final_lr_ratio: float = 0.01,
        huber_delta: float | None = None,
        summary_weight: float = 0.0,
    ) -> None:
        super().__init__(lr, weight_decay, warmup_ratio, final_lr_ratio, betas=(0.9, 0.95))
        self.save_config("encoder", "augment")
        target_dim = target_dim or getattr(encoder.tokenizer, "target_dim", None)
        if not target_dim:
            raise ValueError(
                f"{type(encoder.tokenizer).__name__} has no `target_dim`; pass target_dim to MAE"
            )
        if norm_target and int(target_dim) == 1:
            raise ValueError(
                "norm_target=True with one value per token normalises every target to 0; "
                "set norm_target to false for this tokenizer"
            )
        self.encoder = encoder
        self.augment = augment
        self.mask_ratio = mask_ratio
        self.decoder = MAEDecoder(
            encoder.out_dim, int(target_dim), decoder_dim, decoder_depth, decoder_heads
        )
        self.criterion = MAELoss(norm_target=norm_target, huber_delta=huber_delta)
        self.summary_weight = summary_weight
        self.summary_head: nn.Linear | None = None
        # the reconstruction's error function, without per-patch normalisation
        self.summary_criterion = MAELoss(huber_delta=huber_delta)
        if summary_weight > 0:
            tokenizer = encoder.tokenizer
            if not isinstance(tokenizer, SummaryTargetTokenizer) or tokenizer.summary_dim < 1:
                raise ValueError(
                    f"summary_weight={summary_weight} needs a tokenizer with a summary target "
                    f"(summary_target and summary_dim >= 1); {type(tokenizer).__name__} has none"
                )
            self.summary_head = nn.Linear(encoder.out_dim, tokenizer.summary_dim)

    def reconstruction_loss(self, inputs: Any) -> Tensor:
        """The training loss: reconstruction, plus the weighted summary loss when set."""
        return self._training_loss(*self.masked_losses(inputs))

    def _training_loss(self, reconstruction: Tensor, summary: Tensor | None) -> Tensor:
        if summary is None:
            return reconstruction
        return reconstruction + self.summary_weight * summary

    def masked_losses(self, inputs: Any) -> tuple[Tensor, Tensor | None]:
        """Mask, encode the visible tokens, decode, and score the hidden ones.

        Returns:
            The reconstruction loss of the hidden tokens, and the summary loss of the pooled
            embedding (``None`` without ``summary_weight``).

        Raises:
            ValueError: When the tokenizer gives no ``target`` or no ``pos``.
        """
        tokens = self.encoder.tokenize(inputs)
        if tokens.target is None or tokens.pos is None:
            raise ValueError(
                f"MAE needs a tokenizer that returns `target` and `pos`; "
                f"{type(self.encoder.tokenizer).__name__} returned "
                f"target={'set' if tokens.target is not None else 'None'}, "
                f"pos={'set' if tokens.pos is not None else 'None'}"
            )
        keep_index, mask = random_keep_index(
            tokens.batch_size,
            tokens.num_tokens,
            self.mask_ratio,
            tokens.padding_mask,
            device=tokens.tokens.device,
        )
        encoded = self.encoder.encode_tokens(tokens, keep_index)
        visible = encoded.tokens
        # Only hidden tokens are scored, so only they go through the output layer and the loss.
        hidden = hidden_index(keep_index, tokens.num_tokens)
        prediction = self.decoder(visible, keep_index, tokens, predict_index=hidden)
        target_mask = tokens.target_mask
        reconstruction = self.criterion(
            prediction,
            gather_tokens(tokens.target, hidden),
            gather_tokens(mask, hidden),
            None if target_mask is None else gather_tokens(target_mask, hidden),
        )
        tokenizer = self.encoder.tokenizer
        if self.summary_head is None or not isinstance(tokenizer, SummaryTargetTokenizer):
            return reconstruction, None
        # one "token" per sample, every value scored: the mean error over the batch
        predicted = self.summary_head(encoded.pooled).float()[:, None]
        target = tokenizer.summary_target(inputs).float()[:, None]
        scored = torch.ones(predicted.shape[:2], dtype=torch.bool, device=predicted.device)
        return reconstruction, self.summary_criterion(predicted, target, scored)

    def shared_step(self, batch: dict[str, Any], stage: str) -> Tensor:
        inputs = make_view(self.augment, batch[self.encoder.modality])
        reconstruction, summary = self.masked_losses(inputs)
        loss = self._training_loss(reconstruction, summary)
        parts = {} if summary is None else {"reconstruction": reconstruction, "summary": summary}
        self.log_loss(stage, loss, batch_size_of(inputs), **parts)
        return loss
