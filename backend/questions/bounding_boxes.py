"""Labelled boxes on an image: ``{"boxes": [{"label", "x", "y", "width", "height"}]}`` in pixels."""

from __future__ import annotations

from ..quality.similarity import box_f1
from ..quality.structured import box_consensus
from .base import QuestionKind, check_labels, data_field, fail, is_number, label, only_keys

MAX_BOXES = 1000


class BoundingBoxes(QuestionKind):
    name = "bounding_boxes"
    fields = ("labels", "image_field", "iou_threshold")
    methods = ("box_cluster",)

    def check_config(self, fields, prefix=""):
        super().check_config(fields, prefix)
        config = {"labels": check_labels(fields, self.name, f"{prefix}labels"),
                  "image_field": data_field(fields, "image_field", f"{prefix}image_field", default="image")}
        threshold = fields.get("iou_threshold")
        if threshold is not None:
            if not is_number(threshold) or not 0 < threshold <= 1:
                raise fail(f"{prefix}iou_threshold", "must be a number in (0, 1]")
            config["iou_threshold"] = threshold
        return config

    def check_data(self, config, data, path="data"):
        field = config["image_field"]
        if not isinstance(data.get(field), str) or not data[field]:
            raise fail(f"{path}.{field}", "bounding_boxes tasks need an image URL in this field")
        for dim in ("width", "height"):
            if dim in data and (not is_number(data[dim]) or data[dim] <= 0):
                raise fail(f"{path}.{dim}", "must be a positive number")

    def check_answer(self, config, answer, data=None, path="answer"):
        if not isinstance(answer, dict):
            raise fail(path, "must be an object")
        only_keys(answer, {"boxes"}, path)
        boxes = answer.get("boxes")
        if not isinstance(boxes, list):
            raise fail(f"{path}.boxes", "must be a list of boxes")
        if len(boxes) > MAX_BOXES:
            raise fail(f"{path}.boxes", f"at most {MAX_BOXES} boxes")
        width, height = (data or {}).get("width"), (data or {}).get("height")
        out = []
        for i, box in enumerate(boxes):
            where = f"{path}.boxes[{i}]"
            if not isinstance(box, dict):
                raise fail(where, "must be an object")
            only_keys(box, {"label", "x", "y", "width", "height"}, where)
            name = label(box.get("label"), config["labels"], f"{where}.label")
            coords = {}
            for key in ("x", "y", "width", "height"):
                value = box.get(key)
                if not is_number(value):
                    raise fail(f"{where}.{key}", "must be a number of pixels")
                coords[key] = value
            if coords["x"] < 0 or coords["y"] < 0:
                raise fail(where, "x and y must not be negative")
            if coords["width"] <= 0 or coords["height"] <= 0:
                raise fail(where, "width and height must be positive")
            if is_number(width) and coords["x"] + coords["width"] > width:
                raise fail(where, f"box goes past the image width {width}")
            if is_number(height) and coords["y"] + coords["height"] > height:
                raise fail(where, f"box goes past the image height {height}")
            out.append({"label": name, **coords})
        return {"boxes": out}

    def similarity(self, a, b, config):
        return box_f1(a["boxes"], b["boxes"], config.get("iou_threshold", 0.5))

    def merge(self, answers, method, config):
        merged = box_consensus([a["boxes"] for a in answers], config.get("iou_threshold", 0.5))
        return {"boxes": merged["boxes"]}, float(merged["confidence"]), None


KIND = BoundingBoxes()
