"""GET /me/assignments: a worker's own answers with the review decision and the reviewer's reason."""

from __future__ import annotations

import pytest
from sqlalchemy import update

from backend.db import unit_of_work
from backend.models import Assignment, utcnow
from backend.services import datasets
from tests.conftest import principal_of

PATH = "/api/v1/me/assignments"


@pytest.fixture
def fill(manager):
    def run(project, n, gold=0, start=0):
        items = [{"external_id": f"t{i}", "text": f"item {i}"} for i in range(start, start + n)]
        items += [{"external_id": f"g{i}", "text": f"control {i}", "gold": {"choice": "neu"}} for i in range(gold)]
        return datasets.import_items(principal=principal_of(manager), project_id=project.id, items=items)

    return run


@pytest.fixture
def mgr(login_as, manager):
    return login_as(manager)


@pytest.fixture
def annotator(user_factory, login_as):
    def make():
        return login_as(user_factory("annotator"))

    return make


def work(client, project_id, n=1, choice="pos", headers=None):
    """Claim and answer n tasks; returns the assignment ids in claim order."""
    ids = []
    for _ in range(n):
        lease = client.post(f"/api/v1/projects/{project_id}/assignments", headers=headers or {})
        assert lease.status_code == 201, (lease.status_code, lease.headers.get("X-Concord-Reason"))
        done = client.post(f"/api/v1/assignments/{lease.json['id']}/submit", json={"answer": {"choice": choice}},
                           headers=headers or {})
        assert done.status_code == 200, done.json
        ids.append(lease.json["id"])
    return ids


def test_a_rejected_answer_shows_its_reason_and_the_list_is_newest_first(project_factory, fill, mgr, annotator):
    project = project_factory(name="Reviews", overlap=1, reward={"amount": 7, "currency": "EUR"})
    fill(project, 3)
    ann = annotator()
    first, second, third = work(ann, project.id, 3)
    assert mgr.post(f"/api/v1/assignments/{first}/approve", json={}).status_code == 200
    assert mgr.post(f"/api/v1/assignments/{second}/reject",
                    json={"reason": "The text is about a film, not a book."}).status_code == 200

    body = ann.get(PATH).json
    assert [item["id"] for item in body["items"]] == [third, second, first] and body["next_cursor"] is None
    by_id = {item["id"]: item for item in body["items"]}
    rejected = by_id[second]
    assert rejected["review_status"] == "rejected"
    assert rejected["review_reason"] == "The text is about a film, not a book."
    assert rejected["reviewed_at"] is not None and rejected["submitted_at"] is not None
    assert rejected["answer"] == {"choice": "pos"} and rejected["status"] == "submitted"
    assert rejected["project"] == {"id": project.id, "name": "Reviews"}
    assert set(rejected["task"]) == {"id", "batch_id", "external_id", "data"}
    assert rejected["task"]["data"] == {"text": f"item {rejected['task']['external_id'][1:]}"}
    assert rejected["reward"] == {"amount": 7, "currency": "EUR"}
    assert by_id[first]["review_status"] == "approved" and by_id[first]["review_reason"] is None
    assert by_id[third]["review_status"] == "pending" and by_id[third]["reviewed_at"] is None

    only = ann.get(f"{PATH}?review_status=rejected").json["items"]
    assert [item["id"] for item in only] == [second]


