"""Prompt templates: `prompts/<template_id>.j2`, Jinja2 with StrictUndefined.

A template's rendered text is split into chat messages by header lines `[system]`, `[user]`
(and `[assistant]`, for few-shot examples), each alone on its line. Text before the first
header is part of the system message. Files whose name starts with `_` are partials for
`{% include %}`, not prompts. Put the stable part (the persona) first, so servers with prefix
caching reuse it.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import jinja2

from agentsim.resources import prompts_dir

_HEADER = re.compile(r"^\[(system|user|assistant)\][ \t]*$", re.MULTILINE)


class PromptError(Exception):
    """A template is missing or cannot be rendered with the variables given (a bug in the
    caller or the template, not a user error: cognition passes the variables)."""


class PromptLibrary:
    """The templates of one folder, loaded on first use and kept compiled."""

    def __init__(self, directory: str | Path | None = None):
        self.directory = Path(directory) if directory is not None else prompts_dir()
        self.env = jinja2.Environment(
            loader=jinja2.FileSystemLoader(str(self.directory)),
            undefined=jinja2.StrictUndefined,
            keep_trailing_newline=True,
            auto_reload=False,  # compiled once per library: templates do not change mid-run
            autoescape=False,
            cache_size=-1,
        )

    def ids(self) -> list[str]:
        """The template ids in the folder (partials excluded)."""
        return sorted(p.stem for p in self.directory.glob("*.j2") if not p.stem.startswith("_"))

    def path(self, template_id: str) -> Path:
        return self.directory / f"{template_id}.j2"

    def render(self, template_id: str, variables: Mapping[str, Any]) -> tuple[dict[str, str], ...]:
        """The chat messages of `template_id` rendered with `variables`."""
        where = self.path(template_id)
        try:
            template = self.env.get_template(where.name)
            text = template.render(**variables)
        except jinja2.TemplateNotFound as e:
            missing = self.directory / (e.name or where.name)
            what = "no such prompt template" if missing == where else f"includes {missing.name}"
            raise PromptError(f"{where}: {what}, which does not exist") from None
        except jinja2.TemplateSyntaxError as e:
            raise PromptError(f"{e.filename or where}:{e.lineno}: {e.message}") from None
        except jinja2.UndefinedError as e:
            raise PromptError(f"{where}: missing variable: {e.message} "
                              f"(given: {', '.join(sorted(variables)) or 'none'})") from None
        messages = split_messages(text)
        if not messages:
            raise PromptError(f"{where}: renders to no message at all")
        return messages


def split_messages(text: str) -> tuple[dict[str, str], ...]:
    """Rendered text -> messages, at the `[role]` header lines; empty sections are dropped."""
    parts = _HEADER.split(text)
    roles = ["system", *parts[1::2]]
    messages = []
    for role, content in zip(roles, parts[0::2], strict=True):
        content = re.sub(r"\n{3,}", "\n\n", content.strip())
        if content:
            messages.append({"role": role, "content": content})
    if len(parts) == 1 and messages:  # no header at all: the whole text is the question
        messages[0]["role"] = "user"
    return tuple(messages)


def append_to_last_user(messages: tuple[Mapping[str, str], ...], text: str
                        ) -> tuple[dict[str, str], ...]:
    """`text` added to the last user message (a new user message if there is none)."""
    out = [dict(m) for m in messages]
    users = [i for i, m in enumerate(out) if m["role"] == "user"]
    if not users:
        out.append({"role": "user", "content": text.strip()})
    else:
        out[users[-1]]["content"] += text
    return tuple(out)


def reask_messages(messages: tuple[Mapping[str, str], ...], bad: str, err: Exception,
                   json_answer: bool) -> tuple[Mapping[str, str], ...]:
    """The same conversation, plus the bad answer and what was wrong with it."""
    problem = " ".join(str(err).splitlines()[:4])
    again = "Answer again with only the JSON object." if json_answer else "Answer again."
    return (*messages, {"role": "assistant", "content": bad[:2000]},
            {"role": "user", "content": f"That answer was not valid: {problem}. {again}"})


def schema_instruction(schema: Mapping[str, Any]) -> str:
    """Appended to the last user message when an answer must be JSON: it makes JSON work even
    on servers that ignore `response_format`."""
    compact = json.dumps(schema, separators=(",", ":"), ensure_ascii=False)
    return "\n\nAnswer with one JSON object matching this schema, and nothing else:\n" + compact
