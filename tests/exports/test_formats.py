"""Export writers, each read back by the library that consumes its format.

The consuming libraries (pycocotools, spaCy, datasets, pyarrow, jsonschema)
are test-only (the project's dev extras); a missing one fails the test.
"""

from __future__ import annotations

import csv
import importlib
import io
import json
import tempfile
import time
import tracemalloc
import xml.etree.ElementTree as ET

import pytest

from backend.exports import FORMATS, WriteOptions, label_config, write_export
from backend.exports import parquet as parquet_module

WHEN = "2025-03-04T05:06:07+00:00"
TEXT = "Ada Lovelace met Charles Babbage in London."


def answer(worker, value, seconds=12):
    return {"worker": worker, "answer": value, "submitted_at": WHEN, "active_seconds": seconds}


def row(task_id, data, answers, consensus=None, agreement=None, external_id=None, expected=None):
    """A row as the database side streams it; ``consensus`` is the merged answer or None; ``expected``
    makes it a control (gold) task."""
    merged = None
    if consensus is not None:
        merged = {"answer": consensus, "confidence": 0.75, "method": "majority", "answers_used": len(answers)}
    return {
        "task_id": task_id,
        "external_id": external_id,
        "batch_id": 3,
        "data": data,
        "answers": answers,
        "consensus": merged,
        "agreement": agreement,
        "gold": expected is not None,
        "expected": expected,
    }


def project(task_type, labels=None, **extra):
    return {
        "id": 9,
        "name": "Test project",
        "task_type": task_type,
        "labels": labels,
        "text_field": None,
        "image_field": None,
        "min": None,
        "max": None,
        **extra,
    }


def export(fmt, rows, proj, tmp_path, **kwargs):
    path = tmp_path / f"out.{fmt}"
    with open(path, "wb") as fh:
        written = write_export(fmt, iter(rows), fh, proj, **kwargs)
    return path, written


CHOICE = project("single_choice", ["pos", "neg"])
CHOICE_ROWS = [
    row(
        1,
        {"text": 'great, "really"\nfun'},
        [
            answer("w-aaa", {"choice": "pos"}),
            answer("w-bbb", {"choice": "pos"}),
            answer("w-ccc", {"choice": "neg"}, None),
        ],
        {"choice": "pos"},
        agreement=0.5,
        external_id="item-1",
    ),
    row(2, {"text": "dull"}, [answer("w-aaa", {"choice": "neg"})]),
]
SPANS = project("text_spans", ["PER", "LOC"])
SPAN_ROWS = [
    row(
        1,
        {"text": TEXT},
        [answer("w-aaa", {"spans": [{"label": "PER", "start": 0, "end": 12}]})],
        {
            "spans": [
                {"label": "LOC", "start": 36, "end": 42},
                {"label": "PER", "start": 0, "end": 12},
                {"label": "PER", "start": 17, "end": 32},
            ]
        },
        external_id="doc-1",
    ),
    row(2, {"text": "No consensus here."}, [answer("w-aaa", {"spans": []})]),
    row(3, {"text": "  Nothing   to see.\n"}, [answer("w-bbb", {"spans": []})], {"spans": []}),
    # Overlapping spans cannot both be BIO-tagged; "Rosa" in "Rosalind" is not at a token boundary.
    row(
        4,
        {"text": "Rosalind Franklin"},
        [],
        {
            "spans": [
                {"label": "PER", "start": 0, "end": 17},
                {"label": "LOC", "start": 9, "end": 17},
                {"label": "PER", "start": 0, "end": 4},
            ]
        },
    ),
]
BOXES = project("bounding_boxes", ["car", "person"])
BOX_ROWS = [
    row(
        10,
        {"image": "https://img.test/a.jpg", "width": 200, "height": 100},
        [answer("w-aaa", {"boxes": [{"label": "car", "x": 20, "y": 10, "width": 50, "height": 40}]})],
        {
            "boxes": [
                {"label": "car", "x": 20, "y": 10, "width": 50, "height": 40},
                {"label": "person", "x": 100.5, "y": 0, "width": 10, "height": 30},
            ]
        },
        agreement=0.9,
    ),
    row(11, {"image": "https://img.test/b.jpg", "width": 64, "height": 64}, [answer("w-bbb", {"boxes": []})]),
    row(
        12,
        {"image": "https://img.test/c.jpg"},
        [answer("w-ccc", {"boxes": []})],
        {"boxes": [{"label": "person", "x": 1, "y": 2, "width": 3, "height": 4}]},
    ),
]


