"""Validate what the gateway returns against the official OpenAI schemas (shared/openai-spec).

The schema file sits beside DESIGN.md in ``shared/``, outside this repository: CI clones the
repository with ``shared/`` beside it. ``LAMBDAGATE_OPENAI_SPEC`` may point elsewhere.
"""

from __future__ import annotations

import json
import os
from functools import cache
from pathlib import Path
from typing import Any

from jsonschema import Draft202012Validator
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

_CANDIDATES = [
    os.environ.get("LAMBDAGATE_OPENAI_SPEC", ""),
    str(Path(__file__).resolve().parents[2] / "shared" / "openai-spec" / "schemas.json"),
    str(Path(__file__).resolve().parents[1] / "shared" / "openai-spec" / "schemas.json"),
]


@cache
def _document() -> dict[str, Any]:
    for candidate in _CANDIDATES:
        if candidate and Path(candidate).is_file():
            return json.loads(Path(candidate).read_text())  # type: ignore[no-any-return]
    raise FileNotFoundError("shared/openai-spec/schemas.json not found; set LAMBDAGATE_OPENAI_SPEC")


@cache
def _validator(name: str) -> Draft202012Validator:
    document = _document()
    resource = Resource.from_contents(document, default_specification=DRAFT202012)
    registry = Registry().with_resource("urn:openai", resource)
    return Draft202012Validator({"$ref": f"urn:openai#/components/schemas/{name}"}, registry=registry)


def assert_valid(instance: Any, schema_name: str) -> None:
    """Raise with every violation if ``instance`` does not match ``components.schemas[schema_name]``."""
    errors = sorted(_validator(schema_name).iter_errors(instance), key=lambda e: list(e.path))
    if errors:
        details = "\n".join(f"- {'/'.join(map(str, e.path)) or '<root>'}: {e.message}" for e in errors[:10])
        raise AssertionError(f"response does not match {schema_name}:\n{details}")
