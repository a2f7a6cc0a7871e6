"""The optional language-model path: an OpenAI-compatible chat endpoint fills in the operations.

The instruction and the operation table as tools (one JSON schema per operation, generated
from fabricate/edit/operations.py) go to ``FABRICATE_LLM_URL`` (the full chat-completions
address, e.g. ``http://127.0.0.1:8080/v1/chat/completions`` of llama.cpp's server or
Ollama). Only the reply's tool calls are used, and each is checked against the same table
(:func:`checked_operation`) before anything runs: a model's text is never executed, and a
call naming anything outside the table, or a value out of range, refuses the whole edit.
"""
from __future__ import annotations

import json
import os
import urllib.error
import urllib.request

from fabricate.edit.operations import OPERATIONS, capabilities, checked_operation
from fabricate.errors import BadOption, FabricateError

#: Seconds to wait for the endpoint (a small local model answers within this on a laptop).
LLM_TIMEOUT_S = 60.0
#: Largest reply read: a few tool calls are a few kilobytes.
MAX_REPLY_BYTES = 1 << 20
SYSTEM_PROMPT = ("You edit a 3D-printable model. Answer only with calls of the given tools, one per change the "
                 "user asks for, in order. Sizes are millimetres; colours are #RRGGBB.")


def tool_schemas() -> list:
    return [spec.json_schema() for spec in OPERATIONS.values()]


def parse_with_llm(text: str, url: str, timeout: float = LLM_TIMEOUT_S) -> list:
    """Checked operations from the endpoint's tool calls for ``text``."""
    request = {"model": os.environ.get("FABRICATE_LLM_MODEL", "default"), "temperature": 0,
               "messages": [{"role": "system", "content": SYSTEM_PROMPT}, {"role": "user", "content": text}],
               "tools": tool_schemas(), "tool_choice": "auto"}
    try:
        with urllib.request.urlopen(urllib.request.Request(
                url, json.dumps(request).encode(), {"Content-Type": "application/json"}), timeout=timeout) as reply:
            body = reply.read(MAX_REPLY_BYTES + 1)
    except (urllib.error.URLError, OSError) as exc:
        raise FabricateError(f"the language model at {url} did not answer: {exc}") from None
    if len(body) > MAX_REPLY_BYTES:
        raise BadOption("the language model's answer is too long")
    try:
        calls = json.loads(body)["choices"][0]["message"].get("tool_calls") or []
        named = [(call["function"]["name"], call["function"].get("arguments") or "{}") for call in calls]
        operations = [checked_operation(name, json.loads(arguments) if isinstance(arguments, str) else arguments)
                      for name, arguments in named]
    except BadOption as exc:
        raise BadOption(f"the language model asked for something invalid ({exc}); nothing was changed") from None
    except (ValueError, KeyError, IndexError, TypeError, AttributeError) as exc:
        raise BadOption(f"the language model's answer is not a list of tool calls ({exc}); nothing was changed") \
            from None
    if not operations:
        raise BadOption(f"not understood: \"{text}\". Edits that work: {capabilities()}")
    return operations