def test_formats_list_what_the_caller_can_offer():
    assert set(FORMATS) == {"jsonl", "csv", "coco", "label_studio", "conll", "spacy", "parquet", "preferences"}
    assert FORMATS["coco"].task_types == {"bounding_boxes"} and FORMATS["jsonl"].task_types is None


@pytest.mark.parametrize(
    ("fmt", "task_type", "message"),
    [
        ("xml", "single_choice", "Unknown export format 'xml'"),
        ("coco", "single_choice", "bounding_boxes"),
        ("conll", "bounding_boxes", "text_spans"),
        ("spacy", "rating", "text_spans"),
    ],
)
def test_an_unusable_format_is_refused_before_anything_is_read_or_written(fmt, task_type, message):
    rows = iter(CHOICE_ROWS)
    fh = io.BytesIO()
    with pytest.raises(ValueError, match=message):
        write_export(fmt, rows, fh, project(task_type, ["a"]))
    assert fh.getvalue() == b"" and next(rows) is CHOICE_ROWS[0]


def test_jsonl_round_trips_every_task(tmp_path):
    path, written = export("jsonl", CHOICE_ROWS, CHOICE, tmp_path)
    lines = [json.loads(line) for line in path.read_text().splitlines()]
    assert written == 2 and lines == CHOICE_ROWS


@pytest.mark.parametrize(
    ("proj", "consensus", "cell"),
    [
        (CHOICE, {"choice": "pos"}, "pos"),
        (project("rating", min=1, max=5), {"value": 4}, "4"),
        (project("multi_choice", ["a", "b"]), {"choices": ["a", "b"]}, '{"choices":["a","b"]}'),
    ],
)
def test_csv_has_one_row_per_task_with_a_readable_consensus(tmp_path, proj, consensus, cell):
    rows = [row(1, {"text": 'x, "y"\nz'}, [answer("w-aaa", consensus)], consensus, 0.25, "e1"), row(2, {"n": 2}, [])]
    path, written = export("csv", rows, proj, tmp_path)
    with open(path, newline="", encoding="utf-8") as fh:
        table = list(csv.DictReader(fh))
    assert written == 2 and len(table) == 2
    first, second = table
    assert (first["task_id"], first["external_id"], first["batch_id"]) == ("1", "e1", "3")
    assert json.loads(first["data"]) == {"text": 'x, "y"\nz'}
    assert first["consensus_answer"] == cell
    assert (float(first["confidence"]), first["method"], float(first["agreement"])) == (0.75, "majority", 0.25)
    assert first["answer_count"] == "1" and json.loads(first["answers"]) == rows[0]["answers"]
    assert [second[k] for k in ("external_id", "consensus_answer", "confidence", "method", "agreement")] == [""] * 5


def test_coco_loads_in_pycocotools_with_the_consensus_boxes(tmp_path, monkeypatch):
    coco_module = importlib.import_module("pycocotools.coco")
    scratch_dirs = []
    temporary_file = tempfile.TemporaryFile

    def spy(*args, **kwargs):
        scratch_dirs.append(kwargs.get("dir"))
        return temporary_file(*args, **kwargs)

    monkeypatch.setattr(tempfile, "TemporaryFile", spy)
    path, written = export("coco", BOX_ROWS, BOXES, tmp_path, tmp_dir=str(tmp_path))
    assert scratch_dirs == [str(tmp_path)] * 2  # images and annotations are staged where the caller said
    coco = coco_module.COCO(str(path))
    # Task 11 has no consensus: it is not written as an image without boxes (training reads that as background).
    assert written == 2 and sorted(coco.getImgIds()) == [10, 12]
    assert [(c["id"], c["name"]) for c in coco.loadCats(coco.getCatIds())] == [(1, "car"), (2, "person")]
    image = coco.loadImgs(10)[0]
    assert (image["file_name"], image["width"], image["height"]) == ("https://img.test/a.jpg", 200, 100)
    anns = coco.loadAnns(coco.getAnnIds(imgIds=[10]))
    assert [(a["category_id"], a["bbox"], a["area"], a["score"]) for a in anns] == [
        (1, [20, 10, 50, 40], 2000, 0.75),
        (2, [100.5, 0, 10, 30], 300, 0.75),
    ]
    assert (coco.imgs[12]["width"], coco.imgs[12]["height"]) == (0, 0)  # neither the data nor the image says
    assert len({a["id"] for a in coco.dataset["annotations"]}) == 3


