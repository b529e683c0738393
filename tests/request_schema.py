"""The official OpenAI request schemas as a test oracle: bounds, minimal values, and validity.

``tests/openai_schema.py`` validates what the gateway *returns*; this module reads what a client may
*send*: the properties of ``CreateChatCompletionRequest`` / ``CreateCompletionRequest`` and the
bounds the schema gives them (``minimum``, ``maximum``, ``minItems``, ``maxItems``, ``maxLength``,
``maxProperties``), so tests derive their just-over-bound values from the schema instead of
copying numbers. As the schema file's description says, validators ignore OpenAPI's
``discriminator``, so requests are validated with every ``oneOf`` read as ``anyOf``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cache
from typing import Any

from jsonschema import Draft202012Validator
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

from openai_schema import spec_path

CHAT = "CreateChatCompletionRequest"
COMPLETION = "CreateCompletionRequest"
_REF = "#/components/schemas/"


@cache
def document() -> dict[str, Any]:
    """The schema document with ``oneOf`` read as ``anyOf`` (see the module docstring)."""
    return _as_any_of(json.loads(spec_path().read_text(encoding="utf-8")))


def _as_any_of(node: Any) -> Any:
    if isinstance(node, dict):
        return {("anyOf" if k == "oneOf" else k): _as_any_of(v) for k, v in node.items()}
    if isinstance(node, list):
        return [_as_any_of(v) for v in node]
    return node


def schema(name: str) -> dict[str, Any]:
    return document()["components"]["schemas"][name]  # type: ignore[no-any-return]


def resolve(node: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in node:
        node = schema(node["$ref"].removeprefix(_REF))
    return node


@cache
def _validator(name: str) -> Draft202012Validator:
    resource = Resource.from_contents(document(), default_specification=DRAFT202012)
    registry = Registry().with_resource("urn:openai", resource)
    return Draft202012Validator({"$ref": f"urn:openai#/components/schemas/{name}"}, registry=registry)


def is_valid(instance: Any, name: str) -> bool:
    """Whether the official schema accepts ``instance`` as a ``name`` (a request body)."""
    return bool(_validator(name).is_valid(instance))


def properties(name: str) -> dict[str, dict[str, Any]]:
    """Every top-level property of a request schema, ``allOf`` parts merged (the later wins)."""
    found: dict[str, dict[str, Any]] = {}

    def visit(node: dict[str, Any]) -> None:
        node = resolve(node)
        for part in node.get("allOf", []):
            visit(part)
        found.update(node.get("properties", {}))

    visit(schema(name))
    return found


def branches(node: dict[str, Any]) -> list[dict[str, Any]]:
    """The alternatives a property schema allows (``$ref``, ``anyOf``, ``allOf`` opened)."""
    node = resolve(node)
    if "anyOf" in node:
        return [b for part in node["anyOf"] for b in branches(part)]
    out = [node]
    for part in node.get("allOf", []):
        out += branches(part)
    return out


def types_of(node: dict[str, Any]) -> set[str]:
    """The JSON types a property may take (``null`` included where allowed)."""
    found: set[str] = set()
    for branch in branches(node):
        kind = branch.get("type")
        found.update(kind if isinstance(kind, list) else [kind] if kind else [])
    return found


@dataclass(frozen=True)
class Bound:
    """One bound of one property: ``keyword`` (``maximum``, ``maxItems``...) with its ``limit``."""

    prop: str
    keyword: str
    limit: int | float
    branch: dict[str, Any]

    @property
    def int64(self) -> bool:
        """The schema writes int64's bounds as doubles (9223372036854776000): the bound meant is int64's."""
        return self.keyword in ("minimum", "maximum") and abs(self.limit) >= 2**63 - 1024

    def candidates(self) -> list[tuple[str, Any]]:
        """``("at", value)`` on the bound and ``("over", value)`` just past it."""
        kind = self.branch.get("type")
        kinds = set(kind if isinstance(kind, list) else [kind])
        limit = self.limit
        if self.int64:
            limit = 2**63 - 1 if limit > 0 else -(2**63)
        if self.keyword in ("maximum", "minimum"):
            step: int | float = 1 if "integer" in kinds else 0.01
            if self.keyword == "minimum":
                step = -step
            return [("at", limit), ("over", limit + step)]
        size = int(limit)
        if self.keyword in ("maxItems", "minItems"):
            item = example(self.branch.get("items", {}))
            if self.prop == "functions":  # names must differ to make sense upstream
                return [(side, [{**item, "name": f"f{i}"} for i in range(n)])
                        for side, n in (("at", size), ("over", size + 1 if self.keyword == "maxItems" else size - 1))]
            over = size + 1 if self.keyword == "maxItems" else size - 1
            return [("at", [item] * size), ("over", [item] * over)]
        if self.keyword in ("maxLength", "minLength"):
            over = size + 1 if self.keyword == "maxLength" else size - 1
            return [("at", "x" * size), ("over", "x" * over)]
        if self.keyword in ("maxProperties", "minProperties"):
            over = size + 1 if self.keyword == "maxProperties" else size - 1
            return [("at", {f"k{i}": "v" for i in range(size)}), ("over", {f"k{i}": "v" for i in range(over)})]
        raise AssertionError(self.keyword)


_KEYWORDS = ("minimum", "maximum", "minItems", "maxItems", "minLength", "maxLength", "minProperties",
             "maxProperties")


def bounds(name: str) -> list[Bound]:
    """Every bound the schema puts on a top-level property of request ``name`` (per alternative)."""
    found: dict[tuple[str, str, Any], Bound] = {}
    for prop, node in properties(name).items():
        for branch in branches(node):
            for keyword in _KEYWORDS:
                if keyword in branch and (prop, keyword, branch[keyword]) not in found:
                    found[(prop, keyword, branch[keyword])] = Bound(prop, keyword, branch[keyword], branch)
    return list(found.values())


def example(node: dict[str, Any]) -> Any:
    """A small value the schema accepts for ``node`` (its first alternative that is not null)."""
    node = resolve(node)
    if "anyOf" in node:
        options = [b for b in node["anyOf"] if resolve(b).get("type") != "null"]
        return example(options[0] if options else node["anyOf"][0])
    if "enum" in node:
        return node["enum"][0]
    kind = node.get("type")
    if isinstance(kind, list):
        kind = next((k for k in kind if k != "null"), "null")
    if kind == "object" or (kind is None and "properties" in node):
        props = node.get("properties", {})
        return {key: example(props.get(key, {})) for key in node.get("required", [])}
    if kind == "array":
        return [example(node.get("items", {}))] * max(1, node.get("minItems", 1))
    if kind == "string":
        return "x" * max(1, node.get("minLength", 1))
    if kind == "integer":
        return max(0, node.get("minimum", 0))
    if kind == "number":
        return max(0, node.get("minimum", 0))
    if kind == "boolean":
        return True
    return None
