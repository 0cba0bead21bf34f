"""COCO object detection JSON of the consensus boxes of a bounding_boxes project.

COCO is one JSON object whose ``images`` and ``annotations`` arrays both grow
with the task count. To keep memory flat the two arrays are streamed into
temporary files while the rows are read, then copied into the output behind
the small header (``info``, ``licenses``, ``categories``).

Detection training reads an image without annotations as background (nothing
to find there), so a task without consensus is left out unless the export asks
for it (``include_empty``); a task whose consensus is "no box" is kept, since
that is what the workers agreed on. Each annotation carries a ``score`` (the
consensus confidence), so the file's annotations can also be loaded as
detections (``COCO.loadRes``) and scored with ``COCOeval``.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import BinaryIO

from ._common import DEFAULT_OPTIONS, ChunkedWriter, WriteOptions, dumps, expected_answer, image_field
from .images import image_size

COPY_CHUNK = 1 << 20


def _dimension(value) -> int:
    """COCO sizes are integers; 0 means neither the task data nor the image said."""
    if isinstance(value, int | float) and not isinstance(value, bool) and value > 0:
        return max(1, int(round(value)))
    return 0


def _header(project: dict, categories: list[dict]) -> bytes:
    now = datetime.now(UTC)
    info = {
        "description": f"Concord project {project.get('id')}: {project.get('name') or ''}".strip(),
        "contributor": "Concord (consensus of crowd answers)",
        "version": "1.0",
        "year": now.year,
        "date_created": now.isoformat(timespec="seconds"),
    }
    head = dumps({"info": info, "licenses": [], "categories": categories})
    # Reopen the object so that images and annotations can be appended by copying.
    return head[:-1]


def write_coco(
    rows: Iterable[dict],
    fh: BinaryIO,
    project: dict,
    *,
    tmp_dir: str | None = None,
    options: WriteOptions = DEFAULT_OPTIONS,
) -> int:
    """Write COCO detection JSON of the consensus boxes; return the number of tasks (images) written.

    Each task is an image whose id is the task id; ``file_name`` is the URL in
    the project's image field; width/height come from the task data, else from
    the image's header (``backend.exports.images``), else 0. A task without
    consensus is left out, or listed with no annotations when
    ``options.include_empty``. A control (gold) task is written with its
    expected boxes, score 1, and ``"gold": true`` in the image's ``concord``
    part. Categories are the project labels with ids 1..L. Bounding boxes are
    ``[x, y, width, height]`` in pixels, as Concord stores them. Raises
    ``ValueError`` for a box whose label is not one of the project's labels.
    """
    labels = project.get("labels") or []
    category_ids = {label: i for i, label in enumerate(labels, start=1)}
    categories = [{"id": i, "name": label, "supercategory": "none"} for label, i in category_ids.items()]
    field = image_field(project)
    count = 0
    annotation_id = 0

    with (
        tempfile.TemporaryFile(dir=tmp_dir, prefix="coco-images-") as images_file,
        tempfile.TemporaryFile(dir=tmp_dir, prefix="coco-annotations-") as annotations_file,
    ):
        images, annotations = ChunkedWriter(images_file), ChunkedWriter(annotations_file)
        for row in rows:
            data = row["data"]
            task_id = row["task_id"]
            consensus = row["consensus"]
            expected = expected_answer(row)
            if expected is not None:
                answer, score = expected, 1.0
            elif consensus is not None:
                answer, score = consensus["answer"], consensus["confidence"]
            elif options.include_empty:
                answer, score = None, None
            else:
                continue
            width, height = image_size(data, field, options.image_dir) or (0, 0)
            image = {
                "id": task_id,
                "file_name": data.get(field) or "",
                "width": _dimension(width),
                "height": _dimension(height),
                "concord": {
                    "external_id": row["external_id"],
                    "batch_id": row["batch_id"],
                    "confidence": consensus["confidence"] if consensus else None,
                    "method": consensus["method"] if consensus else None,
                    "agreement": row["agreement"],
                    "gold": bool(row.get("gold")),
                },
            }
            images.write(b"," + dumps(image) if count else dumps(image))
            count += 1
            for box in (answer or {}).get("boxes") or ():
                category = category_ids.get(box["label"])
                if category is None:
                    raise ValueError(
                        f"Task {task_id}: box label {box['label']!r} is not one of the project's labels {labels}"
                    )
                width, height = box["width"], box["height"]
                item = {
                    "id": annotation_id + 1,
                    "image_id": task_id,
                    "category_id": category,
                    "bbox": [box["x"], box["y"], width, height],
                    "area": width * height,
                    "iscrowd": 0,
                    "score": score,
                }
                annotations.write(b"," + dumps(item) if annotation_id else dumps(item))
                annotation_id += 1
        images.flush()
        annotations.flush()

        fh.write(_header(project, categories))
        fh.write(b',"images":[')
        images_file.seek(0)
        shutil.copyfileobj(images_file, fh, COPY_CHUNK)
        fh.write(b'],"annotations":[')
        annotations_file.seek(0)
        shutil.copyfileobj(annotations_file, fh, COPY_CHUNK)
        fh.write(b"]}\n")
    return count
