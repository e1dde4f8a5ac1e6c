"""A run directory as tables, for pandas, R, DuckDB or a spreadsheet.

    agentsim export runs/<id> --format parquet|csv|jsonl [-o DIR]

writes one file per table:

    events          one row per event (type, tick, time, agent, place, text, participants, data)
    conversations   one row per utterance (conversation n, time, place, speaker, text, ...)
    agents          the personas (id, name, age, occupation, home, traits)
    relationships   the relationship graph at the last checkpoint (from, to, relation, ...)
    memories        every agent's memory stream at the last checkpoint
    llm_usage       calls, tokens and cost by template (with a total row)

    agentsim export runs/<id> --refinements

writes `refinements.jsonl`: one chat-format fine-tuning example per `refined` event (a
self-refine loop's trace), the generating prompt rendered again from the event's request
and answered with the loop's final output (see `refinement_examples`). A loop whose final
output the offline mind gave as a fallback (the LLM record says so) is skipped: those are not
the model's words.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from agentsim.errors import UserError

if TYPE_CHECKING:
    import pandas as pd

    from agentsim.events import Refined
    from agentsim.llm.prompts import PromptLibrary

FORMATS = ("parquet", "csv", "jsonl")


def run_tables(path: str | Path) -> dict[str, pd.DataFrame]:
    """The tables of a run directory (see the module docstring)."""
    import pandas as pd

    from agentsim.metrics import from_run
    from agentsim.rundir import RunDir

    rd = RunDir.open(path)
    if not rd.events_path.is_file():
        raise UserError("no events.jsonl: the run has no event log to export", path=rd.path)
    m = from_run(path)
    talks = [e for e in m.event_list if e.type == "conversation"]
    conversations = pd.DataFrame(
        [{"conversation": i, "time": c.time, "tick": c.tick, "place": c.place,
          "participants": ";".join(c.participants), "turn": n, "speaker": t.speaker,
          "text": t.text, "shares_memory": t.shares_memory}
         for i, c in enumerate(talks) for n, t in enumerate(c.turns)],
        columns=["conversation", "time", "tick", "place", "participants", "turn", "speaker",
                 "text", "shares_memory"])
    agents = pd.DataFrame(
        [{"agent": aid, "name": p.name, "age": p.age, "occupation": p.occupation,
          "home": p.home, "innate": ";".join(p.innate)} for aid, p in m.world.personas.items()],
        columns=["agent", "name", "age", "occupation", "home", "innate"])

    found = rd.latest_checkpoint()
    edges: list[dict[str, Any]] = []
    memories: list[dict[str, Any]] = []
    if found is not None:
        state, arrays = found
        for a, b, d in state["relationships"]["edges"]:
            edges.append({"from": a, "to": b, **d})
        memories = _memories(m.world, state, arrays)
    events = m.events
    events["participants"] = events["participants"].map(
        lambda p: ";".join(p) if isinstance(p, list) else None)
    return {
        "events": events,
        "conversations": conversations,
        "agents": agents,
        "relationships": pd.DataFrame(edges, columns=_columns(edges, ["from", "to"])),
        "memories": pd.DataFrame(memories, columns=_columns(memories, ["agent", "id"])),
        "llm_usage": m.llm_usage("template"),
    }


def has_checkpoint(path: str | Path) -> bool:
    """Whether the run has a finished checkpoint (where relationships and memories come from)."""
    from agentsim.rundir import RunDir

    return bool(RunDir.open(path).checkpoints())


def _columns(rows: list[dict[str, Any]], first: list[str]) -> list[str]:
    rest = sorted({k for r in rows for k in r} - set(first))
    return first + rest


def _memories(world: Any, state: dict[str, Any], arrays: dict[str, Any]) -> list[dict]:
    from agentsim.cognition.agent import Agent

    out = []
    for aid, s in sorted(state["agents"].items()):
        prefix = f"{aid}/"
        arr = {k[len(prefix):]: v for k, v in arrays.items() if k.startswith(prefix)}
        agent = Agent.from_state(world.personas[aid], s, arr)
        for r in agent.memory.records():
            out.append({"agent": aid, "id": r.id, "kind": str(r.kind), "text": r.text,
                        "created": r.created, "last_accessed": r.last_accessed,
                        "importance": r.importance, "source": r.source,
                        "event": r.event.title if r.event else None,
                        "evidence": json.dumps(list(r.evidence))})
    return out


def export_run(path: str | Path, fmt: str = "parquet", out: str | Path | None = None
               ) -> list[Path]:
    """Write the run's tables in `fmt` into `out` (default: RUN/export); returns the files."""
    if fmt not in FORMATS:
        raise UserError(f"unknown format {fmt!r} (use {', '.join(FORMATS)})", field="--format")
    tables = run_tables(path)
    folder = Path(out) if out else Path(path) / "export"
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for name, df in tables.items():
        f = folder / f"{name}.{fmt}"
        if fmt == "parquet":
            df.to_parquet(f, index=False)
        elif fmt == "csv":
            df.to_csv(f, index=False)
        else:
            df.to_json(f, orient="records", lines=True, date_format="iso", force_ascii=False)
        written.append(f)
    return written


