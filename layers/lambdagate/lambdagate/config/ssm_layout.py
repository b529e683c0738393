"""Where each part of a configuration lives in SSM Parameter Store: names and their encoding.

One parameter per leaf, so a request reads O(1) parameters however many keys and models exist::

    {prefix}/settings                    String        JSON of Settings
    {prefix}/models/{alias}              String        JSON of one deployment or a list of them
    {prefix}/providers/{name}            String        JSON of ProviderConfig without ``api_key``
    {prefix}/providers/{name}/api_key    SecureString  the provider's API key
    {prefix}/keys/{sha256}               String        JSON of the KeyRecord

Alias and provider names are encoded into one name segment (:func:`encode_name`): SSM names allow
only ``a-zA-Z0-9_.-/``, and ``/`` would add a level. Letters, digits, ``.`` and ``-`` stay; every
other byte of the UTF-8 name, ``_`` included, becomes ``_XX`` (two upper-case hex digits), so
``claude-sonnet-4.5`` stays as it is, ``openai/gpt-4o`` is ``openai_2Fgpt-4o`` and ``llama3.2:1b``
is ``llama3.2_3A1b``. ``_`` is the escape because it is the one allowed character aliases rarely use.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

MAX_NAME_LENGTH = 1011
"""The longest parameter name SSM accepts; longer model names cannot exist and are not looked up."""
SHA256_RE = re.compile(r"^[0-9a-f]{64}$")

_KEEP = re.compile(r"[A-Za-z0-9.-]")
_ESCAPE = re.compile(r"_([0-9A-F]{2})")


def encode_name(name: str) -> str:
    """One SSM name segment for an alias or provider name (see the module docstring)."""
    if not name:
        raise ValueError("an empty name cannot be stored in SSM")
    return "".join(ch if _KEEP.fullmatch(ch) else "".join(f"_{b:02X}" for b in ch.encode()) for ch in name)


def decode_name(segment: str) -> str:
    """The name :func:`encode_name` encoded; ValueError if ``segment`` is not such an encoding."""
    out = bytearray()
    index = 0
    while index < len(segment):
        if segment[index] == "_":
            escape = _ESCAPE.match(segment, index)
            if escape is None:
                raise ValueError(f"not an encoded name: {segment!r}")
            out.append(int(escape.group(1), 16))
            index = escape.end()
        else:
            out += segment[index].encode()
            index += 1
    return out.decode("utf-8")


def normalize_prefix(prefix: str) -> str:
    """``lambdagate/`` -> ``/lambdagate``: SSM hierarchies start with ``/`` and names join with ``/``."""
    stripped = prefix.strip().strip("/")
    if not stripped:
        raise ValueError("an SSM prefix such as /lambdagate is required")
    if not re.fullmatch(r"[A-Za-z0-9_.\-/]+", stripped) or "//" in stripped:
        raise ValueError(f"invalid SSM prefix {prefix!r}: use letters, digits and _.-/")
    return "/" + stripped


@dataclass(frozen=True, slots=True)
class SsmLayout:
    """The parameter names of one configuration under ``prefix``."""

    prefix: str

    @classmethod
    def of(cls, prefix: str) -> SsmLayout:
        return cls(normalize_prefix(prefix))

    @property
    def settings(self) -> str:
        return f"{self.prefix}/settings"

    @property
    def models_path(self) -> str:
        return f"{self.prefix}/models"

    @property
    def providers_path(self) -> str:
        return f"{self.prefix}/providers"

    @property
    def keys_path(self) -> str:
        return f"{self.prefix}/keys"

    def model(self, alias: str) -> str:
        return f"{self.models_path}/{encode_name(alias)}"

    def provider(self, name: str) -> str:
        return f"{self.providers_path}/{encode_name(name)}"

    def api_key(self, provider: str) -> str:
        return f"{self.provider(provider)}/api_key"

    def key(self, sha256: str) -> str:
        return f"{self.keys_path}/{sha256}"

    def classify(self, name: str) -> tuple[str, str] | None:
        """``(kind, leaf)`` for a parameter name under the prefix, or None if it is not part of the layout.

        Kinds: ``settings``, ``model`` (leaf: alias), ``provider``, ``api_key`` (leaf: provider name),
        ``key`` (leaf: sha256).
        """
        if name == self.settings:
            return "settings", ""
        rest = name[len(self.prefix) + 1:] if name.startswith(self.prefix + "/") else None
        if rest is None:
            return None
        parts = rest.split("/")
        try:
            if len(parts) == 2 and parts[0] == "models":
                return "model", decode_name(parts[1])
            if len(parts) == 2 and parts[0] == "providers":
                return "provider", decode_name(parts[1])
            if len(parts) == 3 and parts[0] == "providers" and parts[2] == "api_key":
                return "api_key", decode_name(parts[1])
        except (UnicodeDecodeError, ValueError):
            return None
        if len(parts) == 2 and parts[0] == "keys" and SHA256_RE.fullmatch(parts[1]):
            return "key", parts[1]
        return None


__all__ = ["MAX_NAME_LENGTH", "SHA256_RE", "SsmLayout", "decode_name", "encode_name", "normalize_prefix"]
