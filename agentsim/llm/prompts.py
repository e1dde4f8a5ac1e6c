"""Prompt templates: `prompts/<template_id>.j2`, Jinja2 with StrictUndefined.

A template's rendered text is split into chat messages by the header lines `[system]` and
`[user]`. Put the stable part (the persona) first, so servers with prefix caching reuse it.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import jinja2

from agentsim.resources import prompts_dir

_HEADER = re.compile(r"^\[(system|user|assistant)\]\s*$", re.MULTILINE)


class PromptError(Exception):
    """A template is missing or cannot be rendered with the variables given (a bug, not a
    user error: cognition passes the variables)."""


class PromptLibrary:
    def __init__(self, directory: str | Path | None = None):
        self.directory = Path(directory) if directory is not None else prompts_dir()
        self.env = jinja2.Environment(
            loader=jinja2.FileSystemLoader(str(self.directory)),
            undefined=jinja2.StrictUndefined,
            keep_trailing_newline=True,
            auto_reload=False,
            autoescape=False,
        )

    def ids(self) -> list[str]:
        return sorted(p.stem for p in self.directory.glob("*.j2") if not p.stem.startswith("_"))

    def render(self, template_id: str, variables: dict[str, Any]) -> tuple[dict[str, str], ...]:
        name = f"{template_id}.j2"
        try:
            text = self.env.get_template(name).render(**variables)
        except jinja2.TemplateNotFound:
            raise PromptError(f"{self.directory / name}: no such prompt template") from None
        except jinja2.UndefinedError as e:
            raise PromptError(f"{self.directory / name}: {e.message}") from None
        return split_messages(text)


def split_messages(text: str) -> tuple[dict[str, str], ...]:
    parts = _HEADER.split(text)
    if len(parts) == 1:
        return ({"role": "user", "content": text.strip()},)
    messages = []
    for role, content in zip(parts[1::2], parts[2::2], strict=True):
        content = re.sub(r"\n{3,}", "\n\n", content.strip())
        if content:
            messages.append({"role": role, "content": content})
    return tuple(messages)


def schema_instruction(schema: dict[str, Any]) -> str:
    """Appended to the last user message when an answer must be JSON: it makes JSON work even
    on servers that ignore `response_format`."""
    compact = json.dumps(schema, separators=(",", ":"))
    return ("\n\nAnswer with one JSON object matching this JSON schema, and nothing else:\n"
            + compact)
