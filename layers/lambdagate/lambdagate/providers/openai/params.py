"""The OpenAI type's parameter table: empty, because every parameter passes through unchanged.

Nothing is dropped or renamed, so new OpenAI parameters and server-specific extras (vLLM's
``guided_json``, OpenRouter's ``provider``) reach the upstream without a change here.
"""

from __future__ import annotations

from lambdagate.providers.base import ParamTable

PARAMS: ParamTable = {}
