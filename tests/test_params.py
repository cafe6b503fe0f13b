"""Job parameters are checked by jsonschema against the very schema GET /jobs/kinds publishes."""

from __future__ import annotations

import math
import subprocess
import sys
from pathlib import Path

import pytest

from webhooks_lab.jobs.model import InvalidParams
from webhooks_lab.jobs.params import MAX_DEPTH, checker, object_schema, schema_from_signature

ROOT = Path(__file__).resolve().parent.parent
CODES = object_schema(
    {
        "code": {"type": "string", "pattern": "^[A-Z]{3}$"},
        "mode": {"const": "fast", "default": "fast"},
        "width": {"type": "integer", "multipleOf": 8, "minimum": 8, "default": 64},
    }
)


def problems(schema: dict, params: object) -> list[str]:
    with pytest.raises(InvalidParams) as refused:
        checker(schema)(params)
    return refused.value.problems


@pytest.mark.parametrize(
    ("params", "problem"),
    [
        ({"code": "usd"}, 'params.code must match the pattern ^[A-Z]{3}$, got "usd"'),
        ({"code": "USD", "mode": "slow"}, 'params.mode must be "fast", got "slow"'),
        ({"code": "USD", "width": 100}, "params.width must be a multiple of 8, got 100"),
        ({"code": "USD", "width": 0}, "params.width must be at least 8, got 0"),
        ({"code": "USD", "width": 8.5}, "params.width must be a whole number, got 8.5"),
        ({"code": 7}, "params.code must be a string, got 7"),
        ({}, "params.code is required"),
        (
            {"code": "USD", "colour": 1},
            'params has unknown "colour" (this kind takes: code, mode, width)',
        ),
    ],
)
def test_every_keyword_is_enforced_and_explained_naming_the_field(params, problem):
    assert problems(CODES, params) == [problem]


def test_what_fits_comes_back_with_defaults_filled_and_whole_floats_made_whole():
    assert checker(CODES)({"code": "EUR", "width": 16.0}) == {
        "code": "EUR",
        "mode": "fast",
        "width": 16,
    }
    assert checker(object_schema({}))(None) == {}


def test_every_problem_is_listed_missing_first_then_unknown_then_each_field():
    schema = object_schema(
        {"seconds": {"type": "number"}, "fps": {"type": "integer", "default": 24}}
    )
    assert problems(schema, {"fps": "fast", "colour": True}) == [
        "params.seconds is required",
        'params has unknown "colour" (this kind takes: seconds, fps)',
        'params.fps must be a whole number, got "fast"',
    ]


def test_nested_values_are_named_by_their_path():
    schema = object_schema(
        {"sizes": {"type": "array", "items": {"type": "integer", "minimum": 1}, "default": []}}
    )
    assert problems(schema, {"sizes": [4, 0, "x"]}) == [
        "params.sizes[1] must be at least 1, got 0",
        'params.sizes[2] must be a whole number, got "x"',
    ]


@pytest.mark.parametrize("number", [math.nan, math.inf, -math.inf])
def test_not_a_number_is_not_a_number_of_any_json_kind(number):
    schema = object_schema({"seconds": {"type": "number"}, "n": {"type": "integer", "default": 1}})
    assert problems(schema, {"seconds": number}) == [
        f"params.seconds must be a number, got {number}"
    ]
    assert problems(schema, {"seconds": 1, "n": number}) == [
        f"params.n must be a whole number, got {number}"
    ]


def test_params_nested_too_deeply_are_refused_before_any_schema_sees_them():
    deep: object = []
    for _ in range(MAX_DEPTH + 5):
        deep = [deep]
    schema = object_schema({"x": {"default": None}})
    assert problems(schema, {"x": deep}) == [f"params nest more than {MAX_DEPTH} levels deep"]


def test_no_more_than_twenty_problems_are_listed():
    schema = object_schema({"n": {"type": "array", "items": {"type": "integer"}, "default": []}})
    assert len(problems(schema, {"n": ["x"] * 500})) == 20


def test_a_schema_that_is_not_json_schema_is_refused_by_its_first_check():
    check = checker({"type": "object", "properties": {"n": {"type": "whole"}}})
    with pytest.raises(ValueError, match="not a valid JSON Schema"):
        check({"n": 1})
    with pytest.raises(ValueError, match="plain JSON"):
        checker({"type": "object", "properties": {"n": {"default": math.nan}}})


def test_starting_the_lab_does_not_wait_for_jsonschema():
    code = "import sys, webhooks_lab.lab; print('jsonschema' in sys.modules)"
    loaded = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT
    )
    assert loaded.stdout.strip() == "False"


def test_a_signature_default_json_cannot_hold_stays_out_of_the_schema():
    def render(pages: int = 1, size: tuple = (210, 297), dpi: float = math.inf) -> None: ...

    schema = schema_from_signature(render)
    assert schema["properties"] == {
        "pages": {"type": "integer", "default": 1},
        "size": {},
        "dpi": {"type": "number"},
    }
    assert "required" not in schema
    assert checker(schema)({}) == {"pages": 1}  # the function keeps its own size and dpi


# -- over HTTP: the published schema is the one enforced ------------------------------------------


def test_a_kind_with_pattern_const_and_multiple_of_is_enforced_over_http(lab, client):
    lab.jobs.register("fx.quote", lambda code, mode="fast", width=64: code, params=CODES)
    published = {kind["name"]: kind for kind in client.get("/jobs/kinds").json()["kinds"]}
    assert published["fx.quote"]["params"] == CODES
    assert published["fx.quote"]["params"] == lab.jobs.kind("fx.quote").params

    answer = client.post(
        "/jobs", json={"kind": "fx.quote", "params": {"code": "usd", "mode": "x", "width": 9}}
    )
    assert answer.status_code == 422
    assert answer.headers["content-type"] == "application/problem+json"
    body = answer.json()
    assert body["type"] == "urn:webhooks-lab:problem:invalid-params"
    assert body["errors"] == [
        'params.code must match the pattern ^[A-Z]{3}$, got "usd"',
        'params.mode must be "fast", got "x"',
        "params.width must be a multiple of 8, got 9",
    ]
    assert "fx.quote" in body["detail"]
    assert len(lab.jobs) == 0

    accepted = client.post("/jobs", json={"kind": "fx.quote", "params": {"code": "USD"}})
    assert accepted.status_code == 202
    assert lab.jobs.get(accepted.json()["id"]).wait(5) == "USD"
