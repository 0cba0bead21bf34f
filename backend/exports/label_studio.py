"""Label Studio JSON tasks: each worker answer as an annotation, the consensus as a prediction.

The output is a JSON array of tasks in Label Studio's import format
(``{"id", "data", "meta", "annotations", "predictions"}``), streamed one task at
a time. ``id`` is the Concord task id: Label Studio's converters
(``label_studio_sdk.converter.Converter``: COCO, YOLO, VOC, CoNLL, CSV) need
one on every task; Label Studio gives imported tasks ids of its own. Results
name the control tag ``label`` and the object tag ``image`` for bounding boxes
and ``text`` otherwise; ``label_config(project)`` returns a labeling config
with exactly those names (the export's API resource carries it as
``label_config``), to create the Label Studio project or run the converter.
A form's config has an object tag per displayed field (a chat as
``Paragraphs``, html as ``HyperText``, a ranking's items as ``List``) and a
control tag per question, named as the question: pairwise as ``Choices`` over
a / b / tie, ranking as ``Ranker``, text_edit as ``TextArea``.

Choices the format forces:

- Workers are not Label Studio users. Label Studio rejects an import whose
  ``completed_by`` is neither a member's numeric id nor ``{"email": ...}`` of
  a member, so annotations carry no ``completed_by`` (Label Studio assigns
  them to the importing user) and the pseudonymous worker ids are kept, in
  annotation order, in ``meta.annotators``.
- Annotations are imported with ``ground_truth: false`` (Label Studio's
  default on import is true) and ``lead_time`` = the worker's active seconds.
- Label Studio places boxes in percent of the image size: the task data's
  ``width`` and ``height``, else the image's own header when it can be read
  (``backend.exports.images``). When neither says, the boxes cannot be
  converted: they are left out of that task's results and
  ``meta.boxes_omitted`` counts them.
- A control (gold) task has ``meta.gold`` true and its expected answer in
  ``meta.expected`` (Concord's form), and once more as the last annotation,
  with ``ground_truth: true`` (Label Studio's mark for a reference answer).
  Worker annotations are ``ground_truth: false``; ``meta.annotators`` names
  them, in order.
- Label Studio keeps neither ``created_at`` nor the task's Concord id on
  import; both stay readable in the file (``meta.concord_task_id``).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import BinaryIO
from xml.sax.saxutils import quoteattr

from ._common import (
    DEFAULT_OPTIONS,
    ChunkedWriter,
    WriteOptions,
    dumps,
    expected_answer,
    form_questions,
    image_field,
    part,
    text_field,
)
from .images import image_size

FROM_NAME = "label"


def _result(
    task_type: str,
    answer: dict,
    data: dict,
    project: dict,
    size: tuple[float, float] | None,
    from_name: str = FROM_NAME,
    to_name: str | None = None,
) -> tuple[list[dict], int]:
    """Label Studio result items for one answer, and how many boxes had to be left out. ``from_name`` and
    ``to_name`` name the control and object tags (default: ``label`` on ``image`` or ``text``)."""
    if task_type == "bounding_boxes":
        boxes = answer.get("boxes") or []
        if size is None:
            return [], len(boxes)
        width, height = size
        return [
            {
                "type": "rectanglelabels",
                "from_name": from_name,
                "to_name": to_name or "image",
                "original_width": width,
                "original_height": height,
                "image_rotation": 0,
                "value": {
                    "x": box["x"] * 100.0 / width,
                    "y": box["y"] * 100.0 / height,
                    "width": box["width"] * 100.0 / width,
                    "height": box["height"] * 100.0 / height,
                    "rotation": 0,
                    "rectanglelabels": [box["label"]],
                },
            }
            for box in boxes
        ], 0
    if task_type == "text_spans":
        text = data.get(text_field(project)) or ""
        return [
            {
                "type": "labels",
                "from_name": from_name,
                "to_name": to_name or "text",
                "value": {
                    "start": s["start"],
                    "end": s["end"],
                    "text": text[s["start"] : s["end"]],
                    "labels": [s["label"]],
                },
            }
            for s in answer.get("spans") or []
        ], 0
    if task_type in ("single_choice", "pairwise"):
        value, kind = {"choices": [answer["choice"]]}, "choices"
    elif task_type == "multi_choice":
        value, kind = {"choices": list(answer["choices"])}, "choices"
    elif task_type == "rating":
        value, kind = {"rating": answer["value"]}, "rating"
    elif task_type in ("free_text", "text_edit"):
        value, kind = {"text": [answer["text"]]}, "textarea"
    elif task_type == "ranking":
        value, kind = {"ranker": {to_name: list(answer["order"])}}, "ranker"
    else:
        raise ValueError(f"Label Studio export does not know task type {task_type!r}")
    return [{"type": kind, "from_name": from_name, "to_name": to_name or "text", "value": value}], 0


# How a form's display shows each data field, as Label Studio object tags.
_OBJECT_TAGS = {"text": "Text", "markdown": "Text", "html": "HyperText", "image": "Image", "audio": "Audio",
                "video": "Video"}


class _FormLayout:
    """A form as Label Studio tags: an object tag per shown data field, a control tag per question
    (named as the question), and each answer's results split over those controls."""

    def __init__(self, form) -> None:
        self.questions = form.questions
        taken = {q.name for q in form.questions}
        self.objects: dict[str, tuple[str, str]] = {}  # data field -> (object name, tag xml)
        for entry in form.display:
            self._object(entry["field"], entry["as"], taken)
        self.targets: dict[str, str] = {}  # question -> object name
        for question in form.questions:
            field, shown_as = self._target(question)
            self.targets[question.name] = self._object(field, shown_as, taken) if field else self._first(taken)

    @staticmethod
    def _target(question) -> tuple[str | None, str]:
        config, kind = question.config, question.kind.name
        if kind == "bounding_boxes":
            return config.get("image_field") or "image", "image"
        if kind == "text_spans":
            return config.get("text_field") or "text", "text"
        if kind == "pairwise":
            return config["a"], "text"
        if kind == "ranking":
            return config["items"], "list"
        if kind == "text_edit":
            return config["source"], "text"
        return None, "text"

    def _first(self, taken: set[str]) -> str:
        return next(iter(self.objects.values()))[0] if self.objects else self._object("text", "text", taken)

    def _object(self, field: str, shown_as: str, taken: set[str]) -> str:
        if field in self.objects:
            return self.objects[field][0]
        name = field if field not in taken else f"{field}_data"
        taken.add(name)
        value = quoteattr("$" + field)
        if shown_as == "chat":
            tag = (f'<Paragraphs name={quoteattr(name)} value={value} layout="dialogue" nameKey="role" '
                   'textKey="content"/>')
        elif shown_as == "images":
            tag = f"<Image name={quoteattr(name)} valueList={value}/>"
        elif shown_as == "list":
            tag = f"<List name={quoteattr(name)} value={value}/>"
        else:
            tag = f"<{_OBJECT_TAGS.get(shown_as, 'Text')} name={quoteattr(name)} value={value}/>"
        self.objects[field] = (name, tag)
        return name

    def config(self) -> str:
        controls = []
        for question in self.questions:
            kind, config = question.kind.name, question.config
            attrs = f"name={quoteattr(question.name)} toName={quoteattr(self.targets[question.name])}"
            header = f"<Header value={quoteattr(question.title)}/>"
            if kind in ("single_choice", "multi_choice", "pairwise"):
                labels = question.kind.categories(config) or []
                choice = "multiple" if kind == "multi_choice" else "single"
                items = "".join(f"<Choice value={quoteattr(label)}/>" for label in labels)
                controls.append(f'{header}<Choices {attrs} choice="{choice}">{items}</Choices>')
            elif kind == "rating":
                controls.append(f'{header}<Rating {attrs} maxRating="{int(config.get("max") or 5)}"/>')
            elif kind in ("bounding_boxes", "text_spans"):
                tag = "RectangleLabels" if kind == "bounding_boxes" else "Labels"
                items = "".join(f"<Label value={quoteattr(label)}/>" for label in config.get("labels") or [])
                controls.append(f"{header}<{tag} {attrs}>{items}</{tag}>")
            elif kind == "ranking":
                controls.append(f"{header}<Ranker {attrs}/>")
            else:
                controls.append(f"{header}<TextArea {attrs}/>")
        objects = "".join(tag for _name, tag in self.objects.values())
        return f"<View>{objects}{''.join(controls)}</View>"

    def results(self, answer: dict, data: dict, options: WriteOptions) -> tuple[list[dict], int]:
        results, omitted = [], 0
        for question in self.questions:
            answered = part(answer, question.name)
            if answered is None:
                continue
            kind, config = question.kind.name, question.config
            size = image_size(data, config.get("image_field") or "image", options.image_dir) \
                if kind == "bounding_boxes" else None
            made, skipped = _result(kind, answered, data, config, size, from_name=question.name,
                                    to_name=self.targets[question.name])
            results += made
            omitted += skipped
        return results, omitted