# -- refinements as fine-tuning examples ---------------------------------------------------
def refinement_examples(events: Iterable[Refined], prompts: PromptLibrary | None = None
                        ) -> tuple[list[dict[str, Any]], dict[str, str]]:
    """One example per `refined` event: `{"messages": [system, user, assistant], "kind",
    "agent", "rounds", "stopped", "tick", "rendered"}`.

    The prompt is the request's template rendered again with its variables (and, for a
    template with an output schema, the same JSON instruction the LLM client appends), so it
    is the request the model was given; the assistant's answer is the final output (as JSON;
    a text output as it is). A request whose template cannot be rendered gets its variables as
    JSON for the user message and `"rendered": false`. Returns the examples and, for each
    template that could not be rendered, why."""
    from agentsim.cognition.refine import resolve_lists
    from agentsim.cognition.schemas import TEMPLATES
    from agentsim.llm.client import output_instruction
    from agentsim.llm.prompts import PromptError, PromptLibrary, append_to_last_user

    prompts = prompts or PromptLibrary()
    failed: dict[str, str] = {}
    examples = []
    lists: dict[str, Any] = {}  # the lists traces reference, as the log stored them
    for ev in events:
        template = str(ev.request.get("template", ""))
        lists.update(ev.request.get("lists") or {})
        variables = resolve_lists(ev.request.get("variables") or {}, lists)
        rendered = True
        try:
            messages = prompts.render(template, variables)
            if template in TEMPLATES and not isinstance(ev.final, str):
                messages = append_to_last_user(messages, output_instruction(TEMPLATES[template][0]))
            messages = [dict(m) for m in messages]
        except PromptError as e:
            failed.setdefault(template, str(e))
            rendered = False
            messages = [{"role": "user", "content": json.dumps(
                variables, ensure_ascii=False, sort_keys=True, default=str)}]
        answer = ev.final if isinstance(ev.final, str) else json.dumps(ev.final,
                                                                      ensure_ascii=False)
        examples.append({
            "messages": [*messages, {"role": "assistant", "content": answer}],
            "kind": ev.kind, "agent": ev.agent, "rounds": len(ev.attempts),
            "stopped": ev.stopped, "tick": ev.tick, "rendered": rendered,
        })
    return examples, failed


def export_refinements(path: str | Path, out: str | Path | None = None, *,
                       prompts: PromptLibrary | None = None,
                       warn: Callable[[str], None] | None = None) -> Path:
    """Write RUN's `refined` events as `refinements.jsonl` into `out` (default RUN/export).
    `warn` (default: stderr) hears once about templates that could not be rendered."""
    from agentsim.events import Refined
    from agentsim.rundir import RunDir

    run = RunDir.open(path)
    events = [e for e in run.read_events() if isinstance(e, Refined)]
    fell = fallback_answers(run.llm_log)
    kept = [e for e in events if (e.agent, _canonical(e.final)) not in fell]
    skipped = len(events) - len(kept)
    examples, failed = refinement_examples(kept, prompts)
    folder = Path(out) if out else Path(path) / "export"
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / "refinements.jsonl"
    with open(target, "w", encoding="utf-8") as f:
        for ex in examples:
            f.write(json.dumps(ex, ensure_ascii=False) + "\n")
    if skipped:
        (warn or _stderr)(f"agentsim: {skipped} refinement(s) skipped: their final output was "
                          "answered by the offline mind as a fallback, not by the model")
    if failed:
        n = sum(not ex["rendered"] for ex in examples)
        why = "; ".join(failed.values())
        (warn or _stderr)(f"agentsim: {n} refinement(s) written with their variables as JSON "
                          f"instead of the prompt, which could not be rendered ({why})")
    return target


def fallback_answers(llm_log: Path) -> set[tuple[str | None, str]]:
    """(agent, answer) of every answer the LLM record says the offline mind gave as a
    fallback (the answer as canonical JSON, or the text of a text answer)."""
    found: set[tuple[str | None, str]] = set()
    if not llm_log.is_file():
        return found
    with open(llm_log, encoding="utf-8") as f:
        for line in f:
            try:
                r = json.loads(line)
            except json.JSONDecodeError:  # a torn last line
                continue
            if r.get("origin") != "fallback":
                continue
            text = r.get("text", "")
            try:
                answer = json.loads(text)
            except json.JSONDecodeError:
                answer = text
            found.add((r.get("agent"), _canonical(answer)))
    return found


def _canonical(answer: Any) -> str:
    return answer if isinstance(answer, str) else json.dumps(answer, sort_keys=True,
                                                              ensure_ascii=False)


def _stderr(message: str) -> None:
    print(message, file=sys.stderr)
