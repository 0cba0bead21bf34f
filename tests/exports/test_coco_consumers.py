"""The COCO export, read by pycocotools: the file as ground truth, its consensus boxes as detections
(``loadRes``), and ``COCOeval`` scoring the consensus against the true boxes."""

from __future__ import annotations

import base64
import contextlib
import io
import json

import pytest

TRUTH = {
    "wide": {"label": "car", "x": 20, "y": 10, "width": 50, "height": 40},
    "turned": {"label": "person", "x": 5, "y": 5, "width": 20, "height": 40},
    "inline": {"label": "car", "x": 2, "y": 2, "width": 10, "height": 10},
    "sized": {"label": "person", "x": 4, "y": 8, "width": 16, "height": 32},
    "outside": {"label": "car", "x": 1, "y": 1, "width": 5, "height": 5},
}
CONTROL = {"label": "person", "x": 10, "y": 10, "width": 30, "height": 20}


def jitter(box, dx=0, dy=0, dw=0, dh=0):
    return dict(box, x=box["x"] + dx, y=box["y"] + dy, width=box["width"] + dw, height=box["height"] + dh)


def png_data_url(width, height):
    from PIL import Image

    out = io.BytesIO()
    Image.new("RGB", (width, height)).save(out, format="PNG")
    return "data:image/png;base64," + base64.b64encode(out.getvalue()).decode()


@pytest.fixture
def boxes_project(project_factory, fill, answer_all, image_dir, tmp_path, run_jobs):
    from PIL import Image

    exif = Image.Exif()
    exif[0x0112] = 6  # stored 60 x 40, shown (and drawn on) turned a quarter: 40 x 60
    image_dir("turned.jpg", 60, 40, exif=exif)
    outside = tmp_path / "not-an-image-dir" / "secret.png"
    outside.parent.mkdir()
    Image.new("RGB", (300, 300)).save(outside)
    project = project_factory(task_type="bounding_boxes", labels=["car", "person"], overlap=3,
                              consensus_method="box_cluster")
    fill(project, [
        {"external_id": "wide", "image": image_dir("wide.png", 200, 100)},
        {"external_id": "turned", "image": "turned.jpg"},  # a path relative to the image directory
        {"external_id": "inline", "image": png_data_url(30, 20)},
        {"external_id": "sized", "image": "https://images.invalid/sized.jpg", "width": 64, "height": 48},
        {"external_id": "outside", "image": str(outside)},
        {"external_id": "control", "image": image_dir("control.png", 80, 80), "gold": {"boxes": [CONTROL]}},
    ])
    answer_all(project, [
        lambda e: {"boxes": [TRUTH[e]]},
        lambda e: {"boxes": [jitter(TRUTH[e], dx=2, dy=1) if e == "wide" else TRUTH[e]]},
        lambda e: {"boxes": [jitter(TRUTH[e], dx=-1, dw=2, dh=-1) if e == "wide" else TRUTH[e]]},
    ])
    run_jobs()
    fill(project, [{"external_id": "late", "image": image_dir("late.png", 50, 50)}])  # no consensus yet
    return project


def load(body, tmp_path, name="coco.json"):
    from pycocotools.coco import COCO

    path = tmp_path / name
    path.write_bytes(body)
    with contextlib.redirect_stdout(io.StringIO()):
        return COCO(str(path))


def by_external_id(coco):
    return {image["concord"]["external_id"]: image for image in coco.dataset["images"]}


def test_images_carry_their_real_size(boxes_project, make_export, tmp_path):
    _, body = make_export(boxes_project, "coco")
    images = by_external_id(load(body, tmp_path))
    sizes = {key: (image["width"], image["height"]) for key, image in images.items()}
    assert sizes == {
        "wide": (200, 100),  # read from the PNG under CONCORD_EXPORT_IMAGE_DIR
        "turned": (40, 60),  # a JPEG turned by its EXIF orientation, as the browser showed it
        "inline": (30, 20),  # a data: URL
        "sized": (64, 48),  # the task data's own width and height; the URL is never fetched
        "outside": (0, 0),  # a file outside the image directory is never opened
        "control": (80, 80),
    }


