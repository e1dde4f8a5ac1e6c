"""The action API a skill's code sees: a `WorldProxy` over a JSON snapshot of the world.

A skill does not act on the live world. It runs against a snapshot of the world as its agent
sees it, and each action it calls is simulated on the proxy's own copy (moving changes the
location, using an object changes its state, time moves on by the action's minutes) and
recorded as a primitive step. The engine turns the steps into the agent's actions over the
next ticks. A call that breaks the world's rules raises `ActionError`, whose message is fed
back to the LLM that wrote the skill.

Standard library only, and only what loads fast (heapq): the sandbox's child process loads
this file by its path at every run.
"""

import heapq  # no `from __future__ import annotations`: one import less at every run

PRIMITIVES = ("move_to", "use", "say", "wait", "read")

MAX_STEPS = 50
MAX_TOTAL_MINUTES = 24 * 60
MAX_ACTION_MINUTES = 240
MAX_TEXT = 1000
MAX_LOG_ENTRIES = 200
MAX_LOG_CHARS = 500
_FAR = float("inf")  # farther than any walk


class ActionError(Exception):
    """An action the world's rules refuse; the message says why and what would be allowed."""


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _bigrams(text: str) -> set[str]:
    text = text.lower()
    return {text[i:i + 2] for i in range(len(text) - 1)} or {text}


def _subsequence(short: str, long: str) -> bool:
    chars = iter(long)
    return all(c in chars for c in short)


def _similarity(word: str, option: str) -> float:
    """Dice coefficient of character pairs with the option or its best word; 0.6 at least
    when one contains the other, 0.5 when the word's letters are in a part in order."""
    low, opt = word.lower(), option.lower()
    mine = _bigrams(low)
    parts = [opt, *opt.replace("_", " ").replace("/", " ").replace(".", " ").split()]
    score = max(2 * len(mine & _bigrams(p)) / (len(mine) + len(_bigrams(p))) for p in parts)
    if low and (low in opt or opt in low):
        score = max(score, 0.6)
    elif len(low) >= 3 and any(_subsequence(low, p) for p in parts[1:]):
        score = max(score, 0.5)
    return score


def _close(word: str, options: dict[str, str] | list[str], n: int = 3) -> str:
    """"; did you mean 'a', 'b'?" for the options most like `word`, or "". `options` maps
    what is suggested to the text it is known by (its name), or is a list of both."""
    known = options if isinstance(options, dict) else {o: o for o in options}
    scored = sorted((-max(_similarity(word, o), _similarity(word, str(text))), o)
                    for o, text in known.items())
    near = [o for score, o in scored[:n] if -score >= 0.5]
    return f"; did you mean {', '.join(repr(x) for x in near)}?" if near else ""


def _own(value: dict) -> dict:
    """A dict given to the proxy to keep, or a read-only mapping that says so (the parent's
    `snapshot.Others`); anything else made a dict, as `dict` would (the module runs without
    `type` in its builtins)."""
    return value if isinstance(value, dict) or getattr(value, "read_only", False) \
        else dict(value)


