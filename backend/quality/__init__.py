"""Agreement metrics and answer similarity: pure numpy and Python, no Flask, no database."""

from .agreement import (
    LEVELS,
    KappaResult,
    bootstrap_ci,
    cohen_kappa,
    fleiss_kappa,
    krippendorff_alpha,
    pairwise_cohen_kappa,
    per_task_top_share,
    percent_agreement,
    worker_agreement,
)
from .multilabel import masi_distance, mean_jaccard, mean_masi_agreement, multi_label_alpha
from .similarity import (
    box_f1,
    box_iou,
    jaccard,
    levenshtein,
    span_f1,
    text_similarity,
)

__all__ = [
    "LEVELS",
    "KappaResult",
    "bootstrap_ci",
    "box_f1",
    "box_iou",
    "cohen_kappa",
    "fleiss_kappa",
    "jaccard",
    "krippendorff_alpha",
    "levenshtein",
    "masi_distance",
    "mean_jaccard",
    "mean_masi_agreement",
    "multi_label_alpha",
    "pairwise_cohen_kappa",
    "per_task_top_share",
    "percent_agreement",
    "span_f1",
    "text_similarity",
    "worker_agreement",
]
