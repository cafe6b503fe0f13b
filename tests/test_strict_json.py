from __future__ import annotations

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from webhooks_lab.strict_json import JSONRefused, depth, loads


@pytest.mark.parametrize(
    ("raw", "code"),
    [
        (b"[" * 100_000 + b"]" * 100_000, "too_deep"),  # json.loads alone: RecursionError
        (b"[" * 65 + b"]" * 65, "too_deep"),
        (b'{"a":' * 65 + b"1" + b"}" * 65, "too_deep"),
        (b"1" * 5000, "number_too_long"),
        (b'{"n": 1e999}', "not_a_number"),
        (b'{"n": NaN}', "not_a_number"),
        (b"[Infinity]", "not_a_number"),
        (b"\xff\xfe", "invalid_json"),
        (b'{"a": 1', "invalid_json"),
        (b"", "invalid_json"),
    ],
)
def test_what_json_loads_would_mishandle_is_refused_with_its_code(raw, code):
    with pytest.raises(JSONRefused) as refused:
        loads(raw)
    assert refused.value.code == code
    assert len(str(refused.value)) < 300


def test_a_refusal_is_a_value_error_and_a_lab_error():
    import webhooks_lab

    with pytest.raises(webhooks_lab.Error):
        loads(b"[")
    with pytest.raises(ValueError):
        loads(b"[")


def test_nesting_up_to_the_limit_is_fine():
    assert depth(loads(b"[" * 64 + b"]" * 64)) == 64
    assert loads(b"[" * 5 + b"]" * 5, max_depth=5) == [[[[[]]]]]
    with pytest.raises(JSONRefused):
        loads(b"[" * 6 + b"]" * 6, max_depth=5)


def test_many_brackets_side_by_side_are_not_depth():
    assert loads(b"[" + b"[]," * 500 + b"[]]") == [[]] * 501


@given(
    st.recursive(
        st.none()
        | st.booleans()
        | st.integers(-(2**63), 2**63)
        | st.text(max_size=20)
        | st.floats(allow_nan=False, allow_infinity=False),
        lambda children: (
            st.lists(children, max_size=4)
            | st.dictionaries(st.text(max_size=8), children, max_size=4)
        ),
        max_leaves=30,
    )
)
def test_ordinary_json_reads_as_json_loads_reads_it(value):
    raw = json.dumps(value).encode()
    assert loads(raw) == json.loads(raw)


@pytest.mark.parametrize("limit", [4, 10, 64])
def test_a_number_one_character_over_the_limit_is_refused_however_it_is_written(limit):
    for shaped in (
        "9" * (limit + 1),
        "-" + "9" * limit,
        "1." + "5" * (limit - 1),
        "1e" + "1" * (limit - 1),
    ):
        raw = f'{{"n": {shaped}}}'.encode()
        try:
            json.loads(raw)
        except ValueError:
            continue
        with pytest.raises(JSONRefused) as refused:
            loads(raw, max_number_chars=limit)
        assert refused.value.code in ("number_too_long", "not_a_number"), shaped
    assert loads(b'{"n": %s}' % (b"7" * limit), max_number_chars=limit) == {"n": int("7" * limit)}


@given(
    number=st.from_regex(r"\A-?(0|[1-9][0-9]{0,80})(\.[0-9]{1,80})?([eE][+-]?[0-9]{1,4})?\Z"),
    limit=st.integers(min_value=3, max_value=120),
)
def test_a_number_is_refused_exactly_when_too_long_or_not_finite(number, limit):
    raw = f'{{"n": {number}}}'.encode()
    value = json.loads(raw)["n"]
    too_long = len(number) > limit
    infinite = isinstance(value, float) and value in (float("inf"), float("-inf"))
    if too_long or infinite:
        with pytest.raises(JSONRefused) as refused:
            loads(raw, max_number_chars=limit)
        assert refused.value.code == ("number_too_long" if too_long else "not_a_number")
    else:
        assert loads(raw, max_number_chars=limit) == {"n": value}


def test_a_float_too_large_is_refused_with_a_generous_number_limit():
    # A long mantissa with a two-digit exponent overflows as surely as 1e999.
    raw = b'{"n": 1%se99}' % (b"0" * 247)
    with pytest.raises(JSONRefused) as refused:
        loads(raw, max_number_chars=1000)
    assert refused.value.code == "not_a_number"


@pytest.mark.parametrize("encoding", ["utf-16", "utf-16-le", "utf-32"])
def test_numbers_are_checked_in_every_encoding_json_reads(encoding):
    assert loads('{"n": [1, 2.5]}'.encode(encoding)) == {"n": [1, 2.5]}
    too_long = '{"n": %s}' % ("9" * 80)
    for raw, code in (('{"n": 1e999}', "not_a_number"), (too_long, "number_too_long")):
        with pytest.raises(JSONRefused) as refused:
            loads(raw.encode(encoding))
        assert refused.value.code == code


@pytest.mark.parametrize(
    "raw",
    [
        b'{"a": 1}',
        b'{"a": 1} \t\r\n',
        b"[1, 2]\n",
        b'{"a": 1}\x0c',  # a form feed is whitespace to Python, not to JSON
        b'{"a": 1}\xc2\xa0',  # nor is a no-break space
        b'{"a": 1} x',
        b'{"a": 1}{"b": 2}',
        b"[1, 2",
        b"[1, 2]]",
    ],
)
def test_what_follows_the_value_is_judged_as_json_judges_it(raw):
    try:
        expected = json.loads(raw)
    except ValueError as exc:
        with pytest.raises(JSONRefused) as refused:
            loads(raw)
        assert refused.value.code == "invalid_json"
        assert str(exc) in str(refused.value)  # the same words json would have said
    else:
        assert loads(raw) == expected
