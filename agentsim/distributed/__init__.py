"""One simulation over several machines: residents split over Ray actors (shards) whose
steps and conversations the engine's tick runs remotely, with byte-identical events to one
process, one global LLM in-flight limit and budget, and checkpoints that open as a normal run.
See `agentsim.distributed.cluster` for the design."""

from agentsim.distributed.cluster import Cluster, distribute
from agentsim.distributed.ledger import Ledger

__all__ = ["Cluster", "Ledger", "distribute"]
