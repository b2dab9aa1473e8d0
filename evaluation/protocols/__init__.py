"""Evaluation protocols on frozen embeddings: label efficiency, retrieval, anomaly, search."""

from evaluation.protocols.anomaly import anomaly_auroc, knn_anomaly_scores
from evaluation.protocols.label_efficiency import label_efficiency, subsample_labels, summarise
from evaluation.protocols.retrieval import cross_modal_recall_at_k
from evaluation.protocols.similarity import precision_at_k, similarity_search

__all__ = [
    "anomaly_auroc",
    "cross_modal_recall_at_k",
    "knn_anomaly_scores",
    "label_efficiency",
    "precision_at_k",
    "similarity_search",
    "subsample_labels",
    "summarise",
]
