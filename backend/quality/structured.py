"""Per-task consensus for structured answers: bounding boxes, text spans and free text.

Answers are plain dicts as the API stores them (see similarity.py). Boxes and spans come as one
list per annotator, so "a majority" means more than half of the task's annotators, including
those who marked nothing. ``support`` of a consensus item is the share of annotators behind it.

``confidence`` of a box or span consensus is the mean support of the items kept. When nothing is
kept it is the share of annotators who marked nothing: 1.0 when they all agree the task is empty,
0.0 when everyone marked something but no item reached a majority (and for a task with no answers).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Hashable, Mapping, Sequence
from itertools import combinations
from statistics import median, median_high, median_low
from typing import Any

from .similarity import box_iou, text_similarity

Item = Mapping[str, Any]


def _cluster(items: Sequence[tuple[int, Item]], link: Callable[[Item, Item], float | None]) -> list[list[int]]:
    """Greedy complete-linkage clustering of (annotator, item) pairs; returns lists of positions.

    ``link`` scores two items, or gives None when they must not share a cluster. Pairs are taken from
    the best score down; two clusters merge when they have no annotator in common (an annotator
    backs an item once) and every pair across them is linked. Complete linkage keeps a chain of
    shifted boxes from merging into one cluster whose ends do not overlap at all.
    """
    scores: dict[tuple[int, int], float] = {}
    for i, j in combinations(range(len(items)), 2):
        if items[i][0] != items[j][0]:
            score = link(items[i][1], items[j][1])
            if score is not None:
                scores[i, j] = score
    cluster_of = list(range(len(items)))
    members = {i: [i] for i in range(len(items))}
    for i, j in sorted(scores, key=lambda pair: (-scores[pair], pair)):
        a, b = cluster_of[i], cluster_of[j]
        if a == b:
            continue
        if {items[x][0] for x in members[a]} & {items[y][0] for y in members[b]}:
            continue
        if any((min(x, y), max(x, y)) not in scores for x in members[a] for y in members[b]):
            continue
        for y in members[b]:
            cluster_of[y] = a
        members[a].extend(members.pop(b))
    return sorted(members.values(), key=min)


def _vote(labels: Sequence[Hashable]) -> Hashable:
    """The most common label; ties go to the lowest alphabetically."""
    counts = Counter(labels)
    top = max(counts.values())
    return min((label for label, count in counts.items() if count == top), key=str)


def _confidence(kept: Sequence[Mapping[str, Any]], answers: Sequence[Sequence[Item]]) -> float:
    if kept:
        return sum(item["support"] for item in kept) / len(kept)
    return sum(1 for marked in answers if not marked) / len(answers) if answers else 0.0


def box_consensus(answers: Sequence[Sequence[Item]], iou_threshold: float = 0.5) -> dict:
    """Fuse the boxes that a strict majority of annotators drew at the same place.

    ``answers`` holds one list of ``{"label", "x", "y", "width", "height"}`` boxes (pixels) per
    annotator. Boxes of different annotators with IoU >= ``iou_threshold`` are clustered (any label:
    the label is voted afterwards); a cluster backed by more than half of the annotators becomes one
    box whose edges are the medians of its boxes' edges, labelled by vote (ties: lowest label
    alphabetically). Returns ``{"boxes": [{..., "support"}], "confidence"}``, boxes in reading
    order (top, then left). Raises KeyError for a box missing a coordinate.
    """

    def link(a: Item, b: Item) -> float | None:
        iou = box_iou(a, b)
        return iou if iou >= iou_threshold else None

    items = [(annotator, box) for annotator, boxes in enumerate(answers) for box in boxes]
    kept = []
    for cluster in _cluster(items, link):
        if 2 * len(cluster) <= len(answers):
            continue
        boxes = [items[i][1] for i in cluster]
        left, top = median(b["x"] for b in boxes), median(b["y"] for b in boxes)
        right = median(b["x"] + b["width"] for b in boxes)
        bottom = median(b["y"] + b["height"] for b in boxes)
        kept.append(
            {
                "label": _vote([b.get("label") for b in boxes]),
                "x": left,
                "y": top,
                "width": right - left,
                "height": bottom - top,
                "support": len(cluster) / len(answers),
            }
        )
    kept.sort(key=lambda b: (b["y"], b["x"], str(b["label"])))
    return {"boxes": kept, "confidence": _confidence(kept, answers)}


def _overlap(a: Item, b: Item) -> bool:
    return a["start"] < b["end"] and b["start"] < a["end"]


def span_consensus(answers: Sequence[Sequence[Item]]) -> dict:
    """Keep the text spans that a strict majority of annotators marked, exactly or nearly.

    ``answers`` holds one list of ``{"label", "start", "end"}`` spans per annotator. First, a
    (label, start, end) marked by more than half of the annotators is kept as is. The other spans,
    except those overlapping a kept span of their label, are then clustered: same label and
    overlapping offsets, one span per annotator, every pair overlapping. A cluster backed by more
    than half of the annotators becomes a span from the median start to the median end (with an
    even count, a tie, the inner of the two middle offsets: the tighter span, so offsets stay whole
    numbers and stray characters one annotator took in are left out; every pair overlapping, the
    inner start is still before the inner end). Returns
    ``{"spans": [{"label", "start", "end", "support"}], "confidence"}``, spans in text order.
    Raises KeyError for a span missing a field.
    """
    n = len(answers)
    marked = [{(s.get("label"), s["start"], s["end"]) for s in spans} for spans in answers]
    votes = Counter(key for keys in marked for key in keys)
    kept = [
        {"label": label, "start": start, "end": end, "support": count / n}
        for (label, start, end), count in votes.items()
        if 2 * count > n
    ]
    remaining = [
        (annotator, {"label": label, "start": start, "end": end})
        for annotator, keys in enumerate(marked)
        for label, start, end in sorted(keys, key=lambda key: (key[1], key[2], str(key[0])))
        if not any(k["label"] == label and _overlap(k, {"start": start, "end": end}) for k in kept)
    ]

    def link(a: Item, b: Item) -> float | None:
        if a["label"] != b["label"] or not _overlap(a, b):
            return None
        shared = min(a["end"], b["end"]) - max(a["start"], b["start"])
        return shared / (max(a["end"], b["end"]) - min(a["start"], b["start"]))

    for cluster in _cluster(remaining, link):
        if 2 * len(cluster) <= n:
            continue
        spans = [remaining[i][1] for i in cluster]
        kept.append(
            {
                "label": spans[0]["label"],
                "start": median_high(s["start"] for s in spans),
                "end": median_low(s["end"] for s in spans),
                "support": len(cluster) / n,
            }
        )
    kept.sort(key=lambda s: (s["start"], s["end"], str(s["label"])))
    return {"spans": kept, "confidence": _confidence(kept, answers)}


def text_medoid(texts: Sequence[str]) -> dict:
    """The answer most like the others: highest mean text_similarity to them, ties to the earliest.

    Returns ``{"text", "index", "confidence"}``, confidence being that mean similarity (1.0 for a
    single answer). Raises ValueError when ``texts`` is empty.
    """
    if not texts:
        raise ValueError("no texts to choose from")
    n = len(texts)
    if n == 1:
        return {"text": texts[0], "index": 0, "confidence": 1.0}
    totals = [0.0] * n
    for i, j in combinations(range(n), 2):
        similarity = text_similarity(texts[i], texts[j])
        totals[i] += similarity
        totals[j] += similarity
    best = max(range(n), key=lambda i: (totals[i], -i))
    return {"text": texts[best], "index": best, "confidence": totals[best] / (n - 1)}
