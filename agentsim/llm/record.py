"""Recording LLM answers in a run, replaying them, and a cache shared across runs."""

from __future__ import annotations

import json
import sqlite3
from collections import defaultdict
from pathlib import Path

from agentsim.errors import ReplayMiss
from agentsim.llm.base import Completion, Prompt

# `json.dumps(value, ensure_ascii=False)`, without building an encoder at every line
_dumps = json.JSONEncoder(ensure_ascii=False).encode


class Recorder:
    """Appends each answered request to `llm.jsonl`, one line each, flushed."""

    def __init__(self, path: str | Path):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        # A lone surrogate left in a JSON string is written as its escape, \\udc00, which
        # reads back as the same string.
        self._f = open(self.path, "a", encoding="utf-8", errors="backslashreplace")  # noqa: SIM115

    def write(self, key: str, prompt: Prompt, c: Completion, origin: str | None = None,
              given_by: str | None = None) -> None:
        """`origin`: how this run got the answer (model, repaired, reasked, fallback, offline,
        cache; see `agentsim.llm.accounting`); `given_by`: who gave it, when that is known and
        differs (a cache hit of a model answer: origin cache, given_by model). A line without
        `given_by` was given by its `origin`."""
        line = {
            "key": key, "template_id": prompt.template_id, "tier": prompt.tier,
            "agent": prompt.agent, "model": c.model, "origin": origin, "text": c.text,
            "prompt_tokens": c.prompt_tokens, "completion_tokens": c.completion_tokens,
        }
        if given_by is not None and given_by != origin:
            line["given_by"] = given_by
        self._f.write(_dumps(line) + "\n")
        self._f.flush()

    def close(self) -> None:
        if not self._f.closed:
            self._f.close()


class ReplaySource:
    """Answers from a recording: the n-th request with a key gets the n-th answer recorded
    for it (the last one once they run out). A key never recorded raises ReplayMiss. A torn
    last line (a run killed mid-write) is skipped. Each answer keeps who gave it in the
    recorded run (`Completion.extra["origin"]`: its `given_by`, else its `origin`), so a
    replayed fallback is still known to be one."""

    def __init__(self, path: str | Path):
        self._answers: dict[str, list[Completion]] = defaultdict(list)
        self._used: dict[str, int] = defaultdict(int)
        lines = Path(path).read_text(encoding="utf-8").splitlines()
        for n, line in enumerate(lines, 1):
            if not line.strip():
                continue
            try:
                r = json.loads(line)
            except json.JSONDecodeError:
                if n == len(lines):
                    break
                raise ValueError(f"{path}:{n}: not a JSON line") from None
            self._answers[r["key"]].append(Completion(
                r["text"], r.get("prompt_tokens", 0), r.get("completion_tokens", 0),
                r.get("model", ""), cached=True,
                extra={"origin": r.get("given_by") or r.get("origin")}))

    def __len__(self) -> int:
        return sum(map(len, self._answers.values()))

    def get(self, key: str, prompt: Prompt) -> Completion:
        found = self._answers.get(key)
        if not found:
            raise ReplayMiss(prompt.template_id, key)
        n = self._used[key]
        self._used[key] = n + 1
        return found[min(n, len(found) - 1)]


class ResponseCache:
    """A content-addressed cache (sqlite) that several runs can share: same request, same
    answer, no call. `path`: the sqlite file, or a folder to hold `llm-cache.sqlite`.
    Runs in parallel may share it (WAL; a writer waits for the other). Each answer keeps who
    gave it (`origin`: model, repaired, reasked, offline; never fallback, which is not
    cached), read back as `Completion.extra["origin"]`; a cache written before the column
    existed gains it, its old rows with none."""

    def __init__(self, path: str | Path):
        path = Path(path)
        if path.is_dir():
            path = path / "llm-cache.sqlite"
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self._db = sqlite3.connect(str(path), isolation_level=None, timeout=30.0)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("CREATE TABLE IF NOT EXISTS answers (key TEXT PRIMARY KEY, text TEXT,"
                         " model TEXT, pt INTEGER, ct INTEGER, origin TEXT)")
        columns = {r[1] for r in self._db.execute("PRAGMA table_info(answers)")}
        if "origin" not in columns:
            self._db.execute("ALTER TABLE answers ADD COLUMN origin TEXT")

    def get(self, key: str) -> Completion | None:
        row = self._db.execute("SELECT text, model, pt, ct, origin FROM answers WHERE key=?",
                               (key,)).fetchone()
        return Completion(row[0], row[2], row[3], row[1], cached=True,
                          extra={"origin": row[4]}) if row else None

    def put(self, key: str, c: Completion, origin: str | None = None) -> None:
        self._db.execute("INSERT OR REPLACE INTO answers (key, text, model, pt, ct, origin)"
                         " VALUES (?, ?, ?, ?, ?, ?)",
                         (key, c.text, c.model, c.prompt_tokens, c.completion_tokens, origin))

    def close(self) -> None:
        self._db.close()
