"""Fixtures of the API tests: data imported as a manager, annotators logged in."""

import pytest

from backend.services import datasets
from tests.conftest import principal_of


@pytest.fixture
def fill(manager):
    """Import items into a project: fill(project, n) or fill(project, items=[...])."""

    def run(project, n=None, items=None, batch_size=None):
        items = items if items is not None else [{"text": f"item {i}", "gold": None} for i in range(n)]
        items = [{k: v for k, v in item.items() if v is not None} for item in items]
        return datasets.import_items(principal=principal_of(manager), project_id=project.id, items=items,
                                     batch_size=batch_size)

    return run


@pytest.fixture
def workers(user_factory, login_as):
    """n annotators, each with a logged-in client."""

    def make(n):
        return [login_as(user_factory("annotator")) for _ in range(n)]

    return make
