"""A world's knowledge: its `knowledge/` documents chunked, embedded and searched with citations.

    chunk   Markdown/text -> chunks with stable ids ("knowledge/gazette.md#3"), heading, lines
    store   KnowledgeBase (chromadb, our own embeddings), Citation, Hit

chromadb is imported only when a knowledge base is first searched.
"""

from agentsim.rag.chunk import Chunk, chunk_text
from agentsim.rag.store import Citation, Hit, KnowledgeBase, cite

__all__ = ["Chunk", "Citation", "Hit", "KnowledgeBase", "chunk_text", "cite"]
