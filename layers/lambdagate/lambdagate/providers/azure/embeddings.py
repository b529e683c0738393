"""Azure OpenAI embeddings: the OpenAI type's passthrough (:mod:`..openai.embeddings`) on Azure's URLs.

Reference: the Azure OpenAI data-plane inference REST reference, "Embeddings - Create", for the
GA api-version ``2024-10-21`` and the v1 API (``/openai/v1/embeddings``), read 2026-12. The request
body is OpenAI's (``input`` as text or token arrays of up to 2048 items, ``dimensions`` on
text-embedding-3 deployments, ``encoding_format``, ``user``), and so is the answer, which goes
back as bytes.

Nothing here is Azure's own: :class:`~.adapter.AzureOpenAIProvider` inherits ``embed`` and the
``embeddings`` capability from the OpenAI adapter, which asks it for the URL
(``{api_base}/openai/deployments/{deployment}/embeddings?api-version=...``, or
``{api_base}/openai/v1/embeddings`` with the deployment as ``model``), the ``api-key`` or Entra
bearer header, the model to send and the error parser (Azure's numeric codes -> OpenAI's names).
"""

from __future__ import annotations

from lambdagate.providers.openai.embeddings import PATH, build_body, embed, embedding_list

__all__ = ["PATH", "build_body", "embed", "embedding_list"]