def test_coco_lists_tasks_without_consensus_only_when_asked(tmp_path):
    coco_module = importlib.import_module("pycocotools.coco")
    path, written = export("coco", BOX_ROWS, BOXES, tmp_path, options=WriteOptions(include_empty=True))
    coco = coco_module.COCO(str(path))
    assert written == 3 and sorted(coco.getImgIds()) == [10, 11, 12]
    assert coco.getAnnIds(imgIds=[11]) == [] and coco.imgs[11]["concord"]["confidence"] is None


def test_coco_refuses_a_box_label_the_project_does_not_have(tmp_path):
    bad = [row(1, {"image": "x.jpg"}, [], {"boxes": [{"label": "bus", "x": 0, "y": 0, "width": 1, "height": 1}]})]
    with pytest.raises(ValueError, match="'bus' is not one of the project's labels"):
        export("coco", bad, BOXES, tmp_path)


RESULT_VALUES = {
    "choices": {"required": ["choices"], "properties": {"choices": {"type": "array", "items": {"type": "string"}}}},
    "rating": {"required": ["rating"], "properties": {"rating": {"type": "integer"}}},
    "textarea": {"required": ["text"], "properties": {"text": {"type": "array", "items": {"type": "string"}}}},
    "labels": {
        "required": ["start", "end", "text", "labels"],
        "properties": {
            "start": {"type": "integer"},
            "end": {"type": "integer"},
            "text": {"type": "string"},
            "labels": {"type": "array", "items": {"type": "string"}, "minItems": 1},
        },
    },
    "rectanglelabels": {
        "required": ["x", "y", "width", "height", "rectanglelabels"],
        "properties": {k: {"type": "number", "minimum": 0, "maximum": 100} for k in ("x", "y", "width", "height")},
    },
}
# From Label Studio's documented task format (guide/task_format, guide/predictions).
LABEL_STUDIO_SCHEMA = {
    "type": "array",
    "items": {
        "type": "object",
        "required": ["data"],
        "properties": {
            "data": {"type": "object"},
            "meta": {"type": "object"},
            "annotations": {
                "type": "array",
                "items": {
                    "type": "object",
                    "required": ["result"],
                    "properties": {
                        "result": {"$ref": "#/$defs/result"},
                        "ground_truth": {"type": "boolean"},
                        "was_cancelled": {"type": "boolean"},
                        "lead_time": {"type": "number"},
                        "created_at": {"type": "string"},
                        # A member's numeric id or {"email"}: anything else is refused on import.
                        "completed_by": {"oneOf": [{"type": "integer"}, {"type": "object", "required": ["email"]}]},
                    },
                },
            },
            "predictions": {
                "type": "array",
                "items": {
                    "type": "object",
                    "required": ["result"],
                    "properties": {
                        "result": {"$ref": "#/$defs/result"},
                        "score": {"type": "number"},
                        "model_version": {"type": "string"},
                    },
                },
            },
        },
    },
    "$defs": {
        "result": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["from_name", "to_name", "type", "value"],
                "properties": {
                    "from_name": {"type": "string"},
                    "to_name": {"type": "string"},
                    "type": {"enum": list(RESULT_VALUES)},
                    "value": {"type": "object"},
                },
                "allOf": [
                    {"if": {"properties": {"type": {"const": kind}}}, "then": {"properties": {"value": schema}}}
                    for kind, schema in RESULT_VALUES.items()
                ],
            },
        }
    },
}

LABEL_STUDIO_CASES = {
    "single_choice": (CHOICE, CHOICE_ROWS, {"choices": ["pos"]}),
    "multi_choice": (
        project("multi_choice", ["a", "b"]),
        [row(1, {"text": "t"}, [answer("w-a", {"choices": ["a", "b"]})], {"choices": ["b"]})],
        {"choices": ["b"]},
    ),
    "rating": (
        project("rating", min=1, max=5),
        [row(1, {"text": "t"}, [answer("w-a", {"value": 3})], {"value": 4})],
        {"rating": 4},
    ),
    "free_text": (
        project("free_text"),
        [row(1, {"text": "t"}, [answer("w-a", {"text": "hi"})], {"text": "hello"})],
        {"text": ["hello"]},
    ),
    "text_spans": (SPANS, SPAN_ROWS[:1], {"start": 36, "end": 42, "text": "London", "labels": ["LOC"]}),
    "bounding_boxes": (
        BOXES,
        BOX_ROWS,
        {"x": 10.0, "y": 10.0, "width": 25.0, "height": 40.0, "rotation": 0, "rectanglelabels": ["car"]},
    ),
}


