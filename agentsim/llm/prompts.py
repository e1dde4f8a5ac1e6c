"""Prompt templates: `prompts/<template_id>.j2`, Jinja2 with StrictUndefined.

A template's rendered text is split into chat messages by header lines `[system]`, `[user]`
(and `[assistant]`, for few-shot examples), each alone on its line. Text before the first
header is part of the system message. Files whose name starts with `_` are partials for
`{% include %}`, not prompts. Put the stable part (the persona) first, so servers with prefix
caching reuse it.

Every rendered prompt fits a token budget (`PromptLibrary.budget`): the template's own budget
(`BUDGETS`, from its contract in `agentsim.contracts`) and at most the context
(`context_tokens`) less the answer's tokens and the JSON instruction. A prompt over it is
rendered again with its trimmable list variables (`TRIM`, from the contract too) shortened, the
longest first, until it fits; it never fails for being long. Tokens are estimated as
characters / 4 unless the library is given a tokenizer (`count_tokens`). The variables a
backend sees (`Prompt.variables`) are the caller's, untrimmed: the offline mind answers from
them.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import jinja2

from agentsim.contracts import CONTRACTS, DEFAULT_BUDGET
from agentsim.llm.base import append_to_last_user  # noqa: F401 (re-exported: export)
from agentsim.resources import prompts_dir

_HEADER = re.compile(r"^\[(system|user|assistant)\][ \t]*$", re.MULTILINE)
_BLANKS = re.compile(r"\n{3,}")
log = logging.getLogger("agentsim.llm")

CONTEXT_TOKENS = 4096  # the smallest context common local models run with
ANSWER_TOKENS = 512  # kept free for the answer (`Prompt.max_tokens`)
INSTRUCTION_TOKENS = 250  # kept free for the JSON instruction appended to the prompt
MESSAGE_TOKENS = 4  # a chat template's cost per message
# Each template's budget and trimmable lists are declared in its contract (agentsim.contracts):
# prompt tokens before the JSON instruction, never more than the context allows; and the list
# variables that may lose items to fit, with the end that is kept ("first": ranked lists, the
# best come first; "last": transcripts and histories, the latest matter).
def contract_budgets() -> dict[str, int]:
    """Each template's budget, from the contracts declared now."""
    return {c.id: c.budget for c in CONTRACTS.values()}


def contract_trims() -> dict[str, dict[str, str]]:
    """Each template's trimmable lists, from the contracts declared now."""
    return {c.id: dict(c.trim) for c in CONTRACTS.values() if c.trim}


BUDGETS: dict[str, int] = contract_budgets()  # the bundled templates' (at import)
TRIM: dict[str, dict[str, str]] = contract_trims()


def estimate_tokens(text: str) -> int:
    """The default token count: one token per four characters (rounded up)."""
    return (len(text) + 3) // 4


_DICT_ATTRIBUTES = frozenset(dir(dict))


class _Environment(jinja2.Environment):
    """Jinja's environment, with `x.key` on a plain dict looked up as the key at once.

    The variables are plain dicts (a contract's `Vars.dump()`), and Jinja tries `x.key` as an
    attribute first: on a dict that raises AttributeError, caught, for every `x.key` of every
    prompt. Where the name is no attribute of a dict the result is the same either way."""

    def getattr(self, obj: Any, attribute: str) -> Any:
        if type(obj) is dict and attribute not in _DICT_ATTRIBUTES:
            try:
                return obj[attribute]
            except KeyError:
                return self.undefined(obj=obj, name=attribute)
        return super().getattr(obj, attribute)


class PromptError(Exception):
    """A template is missing or cannot be rendered with the variables given (a bug in the
    caller or the template, not a user error: cognition passes the variables)."""


