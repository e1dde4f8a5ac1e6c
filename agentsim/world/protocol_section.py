"""The `protocol:` section of world.yaml, and finding the protocol it names.

    protocol:
      name: debate          a protocol registered under the entry point group
      rounds: 3             `agentsim.protocols`; every other field is that protocol's own
      judge: exact          option, checked by the protocol's `Options` model

A protocol is a plug-in: a class with an `Options` pydantic model (see
`agentsim.protocols.base.Protocol`), registered by any installed package as

    [project.entry-points."agentsim.protocols"]
    debate = "agentsim.protocols.debate:Debate"

agentsim registers its built-in protocols the same way, and also keeps them in `BUILT_IN`
(by module path, imported on demand) so they are found in an uninstalled checkout, where no
entry points are on record. An installed plug-in of the same name wins over a built-in.

This module sits in the world layer and imports no protocol: a plug-in is loaded by its
import path, when a world names it, as entry points always are."""

from __future__ import annotations

import importlib
from importlib.metadata import entry_points
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

GROUP = "agentsim.protocols"
BUILT_IN: dict[str, str] = {
    "classroom": "agentsim.protocols.classroom:Classroom",
    "debate": "agentsim.protocols.debate:Debate",
    "game_master": "agentsim.protocols.game_master:GameMaster",
    "meeting": "agentsim.protocols.meeting:Meeting",
    "studio": "agentsim.protocols.studio:Studio",
}


class ProtocolSection(BaseModel):
    """The section as written: a name, and the protocol's own options (checked later, by the
    protocol's `Options`, so a typo is an error naming `protocol.<field>`)."""

    model_config = ConfigDict(extra="allow", frozen=True)

    name: str = Field(min_length=1, description="a protocol registered under "
                      "the 'agentsim.protocols' entry point group, e.g. debate")

    def options(self) -> dict[str, Any]:
        """The protocol's own options: every field but `name`."""
        return dict(self.model_extra or {})


def registered() -> dict[str, str]:
    """Every protocol name found, with its import path: the built-ins, then installed plug-ins
    (found on `sys.path` now, so a package installed during the session counts)."""
    found = dict(BUILT_IN)
    for ep in entry_points(group=GROUP):
        found[ep.name] = ep.value
    return dict(sorted(found.items()))


def find_protocol(name: str) -> Any:
    """The protocol class registered as `name`; LookupError (listing the known names) if none,
    ImportError if its module does not load."""
    known = registered()
    if name not in known:
        raise LookupError(f"no protocol {name!r} (known: {', '.join(known)}); a plug-in "
                          f"registers one under the entry point group {GROUP!r}")
    module, _, attr = known[name].partition(":")
    obj: Any = importlib.import_module(module)
    for part in attr.split(".") if attr else []:
        obj = getattr(obj, part)
    return obj
