"""Chat completions through the Responses API: the stateless bridge of the OpenAI-type adapters.

OpenAI's reasoning models (gpt-5.4 and later) take function tools only on ``/v1/responses``; some
models are served there only. The ``api`` option (:mod:`.route`) sends such chat requests there,
translated (:mod:`.request`) and answered back as an exact ``chat.completion`` (:mod:`.response`)
or its chunks (:mod:`.stream`); :mod:`.bridge` runs it on the shared upstream I/O. The OpenAI,
Azure and Bedrock (OpenAI endpoint) adapters use it.
"""
