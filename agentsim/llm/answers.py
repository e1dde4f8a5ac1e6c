"""Reading an answer: the text a backend gave, validated against the request's schema (repaired
where that is safe), and written back as the text a record, a cache or a replay keeps."""

from __future__ import annotations

import functools
from typing import Any

from pydantic import BaseModel, ValidationError

from agentsim.llm.prompts import schema_instruction
from agentsim.llm.repair import extract_json, scrub


@functools.cache
def json_schema(schema: type[BaseModel]) -> dict[str, Any]:
    return schema.model_json_schema()


@functools.cache
def output_instruction(schema: type[BaseModel], shown: str = "json",
                       enforced: bool = False) -> str:
    """The JSON instruction appended to a prompt that answers `schema` (also what an exported
    fine-tuning example shows the model); `shown`, `enforced`: how much of the format it shows,
    and whether a grammar enforces the schema (see `schema_instruction`)."""
    return schema_instruction(json_schema(schema), shown, enforced)


def parse(text: str, schema: type[BaseModel] | None) -> tuple[Any, bool]:
    """The validated answer, and whether the text needed a repair to get there. Raises
    ValueError (or ValidationError, a ValueError) when there is no usable answer."""
    text = scrub(text)
    if schema is None:
        if not text.strip():
            raise ValueError("the answer was empty")
        return text.strip(), False
    try:
        return schema.model_validate_json(text), False
    except ValidationError:
        return schema.model_validate(extract_json(text)), True


def dump(value: Any) -> str:
    """The text kept for a validated answer: a replay or a cache hit reads it with no repair."""
    return value.model_dump_json() if isinstance(value, BaseModel) else str(value)
