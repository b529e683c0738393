"""The mock type's parameter table: sampling parameters are accepted and have no effect.

A real model would take them, so a client's request that works against the mock works against
a real provider too; nothing here is reported as dropped.
"""

from __future__ import annotations

from lambdagate.providers.base import Param, ParamTable

_ACCEPTED = ("temperature", "top_p", "n", "stop", "max_tokens", "seed", "user",
             "presence_penalty", "frequency_penalty", "tools", "tool_choice", "parallel_tool_calls",
             "response_format", "metadata", "logit_bias", "store", "service_tier")

PARAMS: ParamTable = {name: Param() for name in _ACCEPTED}
