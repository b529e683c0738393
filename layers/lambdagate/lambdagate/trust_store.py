"""The system trust store, loaded into a TLS context as late as OpenSSL allows.

OpenSSL's default verify paths are a bundle file, parsed whole when it is loaded (about 40 ms of
CPU for 144 certificates under OpenSSL 3 on the development machine, seven times that at 256 MB's
CPU share on Lambda), and a hashed directory (``<subject hash>.<n>`` names), from which a handshake
reads only the certificate that it needs. When a hashed directory holds exactly the bundle's
certificates, loading the directory alone trusts the same authorities and moves the parsing from
init to the first handshake, one certificate at a time. Which directory: OpenSSL's default one
(Debian and Ubuntu keep it hashed) or the ``directory-hash`` folder that update-ca-trust (Fedora,
RHEL and their derivatives, whose default folder is not hashed) writes beside its bundle. Lambda's
own file system is not checked here: where neither matches, the load is OpenSSL's, as before.

The comparison reads the files' PEM text without parsing a certificate (about 4 ms). The files
are the ones OpenSSL would read (``SSL_CERT_FILE`` and ``SSL_CERT_DIR`` honoured), and anything that
does not match falls back to OpenSSL's own default load, so the trust is never wider or narrower
than ``set_default_verify_paths`` gives: a directory missing one certificate of the bundle or
holding one more, no hashed directory, no bundle.
"""

from __future__ import annotations

import contextlib
import os
import ssl
from collections.abc import Callable, Iterator

_BEGIN = b"-----BEGIN CERTIFICATE-----"
_END = b"-----END CERTIFICATE-----"
_lazy_directory: str | bool | None = False  # False: not looked for yet; None: there is none


def _certificates(pem: bytes) -> set[bytes]:
    """The base64 bodies of the certificates in a PEM text (whitespace dropped, nothing decoded)."""
    bodies = set()
    for block in pem.split(_BEGIN)[1:]:
        body, ended, _ = block.partition(_END)
        if ended:
            bodies.add(b"".join(body.split()))
    return bodies


def _is_subject_hash_name(name: str) -> bool:
    stem, dot, index = name.partition(".")
    return bool(dot) and len(stem) == 8 and index.isdigit() and all(c in "0123456789abcdef" for c in stem)


def _read(path: str) -> bytes:
    with open(path, "rb") as file:
        return file.read()


def _directory_certificates(directory: str) -> set[bytes] | None:
    """The certificates a hashed directory offers a handshake; None when it has no hashed name."""
    bodies: set[bytes] = set()
    named = False
    with os.scandir(directory) as entries:
        for entry in entries:
            if _is_subject_hash_name(entry.name):
                named = True
                try:
                    bodies |= _certificates(_read(entry.path))
                except OSError:  # a dangling link: OpenSSL would skip it too
                    continue
    return bodies if named else None


def _union(directories: list[str]) -> set[bytes]:
    bodies: set[bytes] = set()
    for directory in directories:
        bodies |= _directory_certificates(directory) or set()
    return bodies


def lazy_directory(paths: ssl.DefaultVerifyPaths | None = None) -> str | None:
    """Hashed directories (``os.pathsep``-joined) that trust exactly what the default load trusts, or None.

    The default load trusts the bundle file (``SSL_CERT_FILE`` or OpenSSL's default) and the hashed
    directories (``SSL_CERT_DIR`` or OpenSSL's default). Those directories alone will do when they
    hold every certificate of the bundle; otherwise update-ca-trust's ``directory-hash`` beside the
    bundle joins them when it holds nothing the default load does not trust.
    """
    paths = paths or ssl.get_default_verify_paths()
    bundle_file = os.environ.get(paths.openssl_cafile_env) or paths.openssl_cafile
    listed = os.environ.get(paths.openssl_capath_env)
    directories = [d for d in (listed.split(os.pathsep) if listed else [paths.openssl_capath]) if os.path.isdir(d)]
    try:
        bundle_file = os.path.realpath(bundle_file)
        bundle = _certificates(_read(bundle_file))
        in_directories = _union(directories)
        if bundle <= in_directories:
            return os.pathsep.join(directories) if directories else None
        beside = os.path.join(os.path.dirname(bundle_file), "directory-hash")
        if os.path.isdir(beside):
            extracted = _union([beside])
            if bundle <= extracted | in_directories and extracted <= bundle | in_directories:
                return os.pathsep.join([*directories, beside])
    except OSError:  # no bundle (nothing to parse ahead) or an unreadable folder: OpenSSL's own load
        return None
    return None


def _load(context: ssl.SSLContext, load_default_paths: Callable[[ssl.SSLContext], None]) -> None:
    global _lazy_directory
    if _lazy_directory is False:  # once per process: the trust store does not change under a function
        _lazy_directory = lazy_directory()
    if isinstance(_lazy_directory, str):
        context.load_verify_locations(capath=_lazy_directory)
    else:
        load_default_paths(context)


@contextlib.contextmanager
def lazy_default_loads() -> Iterator[None]:
    """Inside the block, a context's default trust store load reads the hashed directory when it can.

    Libraries build their default contexts with ``ssl.create_default_context()`` at import (aiohttp
    builds a verified and an unverified one), which calls ``set_default_verify_paths``; patching that
    one method for the length of the block is the only way to reach those loads. A context that
    verifies nothing (``CERT_NONE``) never looks at the store, so its load is skipped altogether.
    Every context built after the block loads as OpenSSL does.
    """
    inherited = "set_default_verify_paths" not in ssl.SSLContext.__dict__
    load_default_paths = ssl.SSLContext.set_default_verify_paths

    def load(context: ssl.SSLContext) -> None:
        if context.verify_mode != ssl.CERT_NONE:
            _load(context, load_default_paths)

    ssl.SSLContext.set_default_verify_paths = load  # type: ignore[method-assign, assignment]
    try:
        yield
    finally:
        if inherited:
            del ssl.SSLContext.set_default_verify_paths
        else:
            ssl.SSLContext.set_default_verify_paths = load_default_paths  # type: ignore[method-assign]


def reset() -> None:
    """Look for the directory again on the next load (tests that change the environment)."""
    global _lazy_directory
    _lazy_directory = False
