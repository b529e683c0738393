"""Which trust store load the upstream TLS context gets: the hashed directory only when it trusts the same.

Each case lays out a bundle file and hashed directories of throwaway authorities (``trustme``) in
``tmp_path`` and points the default verify paths at them; the handshake itself is proven through
the chat function in ``test_init_first_request.py``.
"""

from __future__ import annotations

import hashlib
import ssl
from pathlib import Path

import pytest
import trustme
from cryptography import x509

from lambdagate import trust_store

UNSET_FILE_ENV, UNSET_DIR_ENV = "LAMBDAGATE_TEST_NO_CERT_FILE", "LAMBDAGATE_TEST_NO_CERT_DIR"


def subject_hash(pem: bytes) -> str:
    """OpenSSL's subject hash (``openssl x509 -subject_hash``) of a certificate whose subject is canonical.

    OpenSSL hashes the name's canonical encoding (UTF8String, lower case, the RDN sets without the
    outer SEQUENCE); ``authority`` names are lower-case UTF8String already, so the DER is that.
    """
    der = x509.load_pem_x509_certificate(pem).subject.public_bytes()
    length = der[1]
    start = 2 if length < 0x80 else 2 + (length & 0x7F)
    return f"{int.from_bytes(hashlib.sha1(der[start:]).digest()[:4], 'little'):08x}"


def authority(n: int) -> trustme.CA:
    return trustme.CA(organization_name="lambdagate", organization_unit_name=f"testca{n}")


def hashed_directory(path: Path, *authorities: trustme.CA) -> Path:
    path.mkdir(parents=True)
    for ca in authorities:
        pem = ca.cert_pem.bytes()
        (path / f"{subject_hash(pem)}.0").write_bytes(pem)
    (path / "README").write_text("not a certificate: ignored")
    return path


def bundle(path: Path, *authorities: trustme.CA) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"".join(b"# a comment line\n" + ca.cert_pem.bytes() for ca in authorities))
    return path


def verify_paths(cafile: Path, capath: Path) -> ssl.DefaultVerifyPaths:
    return ssl.DefaultVerifyPaths(str(cafile), str(capath), UNSET_FILE_ENV, str(cafile), UNSET_DIR_ENV, str(capath))


def test_a_directory_with_the_bundles_certificates_is_loaded_instead(tmp_path: Path) -> None:
    one, two = authority(1), authority(2)
    directory = hashed_directory(tmp_path / "certs", one, two)
    paths = verify_paths(bundle(tmp_path / "bundle.pem", two, one), directory)
    assert trust_store.lazy_directory(paths) == str(directory)


def test_a_default_directory_missing_one_of_the_bundles_certificates_is_not_used(tmp_path: Path) -> None:
    one, two = authority(1), authority(2)
    directory = hashed_directory(tmp_path / "certs", one)
    paths = verify_paths(bundle(tmp_path / "bundle.pem", one, two), directory)
    assert trust_store.lazy_directory(paths) is None


def test_a_default_directory_with_more_than_the_bundle_is_used(tmp_path: Path) -> None:
    """The default load trusts the directory as well as the file: their union is the directory."""
    one, two = authority(1), authority(2)
    directory = hashed_directory(tmp_path / "certs", one, two)
    paths = verify_paths(bundle(tmp_path / "bundle.pem", one), directory)
    assert trust_store.lazy_directory(paths) == str(directory)


def test_update_ca_trusts_directory_beside_the_bundle_joins_the_default_one(tmp_path: Path) -> None:
    one, two = authority(1), authority(2)
    extracted = tmp_path / "ca-trust" / "extracted" / "pem"
    bundle_file = bundle(extracted / "tls-ca-bundle.pem", one, two)
    link = tmp_path / "tls" / "cert.pem"
    link.parent.mkdir()
    link.symlink_to(bundle_file)
    unhashed = tmp_path / "tls" / "certs"
    unhashed.mkdir()
    (unhashed / "ca-bundle.crt").symlink_to(bundle_file)
    beside = hashed_directory(extracted / "directory-hash", one, two)
    assert trust_store.lazy_directory(verify_paths(link, unhashed)) == f"{unhashed}:{beside}"


def test_a_directory_beside_the_bundle_with_an_extra_authority_is_not_used(tmp_path: Path) -> None:
    one, two = authority(1), authority(2)
    bundle_file = bundle(tmp_path / "pem" / "tls-ca-bundle.pem", one)
    hashed_directory(tmp_path / "pem" / "directory-hash", one, two)
    (tmp_path / "certs").mkdir()
    assert trust_store.lazy_directory(verify_paths(bundle_file, tmp_path / "certs")) is None


def test_the_environment_names_the_files_openssl_reads(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    one = authority(1)
    directory = hashed_directory(tmp_path / "env-certs", one)
    monkeypatch.setenv(UNSET_FILE_ENV, str(bundle(tmp_path / "env.pem", one)))
    monkeypatch.setenv(UNSET_DIR_ENV, f"{directory}:{tmp_path / 'missing'}")
    # The compiled-in defaults do not exist: only the environment's files count.
    paths = verify_paths(tmp_path / "no-bundle.pem", tmp_path / "no-certs")
    assert trust_store.lazy_directory(paths) == str(directory)


def test_no_bundle_means_openssls_own_load(tmp_path: Path) -> None:
    directory = hashed_directory(tmp_path / "certs", authority(1))
    assert trust_store.lazy_directory(verify_paths(tmp_path / "absent.pem", directory)) is None


def test_inside_the_block_a_verifying_context_loads_lazily_and_an_unverified_one_not_at_all(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    one = authority(1)
    directory = hashed_directory(tmp_path / "certs", one)
    monkeypatch.setenv("SSL_CERT_FILE", str(bundle(tmp_path / "bundle.pem", one)))
    monkeypatch.setenv("SSL_CERT_DIR", str(directory))
    trust_store.reset()
    try:
        with trust_store.lazy_default_loads():
            verifying = ssl.create_default_context()
            unverified = ssl.create_default_context()
            unverified.check_hostname = False
            unverified.verify_mode = ssl.CERT_NONE
            unverified.set_default_verify_paths()
        after = ssl.create_default_context()
    finally:
        trust_store.reset()
    assert verifying.cert_store_stats()["x509_ca"] == 0  # read at the handshake, from the directory
    assert unverified.cert_store_stats()["x509_ca"] == 0
    assert after.cert_store_stats()["x509_ca"] == 1  # outside the block: OpenSSL's own load of the file
    assert "set_default_verify_paths" not in ssl.SSLContext.__dict__
