"""Validate what the gateway returns against the official OpenAI schemas.

The schemas are vendored in ``tests/openai-spec/schemas.json`` (see the README there), so a clone
of the repository alone can run its tests; ``LAMBDAGATE_OPENAI_SPEC`` may point at another copy.
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

SPEC_ENV = "LAMBDAGATE_OPENAI_SPEC"
VENDORED = Path(__file__).resolve().parent / "openai-spec" / "schemas.json"


def spec_path() -> Path:
    """The schema file in use: ``$LAMBDAGATE_OPENAI_SPEC`` when set, else the vendored copy."""
    override = os.environ.get(SPEC_ENV, "").strip()
    path = Path(override) if override else VENDORED
    if not path.is_file():
        # An override that points nowhere is a mistake to report, not a reason to use another file.
        raise FileNotFoundError(f"OpenAI schema file {path} not found ({SPEC_ENV}={override!r})" if override
                                else f"vendored OpenAI schema file {path} is missing")
    return path


@cache
def _document() -> dict[str, Any]:
    return json.loads(spec_path().read_text(encoding="utf-8"))  # type: ignore[no-any-return]


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
