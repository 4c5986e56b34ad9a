"""LLM backends: OpenAI-compatible round trip on a loopback server, retries, unreachable endpoint,
and a tiny random local causal LM (plumbing and robust parsing only)."""

from __future__ import annotations

import json
import socket

import pytest
from llm_double import LLMDouble

from quilt_hf.errors import QuiltError
from quilt_hf.text.llm import LLMCorrector, LocalCausalLM, OpenAIChat, parse_json_object
from quilt_hf.text.pipeline import TextStage

NOISY = "Here we see eosin a fill around the hemotoxin lin stained glands."


def test_openai_round_trip_applies_the_returned_map(monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test-secret-123")
    corrections = {"eosin a fill": "eosinophils", "hemotoxin lin": "hematoxylin", "absent": "x"}
    with LLMDouble(corrections) as llm:
        stage = TextStage(corrector="openai", llm_base_url=llm.base_url, llm_model="m-test")
        result = stage.process(NOISY)
    assert result.asr_correction == {"eosin a fill": "eosinophils", "hemotoxin lin": "hematoxylin"}
    assert result.corrected_text == "Here we see eosinophils around the hematoxylin stained glands."
    request = llm.requests[0]
    assert request["model"] == "m-test"
    assert request["temperature"] == 0
    assert request["response_format"] == {"type": "json_object"}
    assert (
        request["messages"][0]["role"] == "system"
        and "corrections" in request["messages"][0]["content"]
    )
    assert request["messages"][1]["content"] == NOISY
    assert llm.headers[0]["authorization"] == "Bearer sk-test-secret-123"


def test_llm_map_keys_not_in_the_text_are_dropped():
    def reply(messages):  # a model that invents and rewrites
        return json.dumps({"corrections": {"lymfoma": "lymphoma", "Here we see": "Here we see"}})

    with LLMDouble(reply=reply) as llm:
        corrector = LLMCorrector(OpenAIChat("m", base_url=llm.base_url, max_retries=0))
        assert corrector.corrections(NOISY) == {}


def test_transient_503_is_retried_with_backoff():
    with LLMDouble({"eosin a fill": "eosinophil"}, fail_first=2) as llm:
        chat = OpenAIChat("m", base_url=llm.base_url, max_retries=3)
        assert LLMCorrector(chat).corrections(NOISY) == {"eosin a fill": "eosinophil"}
    assert len(llm.requests) == 3


def test_http_errors_and_garbage_answers(monkeypatch):
    with LLMDouble(fail_first=10) as llm:
        chat = OpenAIChat("m", base_url=llm.base_url, max_retries=1)
        with pytest.raises(QuiltError, match="HTTP 503"):
            chat.complete_json("s", "u")
    with LLMDouble(reply=lambda m: "Sure! Here you go: not json at all") as llm:
        chat = OpenAIChat("m", base_url=llm.base_url, max_retries=0)
        assert LLMCorrector(chat).corrections(NOISY) == {}


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_unreachable_endpoint_is_a_clear_error_without_the_key(monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", "sk-very-secret")
    url = f"http://127.0.0.1:{_closed_port()}/v1"
    stage = TextStage(
        corrector="openai", llm_base_url=url, llm_model="m", llm_retries=0, llm_timeout=2
    )
    with pytest.raises(QuiltError, match="unreachable") as info:
        stage.process(NOISY)
    assert "sk-very-secret" not in str(info.value)


def test_openai_api_without_key_is_refused(monkeypatch):
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    with pytest.raises(QuiltError, match="OPENAI_API_KEY"):
        OpenAIChat("gpt-4o-mini")


def test_llm_roi_and_pathology_backends_keep_only_valid_answers():
    def reply(messages):
        system = messages[0]["content"]
        if "roi_text" in system:
            return json.dumps({"roi_text": ["here we see eosinophils", "an invented sentence"]})
        if "sub-pathology" in system:
            return json.dumps({"pathology": ["Gastrointestinal", "astrology", "soft tissue"]})
        return json.dumps({"corrections": {}})

    with LLMDouble(reply=reply) as llm:
        stage = TextStage(
            corrector="openai", llm_base_url=llm.base_url, llm_model="m", roi="llm", pathology="llm"
        )
        result = stage.process("So here we see eosinophils. The colon mucosa is inflamed.")
    assert result.roi_text == ["here we see eosinophils"]
    assert result.pathology == ["gastrointestinal", "soft_tissue"]


@pytest.mark.parametrize(
    "text, expected",
    [
        ('{"corrections": {"a": "b"}}', {"corrections": {"a": "b"}}),
        ('```json\n{"corrections": {}}\n```', {"corrections": {}}),
        ('blah {not json} then {"x": 1} tail', {"x": 1}),
        ("[1, 2, 3]", None),
        ("{{{{", None),
        ("", None),
    ],
)
def test_parse_json_object_is_lenient(text, expected):
    assert parse_json_object(text) == expected


def _tiny_causal_lm():
    import torch
    from tokenizers import Tokenizer, models, pre_tokenizers
    from transformers import GPT2Config, GPT2LMHeadModel, PreTrainedTokenizerFast

    words = ["[UNK]", "[EOS]", "{", "}", '"', ":", "corrections", "eosin", "a", "fill", "here"]
    backend = Tokenizer(models.WordLevel({w: i for i, w in enumerate(words)}, unk_token="[UNK]"))
    backend.pre_tokenizer = pre_tokenizers.WhitespaceSplit()
    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=backend, unk_token="[UNK]", eos_token="[EOS]", pad_token="[EOS]"
    )
    torch.manual_seed(0)
    config = GPT2Config(vocab_size=len(words), n_positions=512, n_embd=16, n_layer=1, n_head=2)
    return GPT2LMHeadModel(config), tokenizer


def test_local_causal_lm_plumbing_and_garbage_gives_no_correction():
    model, tokenizer = _tiny_causal_lm()
    chat = LocalCausalLM(model, tokenizer=tokenizer, max_new_tokens=8)
    answer = chat.complete_json("system prompt", "here eosin a fill")
    assert isinstance(answer, dict)  # random tokens: parsed leniently, no exception
    stage = TextStage(corrector="transformers", chat=chat)
    result = stage.process("here eosin a fill")
    assert result.noisy_text == "here eosin a fill"
    # whatever the random model says, only keys present in the text can be applied
    assert set(result.asr_correction) <= {"eosin a fill", "eosin", "fill", "here", "a"}
    with pytest.raises(QuiltError, match="tokenizer"):
        LocalCausalLM(model)
