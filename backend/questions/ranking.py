"""An order of several items, best first: ``{"order": [id, ...]}``, every item once.

``items`` names the data field holding the list: ``{"id", "text"}`` objects, or strings (whose id
is then their position, ``"0"``, ``"1"``, ...). Agreement is Kendall's W over a task's orders (with
the mean pairwise Kendall tau); consensus is a ranked-pairs aggregate (see backend.quality.ranking).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from .base import MAX_FIELD_NAME, QuestionKind, data_field, fail, only_keys

MAX_ITEMS = 100


def item_ids(items: Sequence[Any]) -> list[str]:
    """The ids of a task's items, as answers name them."""
    return [str(i) if isinstance(item, str) else str(item["id"]) for i, item in enumerate(items)]


def kendall_tau(a: Sequence[str], b: Sequence[str]) -> float:
    """Kendall's tau between two orders of the same items (1 same order, -1 reversed)."""
    n = len(a)
    if n < 2:
        return 1.0
    where = {item: i for i, item in enumerate(b)}
    positions = [where[item] for item in a]
    concordant = sum(1 for i in range(n) for j in range(i + 1, n) if positions[i] < positions[j])
    pairs = n * (n - 1) // 2
    return (2 * concordant - pairs) / pairs


class Ranking(QuestionKind):
    name = "ranking"
    fields = ("items",)
    methods = ("ranked_pairs", "borda")
    agreement = "ranking"

    def check_config(self, fields, prefix=""):
        super().check_config(fields, prefix)
        return {"items": data_field(fields, "items", f"{prefix}items")}

    def check_data(self, config, data, path="data"):
        where = f"{path}.{config['items']}"
        items = data.get(config["items"])
        if not isinstance(items, list) or len(items) < 2:
            raise fail(where, "ranking tasks need a list of at least two items in this field")
        if len(items) > MAX_ITEMS:
            raise fail(where, f"at most {MAX_ITEMS} items")
        for i, item in enumerate(items):
            if isinstance(item, str):
                continue
            if not isinstance(item, dict) or "id" not in item:
                raise fail(f"{where}[{i}]", 'must be a string or an object with "id" and "text"')
            value = item["id"]
            if isinstance(value, bool) or not isinstance(value, str | int) or not str(value) or \
                    len(str(value)) > MAX_FIELD_NAME:
                raise fail(f"{where}[{i}].id", f"must be a string or an integer of at most {MAX_FIELD_NAME} characters")
        ids = item_ids(items)
        if len(set(ids)) != len(ids):
            raise fail(where, "item ids must be distinct")

    def check_answer(self, config, answer, data=None, path="answer"):
        if not isinstance(answer, dict):
            raise fail(path, "must be an object")
        only_keys(answer, {"order"}, path)
        order = answer.get("order")
        if not isinstance(order, list) or not all(isinstance(x, str | int) and not isinstance(x, bool)
                                                  for x in order):
            raise fail(f"{path}.order", "must be a list of item ids, best first")
        order = [str(x) for x in order]
        if len(set(order)) != len(order):
            raise fail(f"{path}.order", "names an item twice")
        items = (data or {}).get(config["items"])
        if isinstance(items, list):
            ids = item_ids(items)
            unknown = [x for x in order if x not in set(ids)]
            if unknown:
                raise fail(f"{path}.order", f"{unknown[0]!r} is not an item of this task")
            if len(order) != len(ids):
                raise fail(f"{path}.order", f"must name every item once ({len(ids)} items)")
        elif len(order) > MAX_ITEMS:
            raise fail(f"{path}.order", f"at most {MAX_ITEMS} items")
        return {"order": order}

    def similarity(self, a, b, config):
        """Kendall's tau mapped to [0, 1]."""
        if set(a["order"]) != set(b["order"]):
            return 0.0
        return (kendall_tau(a["order"], b["order"]) + 1) / 2

    def when_value(self, answer: Mapping[str, Any]) -> Any:
        return answer["order"]

    def merge(self, answers, method, config):
        """Ranked pairs (the default) or Borda over the task's orders; see backend.quality.ranking."""
        from ..quality.ranking import aggregate_ranking

        order, confidence = aggregate_ranking([a["order"] for a in answers], method=method)
        return {"order": list(order)}, float(confidence), None


KIND = Ranking()