def test_tasks_without_consensus_are_left_out_unless_asked(boxes_project, make_export, tmp_path):
    resource, body = make_export(boxes_project, "coco")
    assert "late" not in by_external_id(load(body, tmp_path)) and resource["tasks"] == 6
    assert resource["include_empty"] is False
    resource, body = make_export(boxes_project, "coco", include_empty=True)
    coco = load(body, tmp_path, "with-empty.json")
    late = by_external_id(coco)["late"]
    assert resource["include_empty"] is True and resource["tasks"] == 7
    assert coco.getAnnIds(imgIds=[late["id"]]) == [] and (late["width"], late["height"]) == (50, 50)


def test_consensus_boxes_load_as_detections_and_score_against_the_truth(boxes_project, make_export, tmp_path):
    from pycocotools.cocoeval import COCOeval

    _, body = make_export(boxes_project, "coco")
    exported = load(body, tmp_path)
    images = by_external_id(exported)
    names = {c["id"]: c["name"] for c in exported.dataset["categories"]}
    assert all(isinstance(a["score"], float) and 0 < a["score"] <= 1 for a in exported.dataset["annotations"])
    control = exported.loadAnns(exported.getAnnIds(imgIds=[images["control"]["id"]]))
    assert images["control"]["concord"]["gold"] is True and [(names[a["category_id"]], a["bbox"], a["score"])
                                                             for a in control] == [("person", [10, 10, 30, 20], 1.0)]

    # The true boxes, as an independent ground truth over the export's images and categories.
    ids = {name: i for i, name in names.items()}
    truth = dict(TRUTH, control=CONTROL)
    ground = {"images": exported.dataset["images"], "categories": exported.dataset["categories"],
              "annotations": [{"id": n, "image_id": images[key]["id"], "category_id": ids[box["label"]],
                               "bbox": [box["x"], box["y"], box["width"], box["height"]],
                               "area": box["width"] * box["height"], "iscrowd": 0}
                              for n, (key, box) in enumerate(truth.items(), 1)]}
    gt = load(json.dumps(ground).encode(), tmp_path, "truth.json")
    with contextlib.redirect_stdout(io.StringIO()):
        detections = gt.loadRes(exported.dataset["annotations"])
        evaluation = COCOeval(gt, detections, "bbox")
        evaluation.evaluate()
        evaluation.accumulate()
        evaluation.summarize()
    ap, ap50 = evaluation.stats[:2]
    assert ap50 == pytest.approx(1.0) and ap == pytest.approx(1.0)  # the consensus of "wide" has IoU 0.98

    # The file is also its own ground truth and detections (its annotations carry scores).
    with contextlib.redirect_stdout(io.StringIO()):
        itself = COCOeval(exported, exported.loadRes(exported.dataset["annotations"]), "bbox")
        itself.evaluate()
        itself.accumulate()
        itself.summarize()
    assert itself.stats[0] == pytest.approx(1.0)


@pytest.mark.parametrize(("body", "field", "message"), [
    ({"format": "coco", "include_empty": "yes"}, "include_empty", "Not a valid boolean."),
    ({"format": "coco", "include_empty": 1}, "include_empty", "Not a valid boolean."),
    ({"format": "coco", "include_gold": None}, "include_gold", "Field may not be null."),
    ({"format": "jsonl", "include_empty": True}, "include_empty", "not for jsonl"),
    ({"format": "csv", "include_gold": "false"}, "include_gold", "Not a valid boolean."),
])
def test_bad_export_options_are_422s_naming_the_field(project_factory, mgr, body, field, message):
    project = project_factory(task_type="bounding_boxes", labels=["car"])
    refused = mgr.post(f"/api/v1/projects/{project.id}/exports", json=body)
    assert refused.status_code == 422, refused.json
    assert refused.json["error"]["details"]["fields"][field] == [message]
    assert set(refused.json) == {"error"} and refused.json["error"]["code"]