@pytest.mark.parametrize("task_type", LABEL_STUDIO_CASES)
def test_label_studio_tasks_match_the_documented_import_format(tmp_path, task_type):
    jsonschema = importlib.import_module("jsonschema")
    proj, rows, first_consensus_value = LABEL_STUDIO_CASES[task_type]
    path, written = export("label_studio", rows, proj, tmp_path)
    tasks = json.loads(path.read_bytes())
    jsonschema.validate(tasks, LABEL_STUDIO_SCHEMA)
    assert written == len(rows) == len(tasks)
    config = ET.fromstring(label_config(proj))
    tag_names = {el.get("name") for el in config}
    for task, source in zip(tasks, rows, strict=True):
        assert task["data"] == source["data"] and task["meta"]["concord_task_id"] == source["task_id"]
        assert task["id"] == source["task_id"]  # Label Studio's converters read every task's id
        assert task["meta"]["annotators"] == [a["worker"] for a in source["answers"]]
        assert [a["created_at"] for a in task["annotations"]] == [WHEN] * len(source["answers"])
        assert all(a["ground_truth"] is False for a in task["annotations"])
        for item in [r for a in task["annotations"] + task["predictions"] for r in a["result"]]:
            assert {item["from_name"], item["to_name"]} <= tag_names
        if source["consensus"] is None:
            assert task["predictions"] == []
        else:
            assert task["predictions"][0]["score"] == 0.75
    assert tasks[0]["predictions"][0]["result"][0]["value"] == first_consensus_value


def test_label_studio_leaves_out_boxes_it_cannot_place_in_percent(tmp_path):
    path, _ = export("label_studio", BOX_ROWS, BOXES, tmp_path)
    unsized = json.loads(path.read_bytes())[2]
    assert unsized["predictions"][0]["result"] == [] and unsized["meta"]["boxes_omitted"] == 1


def read_conll(text, source="_"):
    """Parse CoNLL back into documents of (token, tag), checking the layout: each document behind
    spaCy's ``-DOCSTART- -X- O O`` line, four columns, the third saying where the tags come from."""
    docs = []
    for line in text.split("\n"):
        if line == "-DOCSTART- -X- O O":
            docs.append([])
        elif line:
            token, pos, chunk, tag = line.split(" ")
            assert (pos, chunk) == ("-X-", source)
            docs[-1].append((token, tag))
    assert text.startswith("-DOCSTART- -X- O O\n\n") and all(docs)
    return docs


def test_conll_tags_spacy_tokens_with_the_consensus_spans(tmp_path):
    path, written = export("conll", SPAN_ROWS, SPANS, tmp_path)
    docs = read_conll(path.read_text())
    assert written == len(docs) == 3  # the task without consensus is left out
    assert docs[0] == [
        ("Ada", "B-PER"),
        ("Lovelace", "I-PER"),
        ("met", "O"),
        ("Charles", "B-PER"),
        ("Babbage", "I-PER"),
        ("in", "O"),
        ("London", "B-LOC"),
        (".", "O"),
    ]
    assert docs[1] == [("Nothing", "O"), ("to", "O"), ("see", "O"), (".", "O")]
    assert docs[2] == [("Rosalind", "B-PER"), ("Franklin", "I-PER")]


def test_spacy_spans_land_on_spacy_tokens(tmp_path):
    spacy = importlib.import_module("spacy")
    path, written = export("spacy", SPAN_ROWS, SPANS, tmp_path)
    docs = [json.loads(line) for line in path.read_text().splitlines()]
    assert written == 3 and [d["meta"]["task_id"] for d in docs] == [1, 3, 4]
    assert docs[0]["meta"]["external_id"] == "doc-1"
    assert [s["start"] for s in docs[0]["spans"]] == [0, 17, 36]
    nlp = spacy.blank("en")
    seen = []
    for doc_json in docs:
        doc = nlp(doc_json["text"])
        for span in doc_json["spans"]:
            tokens = doc.char_span(span["start"], span["end"], label=span["label"], alignment_mode="expand")
            assert tokens is not None and tokens.label_ == span["label"]
            assert tokens.start_char <= span["start"] and tokens.end_char >= span["end"]
            seen.append((tokens.text, tokens.label_))
    assert seen[:3] == [("Ada Lovelace", "PER"), ("Charles Babbage", "PER"), ("London", "LOC")]
    assert ("Rosalind", "PER") in seen  # a span inside a token still expands to it


