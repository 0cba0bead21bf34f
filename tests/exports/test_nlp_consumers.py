"""CoNLL and spaCy exports of text spans, read by spaCy itself.

The CoNLL file goes through ``spacy convert --converter ner`` (a subprocess, as a user runs it) and the
DocBin it writes is read back; the spaCy JSONL and Label Studio spans go through ``Doc.char_span``, which
gives None for a span that does not sit on spaCy's tokens. Spans are submitted with surrounding
whitespace, which the API trims, and labels have spaces, which CoNLL cannot hold as they are.
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from backend.exports import write_export
from backend.exports.nlp import conll_labels
from backend.exports.tokens import tokenize

TEXTS = {
    "t1": "Yesterday Ada Lovelace flew to São Paulo, Brazil.",
    "t2": "(Charles Babbage) met Mary-Jane O'Brien in New York-based IBM's lab.",
    "t3": "Nothing here.",
}
LABELS = ["Person Name", "City", "ORG"]


def span(text, mention, label, pad_left="", pad_right=""):
    """The span of ``mention`` in ``text``, widened by the given padding (spaces around it)."""
    start = text.index(mention)
    return {"label": label, "start": start - len(pad_left), "end": start + len(mention) + len(pad_right)}


# The first worker marks mentions exactly; the second takes in the spaces around them; both agree.
EXACT = {
    "t1": [span(TEXTS["t1"], "Ada Lovelace", "Person Name"), span(TEXTS["t1"], "São Paulo", "City")],
    "t2": [span(TEXTS["t2"], "Charles Babbage", "Person Name"), span(TEXTS["t2"], "Mary-Jane O'Brien", "Person Name"),
           span(TEXTS["t2"], "New York", "City"), span(TEXTS["t2"], "IBM", "ORG")],
    "t3": [],
}
PADDED = {
    "t1": [span(TEXTS["t1"], "Ada Lovelace", "Person Name", " ", " "), span(TEXTS["t1"], "São Paulo", "City", " ")],
    "t2": [span(TEXTS["t2"], "Mary-Jane O'Brien", "Person Name", " ", " "),
           span(TEXTS["t2"], "Charles Babbage", "Person Name"), span(TEXTS["t2"], "New York", "City", " "),
           span(TEXTS["t2"], "IBM", "ORG", " ")],
    "t3": [],
}
MENTIONS = {
    "t1": [("Ada Lovelace", "Person Name"), ("São Paulo", "City")],
    "t2": [("Charles Babbage", "Person Name"), ("Mary-Jane O'Brien", "Person Name"), ("New York", "City"),
           ("IBM", "ORG")],
    "t3": [],
}


@pytest.fixture
def spans_project(project_factory, fill, answer_all):
    project = project_factory(task_type="text_spans", labels=LABELS, overlap=2, consensus_method="span_vote")
    fill(project, [{"external_id": key, "text": text} for key, text in TEXTS.items()]
         + [{"external_id": "control", "text": "Grace Hopper joined IBM.",
             "gold": {"spans": [{"label": "Person Name", "start": 0, "end": 13}, {"label": "ORG", "start": 19,
                                                                                   "end": 23}]}}])
    stored = answer_all(project, [lambda e: {"spans": EXACT[e]}, lambda e: {"spans": PADDED[e]}])
    project.stored = stored
    return project


@pytest.fixture
def nlp():
    import spacy  # a dev dependency: missing, the test fails

    return spacy.blank("en")


def test_spans_are_stored_without_surrounding_whitespace(spans_project):
    for key, answers in spans_project.stored.items():
        assert all(answer["spans"] == answers[0]["spans"] for answer in answers), key
        text = TEXTS[key]
        assert sorted((text[s["start"]:s["end"]], s["label"]) for s in answers[0]["spans"]) == sorted(MENTIONS[key])


def test_a_span_of_whitespace_only_is_refused_naming_it(project_factory, fill, crowd):
    project = project_factory(task_type="text_spans", labels=LABELS, overlap=1)
    fill(project, [{"text": "Ada  Lovelace"}])
    (worker,) = crowd(1)
    lease = worker.post(f"/api/v1/projects/{project.id}/assignments").json
    refused = worker.post(f"/api/v1/assignments/{lease['id']}/submit", json={"answer": {"spans": [
        {"label": "City", "start": 0, "end": 3}, {"label": "City", "start": 3, "end": 5}]}})
    assert refused.status_code == 422
    assert refused.json["error"]["details"]["fields"] == {"answer.spans[1]": ["marks only whitespace"]}


def test_spacy_convert_reads_the_conll_export_with_whole_labels(spans_project, make_export, tmp_path, nlp):
    from spacy.tokens import DocBin

    _, body = make_export(spans_project, "conll")
    source = tmp_path / "export.conll"
    source.write_bytes(body)
    converted = subprocess.run([sys.executable, "-m", "spacy", "convert", str(source), str(tmp_path), "--converter",
                                "ner"], capture_output=True, text=True, timeout=300)
    assert converted.returncode == 0, converted.stdout + converted.stderr
    docs = list(DocBin().from_disk(tmp_path / "export.spacy").get_docs(nlp.vocab))
    texts = [*TEXTS.values(), "Grace Hopper joined IBM."]
    assert len(docs) == 4  # one document per task, the control task's from its expected answer
    for doc, text in zip(docs, texts, strict=True):
        # spaCy's own tokenizer cuts the text into the same tokens as the file.
        assert [t.text for t in doc] == [t.text for t in nlp(text) if not t.is_space]
    # CoNLL keeps tokens, not the spaces between them: compare the entities' tokens with the mentions'.
    entities = [[([t.text for t in e], e.label_) for e in doc.ents] for doc in docs]
    as_tagged = {"Person Name": "Person_Name", "City": "City", "ORG": "ORG"}  # CoNLL cannot hold a space

    def tokens(mention):
        return [t.text for t in nlp(mention)]

    assert entities == [[(tokens(mention), as_tagged[label]) for mention, label in MENTIONS[key]] for key in TEXTS] + [
        [(["Grace", "Hopper"], "Person_Name"), (["IBM"], "ORG")]]
    # The entity's tokens are the mention's, not one more (the comma after "São Paulo", "'s" after IBM).
    first = docs[0].ents[1]
    assert (first.start, first.end, first.text) == (5, 7, "São Paulo")


def test_conll_labels_stay_distinct_when_underscores_would_merge_them(tmp_path):
    assert conll_labels(["Person Name", "City"]) == {"Person Name": "Person_Name", "City": "City"}
    tags = conll_labels(["Person Name", "Person_Name", "50%\tsure"])
    assert tags == {"Person Name": "Person%20Name", "Person_Name": "Person_Name", "50%\tsure": "50%25%09sure"}
    assert len(set(tags.values())) == 3 and not any(c.isspace() for tag in tags.values() for c in tag)
    from urllib.parse import unquote

    assert all(unquote(tag) == label for label, tag in tags.items())


def test_conll_tokens_are_spacys_on_typical_text(nlp):
    corpus = [
        "Ada Lovelace met Charles Babbage in London.", "São Paulo, Brazil!", '(IBM) and "Apple"',
        "U.S. e.g. Mr. Smith", "e-mail well-known New York-based", "don't can't Babbage's",
        "3.5% $100 £20 10km 5pm", "Hello!!! Wait... what?", "a/b c:d 10:30 1,000", "end;semi 'quoted' «fr»",
        "O'Neil rock'n'roll", "A.B.C. 2025-03-04", "hi-fi—dash –en", "  Nothing   to see.\n", "Zürich's café.",
        "I'm sure you're right, we've seen it; she'll go, he'd stay.", "Dr. Jekyll and Mr. Hyde (1886) cost $3.50.",
        "The U.K.'s GDP grew 2.5% in Q3.", "Paris-based firm L'Oréal reported €1.2bn!", 'He said: "No." Then left.',
        "Visit New York City, N.Y., in Jan. 2024.", "It's 5 p.m. now, at 11am.", "Tokyo's 東京 tower 🗼 is tall.",
        "“Quoted” ‘text’ — with dashes – here.", "Co-founder & CEO, Acme Inc.", "Price: US$5,000.00 (approx.).",
        "St. Petersburg, Russia — Москва.", "'Tis the season... isn't it?", "Temperatures hit 40°C. Then rain.",
    ]
    for text in corpus:
        ours = [token for _, _, token in tokenize(text)]
        assert ours == [t.text for t in nlp(text) if not t.is_space], text
        assert all(text[start:end] == token for start, end, token in tokenize(text))


def test_spacy_jsonl_spans_sit_on_spacy_tokens(spans_project, make_export, nlp):
    _, body = make_export(spans_project, "spacy")
    docs = [json.loads(line) for line in body.decode().splitlines()]
    assert [(d["meta"]["external_id"], d["meta"]["gold"]) for d in docs] == [
        ("t1", False), ("t2", False), ("t3", False), ("control", True)]
    for doc_json, key in zip(docs, [*TEXTS, None], strict=True):
        doc = nlp(doc_json["text"])
        ents = [doc.char_span(s["start"], s["end"], label=s["label"]) for s in doc_json["spans"]]
        assert None not in ents, doc_json  # spaCy's default, strict alignment
        doc.ents = ents  # what a training script does; no W030 or overlap error
        if key:
            assert [(e.text, e.label_) for e in doc.ents] == MENTIONS[key]


def test_label_studio_and_jsonl_spans_sit_on_spacy_tokens(spans_project, make_export, nlp):
    _, body = make_export(spans_project, "label_studio")
    for task in json.loads(body):
        doc = nlp(task["data"]["text"])
        for item in [r for a in task["annotations"] + task["predictions"] for r in a["result"]]:
            value = item["value"]
            assert doc.char_span(value["start"], value["end"]) is not None, value
            assert value["text"] == value["text"].strip()
    _, body = make_export(spans_project, "jsonl")
    for line in body.decode().splitlines():
        task = json.loads(line)
        doc = nlp(task["data"]["text"])
        answers = [a["answer"] for a in task["answers"]] + [task["consensus"]["answer"] if task["consensus"] else {}]
        for s in [s for answer in answers + [task["expected"] or {}] for s in answer.get("spans", [])]:
            assert doc.char_span(s["start"], s["end"]) is not None, s


def test_older_untrimmed_spans_are_trimmed_by_the_nlp_writers(tmp_path, nlp):
    # An answer stored before the API trimmed spans: the export still writes spans spaCy can place.
    text = "We met in São Paulo today."
    row = {"task_id": 1, "external_id": None, "batch_id": 1, "data": {"text": text}, "answers": [],
           "consensus": {"answer": {"spans": [{"label": "City", "start": 9, "end": 20},
                                              {"label": "ORG", "start": 2, "end": 3}]},
                         "confidence": 1.0, "method": "span_vote", "answers_used": 2},
           "agreement": None, "gold": False, "expected": None}
    project = {"id": 1, "name": "p", "task_type": "text_spans", "labels": LABELS, "text_field": "text"}
    with open(tmp_path / "out.jsonl", "wb") as fh:
        write_export("spacy", [row], fh, project)
    (doc_json,) = [json.loads(line) for line in (tmp_path / "out.jsonl").read_text().splitlines()]
    assert doc_json["spans"] == [{"label": "City", "start": 10, "end": 19}]  # the space-only span is gone
    assert nlp(text).char_span(10, 19).text == "São Paulo"