def _task(row: dict, project: dict, options: WriteOptions, layout: _FormLayout | None = None) -> dict:
    task_type = project["task_type"]
    data = row["data"]
    size = image_size(data, image_field(project), options.image_dir) if task_type == "bounding_boxes" else None

    def results(answer: dict) -> tuple[list[dict], int]:
        if layout is not None:  # a form: each question's part under its own control
            return layout.results(answer, data, options)
        return _result(task_type, answer, data, project, size)

    omitted = 0
    annotations = []
    for answer in row["answers"]:
        result, skipped = results(answer["answer"])
        omitted += skipped
        annotation = {
            "result": result,
            "created_at": answer["submitted_at"],
            "ground_truth": False,
            "was_cancelled": False,
        }
        if answer.get("active_seconds") is not None:
            annotation["lead_time"] = answer["active_seconds"]
        annotations.append(annotation)
    expected = expected_answer(row)
    if expected is not None:
        result, skipped = results(expected)
        omitted += skipped
        reference = {"result": result, "ground_truth": True, "was_cancelled": False}
        if row.get("created_at"):  # when the task (and its expected answer) was imported
            reference["created_at"] = row["created_at"]
        annotations.append(reference)
    predictions = []
    consensus = row["consensus"]
    # A withdrawn result (every answer of the task rejected) has no answer to predict.
    if consensus is not None and consensus.get("answer") is not None:
        result, skipped = results(consensus["answer"])
        omitted += skipped
        predictions.append(
            {
                "result": result,
                "score": consensus["confidence"],
                "model_version": f"concord-consensus-{consensus['method']}",
            }
        )
    meta = {
        "concord_task_id": row["task_id"],
        "external_id": row["external_id"],
        "batch_id": row["batch_id"],
        "agreement": row["agreement"],
        "annotators": [answer["worker"] for answer in row["answers"]],
        "gold": bool(row.get("gold")),
    }
    if expected is not None:
        meta["expected"] = expected
    if omitted:
        meta["boxes_omitted"] = omitted
    return {"id": row["task_id"], "data": data, "meta": meta, "annotations": annotations, "predictions": predictions}


