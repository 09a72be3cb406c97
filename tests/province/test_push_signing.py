"""Signing an upload and checking it: HMAC-SHA256 and SM2 with SM3 (gmssl), both directions, keys from files."""
from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from gmssl import sm2  # type: ignore[import-untyped]

from centre.province.signing import (
    KeyFileError,
    SignatureError,
    canonical,
    load_signer,
    load_verifier,
    sign_request,
    sm2_new_keypair,
    verify_request,
)
from centre.province.upload import Signing, UploadSpec

NOW = datetime(2026, 12, 5, 3, 0, tzinfo=UTC)
BODY = b'{"batchId":"b1","records":[{"bjbh":"A-1","pjdj":"5"}]}'


def _keys(tmp_path: Path, signing: Signing, name: str = "k") -> tuple[Path, Path]:
    """(the signer's key file, the verifier's) for `signing`."""
    if signing is Signing.HMAC_SHA256:
        secret = tmp_path / f"{name}.secret"
        secret.write_text(f"a shared secret of {name} long enough\n")
        return secret, secret
    private, public = sm2_new_keypair()
    (tmp_path / f"{name}.sm2").write_text(private + "\n")
    (tmp_path / f"{name}.sm2.pub").write_text("04" + public + "\n")
    return tmp_path / f"{name}.sm2", tmp_path / f"{name}.sm2.pub"


@pytest.mark.parametrize("signing", list(Signing))
def test_a_signed_request_verifies_and_a_tampered_one_does_not(tmp_path, signing):
    spec = UploadSpec(signing=signing)
    private, public = _keys(tmp_path, signing)
    headers = sign_request(spec, load_signer(signing, private), "city-0100", "/api/pj", BODY, NOW)
    verifier = load_verifier(signing, public)
    verified = verify_request(spec, verifier, "POST", "/api/pj", headers, BODY, NOW + timedelta(seconds=5))
    assert verified.key_id == "city-0100" and verified.nonce == headers[spec.nonce_header]

    tampered = BODY.replace(b'"5"', b'"1"')
    for method, path, body, at in (("POST", "/api/pj", tampered, NOW), ("POST", "/api/other", BODY, NOW),
                                   ("PUT", "/api/pj", BODY, NOW)):
        with pytest.raises(SignatureError, match="bad signature"):
            verify_request(spec, verifier, method, path, headers, body, at)
    with pytest.raises(SignatureError, match="from the receiver's clock"):
        verify_request(spec, verifier, "POST", "/api/pj", headers, BODY, NOW + timedelta(seconds=301))
    stale = {**headers, spec.timestamp_header: str(int(NOW.timestamp()) + 1)}
    with pytest.raises(SignatureError, match="bad signature"):
        verify_request(spec, verifier, "POST", "/api/pj", stale, BODY, NOW)
    missing = {k: v for k, v in headers.items() if k != spec.signature_header}
    with pytest.raises(SignatureError, match=f"missing header {spec.signature_header}"):
        verify_request(spec, verifier, "POST", "/api/pj", missing, BODY, NOW)


@pytest.mark.parametrize("signing", list(Signing))
def test_a_wrong_key_fails_verification(tmp_path, signing):
    spec = UploadSpec(signing=signing)
    ours, _ = _keys(tmp_path, signing, "ours")
    _, theirs = _keys(tmp_path, signing, "someone-else")
    headers = sign_request(spec, load_signer(signing, ours), "city", "/p", BODY, NOW)
    with pytest.raises(SignatureError, match="bad signature"):
        verify_request(spec, load_verifier(signing, theirs), "POST", "/p", headers, BODY, NOW)


def test_sm2_signatures_are_the_standard_ones_gmssl_checks():
    """What we sign, gmssl's own verify_with_sm3 accepts (and the other way round): the GB/T 32918 signature
    with SM3 and the default user id, as a province's gmssl or GmSSL-based receiver checks it."""
    from centre.province.signing import Sm2PrivateKey, Sm2PublicKey, sm2_public_of

    private, public = sm2_new_keypair()
    message = canonical("POST", "/p", "1764903600", "n", BODY)
    ours = Sm2PrivateKey(private, sm2_public_of(private)).sign(message)
    theirs = sm2.CryptSM2(private_key=private, public_key=public)
    theirs.public_key = public
    assert theirs.verify_with_sm3(ours, message)
    assert Sm2PublicKey(public).verify(message, theirs.sign_with_sm3(message))
    assert not Sm2PublicKey(public).verify(message, "zz" * 64)
    assert not Sm2PublicKey(public).verify(message, "00" * 64)


def test_sm2_public_keys_beginning_with_0_or_4_work():
    """gmssl strips a public key's 04 prefix with lstrip("04"), which also eats a key's own leading 0s and 4s;
    the keys are set as parsed, so such a key signs and verifies like any other."""
    from centre.province.signing import Sm2PrivateKey, Sm2PublicKey

    for _ in range(200):
        private, public = sm2_new_keypair()
        if public[0] in "04":
            break
    else:
        pytest.fail("no key beginning with 0 or 4 in 200 draws")
    signature = Sm2PrivateKey(private, public).sign(b"m")
    assert Sm2PublicKey(public).verify(b"m", signature)


@pytest.mark.parametrize(("signing", "content", "problem"), [
    (Signing.HMAC_SHA256, "short", "the HMAC secret is 5 bytes; at least 16"),
    (Signing.SM2, "not hex at all", "not an SM2 private key: expected 64 hex digits"),
    (Signing.SM2, "0" * 64, "out of the curve's range"),
])
def test_a_malformed_signing_key_is_an_error_naming_its_file(tmp_path, signing, content, problem):
    path = tmp_path / "province.key"
    path.write_text(content)
    with pytest.raises(KeyFileError, match=problem) as caught:
        load_signer(signing, path)
    assert str(path) in caught.value.message


def test_a_missing_or_malformed_verifying_key_is_an_error_naming_its_file(tmp_path):
    with pytest.raises(KeyFileError, match=f"{tmp_path / 'nope.pub'}: no such key file"):
        load_verifier(Signing.SM2, tmp_path / "nope.pub")
    off_curve = tmp_path / "off.pub"
    off_curve.write_text("1" * 128)
    with pytest.raises(KeyFileError, match=f"{off_curve}: not an SM2 public key: the point is not on the curve"):
        load_verifier(Signing.SM2, off_curve)
    prefixed = tmp_path / "prefixed.pub"
    prefixed.write_text("05" + "1" * 128)
    with pytest.raises(KeyFileError, match="must start with 04"):
        load_verifier(Signing.SM2, prefixed)