def test_parquet_loads_in_pyarrow_and_in_hugging_face_datasets(tmp_path, monkeypatch):
    pq = importlib.import_module("pyarrow.parquet")
    monkeypatch.setenv("HF_DATASETS_OFFLINE", "1")
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
    datasets = importlib.import_module("datasets")
    monkeypatch.setattr(parquet_module, "ROW_GROUP_ROWS", 1)  # shows that the writer flushes row groups
    path, written = export("parquet", CHOICE_ROWS, CHOICE, tmp_path)
    assert written == 2 and pq.ParquetFile(path).metadata.num_row_groups == 2
    table = pq.read_table(path)
    assert [str(t) for t in table.schema.types] == [
        "int64",
        "string",
        "int64",
        "string",
        "string",
        "string",
        "double",
        "string",
        "double",
        "bool",
        "string",
    ]
    assert json.loads(table.schema.metadata[b"concord.project"])["labels"] == ["pos", "neg"]
    first, second = table.to_pylist()
    assert (first["task_id"], first["external_id"], first["batch_id"]) == (1, "item-1", 3)
    assert json.loads(first["answers"]) == CHOICE_ROWS[0]["answers"]
    assert json.loads(first["consensus_answer"]) == {"choice": "pos"}
    assert (first["confidence"], first["method"], first["agreement"]) == (0.75, "majority", 0.5)
    assert [second[k] for k in ("external_id", "consensus_answer", "confidence", "method", "agreement")] == [None] * 5

    dataset = datasets.Dataset.from_parquet(str(path), cache_dir=str(tmp_path / "hf-cache"))
    assert dataset.num_rows == 2 and dataset["task_id"] == [1, 2]
    assert json.loads(dataset[0]["data"]) == CHOICE_ROWS[0]["data"]
    assert dataset["consensus_answer"] == ['{"choice":"pos"}', None]


def many_rows(count):
    """Small single_choice rows, made one at a time as a database cursor would yield them.

    The nested parts are shared between rows to keep the generator cheap under tracemalloc.
    """
    answers = [answer(f"w-{w:06x}", {"choice": ("pos", "neg")[w % 2]}) for w in range(3)]
    consensus = {"answer": {"choice": "pos"}, "confidence": 2 / 3, "method": "majority", "answers_used": 3}
    text = "a review of about forty words " * 8
    for i in range(count):
        yield {
            "task_id": i,
            "external_id": f"item-{i:08d}",
            "batch_id": 1 + i // 1000,
            "data": {"text": text, "n": i},
            "answers": answers,
            "consensus": consensus,
            "agreement": 0.5,
            "gold": False,
            "expected": None,
        }


@pytest.mark.parametrize("fmt", ["jsonl", "parquet"])
def test_memory_stays_flat_for_200_000_tasks(tmp_path, fmt):
    if fmt == "parquet":
        pa = importlib.import_module("pyarrow")
        importlib.import_module("pyarrow.parquet")  # imported before tracing: its import is not the writer's
    limit = 50 * 2**20
    path = tmp_path / f"big.{fmt}"
    started = time.perf_counter()
    tracemalloc.start()
    try:
        with open(path, "wb") as fh:
            written = write_export(fmt, many_rows(200_000), fh, CHOICE)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert written == 200_000
    assert peak < limit, f"{fmt} writer peaked at {peak / 2**20:.1f} MiB"
    if fmt == "jsonl":
        # The output is larger than the limit, so a writer that held it all would fail above.
        assert path.stat().st_size > limit
    else:
        # Arrow allocates from its own pool, which tracemalloc does not see.
        assert pa.default_memory_pool().max_memory() < limit
    print(f"{fmt}: 200,000 tasks in {time.perf_counter() - started:.1f}s (traced), peak {peak / 2**20:.1f} MiB")
