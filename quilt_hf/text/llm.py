"""LLM backends for the text stage: any OpenAI-compatible chat endpoint, or a local causal LM.

Both take a system prompt and a user message and return a parsed JSON object (a dict).
- ``OpenAIChat`` uses the ``openai`` Python package (works with OpenAI, Azure OpenAI's v1 API,
  vLLM, Ollama, llama.cpp servers...): JSON mode, temperature 0, the package's own retries with
  exponential backoff, a request timeout. Failures become QuiltError without the key in the text.
- ``LocalCausalLM`` runs ``AutoModelForCausalLM`` with greedy decoding. Its output is parsed
  leniently; anything that is not a JSON object gives ``{}`` (no corrections), never an error.
"""

from __future__ import annotations

import json
import os
from typing import Any, Protocol

from quilt_hf.errors import QuiltError

DEFAULT_OPENAI_MODEL = (
    "gpt-4o-mini"  # the paper used GPT-3.5 at temperature 0; this is its successor
)
DEFAULT_LOCAL_MODEL = "Qwen/Qwen2.5-1.5B-Instruct"


class JsonChat(Protocol):
    def complete_json(self, system: str, user: str) -> dict[str, Any]: ...


def parse_json_object(text: str) -> dict[str, Any] | None:
    """The first JSON object in ``text`` (code fences and chatter around it are ignored)."""
    decoder = json.JSONDecoder()
    start = text.find("{")
    while start != -1:
        try:
            value, _ = decoder.raw_decode(text, start)
        except (json.JSONDecodeError, RecursionError):
            start = text.find("{", start + 1)
            continue
        if isinstance(value, dict):
            return value
        start = text.find("{", start + 1)
    return None


class OpenAIChat:
    """JSON-mode chat completions at ``base_url`` (None = api.openai.com)."""

    def __init__(
        self,
        model: str = DEFAULT_OPENAI_MODEL,
        *,
        base_url: str | None = None,
        api_key: str | None = None,
        api_key_env: str = "OPENAI_API_KEY",
        timeout: float = 60.0,
        max_retries: int = 3,
        json_mode: bool = True,
    ) -> None:
        try:
            import openai
        except ImportError as exc:
            raise QuiltError(
                "the openai backend needs the openai package: pip install openai"
            ) from exc
        key = api_key or os.environ.get(api_key_env)
        if not key:
            if base_url is None:
                raise QuiltError(
                    f"set {api_key_env} to use the OpenAI API (or give --llm-base-url)"
                )
            key = (
                "not-needed"  # local servers (vLLM, Ollama) ignore the key but the client wants one
            )
        self._openai = openai
        self._client = openai.OpenAI(
            base_url=base_url, api_key=key, timeout=timeout, max_retries=max_retries
        )
        self.model = model
        self.base_url = base_url or "https://api.openai.com/v1"
        self.json_mode = json_mode

    def complete_json(self, system: str, user: str) -> dict[str, Any]:
        openai = self._openai
        extra = {"response_format": {"type": "json_object"}} if self.json_mode else {}
        try:
            response = self._client.chat.completions.create(
                model=self.model,
                messages=[{"role": "system", "content": system}, {"role": "user", "content": user}],
                temperature=0,
                **extra,
            )
        except openai.APIConnectionError as exc:  # includes timeouts
            raise QuiltError(f"LLM endpoint {self.base_url} unreachable: {exc}") from exc
        except openai.APIStatusError as exc:
            raise QuiltError(
                f"LLM endpoint {self.base_url} answered HTTP {exc.status_code} for model {self.model}"
            ) from exc
        content = response.choices[0].message.content if response.choices else None
        return parse_json_object(content or "") or {}


class LocalCausalLM:
    """A local ``AutoModelForCausalLM`` (Hub id, folder, or a model object with its tokenizer)."""

    def __init__(
        self,
        model: Any = DEFAULT_LOCAL_MODEL,
        *,
        tokenizer: Any = None,
        device: str = "cpu",
        max_new_tokens: int = 256,
    ) -> None:
        from transformers import AutoModelForCausalLM, AutoTokenizer

        if isinstance(model, str):
            try:
                tokenizer = tokenizer or AutoTokenizer.from_pretrained(model)
                model = AutoModelForCausalLM.from_pretrained(model)
            except OSError as exc:
                raise QuiltError(f"cannot load local LLM {model!r}: {exc}") from exc
        elif tokenizer is None:
            raise QuiltError("a causal LM object needs its tokenizer (tokenizer=)")
        self.model = model.to(device).eval()
        self.tokenizer = tokenizer
        self.device = device
        self.max_new_tokens = max_new_tokens

    def _prompt_ids(self, system: str, user: str):
        messages = [{"role": "system", "content": system}, {"role": "user", "content": user}]
        if getattr(self.tokenizer, "chat_template", None):
            ids = self.tokenizer.apply_chat_template(
                messages, add_generation_prompt=True, return_tensors="pt", return_dict=True
            )["input_ids"]
        else:
            text = f"{system}\n\nTranscript:\n{user}\n\nJSON:"
            ids = self.tokenizer(text, return_tensors="pt")["input_ids"]
        return ids.to(self.device)

    def complete_json(self, system: str, user: str) -> dict[str, Any]:
        import torch

        ids = self._prompt_ids(system, user)
        pad = self.tokenizer.pad_token_id
        if pad is None:
            pad = self.tokenizer.eos_token_id
        with torch.no_grad():
            out = self.model.generate(
                ids,
                attention_mask=torch.ones_like(ids),
                do_sample=False,
                max_new_tokens=self.max_new_tokens,
                pad_token_id=pad,
            )
        text = self.tokenizer.decode(out[0, ids.shape[1] :], skip_special_tokens=True)
        return parse_json_object(text) or {}


class LLMCorrector:
    """ASR correction through an LLM: asks for the map, then keeps only keys found in the text."""

    def __init__(self, chat: JsonChat) -> None:
        self.chat = chat

    def corrections(self, text: str) -> dict[str, str]:
        from quilt_hf.text.correction import CORRECTION_SYSTEM_PROMPT, clean_corrections

        if not text.strip():
            return {}
        answer = self.chat.complete_json(CORRECTION_SYSTEM_PROMPT, text)
        mapping = answer.get("corrections", answer) if isinstance(answer, dict) else {}
        return clean_corrections(mapping, text)
