"""Training data for NER tools from the consensus spans of a text_spans project.

Both formats carry only the consensus. A task without consensus is left out
rather than written with no entities: a tagger would learn from it that the
text mentions nothing. A task whose consensus has no spans is kept, since
then "nothing here" is what the workers agreed on.
"""

from __future__ import annotations

import re
from bisect import bisect_left, bisect_right
from collections.abc import Iterable
from typing import BinaryIO

import orjson

from ._common import ChunkedWriter, consensus_spans, text_field

DOCSTART = b"-DOCSTART- -X- -X- O\n\n"
# The same notion of whitespace as str.split(), so offsets match Python's view of the text.
TOKEN = re.compile(r"\S+")


def bio_tags(text: str, spans: list[dict]) -> list[tuple[str, str]]:
    """Whitespace tokens of ``text`` with the BIO tag of the span covering each.

    A token belongs to a span when their character ranges overlap, so a span
    that ends inside a token ("Paris" in "Paris,") still tags it. BIO cannot
    nest: of overlapping spans the one starting first, and of those the
    longest, is kept; spans touching a token it already tagged are dropped.
    """
    tokens = [(m.start(), m.end(), m.group()) for m in TOKEN.finditer(text)]
    tags = ["O"] * len(tokens)
    starts = [t[0] for t in tokens]
    ends = [t[1] for t in tokens]
    for span in sorted(spans, key=lambda s: (s["start"], -s["end"])):
        first = bisect_right(ends, span["start"])  # tokens ending at or before the span are outside it
        stop = bisect_left(starts, span["end"])  # tokens starting at or after its end are outside too
        if first >= stop or any(tag != "O" for tag in tags[first:stop]):
            continue
        tags[first] = "B-" + span["label"]
        tags[first + 1 : stop] = ["I-" + span["label"]] * (stop - first - 1)
    return [(token[2], tag) for token, tag in zip(tokens, tags, strict=True)]


def write_conll(rows: Iterable[dict], fh: BinaryIO, project: dict, *, tmp_dir: str | None = None) -> int:
    """Write CoNLL-2003 style ``token -X- _ TAG`` lines; return the number of documents written.

    One ``-DOCSTART-`` header, then each task's text as one block of tokens,
    blocks separated by blank lines. Tokens are split on whitespace. Tasks
    without consensus, and texts with no token, are left out.
    """
    field = text_field(project)
    out = ChunkedWriter(fh)
    out.write(DOCSTART)
    count = 0
    for row in rows:
        spans = consensus_spans(row)
        if spans is None:
            continue
        tagged = bio_tags(row["data"].get(field) or "", spans)
        if not tagged:
            continue
        out.write("".join(f"{token} -X- _ {tag}\n" for token, tag in tagged).encode() + b"\n")
        count += 1
    out.flush()
    return count


def write_spacy(rows: Iterable[dict], fh: BinaryIO, project: dict, *, tmp_dir: str | None = None) -> int:
    """Write spaCy-style JSONL, one document a line; return the number of documents written.

    Each line is ``{"text", "spans": [{"start", "end", "label"}], "meta":
    {"task_id", "external_id"}}`` with character offsets into the text, sorted
    by position. Tasks without consensus are left out.
    """
    field = text_field(project)
    out = ChunkedWriter(fh)
    count = 0
    for row in rows:
        spans = consensus_spans(row)
        if spans is None:
            continue
        doc = {
            "text": row["data"].get(field) or "",
            "spans": [{"start": s["start"], "end": s["end"], "label": s["label"]} for s in spans],
            "meta": {"task_id": row["task_id"], "external_id": row["external_id"]},
        }
        out.write(orjson.dumps(doc, option=orjson.OPT_APPEND_NEWLINE))
        count += 1
    out.flush()
    return count
