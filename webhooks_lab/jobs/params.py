"""Job parameters: what a job kind accepts, written as JSON Schema, checked before the job starts.

A job kind says what it takes as a small JSON Schema object (the same dict documents the kind in
``GET /jobs/kinds`` and in ``/openapi.json``)::

    {"width": {"type": "integer", "minimum": 1, "maximum": 10_000, "default": 800}}

or lets the lab read it from the function's signature (``def resize(width: int = 800)``).
:func:`validate` checks a request against it and says, in plain words, everything that is wrong,
so ``POST /jobs`` can answer ``422`` *before* accepting work it could never do.

Only the part of JSON Schema that job parameters need is understood: ``type``, ``enum``,
``minimum``/``maximum`` (and their exclusive forms), ``minLength``/``maxLength``,
``items``/``minItems``/``maxItems``, ``default``, ``description``. Unknown parameters are refused.
"""

from __future__ import annotations

import inspect
import math
import typing
from collections.abc import Callable, Mapping
from typing import Any

from webhooks_lab.jobs.model import InvalidParams

#: Parameters a job function may declare to be handed things by the runner, not by the caller.
INJECTED = frozenset({"progress", "clock"})
#: How deeply parameters (and a request body) may nest lists and objects.
MAX_DEPTH = 32

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


def schema_from_signature(fn: Callable[..., Any]) -> dict[str, Any]:
    """The parameters of ``fn`` as a JSON Schema object (``progress``/``clock`` left out).

    ``def resize(width: int = 800, height: int = 600)`` becomes two optional integers with
    defaults; a parameter without a default is required; one without an annotation takes any JSON.
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
        else:
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
    """``check(params)``: :func:`validate` against ``schema``."""
    return lambda params: validate(schema, params)


def json_depth(value: Any) -> int:
    """How deeply ``value`` nests lists and objects (stops counting past :data:`MAX_DEPTH`)."""
    deepest, stack = 0, [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, (dict, list)):
            deepest = max(deepest, depth)
            if depth > MAX_DEPTH:
                return depth
            children = item.values() if isinstance(item, dict) else item
            stack.extend((child, depth + 1) for child in children)
    return deepest


def validate(schema: Mapping[str, Any], params: Any) -> dict[str, Any]:
    """Check ``params`` against ``schema``; return them with defaults filled in.

    Raises :class:`InvalidParams` listing every problem, e.g.
    ``params.width must be a whole number, got "wide"``.
    """
    if params is None:
        params = {}
    problems: list[str] = []
    _check(schema, params, "params", problems)
    if problems:
        raise InvalidParams(problems)
    filled = dict(params)
    for name, spec in schema.get("properties", {}).items():
        if not isinstance(spec, Mapping):
            continue
        if name not in filled and "default" in spec:
            filled[name] = spec["default"]
        elif spec.get("type") == "integer" and isinstance(filled.get(name), float):
            filled[name] = int(filled[name])  # JSON's 3.0 is the whole number 3
    return filled


def _json_type(annotation: Any) -> str | None:
    if isinstance(annotation, str):
        return _TYPE_NAMES.get(annotation.strip())
    return _PYTHON_TYPES.get(annotation)


def _type_ok(expected: str, value: Any) -> bool:
    if expected == "integer":
        if isinstance(value, float):
            return math.isfinite(value) and value.is_integer()
        return isinstance(value, int) and not isinstance(value, bool)
    if expected == "number":
        if isinstance(value, float):
            return math.isfinite(value)
        return isinstance(value, int) and not isinstance(value, bool)
    if expected == "string":
        return isinstance(value, str)
    if expected == "boolean":
        return isinstance(value, bool)
    if expected == "array":
        return isinstance(value, list)
    if expected == "object":
        return isinstance(value, dict)
    if expected == "null":
        return value is None
    return True


def _shown(value: Any) -> str:
    text = repr(value) if not isinstance(value, str) else f'"{value}"'
    return text if len(text) <= 40 else text[:37] + "..."


def _check(schema: Mapping[str, Any], value: Any, where: str, problems: list[str]) -> None:
    expected = schema.get("type")
    if expected is not None:
        kinds = [expected] if isinstance(expected, str) else list(expected)
        if not any(_type_ok(kind, value) for kind in kinds):
            words = " or ".join(_WORDS.get(kind, kind) for kind in kinds)
            problems.append(f"{where} must be {words}, got {_shown(value)}")
            return
    if "enum" in schema and value not in schema["enum"]:
        choices = ", ".join(_shown(choice) for choice in schema["enum"])
        problems.append(f"{where} must be one of {choices}, got {_shown(value)}")
        return
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        _check_range(schema, value, where, problems)
    if isinstance(value, str):
        if "minLength" in schema and len(value) < schema["minLength"]:
            problems.append(f"{where} must have at least {schema['minLength']} characters")
        if "maxLength" in schema and len(value) > schema["maxLength"]:
            problems.append(f"{where} must have at most {schema['maxLength']} characters")
    if isinstance(value, list):
        if "minItems" in schema and len(value) < schema["minItems"]:
            problems.append(f"{where} must have at least {schema['minItems']} items")
        if "maxItems" in schema and len(value) > schema["maxItems"]:
            problems.append(f"{where} must have at most {schema['maxItems']} items")
        items = schema.get("items")
        if isinstance(items, Mapping):
            for index, item in enumerate(value[:1000]):
                _check(items, item, f"{where}[{index}]", problems)
                if len(problems) >= 20:
                    return
    if isinstance(value, dict):
        _check_object(schema, value, where, problems)


def _check_range(schema: Mapping[str, Any], value: float, where: str, problems: list[str]) -> None:
    if "minimum" in schema and value < schema["minimum"]:
        problems.append(f"{where} must be at least {schema['minimum']}, got {_shown(value)}")
    if "maximum" in schema and value > schema["maximum"]:
        problems.append(f"{where} must be at most {schema['maximum']}, got {_shown(value)}")
    if "exclusiveMinimum" in schema and value <= schema["exclusiveMinimum"]:
        problems.append(f"{where} must be more than {schema['exclusiveMinimum']}")
    if "exclusiveMaximum" in schema and value >= schema["exclusiveMaximum"]:
        problems.append(f"{where} must be less than {schema['exclusiveMaximum']}")


def _check_object(
    schema: Mapping[str, Any], value: dict[str, Any], where: str, problems: list[str]
) -> None:
    properties = schema.get("properties", {})
    for name in schema.get("required", []):
        if name not in value:
            problems.append(f"{where}.{name} is required")
    if schema.get("additionalProperties", True) is False:
        unknown = [name for name in value if name not in properties]
        if unknown:
            known = ", ".join(properties) or "none"
            names = ", ".join(_shown(name) for name in unknown[:5])
            problems.append(f"{where} has unknown {names} (this kind takes: {known})")
    for name, spec in properties.items():
        if name in value and isinstance(spec, Mapping):
            _check(spec, value[name], f"{where}.{name}", problems)