def _copy(value: object) -> object:
    """A deep copy of JSON-like data (dicts, lists, tuples as lists)."""
    if isinstance(value, dict):
        return {k: _copy(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_copy(v) for v in value]
    return value


def _minute_of_day(when: object) -> int:
    """Minutes since midnight of an ISO time such as "2023-02-13T08:00:00" (0 if none)."""
    text = str(when)
    clock = text[11:16] if len(text) >= 16 and text[10] in "T " else text[:5]
    try:
        hours, minutes = int(clock[:2]), int(clock[3:5])
    except ValueError:
        return 0
    return hours * 60 + minutes if clock[2:3] == ":" else 0


class WorldProxy:
    """The world as a skill sees it, built from a snapshot dict (see the module's docstring
    in `agentsim.skills.sandbox` for its shape). The snapshot is copied; the proxy never
    changes it. `steps` are the recorded primitive steps, `changes()` the world change."""

    __slots__ = ("_adj", "_agent", "_between", "_documents", "_index", "_location", "_log",
                 "_max_steps", "_minutes", "_name", "_objects", "_people", "_places", "_read",
                 "_said", "_start", "_start_location", "_start_states", "_steps", "_walks")

    def __init__(self, snapshot: dict, max_steps: int = MAX_STEPS, *, copy: bool = True,
                 own: bool = False, between=None):
        """`copy=False` reads the snapshot without copying it first (the proxy copies an
        object before changing it, so the snapshot is never changed either way; the
        places, people and documents, which it only reads, are not copied). `own` (with
        copy=False): the snapshot's objects are the proxy's to change, not copied either
        (the sandbox's child: its message is its own, and copying a town's objects would
        cost a run more than the skill does). `between(a, b)`: the world's walking minutes
        between two places (KeyError: no route), used instead of a walk of its own (the
        parent's replay of a run's steps)."""
        snap = _copy(snapshot) if copy else snapshot
        # the places, people and documents are only read: a copy's own already, else kept
        # as they are (a town's, shared); the objects change, so they are copied unless owned
        keep = dict if copy else _own
        self._agent: str = str(snap.get("agent", ""))
        self._name: str = str(snap.get("name", self._agent))
        self._places: dict[str, dict] = keep(snap.get("places") or {})
        self._objects: dict[str, dict] = (_own if own and not copy else dict)(
            snap.get("objects") or {})
        self._people: dict[str, dict] = keep(snap.get("people") or {})
        self._documents: dict[str, str] = keep(snap.get("documents") or {})
        self._location: str = str(snap.get("location", ""))
        self._start_location = self._location
        self._start_states: dict[str, str] = {}  # of the objects used, before their first use
        self._start = _minute_of_day(snap.get("time", ""))
        self._adj = _adjacency(snap.get("places") or {}, snap.get("edges") or [])
        # the world's walking minutes between two places (KeyError: no route), if given
        self._between = between
        # the world's walking minutes between places the skill names, {(a, b): minutes}, if
        # the parent measured them (`sandbox._walks`)
        self._walks: dict = snap.get("walks") or {}
        # the objects' ids sorted and by place, made once for its world, if this proxy's
        # objects are the ones they were made from (a warm worker's child): else each
        # lookup sorts them
        self._index = next((ix for objs, ix in _OBJECT_INDEX if objs is self._objects), None)
        self._max_steps = max_steps
        self._minutes = 0
        self._steps: list[dict] = []
        self._said: list[list[str]] = []
        self._read: list[str] = []
        self._log: list[str] = []

    # -- reading ----------------------------------------------------------------------------
    @property
    def location(self) -> str:
        return self._location

    @property
    def time(self) -> str:
        hours, minutes = divmod((self._start + self._minutes) % (24 * 60), 60)
        return f"{hours:02d}:{minutes:02d}"

    @property
    def minutes_used(self) -> int:
        return self._minutes

    @property
    def steps(self) -> list[dict]:
        return [dict(s) for s in self._steps]

    @property
    def logged(self) -> list[str]:
        return list(self._log)

    def places(self) -> list[str]:
        return sorted(self._places)

    def place_name(self, place: str) -> str:
        return str(self._places[self._place(place, "place_name")].get("name", place))

    def find_place(self, text: str) -> str:
        if not isinstance(text, str) or not text.strip():
            raise ActionError(f"find_place({text!r}): give a piece of a place's name or id")
        low = text.strip().lower()
        hits = [p for p, d in self._places.items()
                if low in p.lower() or low in str(d.get("name", "")).lower()]
        if not hits:
            raise ActionError(f"find_place({text!r}): no place's id or name contains it"
                              + _close(text, self._place_names()))
        return min(hits, key=lambda p: (len(p), p))

    def objects_here(self) -> list[dict]:
        return [{"id": o, "name": str(d.get("name", o)), "state": str(d.get("state", "")),
                 "states": [str(s) for s in d.get("states") or []]}
                for o in self._here() for d in (self._objects[o],)]

    def state_of(self, obj: str) -> str:
        return str(self._objects[self._object(obj, "state_of")].get("state", ""))

    def people_here(self) -> list[str]:
        return sorted(str(d.get("name", p)) for p, d in self._people.items()
                      if d.get("place") == self._location and p != self._agent)

    def documents_here(self) -> list[str]:
        return [str(d) for d in self._places.get(self._location, {}).get("documents") or []]

    def minutes_to(self, place: str) -> int:
        target = self._place(place, "minutes_to")
        return self._walk_minutes(target, "minutes_to")

    # -- acting -----------------------------------------------------------------------------
    def move_to(self, place: str) -> None:
        target = self._place(place, "move_to")
        if target == self._location:
            return
        minutes = self._walk_minutes(target, "move_to")
        self._record({"op": "move_to", "place": target, "minutes": minutes})
        self._location = target

    def use(self, obj: str, state: str, minutes: int = 10, activity: str | None = None) -> None:
        call = f"use({obj!r}, {state!r})"
        oid = self._object(obj, "use")
        o = self._objects[oid]
        where = o.get("place")
        if where != self._location:
            raise ActionError(f"{call}: {oid} is at {where}, not here ({self._location}); "
                              f"move_to({where!r}) first")
        if not isinstance(state, str) or not state.strip():
            raise ActionError(f"{call}: the state must be a non-empty text")
        states = [str(s) for s in o.get("states") or []]
        if states and state not in states:
            raise ActionError(f"{call}: {oid} can be {', '.join(repr(s) for s in states)}, "
                              f"not {state!r}")
        self._minutes_arg(minutes, call)
        if activity is not None and not isinstance(activity, str):
            raise ActionError(f"{call}: activity must be a text or None")
        text = self._text(activity, call, "activity") if activity else \
            f"using the {o.get('name', oid)}"
        self._record({"op": "use", "object": oid, "state": state, "place": self._location,
                      "minutes": minutes, "activity": text})
        self._start_states.setdefault(oid, str(o.get("state", "")))
        o = self._objects[oid] = dict(o)  # copied on write: the snapshot stays as it was
        o["state"] = state

    def say(self, person: str, text: str) -> None:
        call = f"say({person!r}, ...)"
        pid = self._person(person, call)
        where = self._people[pid].get("place")
        if where != self._location:
            here = self.people_here()
            raise ActionError(f"{call}: {self._people[pid].get('name', pid)} is not here "
                              f"({self._location}); people here: "
                              f"{', '.join(here) if here else 'nobody'}")
        text = self._text(text, call, "text")
        self._record({"op": "say", "person": pid, "text": text, "place": self._location,
                      "minutes": 5})
        self._said.append([pid, text])

    def wait(self, minutes: int, activity: str = "waiting") -> None:
        call = f"wait({minutes!r})"
        self._minutes_arg(minutes, call)
        text = self._text(activity, call, "activity")
        self._record({"op": "wait", "minutes": minutes, "activity": text,
                      "place": self._location})

    def read(self, document: str) -> None:
        call = f"read({document!r})"
        if not isinstance(document, str) or document not in self._documents:
            raise ActionError(f"{call}: no document with that id"
                              + _close(str(document), {d: str(t) for d, t
                                                       in sorted(self._documents.items())}))
        posted = sorted(p for p, d in self._places.items()
                        if document in (d.get("documents") or []))
        if posted and self._location not in posted:
            raise ActionError(f"{call}: it is at {', '.join(posted)}, not here "
                              f"({self._location}); move_to({posted[0]!r}) first")
        self._record({"op": "read", "document": document, "place": self._location,
                      "minutes": 10})
        self._read.append(document)

    def log(self, *values: object) -> None:
        if len(self._log) < MAX_LOG_ENTRIES:
            self._log.append(" ".join(str(v) for v in values)[:MAX_LOG_CHARS])

    # -- results ----------------------------------------------------------------------------
    def changes(self) -> dict:
        objects = {o: [old, str(self._objects[o].get("state", ""))]
                   for o, old in sorted(self._start_states.items())
                   if str(self._objects[o].get("state", "")) != old}
        return {"location": [self._start_location, self._location], "objects": objects,
                "said": [list(s) for s in self._said], "read": list(self._read),
                "minutes": self._minutes}

    # -- helpers ----------------------------------------------------------------------------
    def _record(self, step: dict) -> None:
        if len(self._steps) >= self._max_steps:
            raise ActionError(f"{step['op']}(...): the skill went over its limit of "
                              f"{self._max_steps} actions")
        if self._minutes + step["minutes"] > MAX_TOTAL_MINUTES:
            raise ActionError(f"{step['op']}(...): the skill went over its limit of 24 hours "
                              f"({self._minutes} minutes used, this takes {step['minutes']})")
        self._steps.append(step)
        self._minutes += step["minutes"]

    def _place(self, place: object, call: str) -> str:
        if not isinstance(place, str):
            raise ActionError(f"{call}({place!r}): a place is given by its id, a text")
        if place in self._places:
            return place
        low = place.strip().lower()
        for p, d in sorted(self._places.items()):
            if str(d.get("name", "")).lower() == low or p.lower() == low:
                return p
        raise ActionError(f"{call}({place!r}): no such place"
                          + _close(place, self._place_names())
                          + " (world.find_place(text) finds a place by name)")

    def _here(self) -> list[str]:
        """The ids of the objects at the agent's place, sorted."""
        if self._index is not None:
            return list(self._index[1].get(self._location, ()))
        return [o for o, d in sorted(self._objects.items()) if d.get("place") == self._location]

    def _place_names(self) -> dict[str, str]:
        return {p: str(d.get("name", p)) for p, d in sorted(self._places.items())}

    def _object(self, obj: object, call: str) -> str:
        if not isinstance(obj, str):
            raise ActionError(f"{call}({obj!r}): an object is given by its id, a text")
        if obj in self._objects:
            return obj
        here = self._here()
        for o in here + (list(self._index[0]) if self._index else sorted(self._objects)):
            if str(self._objects[o].get("name", "")).lower() == obj.strip().lower():
                return o
        raise ActionError(f"{call}({obj!r}): no such object"
                          + _close(obj, {o: str(d.get("name", o))
                                         for o, d in sorted(self._objects.items())})
                          + f" (objects here: {', '.join(here) if here else 'none'})")

    def _person(self, person: object, call: str) -> str:
        if isinstance(person, str):
            if person in self._people and person != self._agent:
                return person
            low = person.strip().lower()
            for p, d in sorted(self._people.items()):
                if p != self._agent and str(d.get("name", "")).lower() == low:
                    return p
        names = sorted(str(d.get("name", p)) for p, d in self._people.items() if p != self._agent)
        raise ActionError(f"{call}: no such person" + _close(str(person), names))

    def _minutes_arg(self, minutes: object, call: str) -> None:
        if not _is_int(minutes):
            raise ActionError(f"{call}: minutes must be a whole number, not {minutes!r}")
        if not 1 <= minutes <= MAX_ACTION_MINUTES:
            raise ActionError(f"{call}: minutes must be from 1 to {MAX_ACTION_MINUTES}, "
                              f"not {minutes}")

    @staticmethod
    def _text(text: object, call: str, what: str) -> str:
        if not isinstance(text, str) or not text.strip():
            raise ActionError(f"{call}: {what} must be a non-empty text")
        if len(text) > MAX_TEXT:
            raise ActionError(f"{call}: {what} is {len(text)} characters long; "
                              f"at most {MAX_TEXT}")
        return text

    def _walk_minutes(self, target: str, call: str) -> int:
        """Walking minutes from here, rounded up: from the world's own distances where the
        proxy was given them (the parent's replay of a run's steps: a search of the town per
        walk was most of a replay at 10,000 residents), else by a search of its own."""
        if self._between is None:
            known = self._walks.get((self._location, target))
            return self._walk(target, call) if known is None else int(-(-known // 1))
        try:
            return int(-(-self._between(self._location, target) // 1))
        except KeyError:
            raise ActionError(f"{call}({target!r}): there is no walking route from "
                              f"{self._location} to {target}") from None

    def _walk(self, target: str, call: str) -> int:
        """Minutes of the shortest walk from here, rounded up (Dijkstra, stopped at
        `target`; only the length is kept, not the route, so nothing is copied per step)."""
        start = self._location
        best = {start: 0.0}
        heap: list[tuple[float, str]] = [(0.0, start)]
        done: set[str] = set()
        while heap:
            dist, node = heapq.heappop(heap)
            if node in done:
                continue
            if node == target:
                return int(-(-dist // 1))
            done.add(node)
            for nxt, minutes in self._adj.get(node, ()):
                d = dist + minutes
                if nxt not in done and d < best.get(nxt, _FAR):
                    best[nxt] = d
                    heapq.heappush(heap, (d, nxt))
        raise ActionError(f"{call}({target!r}): there is no walking route from {start} "
                          f"to {target}")


_ADJACENCY: list = []  # [(places, edges, adjacency)] of the last snapshots' graphs


def _adjacency(places: dict, edges: list) -> dict:
    """The walking graph as sorted neighbour lists, read-only. Snapshots of one world share
    their places and edges (`agentsim.skills.snapshot`): built once for them."""
    for p, e, adj in _ADJACENCY:
        if p is places and e is edges:
            return adj
    adj: dict = {p: [] for p in places}
    for a, b, minutes in edges:
        adj.setdefault(a, []).append((b, float(minutes)))
        adj.setdefault(b, []).append((a, float(minutes)))
    for nbrs in adj.values():
        nbrs.sort()
    _ADJACENCY[:] = [(places, edges, adj), *_ADJACENCY[:3]]
    return adj


_OBJECT_INDEX: list = []  # [(objects, _object_index(objects))] of the world a warm child runs on


def _object_index(objects: dict) -> tuple:
    """(the objects' ids sorted, {place: the sorted ids of the objects there}): the same for
    every snapshot of a world, whose objects differ from its world's only in their states
    (an object never changes place), so made once per world (`snapshot.Shared.payload`)."""
    ids = sorted(objects)
    by_place: dict = {}
    for o in ids:
        by_place.setdefault(objects[o].get("place"), []).append(o)
    return ids, by_place


def replay(snapshot: dict, steps: list[dict], max_steps: int = MAX_STEPS, *,
           copy: bool = True, between=None) -> WorldProxy:
    """A fresh proxy with `steps` carried out through the public API, so steps recorded
    elsewhere (in the sandbox's child) are checked against the world's rules again.
    Raises ActionError on a step that breaks them or is not a primitive step."""
    world = WorldProxy(snapshot, max_steps, copy=copy, between=between)
    for i, step in enumerate(steps):
        op = step.get("op") if isinstance(step, dict) else None
        try:
            if op == "move_to":
                world.move_to(step["place"])
            elif op == "use":
                world.use(step["object"], step["state"], step["minutes"], step["activity"])
            elif op == "say":
                world.say(step["person"], step["text"])
            elif op == "wait":
                world.wait(step["minutes"], step["activity"])
            elif op == "read":
                world.read(step["document"])
            else:
                raise ActionError(f"step {i}: {op!r} is not a primitive action")
        except KeyError as err:
            raise ActionError(f"step {i}: {op} without {err}") from None
    if world._steps != list(steps):
        raise ActionError("the steps do not match what the world records for them")
    return world
