"""`Prompt.cache_key` is the sha256 of the request's JSON written whole (what recordings and
caches were keyed by): the part-by-part writing and the kept schema text change no key."""

import hashlib
import json

from agentsim.contracts.summary import SummaryStatement
from agentsim.llm.answers import json_schema
from agentsim.llm.base import Prompt


def _whole(p: Prompt, model: str) -> str:
    blob = json.dumps({"model": model, "messages": list(map(dict, p.messages)),
                       "schema": p.json_schema, "seed": p.seed, "temperature": p.temperature,
                       "max_tokens": p.max_tokens}, sort_keys=True, ensure_ascii=False)
    return hashlib.sha256(blob.encode("utf-8", "surrogatepass")).hexdigest()


def test_cache_key_equals_the_whole_request_hashed():
    schema = json_schema(SummaryStatement)
    msgs = ({"role": "system", "content": "Zoë \u00e9 \"quoted\" \\ tab\t"},
            {"role": "user", "content": "lone \udc00 surrogate, emoji \U0001F600, \n newline"})
    prompts = [
        Prompt("summary", {}, msgs, schema, "SummaryStatement"),
        Prompt("summary", {}, msgs, schema, "SummaryStatement", seed=7, temperature=0.1,
               max_tokens=33),
        Prompt("summary", {}, msgs, None, None, temperature=1e-05),
        Prompt("summary", {}, msgs[:1], {"b": [1, {"z": None, "a": 1.5}], "a": "ü"}, "X"),
    ]
    for p in prompts:
        for model in ("offline-mind-1", "módel \"x\""):
            assert p.cache_key(model) == _whole(p, model)
            assert p.cache_key(model) == _whole(p, model)  # the schema's kept text too
