"""Label Studio JSON, read by Label Studio's own converter (``label_studio_sdk.converter.Converter``).

Each export is made through the API and its job; the converter gets the labeling config from the export's
resource (``label_config``), as a user would, and its output is checked for the labels and coordinates the
workers gave. The converter converts annotations (the workers' answers, and a control task's expected
answer, marked ``ground_truth``), one output item per annotation.
"""

from __future__ import annotations

import csv
import json
import xml.etree.ElementTree as ET
from collections import Counter
from pathlib import Path

import pytest

CAR = {"label": "car", "x": 20, "y": 10, "width": 50, "height": 40}
PERSON = {"label": "person", "x": 4, "y": 8, "width": 16, "height": 32}


def converter_for(resource):
    from label_studio_sdk.converter import Converter

    assert resource["format"] == "label_studio" and resource["label_config"].startswith("<View>")
    return Converter(resource["label_config"], project_dir=None, download_resources=False)


def convert(resource, body, tmp_path, fmt) -> Path:
    source = tmp_path / f"ls-{resource['id']}.json"
    source.write_bytes(body)
    out = tmp_path / f"converted-{fmt}-{resource['id']}"
    converter_for(resource).convert(str(source), str(out), fmt, is_dir=False)
    return out


def read_csv(path: Path) -> list[dict]:
    with open(path, newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


@pytest.fixture
def boxes_project(project_factory, fill, answer_all, image_dir):
    """Two images on disk (one sized only by its own header, one by the task data) and a control task."""
    wide, small = image_dir("wide.png", 200, 100), image_dir("small.jpg", 64, 48)
    gold_image = image_dir("gold.png", 80, 80)
    project = project_factory(task_type="bounding_boxes", labels=["car", "person"], overlap=2,
                              consensus_method="box_cluster")
    fill(project, [{"external_id": "wide", "image": wide},
                   {"external_id": "small", "image": small, "width": 64, "height": 48},
                   {"external_id": "control", "image": gold_image, "gold": {"boxes": [dict(CAR, x=1, y=2)]}}])
    drawn = {"wide": [CAR], "small": [PERSON]}
    answer_all(project, [lambda e: {"boxes": drawn[e]}, lambda e: {"boxes": drawn[e]}])
    return project


def test_every_task_has_the_id_the_converters_need(boxes_project, make_export):
    resource, body = make_export(boxes_project, "label_studio")
    tasks = json.loads(body)
    assert [t["id"] for t in tasks] == [t["meta"]["concord_task_id"] for t in tasks] and len(tasks) == 3
    assert {"COCO", "YOLO", "VOC", "CSV"} <= set(converter_for(resource).supported_formats)


def test_coco_from_label_studio_has_the_boxes_in_pixels(boxes_project, make_export, tmp_path):
    resource, body = make_export(boxes_project, "label_studio")
    coco = json.loads((convert(resource, body, tmp_path, "COCO") / "result.json").read_text())
    names = {c["id"]: c["name"] for c in coco["categories"]}
    images = {i["id"]: i for i in coco["images"]}
    found = Counter(
        (Path(images[a["image_id"]]["file_name"]).name, images[a["image_id"]]["width"],
         images[a["image_id"]]["height"], names[a["category_id"]], tuple(round(v, 6) for v in a["bbox"]))
        for a in coco["annotations"])
    # One item per annotation: two workers on each image, and the control task's expected box.
    assert found == Counter({("wide.png", 200, 100, "car", (20, 10, 50, 40)): 2,
                             ("small.jpg", 64, 48, "person", (4, 8, 16, 32)): 2,
                             ("gold.png", 80, 80, "car", (1, 2, 50, 40)): 1})


def test_yolo_from_label_studio_has_normalised_centres(boxes_project, make_export, tmp_path):
    resource, body = make_export(boxes_project, "label_studio")
    out = convert(resource, body, tmp_path, "YOLO")
    classes = (out / "classes.txt").read_text().split()
    assert sorted(classes) == ["car", "person"]

    def lines(name):
        return [(classes[int(c)], *(round(float(v), 6) for v in rest))
                for c, *rest in (line.split() for line in (out / "labels" / f"{name}.txt").read_text().splitlines())]

    assert set(lines("wide")) == {("car", 0.225, 0.3, 0.25, 0.4)}  # (20 + 50/2) / 200, (10 + 40/2) / 100 ...
    assert set(lines("small")) == {("person", 0.1875, 0.5, 0.25, round(32 / 48, 6))}


def test_voc_from_label_studio_has_the_corners(boxes_project, make_export, tmp_path):
    resource, body = make_export(boxes_project, "label_studio")
    out = convert(resource, body, tmp_path, "VOC") / "Annotations"
    wide = ET.parse(out / "wide.xml").getroot()
    assert (wide.findtext("size/width"), wide.findtext("size/height")) == ("200", "100")
    assert [(o.findtext("name"), *(o.findtext(f"bndbox/{k}") for k in ("xmin", "ymin", "xmax", "ymax")))
            for o in wide.iter("object")] == [("car", "20", "10", "70", "50")]
    small = ET.parse(out / "small.xml").getroot()
    assert [(o.findtext("name"), o.findtext("bndbox/xmax"), o.findtext("bndbox/ymax")) for o in small.iter("object")] \
        == [("person", "20", "40")]


def test_csv_from_label_studio_of_boxes(boxes_project, make_export, tmp_path):
    resource, body = make_export(boxes_project, "label_studio")
    rows = read_csv(convert(resource, body, tmp_path, "CSV") / "result.csv")
    by_task = Counter((Path(r["image"]).name, json.loads(r["label"])[0]["rectanglelabels"][0]) for r in rows)
    assert by_task == Counter({("wide.png", "car"): 2, ("small.jpg", "person"): 2, ("gold.png", "car"): 1})
    assert {r["id"] for r in rows} == {str(t["id"]) for t in json.loads(body)}


def test_conll_and_csv_from_label_studio_of_text_spans(project_factory, fill, answer_all, make_export, tmp_path):
    project = project_factory(task_type="text_spans", labels=["PER", "LOC"], overlap=2, consensus_method="span_vote")
    fill(project, [{"external_id": "t1", "text": "Ada Lovelace lived in London"}])
    spans = [{"label": "PER", "start": 0, "end": 12}, {"label": "LOC", "start": 22, "end": 28}]
    answer_all(project, [lambda e: {"spans": spans}, lambda e: {"spans": spans[:1]}])
    resource, body = make_export(project, "label_studio")

    conll = (convert(resource, body, tmp_path, "CONLL2003") / "result.conll").read_text().split("\n\n")
    documents = [[tuple(line.split(" ")[::3]) for line in block.splitlines() if not line.startswith("-DOCSTART-")]
                 for block in conll if block.strip()]
    assert sorted(documents) == sorted([
        [("Ada", "B-PER"), ("Lovelace", "I-PER"), ("lived", "O"), ("in", "O"), ("London", "B-LOC")],
        [("Ada", "B-PER"), ("Lovelace", "I-PER"), ("lived", "O"), ("in", "O"), ("London", "O")],
    ])

    rows = read_csv(convert(resource, body, tmp_path, "CSV") / "result.csv")
    marked = sorted(sorted((s["labels"][0], s["text"]) for s in json.loads(r["label"])) for r in rows)
    assert marked == sorted([[("PER", "Ada Lovelace")], [("LOC", "London"), ("PER", "Ada Lovelace")]])


@pytest.mark.parametrize(("fields", "answers", "column"), [
    ({"task_type": "single_choice", "labels": ["pos", "neg"]}, [{"choice": "pos"}, {"choice": "neg"}],
     ["pos", "neg"]),
    ({"task_type": "multi_choice", "labels": ["a", "b"]}, [{"choices": ["a", "b"]}, {"choices": ["b"]}],
     [{"choices": ["a", "b"]}, "b"]),
    ({"task_type": "rating", "labels": None, "min": 1, "max": 5}, [{"value": 4}, {"value": 2}],
     [{"rating": 4}, {"rating": 2}]),
    ({"task_type": "free_text", "labels": None}, [{"text": "a cat"}, {"text": "the cat"}], ["a cat", "the cat"]),
])
def test_csv_from_label_studio_of_every_other_kind(project_factory, fill, answer_all, make_export, tmp_path,
                                                   fields, answers, column):
    project = project_factory(overlap=2, **fields)
    fill(project, [{"external_id": "t1", "text": "Is this good?"}])
    answer_all(project, [lambda e, a=a: a for a in answers])
    resource, body = make_export(project, "label_studio")
    rows = read_csv(convert(resource, body, tmp_path, "CSV") / "result.csv")
    assert {r["text"] for r in rows} == {"Is this good?"} and len(rows) == 2

    def cell(value):
        try:
            value = json.loads(value)
        except ValueError:
            return value
        return value[0] if isinstance(value, list) and len(value) == 1 else value

    def comparable(value):
        return json.dumps({k: v for k, v in value.items() if k != "type"} if isinstance(value, dict) else value,
                          sort_keys=True)

    assert sorted(comparable(cell(r["label"])) for r in rows) == sorted(comparable(v) for v in column)
