"""Training data for NER tools from the consensus spans of a text_spans project.

Both formats carry one answer per task: the expected answer of a control (gold)
task, else the consensus. A task without consensus is left out rather than
written with no entities (a tagger would learn from it that the text mentions
nothing), unless the export asks for such tasks (``include_empty``). A task
whose consensus has no spans is kept, since then "nothing here" is what the
workers agreed on.
"""

from __future__ import annotations

import re
from bisect import bisect_left, bisect_right
from collections.abc import Iterable
from typing import BinaryIO
from urllib.parse import quote

import orjson

from ._common import DEFAULT_OPTIONS, ChunkedWriter, WriteOptions, text_field, training_spans
from .tokens import tokenize

# spaCy's CoNLL reader (``spacy convert --converter ner``) cuts documents at exactly this line; other
# readers skip any line starting with -DOCSTART-.
DOCSTART = b"-DOCSTART- -X- O O\n\n"
_WHITESPACE = re.compile(r"\s")


def conll_labels(labels: list[str]) -> dict[str, str]:
    """The tag name of each project label in CoNLL, where columns are split at whitespace.

    A label without whitespace is written as it is. Otherwise each whitespace character becomes ``_``
    (``Person Name`` -> ``Person_Name``), unless that would make it the same as another label's tag:
    then, for this project, whitespace and ``%`` are percent-encoded instead (``Person%20Name``), which
    keeps every tag distinct and decodes back with ``urllib.parse.unquote``.
    """
    plain = {label: _WHITESPACE.sub("_", label) for label in labels}
    if len(set(plain.values())) == len(plain):
        return plain
    return {label: quote(label, safe="".join({c for c in label if not c.isspace() and c != "%"})) for label in labels}


def bio_tags(text: str, spans: list[dict], tags: dict[str, str] | None = None) -> list[tuple[str, str]]:
    """Tokens of ``text`` (see ``backend.exports.tokens``) with the BIO tag of the span covering each.

    A token belongs to a span when their character ranges overlap, so a span that ends inside a token
    still tags it. BIO cannot nest: of overlapping spans the one starting first, and of those the
    longest, is kept; spans touching a token it already tagged are dropped. ``tags`` maps a label to
    its tag name (default: the label with ``_`` for whitespace).
    """
    tokens = tokenize(text)
    tagged = ["O"] * len(tokens)
    starts = [t[0] for t in tokens]
    ends = [t[1] for t in tokens]
    for span in sorted(spans, key=lambda s: (s["start"], -s["end"])):
        first = bisect_right(ends, span["start"])  # tokens ending at or before the span are outside it
        stop = bisect_left(starts, span["end"])  # tokens starting at or after its end are outside too
        if first >= stop or any(tag != "O" for tag in tagged[first:stop]):
            continue
        # A label the project no longer has still may not split the line's columns.
        name = (tags or {}).get(span["label"]) or _WHITESPACE.sub("_", span["label"])
        tagged[first] = "B-" + name
        tagged[first + 1 : stop] = ["I-" + name] * (stop - first - 1)
    return [(token[2], tag) for token, tag in zip(tokens, tagged, strict=True)]


def _spans_or_empty(row: dict, text: str, options: WriteOptions) -> list[dict] | None:
    spans = training_spans(row, text)
    if spans is None and options.include_empty:
        return []
    return spans


def write_conll(
    rows: Iterable[dict],
    fh: BinaryIO,
    project: dict,
    *,
    tmp_dir: str | None = None,
    options: WriteOptions = DEFAULT_OPTIONS,
) -> int:
    """Write CoNLL-2003 style ``token -X- SOURCE TAG`` lines; return the number of documents written.

    Each task is one document: a ``-DOCSTART- -X- O O`` line, a blank line, its tokens, a blank line.
    Tokens split punctuation as spaCy's English tokenizer does (``backend.exports.tokens``). The third
    column says where the tags come from: ``_`` for the consensus, ``gold`` for the expected answer of
    a control task. Tags are BIO over ``conll_labels`` (labels with spaces are written with ``_``).
    Tasks without consensus (unless ``include_empty``), and texts with no token, are left out.
    """
    field = text_field(project)
    tags = conll_labels(project.get("labels") or [])
    out = ChunkedWriter(fh)
    count = 0
    for row in rows:
        text = row["data"].get(field) or ""
        spans = _spans_or_empty(row, text, options)
        if spans is None:
            continue
        tagged = bio_tags(text, spans, tags)
        if not tagged:
            continue
        source = "gold" if row.get("gold") else "_"
        out.write(DOCSTART + "".join(f"{token} -X- {source} {tag}\n" for token, tag in tagged).encode() + b"\n")
        count += 1
    out.flush()
    return count


def write_spacy(
    rows: Iterable[dict],
    fh: BinaryIO,
    project: dict,
    *,
    tmp_dir: str | None = None,
    options: WriteOptions = DEFAULT_OPTIONS,
) -> int:
    """Write spaCy-style JSONL, one document a line; return the number of documents written.

    Each line is ``{"text", "spans": [{"start", "end", "label"}], "meta": {"task_id", "external_id",
    "gold"}}`` with character offsets into the text, sorted by position; a control task's spans are its
    expected answer (``"gold": true``). Tasks without consensus are left out unless ``include_empty``.
    """
    field = text_field(project)
    out = ChunkedWriter(fh)
    count = 0
    for row in rows:
        text = row["data"].get(field) or ""
        spans = _spans_or_empty(row, text, options)
        if spans is None:
            continue
        doc = {
            "text": text,
            "spans": spans,
            "meta": {"task_id": row["task_id"], "external_id": row["external_id"], "gold": bool(row.get("gold"))},
        }
        out.write(orjson.dumps(doc, option=orjson.OPT_APPEND_NEWLINE))
        count += 1
    out.flush()
    return count
