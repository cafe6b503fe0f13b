"""OpenAPI component schemas generated from typed models, so a document cannot drift from code.

::

    components = component_schemas([JobStatus, JobResult])
    # {"JobStatus": {...}, "JobLinks": {...}, "JobResult": {...}}, refs as #/components/schemas/...

Each model's JSON Schema (pydantic, JSON Schema 2020-12, which OpenAPI 3.1 speaks) is published
under its class name; the models it refers to are published beside it, once, and referred to by
``$ref``. A closed model (``extra="forbid"``) says ``additionalProperties: false``.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from pydantic import BaseModel

REF_TEMPLATE = "#/components/schemas/{model}"


def schema_ref(name: str) -> dict[str, str]:
    """``{"$ref": "#/components/schemas/<name>"}``."""
    return {"$ref": REF_TEMPLATE.format(model=name)}


def component_schemas(models: Iterable[type[BaseModel]]) -> dict[str, Any]:
    """The ``components.schemas`` of an OpenAPI document for ``models`` and what they refer to."""
    components: dict[str, Any] = {}
    for model in models:
        schema = model.model_json_schema(ref_template=REF_TEMPLATE)
        components.update(schema.pop("$defs", {}))
        components[model.__name__] = schema
    return components


__all__ = ["REF_TEMPLATE", "component_schemas", "schema_ref"]
