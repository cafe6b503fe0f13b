"""Schema-driven fuzzing of the jobs API: schemathesis reads the lab's own /openapi.json and sends
what it describes, and much that it does not, to a real server on 127.0.0.1.

Every answer must be no 5xx, a status and content type the document lists, and a body that matches
its schema. Bounded: a fixed number of examples per operation, no deadline games.
"""

from __future__ import annotations

import itertools
from collections import Counter
from collections.abc import Iterator

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from webhooks_lab.lab import Lab

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


@pytest.fixture(scope="module")
def fuzz_lab() -> Iterator[Lab]:
    with Lab() as running:
        yield running


def jobs_operations(lab: Lab) -> list:
    schema = schemathesis.openapi.from_url(f"{lab.url}/openapi.json")
    # The jobs API only: the receiver's routes are fuzzed over raw sockets elsewhere, and the
    # live feed streams for ever.
    return [
        result.ok()
        for result in schema.get_all_operations()
        if result.ok().path.startswith("/jobs")
    ]


def test_the_jobs_api_answers_anything_within_its_document(fuzz_lab):
    operations = jobs_operations(fuzz_lab)
    assert {op.path for op in operations} >= {"/jobs", "/jobs/kinds", "/jobs/{job_id}"}
    checks = [status_code_conformance, content_type_conformance, response_schema_conformance]
    calls: Counter[str] = Counter()

    def fuzz(operation, mode: GenerationMode) -> None:
        @given(case=operation.as_strategy(generation_mode=mode))
        @settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck))
        def call(case) -> None:
            response = case.call(base_url=fuzz_lab.url, timeout=10)
            calls[f"{mode.value} {response.status_code}"] += 1
            where = f"{case.method} {case.formatted_path}"
            assert response.status_code < 500, f"{where}: {response.text}"
            case.validate_response(response, checks=checks)

        call()

    for operation, mode in itertools.product(operations, GenerationMode):
        try:
            fuzz(operation, mode)
        except Unsatisfiable:  # nothing can be wrong with an operation that takes nothing
            assert mode is GenerationMode.NEGATIVE
    # It really asked: valid requests answered 2xx/3xx, invalid ones refused with 4xx.
    assert sum(n for key, n in calls.items() if key.split()[1][0] in "23") >= 20, calls
    assert sum(n for key, n in calls.items() if key.split()[1][0] == "4") >= 20, calls
    assert httpx.get(f"{fuzz_lab.url}/jobs/kinds", timeout=10).status_code == 200
