"""Job parameters: what a job kind accepts, written as JSON Schema, checked before the job starts.

A job kind says what it takes as a small JSON Schema object (the same dict documents the kind in
``GET /jobs/kinds`` and in ``/openapi.json``, and is the very one requests are checked against)::

    {"width": {"type": "integer", "minimum": 1, "maximum": 10_000, "default": 800}}

or lets the lab read it from the function's signature (``def resize(width: int = 800)``).
:func:`checker` compiles a schema once; the check it returns runs ``jsonschema`` (JSON Schema
2020-12, every keyword: ``pattern``, ``const``, ``multipleOf`` ...) and says, in plain words and
naming each field, everything that is wrong, so ``POST /jobs`` can answer ``422`` *before*
accepting work it could never do. Unknown parameters are refused (the schemas are closed).

``jsonschema`` is imported, and a schema compiled, on the first check, not before, and without
``rfc3987-syntax``'s grammar (see :func:`_import_jsonschema`).
"""

from __future__ import annotations

import functools
import inspect
import itertools
import json
import math
import re
import sys
import typing
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from webhooks_lab import strict_json
from webhooks_lab.jobs.model import InvalidParams

if TYPE_CHECKING:
    from jsonschema import ValidationError

#: Parameters a job function may declare to be handed things by the runner, not by the caller.
INJECTED = frozenset({"progress", "clock"})
#: How deeply parameters (and a request body) may nest lists and objects.
MAX_DEPTH = 32
#: At most this many problems are listed: enough to fix a request, not a flood.
MAX_PROBLEMS = 20

Check = Callable[[Any], dict[str, Any]]

_PYTHON_TYPES = {
    int: "integer",
    float: "number",
    str: "string",
    bool: "boolean",
    list: "array",
    dict: "object",
}
_TYPE_NAMES = {"int": "integer", "float": "number", "str": "string", "bool": "boolean"}
_TYPE_NAMES |= {"list": "array", "dict": "object"}
_WORDS = {
    "integer": "a whole number",
    "number": "a number",
    "string": "a string",
    "boolean": "true or false",
    "array": "a list",
    "object": "an object",
    "null": "null",
}
# Which problems come first at one place: what is missing, then what is unknown, then the rest.
_RANK = {"required": 0, "additionalProperties": 1}


def _import_jsonschema() -> None:
    """Import jsonschema without the ``rfc3987-syntax`` grammar (1.5 to 4 s of work on the lab
    loop, blocking every answer, where JupyterLab's dependencies installed it).

    jsonschema loads that grammar only to check the ``iri`` formats, and the lab checks no formats
    (no ``format_checker`` is passed), so it is kept out while jsonschema is first imported. An
    ``import rfc3987_syntax`` of the learner's own, later, still works.
    """
    if "jsonschema" in sys.modules or "rfc3987_syntax" in sys.modules:
        return
    sys.modules["rfc3987_syntax"] = None  # type: ignore[assignment]  # import raises ImportError
    try:
        import jsonschema  # noqa: F401
    finally:
        del sys.modules["rfc3987_syntax"]


@functools.cache
def _validator_class() -> Any:
    """JSON Schema 2020-12, where NaN and Infinity (which JSON cannot carry) are no numbers."""
    _import_jsonschema()
    from jsonschema import Draft202012Validator
    from jsonschema.validators import extend

    base = Draft202012Validator.TYPE_CHECKER

    def number(checker: Any, value: Any) -> bool:
        if isinstance(value, float):
            return math.isfinite(value)
        return base.is_type(value, "number")

    def integer(checker: Any, value: Any) -> bool:
        return number(checker, value) and base.is_type(value, "integer")

    return extend(
        Draft202012Validator,
        type_checker=base.redefine_many({"number": number, "integer": integer}),
    )