def test_other_workers_answers_and_gold_answers_never_appear(project_factory, fill, annotator, api_key, manager,
                                                             org_factory):
    project = project_factory(overlap=2, gold_ratio=0.5)
    fill(project, 4, gold=4)
    mine, theirs = annotator(), annotator()
    my_ids = work(mine, project.id, 6, choice="pos")
    work(theirs, project.id, 6, choice="neg")
    vendor = api_key(organization=org_factory(), scopes=["tasks:work"])
    work(vendor, project.id, 2, choice="neu", headers={"X-Concord-Worker": "v-1"})

    items = mine.get(PATH).json["items"]
    assert sorted(item["id"] for item in items) == sorted(my_ids)
    assert {item["answer"]["choice"] for item in items} == {"pos"}
    # Control tasks look like any other task: no gold answer, no marker telling them apart.
    control = [item for item in items if item["task"]["external_id"].startswith("g")]
    assert control, "the stream had control tasks"
    for item in items:
        assert set(item) == {"id", "status", "project", "task", "answer", "leased_at", "submitted_at",
                             "review_status", "review_reason", "reviewed_at", "reward"}
        assert set(item["task"]) == {"id", "batch_id", "external_id", "data"}
        assert "neu" not in repr(item["task"])  # the gold answer's label
    # A token of the same annotator sees the same list; the vendor's worker sees only its own two.
    token = api_key(user=_user_of(mine), scopes=["tasks:work"])
    assert [i["id"] for i in token.get(PATH).json["items"]] == [i["id"] for i in items]
    assert len(vendor.get(PATH, headers={"X-Concord-Worker": "v-1"}).json["items"]) == 2


def _user_of(client):
    from backend.services import accounts

    return accounts.get_user(user_id=client.get("/api/v1/me").json["id"])


def test_filters_by_status_review_status_and_project(project_factory, fill, mgr, annotator):
    one, two = project_factory(name="One", overlap=1), project_factory(name="Two", overlap=1)
    fill(one, 3)
    fill(two, 3)
    ann = annotator()
    done_one = work(ann, one.id, 2)
    done_two = work(ann, two.id, 1)
    released = ann.post(f"/api/v1/projects/{two.id}/assignments").json["id"]
    assert ann.post(f"/api/v1/assignments/{released}/release", json={"reason": "skipped"}).status_code == 200
    leased = ann.post(f"/api/v1/projects/{one.id}/assignments").json["id"]
    assert mgr.post(f"/api/v1/assignments/{done_one[0]}/reject", json={"reason": "Too fast."}).status_code == 200

    def ids(query):
        response = ann.get(f"{PATH}?{query}")
        assert response.status_code == 200, response.json
        return [item["id"] for item in response.json["items"]]

    assert ids("") == [leased, released, done_two[0], done_one[1], done_one[0]]
    assert ids("status=leased") == [leased]
    assert ids("status=released") == [released]
    assert ids("status=submitted") == [done_two[0], done_one[1], done_one[0]]
    assert ids("review_status=pending") == [done_two[0], done_one[1]]
    assert ids("review_status=rejected") == [done_one[0]]
    assert ids("review_status=approved") == []
    assert ids(f"project_id={one.id}") == [leased, done_one[1], done_one[0]]
    assert ids(f"project_id={two.id}&review_status=pending") == done_two
    assert ids(f"project_id={one.id}&status=leased&review_status=pending") == []  # a lease has no decision yet
    assert ids("project_id=999999") == []
    lease = ann.get(f"{PATH}?status=leased").json["items"][0]
    assert lease["answer"] is None and lease["review_status"] is None and lease["submitted_at"] is None


def test_pages_follow_the_cursor_newest_first_without_gaps_or_repeats(project_factory, fill, annotator):
    project = project_factory(overlap=1)
    fill(project, 5)
    ann = annotator()
    done = work(ann, project.id, 5)
    seen, cursor, pages = [], None, 0
    while True:
        query = "limit=2" + (f"&cursor={cursor}" if cursor else "")
        body = ann.get(f"{PATH}?{query}").json
        pages += 1
        seen += [item["id"] for item in body["items"]]
        cursor = body["next_cursor"]
        if cursor is None:
            break
    assert pages == 3 and seen == list(reversed(done))
    # A cursor keeps its place while new work arrives: the next page never repeats what was shown.
    first = ann.get(f"{PATH}?limit=2").json
    fill(project, 1, start=5)
    work(ann, project.id, 1)
    after = ann.get(f"{PATH}?limit=2&cursor={first['next_cursor']}").json["items"]
    assert [item["id"] for item in after] == list(reversed(done))[2:4]


