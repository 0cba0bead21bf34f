"""How alike two answers are: the measures the question kinds (backend.questions) use.

single_choice ``{"choice": str}``, multi_choice ``{"choices": [str]}``, rating ``{"value": int}``,
bounding_boxes ``{"boxes": [{"label", "x", "y", "width", "height"}]}`` (pixels),
text_spans ``{"spans": [{"label", "start", "end"}]}``, free_text ``{"text": str}``.
Every score is in [0, 1]; two empty answers agree fully.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from typing import Any

# Longer free texts are compared on their first characters only when both exceed this.
TEXT_CAP = 2000


def jaccard(a: set, b: set) -> float:
    """|a & b| / |a | b|; two empty sets agree fully."""
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
