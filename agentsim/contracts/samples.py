"""Typical variable values the contracts' examples are built from: one small town's morning
(a cafe owner, a neighbour, a party). Tests render every template from these, and the docs
show them; they are data, not defaults: no run ever reads them."""

from __future__ import annotations

from typing import Any

PERSONA: dict[str, Any] = {
    "id": "isabella_rodriguez", "name": "Isabella Rodriguez", "age": 34,
    "innate": ["friendly", "outgoing"],
    "background": "Isabella runs Hobbs Cafe and loves bringing people together.",
    "lifestyle": "goes to bed around 10pm and wakes up around 6am",
    "occupation": "owner of Hobbs Cafe", "world": "Smallville",
}
PARTY: dict[str, Any] = {
    "title": "Valentine's Day party", "place": "hobbs_cafe", "place_name": "Hobbs Cafe",
    "start": "17:00", "end": "19:00", "host": "Isabella Rodriguez", "host_role": None,
    "date_iso": "2023-02-14", "date": "February 14",
}
PLACES: list[dict[str, str]] = [
    {"id": "isabella_apartment", "name": "Isabella's apartment"},
    {"id": "hobbs_cafe", "name": "Hobbs Cafe"},
    {"id": "park", "name": "Johnson Park"},
]
ROUTINE: list[dict[str, str]] = [
    {"start": "06:00", "activity": "wake up and get ready", "place": "isabella_apartment"},
    {"start": "08:00", "activity": "open Hobbs Cafe and serve customers", "place": "hobbs_cafe"},
    {"start": "20:30", "activity": "read a book", "place": "isabella_apartment"},
]
ROUTINE_NAMED: list[dict[str, str]] = [
    {**r, "place_name": next(p["name"] for p in PLACES if p["id"] == r["place"])}
    for r in ROUTINE
]
MEMORIES: list[dict[str, Any]] = [
    {"id": 0, "text": "Tom Moreno is drinking coffee", "kind": "observation", "importance": 2,
     "about": ["Tom Moreno"], "source": None, "event": None},
    {"id": 1, "text": "I am planning a Valentine's Day party at Hobbs Cafe", "kind": "plan",
     "importance": 8, "about": [], "source": None, "event": PARTY},
]
OTHER: dict[str, str] = {"name": "Tom Moreno", "activity": "drinking coffee at the counter"}
TRANSCRIPT: list[dict[str, Any]] = [
    {"speaker": "Tom Moreno", "text": "Morning, Isabella! Busy day?", "shared": None,
     "cites": None},
]
PASSAGE: dict[str, str] = {"id": "knowledge/menu.md#1", "title": "Hobbs Cafe menu",
                           "text": "Coffee is two dollars; croissants are three."}
PLAN: list[dict[str, str]] = [
    {"start": "06:00", "activity": "wake up and get ready", "place": "isabella_apartment",
     "place_name": "Isabella's apartment"},
    {"start": "08:00", "activity": "serve customers", "place": "hobbs_cafe",
     "place_name": "Hobbs Cafe"},
]
CHECKS: list[dict[str, Any]] = [
    {"criterion": "places exist", "passed": True, "problems": []},
    {"criterion": "reachable in time", "passed": True, "problems": []},
    {"criterion": "coherent times", "passed": True, "problems": []},
]
FEEDBACK: dict[str, Any] = {"score": 0.5, "satisfied": False,
                            "critique": "the party is missing", "issues": ["fits the persona"]}
HERE: dict[str, str] = {"place": "hobbs_cafe", "place_name": "Hobbs Cafe"}
TASK: dict[str, Any] = {
    "text": "bake croissants", "place": "hobbs_cafe_kitchen", "place_name": "kitchen",
    "object": "cafe_oven", "object_name": "oven", "state": "baking", "minutes": 30,
    "source": "plan",
}
OVEN: dict[str, Any] = {"id": "cafe_oven", "name": "oven", "place": "hobbs_cafe_kitchen",
                        "state": "idle", "states": ["idle", "baking"]}
CODE = ('def bake(world, minutes=30):\n    """Bake in the oven."""\n'
        '    world.go("hobbs_cafe_kitchen")\n')
