"""How the views name a conversation's people: two by name ("Ada Okafor and Ben Larsen"), a
group by what it is and how many ("Debate panel (4): Ada Okafor, Ben Larsen, Chen Wei and
Dora Mendes"), and each line's speaker by first name unless two members share it.

A group conversation is a `Conversation` event with more than two participants (a protocol's
`GroupTalk`: one event per tick, every member listed). The event does not say what the group
is; the world's protocol does, so the view names the group after it (`group_name`)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Sequence

from agentsim.events import Conversation

# What the groups of agentsim's own protocols are called; another protocol's is "<Name> group".
GROUPS = {"debate": "Debate panel", "classroom": "Class", "studio": "Studio team",
          "meeting": "Meeting"}


def group_name(protocol: str | None) -> str:
    """What a group conversation of a world with `protocol` is called ("Group" without one)."""
    if not protocol:
        return "Group"
    return GROUPS.get(protocol, f"{protocol.replace('_', ' ').capitalize()} group")


def is_group(c: Conversation) -> bool:
    return len(c.participants) > 2


def who(c: Conversation, name: Callable[[str], str], group: str = "Group") -> str:
    """'A and B' for two; 'Debate panel (4): A, B, C and D' for a group."""
    names = [name(p) for p in c.participants]
    if not is_group(c):
        return " and ".join(names)
    return f"{group} ({len(names)}): {', '.join(names[:-1])} and {names[-1]}"


def speakers(participants: Sequence[str], name: Callable[[str], str]) -> dict[str, str]:
    """Each participant's name on a line of the talk: the first name, or the whole name when
    another member has the same first name."""
    first = {p: name(p).split()[0] if name(p).split() else p for p in participants}
    shared = Counter(first.values())
    return {p: first[p] if shared[first[p]] == 1 else name(p) for p in participants}


def speaker(c: Conversation, aid: str, name: Callable[[str], str]) -> str:
    """The name `aid` is given on a line of `c` (a speaker outside the list: the first name)."""
    return speakers(c.participants, name).get(aid) or name(aid).split()[0]
