"""The official `openai` client works against the server unchanged."""

from __future__ import annotations

import openai
import pytest


@pytest.fixture
def client(served):
    return openai.OpenAI(base_url=f"{served.url}/v1", api_key="unused", max_retries=0)


def test_models_lists_the_served_model(client, served):
    assert [m.id for m in client.models.list().data] == [served.lm.name]


def test_chat_completion_returns_text_and_usage(client, served):
    out = client.chat.completions.create(model=served.lm.name, messages=[{"role": "user", "content": "hello there"}],
                                         max_tokens=12)
    assert out.object == "chat.completion"
    assert out.choices[0].message.role == "assistant"
    assert isinstance(out.choices[0].message.content, str) and out.choices[0].message.content
    assert out.choices[0].finish_reason in ("stop", "length")
    assert 0 < out.usage.completion_tokens <= 12
    assert out.usage.prompt_tokens > 0
    assert out.usage.total_tokens == out.usage.prompt_tokens + out.usage.completion_tokens


def test_plain_chat_equals_the_library(client, served):
    lm = served.lm
    want = lm.decode(lm.encode(lm.chat("hello there")), max_new_tokens=12).texts[0]
    out = client.chat.completions.create(model=lm.name, messages=[{"role": "user", "content": "hello there"}],
                                         max_tokens=12)
    assert out.choices[0].message.content == want


def test_streaming_chat_yields_the_same_text_and_usage(client, served):
    plain = client.chat.completions.create(model=served.lm.name, max_tokens=16,
                                           messages=[{"role": "user", "content": "count with me"}])
    chunks = list(client.chat.completions.create(model=served.lm.name, max_tokens=16, stream=True,
                                                 stream_options={"include_usage": True},
                                                 messages=[{"role": "user", "content": "count with me"}]))
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == plain.choices[0].message.content
    assert sum(1 for c in chunks if c.choices and c.choices[0].delta.content) > 1  # it really streamed
    finishes = [c.choices[0].finish_reason for c in chunks if c.choices and c.choices[0].finish_reason]
    assert finishes == [plain.choices[0].finish_reason]
    usage = [c.usage for c in chunks if c.usage]
    assert len(usage) == 1 and usage[0].completion_tokens == plain.usage.completion_tokens
    # a plain client may index choices[0] of every chunk but the usage one (OpenAI's own shape)
    assert all(c.choices for c in chunks if not c.usage)


def test_text_completion_stream_and_not(client, served):
    out = client.completions.create(model=served.lm.name, prompt="The sky is", max_tokens=8)
    assert out.object == "text_completion" and out.usage.completion_tokens > 0
    streamed = "".join(c.choices[0].text for c in client.completions.create(
        model=served.lm.name, prompt="The sky is", max_tokens=8, stream=True) if c.choices)
    assert streamed == out.choices[0].text


def test_stop_string_ends_the_answer(client, served):
    full = client.completions.create(model=served.lm.name, prompt="abc", max_tokens=20).choices[0].text
    assert len(full) > 3
    stop = full[2:4]
    cut = client.completions.create(model=served.lm.name, prompt="abc", max_tokens=20, stop=[stop])
    assert cut.choices[0].text == full[: full.index(stop)]
    assert cut.choices[0].finish_reason == "stop"


def test_unknown_model_is_a_404_the_client_raises(client):
    with pytest.raises(openai.NotFoundError, match="not served here"):
        client.chat.completions.create(model="gpt-99", messages=[{"role": "user", "content": "hi"}])
