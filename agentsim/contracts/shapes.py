"""Names for the nested values prompt variables carry. They are plain dicts and lists, built by
cognition (`Agent.persona_vars`, `memory_vars`, `event_vars`, ...) and read by templates and the
offline mind by key; the aliases say which shape a variable has. Typing them as models would
re-serialise them, and the rendered prompts (which recorded runs are keyed on) must not move."""

from __future__ import annotations

from typing import Any

Number = int | float  # kept as given: 1 must render as 1, not 1.0

# id, name, age, innate, background, lifestyle, occupation, world
Persona = dict[str, Any]
# id, text, kind, importance, about, source, event (an Event or None)
Memory = dict[str, Any]
# id, text, event: a memory the agent may pass on
News = dict[str, Any]
# title, place, place_name, start, end, host, host_role, date_iso, date
Event = dict[str, Any]
# id, name
Place = dict[str, str]
# start, activity, place (and place_name where the template shows it)
PlanEntry = dict[str, str]
# speaker, text, cites: one line said in a conversation
Line = dict[str, Any]
# name, activity: the person spoken to
Person = dict[str, Any]
# id, document, title, text, score: a document passage retrieved
Passage = dict[str, Any]
# criterion, passed, problems: one computed check of a plan
Check = dict[str, Any]
# name, question: a criterion a critic judges by
Criterion = dict[str, str]
# what a refiner sees of an earlier attempt: the output and its feedback
Attempt = dict[str, Any]
# text, place, place_name, object, object_name, state, minutes, source
TaskView = dict[str, Any]
# place, place_name
Here = dict[str, str]
# id, name, place, state, states
ObjectView = dict[str, Any]
