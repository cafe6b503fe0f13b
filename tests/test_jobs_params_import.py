"""The first job request does not stall the lab loop importing rfc3987-syntax's grammar."""

import subprocess
import sys

import pytest

PROGRAM = """
import sys
from webhooks_lab.jobs import params
check = params.checker(params.object_schema({"width": {"type": "integer"}}))
assert check({"width": 3}) == {"width": 3}
print("rfc3987_syntax" in sys.modules)
import rfc3987_syntax  # a learner's own import still works afterwards
"""


def test_job_params_check_without_the_iri_grammar() -> None:
    pytest.importorskip("rfc3987_syntax", reason="the grammar is not installed here")
    result = subprocess.run(
        [sys.executable, "-c", PROGRAM], capture_output=True, text=True, timeout=60, check=True
    )
    assert result.stdout.strip() == "False"
