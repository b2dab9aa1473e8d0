"""Zero-shot classification of images with text prompts: moved to
:mod:`evaluation.protocols.zeroshot` (it is not medical-specific); re-exported here."""

from evaluation.protocols.zeroshot import (
    ClassPrompts,
    class_text_embeddings,
    evaluate_zero_shot,
    zero_shot_classify,
    zero_shot_from_method,
    zero_shot_metrics,
)

__all__ = [
    "ClassPrompts",
    "class_text_embeddings",
    "evaluate_zero_shot",
    "zero_shot_classify",
    "zero_shot_from_method",
    "zero_shot_metrics",
]
