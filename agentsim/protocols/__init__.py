"""Protocols: a world's rules of interaction, declared in its world.yaml and run by plug-ins.

    base       Protocol (the plug-in's base), Options, Stage (what a tick gives it), load
    classroom  Classroom: a lesson by a teacher from knowledge/, a quiz by interview before
               and after
    debate     Debate: multi-agent debate over a question set with an answer key (Du et al.)
    meeting    Meeting: one group conversation about a topic, by a turn-taking rule
    game_master  GameMaster: an LLM decides what an action causes when no rule can
    judge      the debate's answer checker (exact, normalised, or an LLM judge)
    measures   the run directory's measures.csv and measures.json

Plug-ins register under the entry point group `agentsim.protocols`
(`agentsim.world.protocol_section` finds them, and checks a world's `protocol:` section)."""

from __future__ import annotations

from agentsim.protocols.base import Options, Protocol, Stage, load, protocol_seed
from agentsim.world.protocol_section import GROUP, find_protocol, registered

__all__ = ["GROUP", "Options", "Protocol", "Stage", "find_protocol", "load", "protocol_seed",
           "registered"]
