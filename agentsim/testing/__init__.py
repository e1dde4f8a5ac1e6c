"""Test doubles: a function-based fake LLM and a fake OpenAI-compatible server on 127.0.0.1."""

from agentsim.testing.fake_llm import FakeLLM, answering, no_sleep, test_client

__all__ = ["FakeLLM", "FakeOpenAIServer", "answering", "no_sleep", "test_client"]


def __getattr__(name: str):
    if name == "FakeOpenAIServer":
        from agentsim.testing.fake_server import FakeOpenAIServer

        return FakeOpenAIServer
    raise AttributeError(name)