def schema_from_signature(fn: Callable[..., Any]) -> dict[str, Any]:
    """The parameters of ``fn`` as a JSON Schema object (``progress``/``clock`` left out).

    ``def resize(width: int = 800, height: int = 600)`` becomes two optional integers with
    defaults; a parameter without a default is required; one without an annotation takes any JSON.
    A default JSON cannot hold exactly stays out of the schema (the function still has it).
    """
    try:
        hints = typing.get_type_hints(fn)
    except Exception:  # a notebook function may name a type that no longer exists
        hints = {}
    properties: dict[str, Any] = {}
    required: list[str] = []
    for name, param in inspect.signature(fn).parameters.items():
        if name in INJECTED or param.kind in (param.VAR_POSITIONAL, param.VAR_KEYWORD):
            continue
        spec: dict[str, Any] = {}
        json_type = _json_type(hints.get(name, param.annotation))
        if json_type:
            spec["type"] = json_type
        if param.default is param.empty:
            required.append(name)
        elif _is_json(param.default):
            spec["default"] = param.default
        properties[name] = spec
    return object_schema(properties, required)


def object_schema(
    properties: Mapping[str, Any], required: list[str] | None = None
) -> dict[str, Any]:
    """A closed JSON Schema object; by default every property without a ``default`` is required."""
    if required is None:
        required = [name for name, spec in properties.items() if "default" not in spec]
    schema: dict[str, Any] = {
        "type": "object",
        "properties": dict(properties),
        "additionalProperties": False,
    }
    if required:
        schema["required"] = list(required)
    return schema


def checker(schema: Mapping[str, Any]) -> Check:
    """Return ``check(params)`` -> params with defaults filled in; ``schema`` is compiled once.

    Raises ``ValueError`` here if ``schema`` is not plain JSON, and from the first check if it is
    not valid JSON Schema. ``check`` raises :class:`InvalidParams` listing every problem, e.g.
    ``params.width must be a whole number, got "wide"``.
    """
    if not _is_json(schema):
        raise ValueError("a parameter schema must be plain JSON (no NaN, sets, objects, ...)")
    compiled: list[Any] = []  # the validator, made on the first check

    def validator() -> Any:
        if not compiled:
            cls = _validator_class()  # first: it imports jsonschema the cheap way
            from jsonschema.exceptions import SchemaError

            try:
                cls.check_schema(schema)
            except SchemaError as exc:
                raise ValueError(f"not a valid JSON Schema: {exc.message}") from None
            compiled.append(cls(schema))
        return compiled[0]

    defaults = {
        name: spec["default"]
        for name, spec in schema.get("properties", {}).items()
        if isinstance(spec, Mapping) and "default" in spec
    }
    integers = [
        name
        for name, spec in schema.get("properties", {}).items()
        if isinstance(spec, Mapping) and spec.get("type") == "integer"
    ]

    def check(params: Any) -> dict[str, Any]:
        if params is None:
            params = {}
        if json_depth(params) > MAX_DEPTH:
            raise InvalidParams([f"params nest more than {MAX_DEPTH} levels deep"])
        errors = list(itertools.islice(validator().iter_errors(params), 4 * MAX_PROBLEMS))
        if errors:
            raise InvalidParams(_describe_all(errors)[:MAX_PROBLEMS])
        filled = {**{n: v for n, v in defaults.items() if n not in params}, **params}
        for name in integers:
            if isinstance(filled.get(name), float):
                filled[name] = int(filled[name])  # JSON's 3.0 is the whole number 3
        return filled

    return check


def validate(schema: Mapping[str, Any], params: Any) -> dict[str, Any]:
    """Check ``params`` against ``schema`` once: ``checker(schema)(params)``."""
    return checker(schema)(params)


def json_depth(value: Any) -> int:
    """How deeply ``value`` nests lists and objects (stops counting past :data:`MAX_DEPTH`)."""
    return strict_json.depth(value, stop_past=MAX_DEPTH)


# -- saying what is wrong --------------------------------------------------------------------------