def test_answers_claimed_at_the_same_moment_are_each_listed_once(project_factory, fill, annotator):
    project = project_factory(overlap=1)
    fill(project, 4)
    ann = annotator()
    done = work(ann, project.id, 4)
    with unit_of_work() as session:  # claims in the same microsecond: the id breaks the tie
        session.execute(update(Assignment).where(Assignment.id.in_(done[1:])).values(leased_at=utcnow()))
    seen, cursor = [], None
    while True:
        body = ann.get(f"{PATH}?limit=1" + (f"&cursor={cursor}" if cursor else "")).json
        seen += [item["id"] for item in body["items"]]
        if (cursor := body["next_cursor"]) is None:
            break
    assert seen == [done[3], done[2], done[1], done[0]]


@pytest.mark.parametrize(("query", "field"), [
    ("status=rejected", "status"),  # a review decision asked of the lease's state
    ("status=done", "status"),
    ("review_status=denied", "review_status"),
    ("project_id=abc", "project_id"),
    ("project_id=0", "project_id"),
    ("project_id=99999999999999999999999", "project_id"),
    ("limit=0", "limit"),
    ("limit=501", "limit"),
    ("limit=ten", "limit"),
    ("cursor=not-a-cursor", "cursor"),
    ("cursor=eyJhZnRlciI6ICJ4In0", "cursor"),  # {"after": "x"}
    ("cursor=eyJhZnRlciI6IDV9", "cursor"),  # {"after": 5}: a cursor of a list keyed by id
    ("cursor=eyJhZnRlciI6ICJub25zZW5zZSA1In0", "cursor"),  # {"after": "nonsense 5"}
    ("cursor=eyJhZnRlciI6ICIyMDI2LTAxLTAxVDAwOjAwOjAwKzAwOjAwIDk5OTk5OTk5OTk5OTk5OTk5OTk5In0", "cursor"),  # id 10^20
    ("satus=rejected", "satus"),  # a misspelt filter must not silently list everything
    ("status=%00", "url"),
])
def test_bad_filters_are_a_422_in_the_one_error_shape(project_factory, fill, annotator, query, field):
    ann = annotator()
    response = ann.get(f"{PATH}?{query}")
    assert response.status_code == 422, response.json
    assert set(response.json) == {"error"}
    error = response.json["error"]
    assert error["code"] == "validation_error" and field in error["details"]["fields"], error
    if query == "status=rejected":
        assert "review_status" in error["message"]


def test_who_may_list_and_whose_list_it_is(project_factory, fill, annotator, api_key, manager, org_factory,
                                           user_factory, client):
    project = project_factory(overlap=2)
    fill(project, 3)
    vendor_org = org_factory()
    vendor = api_key(organization=vendor_org, scopes=["tasks:work"])
    done = work(vendor, project.id, 2, headers={"X-Concord-Worker": "anna"})
    assert [i["id"] for i in vendor.get(PATH, headers={"X-Concord-Worker": "anna"}).json["items"]] == done[::-1]
    # Another of the vendor's workers, never seen: an empty list, and it is not registered by asking.
    assert vendor.get(PATH, headers={"X-Concord-Worker": "bert"}).json == {"items": [], "next_cursor": None}
    assert vendor.get(PATH).json["error"]["code"] == "worker_required"
    # Another organization's key naming the same external id has a worker of its own: nothing of anna's.
    other = api_key(organization=org_factory(), scopes=["tasks:work"])
    assert other.get(PATH, headers={"X-Concord-Worker": "anna"}).json["items"] == []
    no_scope = api_key(organization=vendor_org, scopes=["projects:read"])
    assert no_scope.get(PATH, headers={"X-Concord-Worker": "anna"}).status_code == 403
    ann = annotator()
    assert ann.get(PATH, headers={"X-Concord-Worker": "anna"}).json["error"]["code"] == "worker_header_not_allowed"
    assert api_key(user=manager).get(PATH).status_code == 403  # managers do not work on tasks
    assert api_key(user=user_factory("annotator"), scopes=["payments:read"]).get(PATH).status_code == 403
    assert client.get(PATH).status_code == 401