class PromptLibrary:
    """The templates of one folder, loaded on first use and kept compiled."""

    def __init__(self, directory: str | Path | None = None, *,
                 context_tokens: int = CONTEXT_TOKENS, answer_tokens: int = ANSWER_TOKENS,
                 budgets: Mapping[str, int] | None = None,
                 trim: Mapping[str, Mapping[str, str]] | None = None,
                 count_tokens: Callable[[str], int] | None = None):
        """`count_tokens`: a backend's tokenizer, when it has one (default: characters / 4)."""
        self.directory = Path(directory) if directory is not None else prompts_dir()
        self.context_tokens = context_tokens
        self.answer_tokens = answer_tokens
        self.budgets = dict(contract_budgets() if budgets is None else budgets)
        self.trim = {k: dict(v) for k, v in
                     (contract_trims() if trim is None else trim).items()}
        self.count_tokens = count_tokens or estimate_tokens
        self.trimmed: dict[str, int] = {}  # template id -> prompts that had to be trimmed
        self._templates: dict[str, jinja2.Template] = {}  # template id -> compiled
        self.env = _Environment(
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

    def budget(self, template_id: str) -> int:
        """The most tokens the rendered template may take (the JSON instruction and the
        answer come on top, within the context)."""
        room = self.context_tokens - self.answer_tokens - INSTRUCTION_TOKENS
        return max(1, min(self.budgets.get(template_id, DEFAULT_BUDGET), room))

    def tokens(self, messages: tuple[Mapping[str, str], ...]) -> int:
        """The prompt tokens of `messages`, by the library's tokenizer."""
        return sum(self.count_tokens(m["content"]) + MESSAGE_TOKENS for m in messages)

    def render(self, template_id: str, variables: Mapping[str, Any]) -> tuple[dict[str, str], ...]:
        """The chat messages of `template_id` rendered with `variables`, trimmed to the
        template's budget (see the module docstring)."""
        messages = self._render(template_id, variables)
        budget = self.budget(template_id)
        if self.tokens(messages) <= budget or not self.trim.get(template_id):
            return messages
        return self.fit(template_id, variables, messages, budget)

    def fit(self, template_id: str, variables: Mapping[str, Any],
            messages: tuple[dict[str, str], ...], budget: int) -> tuple[dict[str, str], ...]:
        """Drop items of the trimmable lists, the longest list first, until the prompt fits
        `budget` or nothing is left to drop (then the shortest rendering is used)."""
        keep = self.trim.get(template_id, {})
        lists = {k: list(v) for k, v in variables.items()
                 if k in keep and isinstance(v, (list, tuple)) and v}
        current = dict(variables)
        over = self.tokens(messages) - budget
        while over > 0 and lists:
            sizes = {k: sum(estimate_tokens(json.dumps(i, ensure_ascii=False, default=str))
                            for i in v) for k, v in lists.items()}
            name = max(sizes, key=lambda k: (sizes[k], k))
            items = lists[name]
            per_item = max(1, sizes[name] // len(items))
            drop = min(len(items), max(1, -(-over // per_item)))
            drop = min(drop, max(1, len(items) // 2))  # at most half a list at a time
            items = items[:len(items) - drop] if keep[name] == "first" else items[drop:]
            if items:
                lists[name] = items
            else:
                del lists[name]
            current[name] = type(variables[name])(items)
            messages = self._render(template_id, current)
            over = self.tokens(messages) - budget
        if template_id not in self.trimmed:
            log.info("prompt %r over its budget of %d tokens: lists trimmed%s", template_id,
                     budget, "" if over <= 0 else f" (still {over} over)")
        self.trimmed[template_id] = self.trimmed.get(template_id, 0) + 1
        return messages

    def _render(self, template_id: str, variables: Mapping[str, Any]
                ) -> tuple[dict[str, str], ...]:
        try:
            template = self._templates.get(template_id)
            if template is None:
                template = self._templates[template_id] = self.env.get_template(
                    f"{template_id}.j2")
            text = template.render(**variables)
        except (jinja2.TemplateNotFound, jinja2.TemplateSyntaxError, jinja2.UndefinedError
                ) as e:
            raise self._error(template_id, variables, e) from None
        messages = split_messages(text)
        if not messages:
            raise PromptError(f"{self.path(template_id)}: renders to no message at all")
        return messages

    def _error(self, template_id: str, variables: Mapping[str, Any],
               e: jinja2.TemplateError) -> PromptError:
        """What went wrong rendering `template_id`, naming the file."""
        where = self.path(template_id)
        if isinstance(e, jinja2.TemplateNotFound):
            missing = self.directory / (e.name or where.name)
            what = "no such prompt template" if missing == where else f"includes {missing.name}"
            return PromptError(f"{where}: {what}, which does not exist")
        if isinstance(e, jinja2.TemplateSyntaxError):
            return PromptError(f"{e.filename or where}:{e.lineno}: {e.message}")
        return PromptError(f"{where}: missing variable: {e.message} "
                           f"(given: {', '.join(sorted(variables)) or 'none'})")


def split_messages(text: str) -> tuple[dict[str, str], ...]:
    """Rendered text -> messages, at the `[role]` header lines; empty sections are dropped."""
    parts = _HEADER.split(text)
    roles = ["system", *parts[1::2]]
    messages = []
    for role, content in zip(roles, parts[0::2], strict=True):
        content = _BLANKS.sub("\n\n", content.strip())
        if content:
            messages.append({"role": role, "content": content})
    if len(parts) == 1 and messages:  # no header at all: the whole text is the question
        messages[0]["role"] = "user"
    return tuple(messages)


def reask_messages(messages: tuple[Mapping[str, str], ...], bad: str, err: Exception,
                   json_answer: bool) -> tuple[Mapping[str, str], ...]:
    """The same conversation, plus the bad answer and what was wrong with it."""
    problem = " ".join(str(err).splitlines()[:4])
    again = "Answer again with only the JSON object." if json_answer else "Answer again."
    return (*messages, {"role": "assistant", "content": bad[:2000]},
            {"role": "user", "content": f"That answer was not valid: {problem}. {again}"})


def schema_instruction(schema: Mapping[str, Any], shown: str = "json",
                       enforced: bool = False) -> str:
    """Appended to the last user message when an answer must be JSON. `shown` is how much of
    the format it shows (the template contract's `shown`):

    "json"     a filled-in example built from the schema, and what the less obvious keys mean.
               Small models copy a pasted schema (its titles and descriptions end up as the
               answer), so the prompt shows an example instead; it makes JSON work even on
               servers that ignore `response_format`, which always get this one.
    "compact"  the keys and their types in one line (`{"statement": string}`): the shape
               without values a small model could copy, in fewer tokens.
    "none"     nothing: the server's grammar alone holds the model to the schema.

    `enforced`: for a server whose grammar holds the answer to the schema: "and nothing else"
    goes without saying, and the example's lists of objects show one object each (the grammar
    lets the model write as many as the schema allows), which keeps the prompt short.
    """
    if shown == "none":
        return ""
    if shown == "compact":
        return "\n\nAnswer in JSON of this shape:\n" + shape_of(schema)
    value = _one_item(example_of(schema)) if enforced else example_of(schema)
    example = json.dumps(value, separators=(", ", ": "), ensure_ascii=False)
    lead = "Answer in JSON with the keys of this example and your own values:" if enforced \
        else ("Answer with one JSON object and nothing else, with the keys of this example "
              "and your own values:")
    text = "\n\n" + lead + "\n" + example
    notes = _key_notes(schema)
    return text + ("\nKeys: " + "; ".join(notes) + "." if notes else "")


def shape_of(schema: Mapping[str, Any], root: Mapping[str, Any] | None = None,
             depth: int = 0) -> str:
    """A schema as one line of JSON-like text with a type name in place of each value:
    `{"steps": [{"minutes": integer, "object": string or null}]}`."""
    root = schema if root is None else root
    node = _resolve(schema, root)
    if not isinstance(node, Mapping) or depth > 8:
        return "any"
    if "const" in node:
        return json.dumps(node["const"], ensure_ascii=False)
    if node.get("enum"):
        return " or ".join(json.dumps(v, ensure_ascii=False) for v in node["enum"])
    for key in ("anyOf", "oneOf"):
        if node.get(key):
            return " or ".join(dict.fromkeys(shape_of(v, root, depth + 1) for v in node[key]))
    kind = node.get("type")
    if kind == "object" or "properties" in node:
        props = node.get("properties") or {}
        return "{" + ", ".join(f"{json.dumps(k, ensure_ascii=False)}: "
                               f"{shape_of(v, root, depth + 1)}"
                               for k, v in props.items()) + "}"
    if kind == "array":
        return "[" + shape_of(node.get("items") or {}, root, depth + 1) + ", ...]"
    return str(kind) if isinstance(kind, str) else "any"


def _one_item(value: Any) -> Any:
    """An example with each list of objects cut to its first object, at any depth (a list of
    scalars is short, and may have to be as long as the schema's `minItems`)."""
    if isinstance(value, list):
        cut = value[:1] if value and all(isinstance(v, dict) for v in value) else value
        return [_one_item(v) for v in cut]
    if isinstance(value, dict):
        return {k: _one_item(v) for k, v in value.items()}
    return value


def _resolve(node: Any, root: Mapping[str, Any]) -> Any:
    """`node` with a local `$ref` followed (pydantic puts nested models in `$defs`)."""
    seen = 0
    while isinstance(node, Mapping) and "$ref" in node and seen < 20:
        ref = str(node["$ref"])
        target: Any = root
        for part in ref.removeprefix("#/").split("/"):
            target = target.get(part, {}) if isinstance(target, Mapping) else {}
        node, seen = target, seen + 1
    return node


def example_of(schema: Mapping[str, Any], root: Mapping[str, Any] | None = None,
               depth: int = 0) -> Any:
    """One example value for a JSON schema: the schema's own `examples` first, else a value of
    its type that satisfies its bounds (an array as long as `minItems` asks)."""
    root = schema if root is None else root
    node = _resolve(schema, root)
    if not isinstance(node, Mapping) or depth > 8:
        return None
    examples = node.get("examples")
    if isinstance(examples, list) and examples:
        value = examples[0]
        if isinstance(value, list) and node.get("type") == "array":
            return _sized([_ordered(v, node.get("items") or {}, root) for v in value], node)
        return _ordered(value, node, root)
    if "const" in node:
        return node["const"]
    if node.get("enum"):
        return node["enum"][0]
    for key in ("anyOf", "oneOf"):
        if node.get(key):
            variants = [_resolve(v, root) for v in node[key]]
            real = [v for v in variants if not (isinstance(v, Mapping) and v.get("type") == "null")]
            return example_of(real[0], root, depth + 1) if real else None
    kind = node.get("type")
    if kind == "object" or "properties" in node:
        props = node.get("properties") or {}
        return {k: example_of(v, root, depth + 1) for k, v in props.items()}
    if kind == "array":
        return _sized([example_of(node.get("items") or {}, root, depth + 1)], node)
    if "default" in node:
        return node["default"]
    if kind == "integer":
        return int(node.get("minimum", 1))
    if kind == "number":
        low, high = float(node.get("minimum", 0)), float(node.get("maximum", 1))
        return round((low + high) / 2, 2)
    if kind == "boolean":
        return False
    if kind == "string":
        return "..."
    return None


def _ordered(value: Any, node: Any, root: Mapping[str, Any]) -> Any:
    """An example object with its keys in the schema's order (JSON schema generators sort the
    keys of examples; a model should see them in the order it is to write them)."""
    node = _resolve(node, root)
    props = node.get("properties") if isinstance(node, Mapping) else None
    if not isinstance(value, dict) or not props:
        return value
    return {**{k: value[k] for k in props if k in value},
            **{k: v for k, v in value.items() if k not in props}}


def _sized(items: list[Any], node: Mapping[str, Any]) -> list[Any]:
    """`items` repeated or cut to the length an array schema allows."""
    low, high = int(node.get("minItems", 0)), node.get("maxItems")
    out = list(items)
    while out and len(out) < low:
        out += items[:low - len(out)]
    return out[:int(high)] if high is not None else out


def _key_notes(schema: Mapping[str, Any]) -> list[str]:
    """'key = meaning' for the top-level keys whose example is empty or null (an optional id,
    a list of ids): an example alone does not say what they are for."""
    node = _resolve(schema, schema)
    notes = []
    for key, prop in (node.get("properties") or {}).items():
        prop = _resolve(prop, schema)
        value = example_of(prop, schema)
        if value in (None, [], {}, "") and prop.get("description"):
            notes.append(f"{key} = {prop['description']}")
    return notes