def _describe_all(errors: list[ValidationError]) -> list[str]:
    # A value of the wrong type (or outside its enum) gets that one problem, not every keyword's.
    first: dict[tuple[Any, ...], str] = {}
    for error in errors:
        if error.validator in ("type", "enum", "const"):
            first.setdefault(tuple(error.absolute_path), error.validator)
    kept = [
        error
        for error in errors
        if first.get(tuple(error.absolute_path), error.validator) == error.validator
    ]
    kept.sort(key=lambda error: (len(error.absolute_path), _RANK.get(str(error.validator), 2)))
    problems: list[str] = []
    for error in kept:
        for problem in _describe(error):
            if problem not in problems:
                problems.append(problem)
    return problems


def _describe(error: ValidationError) -> list[str]:
    where = _where(error.absolute_path)
    keyword, expected, value = error.validator, error.validator_value, error.instance
    if keyword == "type":
        kinds = [expected] if isinstance(expected, str) else list(expected)
        words = " or ".join(_WORDS.get(kind, kind) for kind in kinds)
        return [f"{where} must be {words}, got {_shown(value)}"]
    if keyword == "enum":
        choices = ", ".join(_shown(choice) for choice in expected)
        return [f"{where} must be one of {choices}, got {_shown(value)}"]
    if keyword == "const":
        return [f"{where} must be {_shown(expected)}, got {_shown(value)}"]
    if keyword == "required":
        return [f"{where}.{name} is required" for name in expected if name not in value]
    if keyword == "additionalProperties":
        known = list(error.schema.get("properties", {}))
        patterns = list(error.schema.get("patternProperties", {}))
        unknown = [
            name
            for name in value
            if name not in known and not any(re.search(p, name) for p in patterns)
        ]
        names = ", ".join(_shown(name) for name in unknown[:5])
        takes = ", ".join(known) or "none"
        return [f"{where} has unknown {names} (this kind takes: {takes})"]
    words = _WORDED.get(str(keyword))
    if words is not None:
        return [f"{where} must {words.format(expected)}" + _got(keyword, value)]
    if keyword in ("anyOf", "oneOf"):
        return [f"{where} must match one of the shapes this kind allows, got {_shown(value)}"]
    return [f"{where}: {error.message}"]


_WORDED = {
    "minimum": "be at least {}",
    "maximum": "be at most {}",
    "exclusiveMinimum": "be more than {}",
    "exclusiveMaximum": "be less than {}",
    "multipleOf": "be a multiple of {}",
    "pattern": "match the pattern {}",
    "minLength": "have at least {} characters",
    "maxLength": "have at most {} characters",
    "minItems": "have at least {} items",
    "maxItems": "have at most {} items",
    "uniqueItems": "not repeat an item",
    "minProperties": "have at least {} entries",
    "maxProperties": "have at most {} entries",
}
# Keywords whose message ends by showing the value (a long string or list would only be noise).
_SHOW_VALUE = {"minimum", "maximum", "multipleOf", "pattern"}


def _got(keyword: Any, value: Any) -> str:
    return f", got {_shown(value)}" if keyword in _SHOW_VALUE else ""


def _where(path: Any) -> str:
    where = "params"
    for step in path:
        where += f"[{step}]" if isinstance(step, int) else f".{str(step)[:40]}"
    return where


def _json_type(annotation: Any) -> str | None:
    if isinstance(annotation, str):
        return _TYPE_NAMES.get(annotation.strip())
    return _PYTHON_TYPES.get(annotation)


def _is_json(value: Any) -> bool:
    """True if ``value`` survives a trip through JSON unchanged."""
    try:
        return json.loads(json.dumps(value, allow_nan=False)) == value
    except (TypeError, ValueError, RecursionError):
        return False


def _shown(value: Any) -> str:
    text = repr(value) if not isinstance(value, str) else f'"{value}"'
    return text if len(text) <= 40 else text[:37] + "..."


__all__ = [
    "INJECTED",
    "MAX_DEPTH",
    "InvalidParams",
    "checker",
    "json_depth",
    "object_schema",
    "schema_from_signature",
    "validate",
]
