"""``/v1/completions`` on chat-only providers: each prompt becomes one user message.

OpenAI's rules are kept: a list of prompts is answered as independent requests (prompt ``i``,
choice ``j`` at index ``i * n + j``), never as one conversation; ``echo`` prepends the prompt;
``n`` becomes parallel calls where the provider has no native ``n`` (usage summed); ``best_of``
ranks candidates by mean token log probability where the provider declares log probabilities;
``suffix`` and token-array prompts cannot be expressed in a chat and are dropped or refused.

The calls one request becomes (prompts x candidates per prompt) are counted before anything is
built and capped by ``settings.max_upstream_calls`` (:func:`check_upstream_calls`, a 400 naming
``prompt``, ``n`` or ``best_of``); the client's extras are validated once as chat fields, so a
value a chat request cannot take is a 400 naming it, never a 500.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

from pydantic import ValidationError

from lambdagate.errors import InvalidRequest
from lambdagate.providers import shapes
from lambdagate.providers.base import CallContext, Provider, Target
from lambdagate.providers.fanout import check_upstream_calls, merge_streams
from lambdagate.types import ChatCompletionRequest, CompletionRequest, StreamOptions, UserMessage, invalid_request
from lambdagate.wire import JSONBody, as_dict

# Completion parameters with the same meaning in a chat request.
_SHARED = ("temperature", "top_p", "max_tokens", "stop", "presence_penalty", "frequency_penalty",
           "logit_bias", "seed", "user")
_COMPLETION_ONLY = ("prompt", "suffix", "echo", "best_of", "logprobs", "n", "model", "stream",
                    "stream_options", "timeout")


def prompt_count(request: CompletionRequest) -> int:
    """How many prompts a request holds, read without looking at any of them."""
    prompt = request.prompt
    if isinstance(prompt, list) and prompt and not isinstance(prompt[0], int):
        return len(prompt)  # strings, or token arrays
    return 1  # a string, one token array, an empty list of strings, or none (<|endoftext|>)


def prompts_of(request: CompletionRequest, provider_type: str) -> list[str]:
    prompt = request.prompt
    if prompt is None:
        return ["<|endoftext|>"]
    if isinstance(prompt, str):
        return [prompt]
    if all(isinstance(p, str) for p in prompt):
        return list(prompt)  # type: ignore[arg-type]
    # Token ids name tokens of one tokenizer; a chat provider's tokenizer is unknown here.
    raise InvalidRequest(
        f"Token-array prompts are not supported by the '{provider_type}' provider; send the prompt as text.",
        param="prompt", code="unsupported_parameter",
    )


class _Plan:
    """How one completion request is served by chat calls."""

    def __init__(self, provider: Provider, request: CompletionRequest, target: Target, ctx: CallContext,
                 *, stream: bool) -> None:
        self.n = request.n or 1
        self.echo = bool(request.echo)
        capabilities = provider.capabilities
        self.logprobs = request.logprobs
        if self.logprobs is not None and not capabilities.logprobs:
            ctx.unsupported("logprobs", target.provider_type)
            self.logprobs = None
        self.best_of = request.best_of if request.best_of and request.best_of > self.n else None
        if self.best_of is not None:
            if stream:
                raise InvalidRequest("Cannot stream results with best_of > n.", param="best_of")
            if not capabilities.logprobs:
                ctx.unsupported("best_of", target.provider_type)
                self.best_of = None
        if request.suffix is not None:
            ctx.unsupported("suffix", target.provider_type)
        self.candidates = self.best_of or self.n
        # Providers with native ``n`` produce all candidates in one call per prompt.
        self.per_call = self.candidates if capabilities.n else 1
        self.calls_per_prompt = self.candidates // self.per_call
        # The cost is known before any prompt is looked at: a list of 100,000 prompts is refused
        # here, in constant time, instead of becoming 100,000 requests to build and send.
        prompts = prompt_count(request)
        if prompts > 1:
            param, detail = "prompt", f"{prompts} prompts x {self.calls_per_prompt} each"
        else:
            param = "best_of" if self.best_of is not None else "n"
            detail = f"{param}={self.candidates}"
        check_upstream_calls(prompts * self.calls_per_prompt, ctx, target, param=param, detail=detail)
        self.prompts = prompts_of(request, target.provider_type)
        fields = request.model_dump(exclude_unset=True, exclude={"prompt"})
        shared = {name: fields[name] for name in _SHARED if name in fields}
        extras = {k: v for k, v in fields.items() if k not in _SHARED and k not in _COMPLETION_ONLY}
        base: dict[str, Any] = {**extras, **shared, "model": request.model}
        if self.per_call > 1:
            base["n"] = self.per_call
        if self.logprobs is not None or self.best_of is not None:
            base["logprobs"] = True
            base["top_logprobs"] = self.logprobs or 0
        self.include_usage = request.wants_usage_chunk
        # Validated once (the client's extras become typed chat fields: ``tools``, ``metadata``...);
        # each prompt's request is then a copy with its own message, so a bad extra is one clear 400
        # naming it, and a long prompt list costs no validation per prompt.
        try:
            self.template = ChatCompletionRequest.model_validate(
                {**base, "messages": [UserMessage(role="user", content="")]})
        except ValidationError as exc:
            raise invalid_request(exc) from None

    def chat_request(self, prompt: str, *, stream: bool) -> ChatCompletionRequest:
        update: dict[str, Any] = {"messages": [UserMessage(role="user", content=prompt)]}
        if stream:
            update["stream"] = True
            update["stream_options"] = StreamOptions(include_usage=True)
        return self.template.model_copy(update=update)


def _token_logprobs(chat_logprobs: Any, offset: int) -> dict[str, Any] | None:
    """Chat ``logprobs.content`` in the text completion layout (tokens, offsets, top maps)."""
    if not chat_logprobs or not chat_logprobs.get("content"):
        return None
    tokens, token_logprobs, top, offsets = [], [], [], []
    position = offset
    for item in chat_logprobs["content"]:
        tokens.append(item["token"])
        token_logprobs.append(item["logprob"])
        top.append({alt["token"]: alt["logprob"] for alt in item.get("top_logprobs") or []})
        offsets.append(position)
        position += len(item["token"])
    return {"tokens": tokens, "token_logprobs": token_logprobs, "top_logprobs": top, "text_offset": offsets}


def _mean_logprob(choice: dict[str, Any]) -> float:
    content = (choice.get("logprobs") or {}).get("content") or []
    return sum(t["logprob"] for t in content) / len(content) if content else float("-inf")


async def complete_via_chat(
    provider: Provider, request: CompletionRequest, target: Target, ctx: CallContext
) -> JSONBody:
    plan = _Plan(provider, request, target, ctx, stream=False)
    calls = [
        provider.chat(plan.chat_request(prompt, stream=False), target, ctx)
        for prompt in plan.prompts
        for _ in range(plan.calls_per_prompt)
    ]
    responses = [as_dict(body) for body in await asyncio.gather(*calls)]
    choices: list[dict[str, Any]] = []
    total_usage: dict[str, Any] | None = None
    model = target.model
    for i, prompt in enumerate(plan.prompts):
        group = responses[i * plan.calls_per_prompt:(i + 1) * plan.calls_per_prompt]
        candidates = [choice for response in group for choice in response.get("choices", [])]
        for response in group:
            total_usage = shapes.add_usage(total_usage, response.get("usage"))
            model = response.get("model", model)
        if plan.best_of is not None:
            candidates = sorted(candidates, key=_mean_logprob, reverse=True)
        for j, choice in enumerate(candidates[: plan.n]):
            message = choice.get("message") or {}
            text = message.get("content") or ""
            prefix = prompt if plan.echo else ""
            logprobs = (_token_logprobs(choice.get("logprobs"), len(prefix))
                        if plan.logprobs is not None else None)
            choices.append(shapes.text_choice(i * plan.n + j, prefix + text, choice.get("finish_reason"),
                                              logprobs))
    return shapes.text_completion(model, choices, total_usage)


async def stream_via_chat(
    provider: Provider, request: CompletionRequest, target: Target, ctx: CallContext
) -> AsyncIterator[JSONBody]:
    plan = _Plan(provider, request, target, ctx, stream=True)
    chunks = shapes.TextChunks(target.model)
    streams: list[tuple[int, AsyncIterator[JSONBody]]] = []
    for i, prompt in enumerate(plan.prompts):
        for call in range(plan.calls_per_prompt):
            base_index = i * plan.n + call * plan.per_call
            streams.append((base_index, provider.chat_stream(plan.chat_request(prompt, stream=True), target, ctx)))
    if plan.echo:
        for i, prompt in enumerate(plan.prompts):
            for j in range(plan.n):
                yield chunks.text(prompt, i * plan.n + j)
    total_usage: dict[str, Any] | None = None
    async for base_index, piece in merge_streams(streams):
        chunk = as_dict(piece)
        if chunk.get("usage") and not chunk.get("choices"):
            total_usage = shapes.add_usage(total_usage, chunk["usage"])
            continue
        for choice in chunk.get("choices", []):
            delta = choice.get("delta") or {}
            text = delta.get("content") or ""
            finish = choice.get("finish_reason")
            if text or finish:
                yield chunks.text(text, base_index + choice.get("index", 0), finish)
    if plan.include_usage and total_usage is not None:
        yield chunks.usage(total_usage)