def write_label_studio(
    rows: Iterable[dict],
    fh: BinaryIO,
    project: dict,
    *,
    tmp_dir: str | None = None,
    options: WriteOptions = DEFAULT_OPTIONS,
) -> int:
    """Write a Label Studio JSON array of tasks; return the number of tasks written.

    Raises ``ValueError`` for a task type Label Studio export does not know.
    """
    form = form_questions(project)
    layout = _FormLayout(form) if form is not None else None
    out = ChunkedWriter(fh)
    out.write(b"[")
    count = 0
    for row in rows:
        if count:
            out.write(b",\n")
        out.write(dumps(_task(row, project, options, layout)))
        count += 1
    out.write(b"]\n")
    out.flush()
    return count


def label_config(project: dict) -> str:
    """A Label Studio labeling config (XML) whose tag names match the results of this export.

    The object tag shows the project's image field (bounding_boxes) or text
    field, which for choice, rating and free-text projects is ``text`` unless
    the project names another: edit its ``value`` if the task data differs.
    Label Studio ratings run from 1 to ``maxRating`` (the project's max).
    """
    form = form_questions(project)
    if form is not None:
        return _FormLayout(form).config()
    task_type = project["task_type"]
    labels = project.get("labels") or []
    if task_type == "bounding_boxes":
        obj = f'<Image name="image" value={quoteattr("$" + image_field(project))}/>'
        control_tag, item_tag, attrs = "RectangleLabels", "Label", ' toName="image"'
    else:
        obj = f'<Text name="text" value={quoteattr("$" + text_field(project))}/>'
        attrs = ' toName="text"'
        if task_type == "text_spans":
            control_tag, item_tag = "Labels", "Label"
        elif task_type in ("single_choice", "multi_choice"):
            control_tag, item_tag = "Choices", "Choice"
            attrs += ' choice="single"' if task_type == "single_choice" else ' choice="multiple"'
        elif task_type == "rating":
            return f'<View>{obj}<Rating name="{FROM_NAME}"{attrs} maxRating="{int(project.get("max") or 5)}"/></View>'
        elif task_type == "free_text":
            return f'<View>{obj}<TextArea name="{FROM_NAME}"{attrs}/></View>'
        else:
            raise ValueError(f"Label Studio export does not know task type {task_type!r}")
    items = "".join(f"<{item_tag} value={quoteattr(label)}/>" for label in labels)
    return f'<View>{obj}<{control_tag} name="{FROM_NAME}"{attrs}>{items}</{control_tag}></View>'
