"""How alike two answers are, per task type, on answer dicts as the API stores them.

single_choice ``{"choice": str}``, multi_choice ``{"choices": [str]}``, rating ``{"value": int}``,
bounding_boxes ``{"boxes": [{"label", "x", "y", "width", "height"}]}`` (pixels),
text_spans ``{"spans": [{"label", "start", "end"}]}``, free_text ``{"text": str}``.
Every score is in [0, 1]; two empty answers agree fully.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from itertools import combinations
from typing import Any

# Longer free texts are compared on their first characters only when both exceed this.
TEXT_CAP = 2000


def _jaccard(a: set, b: set) -> float:
    union = a | b
    return len(a & b) / len(union) if union else 1.0


def box_iou(a: Mapping[str, float], b: Mapping[str, float]) -> float:
    """Intersection over union of two boxes given by x, y (top left), width and height."""
    width = min(a["x"] + a["width"], b["x"] + b["width"]) - max(a["x"], b["x"])
    height = min(a["y"] + a["height"], b["y"] + b["height"]) - max(a["y"], b["y"])
    inter = max(width, 0) * max(height, 0)
    union = a["width"] * a["height"] + b["width"] * b["height"] - inter
    if union <= 0:  # two degenerate boxes: the same point or line, or not
        return 1.0 if all(a[k] == b[k] for k in ("x", "y", "width", "height")) else 0.0
    return inter / union


def box_f1(
    boxes_a: Sequence[Mapping[str, Any]], boxes_b: Sequence[Mapping[str, Any]], iou_threshold: float = 0.5
) -> float:
    """F1 of matching boxes: same label and IoU >= threshold, matched greedily by highest IoU.

    Both lists empty -> 1.0; one empty -> 0.0.
    """
    if not boxes_a and not boxes_b:
        return 1.0
    candidates = sorted(
        (
            (box_iou(a, b), i, j)
            for i, a in enumerate(boxes_a)
            for j, b in enumerate(boxes_b)
            if a.get("label") == b.get("label")
        ),
        reverse=True,
    )
    used_a, used_b = set(), set()
    for iou, i, j in candidates:
        if iou < iou_threshold:
            break
        if i not in used_a and j not in used_b:
            used_a.add(i)
            used_b.add(j)
    return 2 * len(used_a) / (len(boxes_a) + len(boxes_b))


def span_f1(spans_a: Sequence[Mapping[str, Any]], spans_b: Sequence[Mapping[str, Any]]) -> float:
    """F1 of exactly matching (label, start, end) spans; both lists empty -> 1.0."""
    if not spans_a and not spans_b:
        return 1.0
    key = lambda s: (s["label"], s["start"], s["end"])  # noqa: E731
    matched = sum((Counter(map(key, spans_a)) & Counter(map(key, spans_b))).values())
    return 2 * matched / (len(spans_a) + len(spans_b))


def levenshtein(a: str, b: str) -> int:
    """Edit distance (insertions, deletions, substitutions) between two strings.

    Bit-parallel (Myers 1999, in Hyyrö's formulation): one column of the DP table is a pair
    of bit vectors held in Python ints, so the cost is len(longer) big-int steps instead of
    len(a) * len(b) Python steps.
    """
    if len(a) < len(b):
        a, b = b, a
    if not b:
        return len(a)
    match: dict[str, int] = {}
    for i, ch in enumerate(b):
        match[ch] = match.get(ch, 0) | (1 << i)
    mask, top = (1 << len(b)) - 1, 1 << (len(b) - 1)
    plus, minus, score = mask, 0, len(b)  # vertical deltas of the first column are all +1
    for ch in a:
        eq = match.get(ch, 0)
        xv = eq | minus
        xh = (((eq & plus) + plus) ^ plus) | eq
        hplus = minus | (~(xh | plus) & mask)
        hminus = plus & xh
        if hplus & top:
            score += 1
        elif hminus & top:
            score -= 1
        # The first row of the table grows by one per character: shift a +1 in.
        hplus = ((hplus << 1) | 1) & mask
        hminus = (hminus << 1) & mask
        plus = hminus | (~(xv | hplus) & mask)
        minus = hplus & xv
    return score


def _normalise(text: str) -> str:
    return " ".join(text.casefold().split())


def text_similarity(a: str, b: str) -> float:
    """1 - edit distance / longer length, after casefolding and collapsing whitespace; both empty -> 1.0.

    When both texts are longer than TEXT_CAP characters only their first TEXT_CAP are compared.
    """
    a, b = _normalise(a), _normalise(b)
    if len(a) > TEXT_CAP and len(b) > TEXT_CAP:
        a, b = a[:TEXT_CAP], b[:TEXT_CAP]
    longest = max(len(a), len(b))
    return 1.0 - levenshtein(a, b) / longest if longest else 1.0


def _rating_similarity(a: float, b: float, config: Mapping[str, Any]) -> float:
    span = config["max"] - config["min"]
    if span <= 0:
        return 1.0 if a == b else 0.0
    return min(1.0, max(0.0, 1.0 - abs(a - b) / span))


def answer_similarity(task_type: str, a: Mapping[str, Any], b: Mapping[str, Any], config: Mapping[str, Any]) -> float:
    """Similarity in [0, 1] of two answers of ``task_type``. Raises ValueError for an unknown type."""
    if task_type == "single_choice":
        return 1.0 if a["choice"] == b["choice"] else 0.0
    if task_type == "multi_choice":
        return _jaccard(set(a["choices"]), set(b["choices"]))
    if task_type == "rating":
        return _rating_similarity(a["value"], b["value"], config)
    if task_type == "bounding_boxes":
        return box_f1(a["boxes"], b["boxes"], config.get("iou_threshold", 0.5))
    if task_type == "text_spans":
        return span_f1(a["spans"], b["spans"])
    if task_type == "free_text":
        return text_similarity(a["text"], b["text"])
    raise ValueError(f"unknown task type {task_type!r}")


def task_agreement(task_type: str, answers: Sequence[Mapping[str, Any]], config: Mapping[str, Any]) -> float | None:
    """Agreement among one task's answers; None with fewer than 2.

    single_choice and rating: share of the most common answer. Other types: mean pairwise similarity.
    """
    if len(answers) < 2:
        return None
    if task_type in ("single_choice", "rating"):
        field = "choice" if task_type == "single_choice" else "value"
        return Counter(answer[field] for answer in answers).most_common(1)[0][1] / len(answers)
    scores = [answer_similarity(task_type, a, b, config) for a, b in combinations(answers, 2)]
    return sum(scores) / len(scores)


def gold_score(
    task_type: str,
    answer: Mapping[str, Any],
    gold: Mapping[str, Any],
    config: Mapping[str, Any],
    rating_tolerance: float | None = 0,
) -> float:
    """Score in [0, 1] of an answer against the gold answer.

    Like answer_similarity, except that a rating scores 1.0 within ``rating_tolerance`` of gold, else 0.0.
    """
    if task_type == "rating":
        return 1.0 if abs(answer["value"] - gold["value"]) <= (rating_tolerance or 0) else 0.0
    return answer_similarity(task_type, answer, gold, config)
