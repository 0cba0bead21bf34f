"""The OpenAPI document is the contract: every operation, called with generated input by an
authenticated organization key, answers without a 5xx and as the document says (status codes,
content types, response bodies). Schemathesis generates the calls from the document itself."""

from __future__ import annotations

import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import (
    content_type_conformance,
    ignored_auth,
    missing_required_header,
    not_a_server_error,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
    unsupported_method,
)

from backend.api import SECURITY_HEADERS
from backend.services import accounts, datasets, projects
from tests.conftest import principal_of

EXAMPLES_PER_OPERATION = 12
# What the contract promises. Left out: positive_data_acceptance (the document cannot express every
# rule, e.g. which currency codes exist, so schema-valid input may rightly be a 422) and
# negative_data_rejection (lenient parsing of some query strings is not a broken promise).


@schemathesis.check
def security_headers(ctx, response, case) -> None:
    """Every answer, errors included, carries the headers that stop framing, sniffing and inline script."""
    sent = {name.lower(): values for name, values in response.headers.items()}
    missing = {name for name, value in SECURITY_HEADERS.items() if value not in sent.get(name.lower(), [])}
    if missing:
        raise AssertionError(f"{case.method} {case.path} answered {response.status_code} without {sorted(missing)}")


CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance,
          response_headers_conformance, ignored_auth, missing_required_header, unsupported_method, security_headers]


def _world(manager) -> dict[str, str]:
    """An organization key holding every scope, with a project and tasks to find."""
    principal = principal_of(manager)
    project = projects.create_project(principal=principal, fields={
        "name": "Contract", "task_type": "single_choice", "labels": ["a", "b"], "overlap": 2, "status": "active"})
    datasets.import_items(principal=principal, project_id=project.id, items=[{"text": f"t{i}"} for i in range(5)])
    _token, secret = accounts.create_token(name="contract", organization_id=principal.organization_id,
                                           scopes=list(accounts.SCOPES))
    return {"Authorization": f"Bearer {secret}"}


def test_every_operation_keeps_the_contract(app, manager, monkeypatch):
    # Generated traffic is heavy by design: lift the per-key limit for this test only.
    monkeypatch.setitem(app.config, "CONCORD_SETTINGS",
                        app.config["CONCORD_SETTINGS"].with_overrides(api_rate_limit="100000 per second"))
    headers = _world(manager)
    schema = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", app)
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) > 60
    failures = {}
    for operation in operations:

        @given(case=operation.as_strategy())
        @settings(max_examples=EXAMPLES_PER_OPERATION, deadline=None, suppress_health_check=list(HealthCheck),
                  database=None)
        def check(case):
            case.call_and_validate(headers=headers, checks=CHECKS)

        try:
            check()
        except (Exception, BaseExceptionGroup) as exc:  # noqa: BLE001 - collected and reported together
            failures[operation.label] = str(exc)[:1500]
    assert not failures, "\n\n".join(f"{label}\n{message}" for label, message in failures.items())
