"""A minimal valid instance of a JSON schema, as a server without a model might answer."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


def example_for(schema: Mapping[str, Any], defs: Mapping[str, Any] | None = None) -> Any:
    """A minimal valid instance of a JSON schema: objects, arrays (minItems, prefixItems),
    strings (minLength, maxLength, date/time formats), integers and numbers (bounds), enums,
    const, anyOf/oneOf/allOf and $ref into $defs."""
    defs = defs if defs is not None else schema.get("$defs", schema.get("definitions", {}))
    if "$ref" in schema:
        return example_for(defs[schema["$ref"].split("/")[-1]], defs)
    if "const" in schema:
        return schema["const"]
    if "enum" in schema:
        return schema["enum"][0]
    if "allOf" in schema:
        return example_for({k: v for part in schema["allOf"] for k, v in part.items()}, defs)
    for key in ("anyOf", "oneOf"):
        if key in schema:
            options = [s for s in schema[key] if s.get("type") != "null"] or schema[key]
            return example_for(options[0], defs)
    t = schema.get("type", "object" if "properties" in schema else "string")
    if isinstance(t, list):
        t = next((x for x in t if x != "null"), "null")
    if t == "object":
        return {k: example_for(v, defs) for k, v in schema.get("properties", {}).items()}
    if t == "array":
        prefix = [example_for(s, defs) for s in schema.get("prefixItems", [])]
        n = max(1, schema.get("minItems", 1)) if schema.get("maxItems", 1) > 0 else 0
        return prefix or [example_for(schema.get("items", {}), defs) for _ in range(n)]
    if t in ("integer", "number"):
        return _number(schema, int if t == "integer" else float)
    if t == "boolean":
        return False
    if t == "null":
        return None
    return _string(schema)


def _number(schema: Mapping[str, Any], kind: type) -> Any:
    low = schema.get("minimum", schema.get("exclusiveMinimum"))
    high = schema.get("maximum", schema.get("exclusiveMaximum"))
    value = 1 if low is None else low + (1 if "exclusiveMinimum" in schema else 0)
    if high is not None and value > high:
        value = high if "exclusiveMaximum" not in schema else high - 1
    if low is not None and high is not None and kind is float:
        value = (low + high) / 2
    return kind(value)


def _string(schema: Mapping[str, Any]) -> str:
    fmt, hint = schema.get("format"), f"{schema.get('description', '')} {schema.get('pattern', '')}"
    if fmt == "date-time":
        return "2023-02-13T08:00:00"
    if fmt == "date":
        return "2023-02-13"
    if fmt == "time" or "HH:MM" in hint or ":" in schema.get("pattern", ""):
        return "08:00"
    text = "ok" * max(1, (schema.get("minLength", 1) + 1) // 2)
    return text[: schema.get("maxLength", len(text))]
