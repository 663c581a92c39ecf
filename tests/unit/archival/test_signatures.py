"""Electronic signatures: SM2 against OpenSSL, and each outcome of verifying a signature on a file
(archival/signatures.py), as YJ-1-1 of the check at receipt reports it."""

from __future__ import annotations

import base64
import dataclasses
import datetime as dt
import subprocess
from pathlib import Path
from typing import Any

import pytest
from asn1crypto import algos, keys
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.x509.oid import NameOID
from hypothesis import given, settings
from hypothesis import strategies as st

from archival import sm2
from archival.checks import FAIL, NOT_CHECKED, PASS, SignatureCheck, SubResult
from archival.signatures import algorithm, check_signature
from recordflow.demo.signing import sm2_certificate, sm2_private_key, sm2_sign
from tests.unit.archival.test_checks import check, component, evidence

VALID_FROM = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
VALID_UNTIL = dt.datetime(2028, 1, 1, tzinfo=dt.UTC)
SIGNED_AT = dt.datetime(2026, 4, 2, 1, 30, tzinfo=dt.UTC)
KEY = sm2_private_key("zjj test")
CERTIFICATE = sm2_certificate(
    KEY, "市住房和城乡建设局", "市住房和城乡建设局", VALID_FROM, VALID_UNTIL
)
CONTENT = "关于申请老旧小区改造专项资金的请示\n".encode() * 200


@pytest.fixture
def document(tmp_path: Path) -> Path:
    path = tmp_path / "请示.pdf"
    path.write_bytes(CONTENT)
    return path


def signature(**changes: Any) -> dict[str, Any]:
    base = {
        "signature_id": "sig-1", "rule": "GB/T 38540", "time": SIGNED_AT, "signer": "市住房和城乡建设局",
        "result": sm2_sign(KEY, [CONTENT]), "certificate": CERTIFICATE,
        "certificate_reference": None, "algorithm": "SM2",
    }  # fmt: skip
    return {**base, **changes}


# --- SM2 against OpenSSL -------------------------------------------------------------------
def openssl(*args: str, cwd: Path) -> None:
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True)


def test_openssl_sm2_signature_verifies_here_and_ours_there(tmp_path: Path) -> None:
    (tmp_path / "message").write_bytes(CONTENT)
    openssl("genpkey", "-algorithm", "SM2", "-out", "key.pem", cwd=tmp_path)
    openssl("pkey", "-in", "key.pem", "-outform", "DER", "-out", "key.der", cwd=tmp_path)
    openssl("pkey", "-in", "key.pem", "-pubout", "-out", "public.pem", cwd=tmp_path)
    openssl("pkeyutl", "-sign", "-rawin", "-digest", "sm3", "-inkey", "key.pem",
            "-pkeyopt", "distid:1234567812345678", "-in", "message", "-out", "openssl.sig",
            cwd=tmp_path)  # fmt: skip
    # OpenSSL writes an SM2 key as an EC key (SEC 1) in DER
    private = keys.ECPrivateKey.load((tmp_path / "key.der").read_bytes())["private_key"].native
    public = sm2.private_to_public(private)

    theirs = algos.DSASignature.load((tmp_path / "openssl.sig").read_bytes()).native
    e = sm2.digest(public, [CONTENT])
    assert sm2.verify(public, e, theirs["r"], theirs["s"])
    assert not sm2.verify(public, sm2.digest(public, [CONTENT + b"!"]), theirs["r"], theirs["s"])

    (tmp_path / "ours.sig").write_bytes(base64.b64decode(sm2_sign(private, [CONTENT])))
    openssl(
        "pkeyutl",
        "-verify",
        "-pubin",
        "-inkey",
        "public.pem",
        "-rawin",
        "-digest",
        "sm3",
        "-pkeyopt",
        "distid:1234567812345678",
        "-in",
        "message",
        "-sigfile",
        "ours.sig",
        cwd=tmp_path,
    )  # fmt: skip (check=True: raises unless OpenSSL says it verifies)


def test_openssl_reads_our_sm2_certificate_and_verifies_its_self_signature(tmp_path: Path) -> None:
    (tmp_path / "cert.der").write_bytes(CERTIFICATE)
    openssl("x509", "-inform", "DER", "-in", "cert.der", "-out", "cert.pem", cwd=tmp_path)
    openssl("verify", "-CAfile", "cert.pem", "cert.pem", cwd=tmp_path)


@settings(max_examples=10, deadline=None)
@given(st.integers(1, sm2.N - 2), st.binary(max_size=200), st.integers(0, 199))
def test_sm2_signs_and_verifies_and_a_changed_byte_fails(
    private: int, message: bytes, flip: int
) -> None:
    public = sm2.private_to_public(private)
    r, s = sm2.sign(private, sm2.digest(public, [message]))
    assert sm2.verify(public, sm2.digest(public, [message[:7], message[7:]]), r, s)
    changed = bytearray(message or b"\0")
    changed[flip % len(changed)] ^= 1
    assert not sm2.verify(public, sm2.digest(public, [bytes(changed)]), r, s)


def test_sm2_refuses_out_of_range_values_and_points_off_the_curve() -> None:
    public = sm2.private_to_public(KEY)
    e = sm2.digest(public, [CONTENT])
    r, s = sm2.sign(KEY, e)
    assert sm2.verify(public, e, r, s)
    assert not sm2.verify(public, e, r + sm2.N, s)
    assert not sm2.verify(public, e, r, 0)
    with pytest.raises(ValueError, match="not a point on the SM2 curve"):
        sm2.public_point(
            b"\x04" + (public[0] + 1).to_bytes(32, "big") + public[1].to_bytes(32, "big")
        )
    with pytest.raises(ValueError, match="uncompressed"):
        sm2.public_point(sm2.encode_point(public)[1:])


# --- one signature on a file ------------------------------------------------------------------
@pytest.mark.parametrize("name", ["SM2", "sm2-with-sm3", "SM3withSM2", "1.2.156.10197.1.501"])
def test_the_names_agencies_give_sm2_with_sm3(name: str) -> None:
    assert algorithm(name) == algorithm("SM2") and algorithm("SM2") is not None


def test_a_good_sm2_signature_passes(document: Path) -> None:
    result = check_signature(signature(), document)
    assert result.result == PASS, result.reason
    assert "SM2 with SM3 signature by 市住房和城乡建设局 verifies" in result.reason
    assert "chain not checked" in result.reason


def test_a_raw_r_s_sm2_signature_passes_too(document: Path) -> None:
    public = sm2.private_to_public(KEY)
    r, s = sm2.sign(KEY, sm2.digest(public, [CONTENT]))
    raw = base64.b64encode(r.to_bytes(32, "big") + s.to_bytes(32, "big")).decode()
    assert check_signature(signature(result=raw), document).result == PASS


@pytest.mark.parametrize(
    ("changes", "reason"),
    [
        ({"result": sm2_sign(KEY, [CONTENT + b" "])}, "does not match the file 签名验证失败"),
        ({"result": sm2_sign(sm2_private_key("someone else"), [CONTENT])}, "does not match"),
        ({"time": dt.datetime(2028, 3, 1, tzinfo=dt.UTC)}, "outside the certificate's validity"),
        ({"time": dt.datetime(2025, 12, 31, tzinfo=dt.UTC)}, "2026-01-01..2028-01-01"),
        ({"certificate": b"not a certificate"}, "not a DER X.509 certificate 证书无法解析"),
        ({"certificate": CERTIFICATE + b"\0"}, "not a DER X.509 certificate"),
        ({"algorithm": "SHA256withRSA"}, "holds an SM2 key, not RSA"),
        ({"result": base64.b64encode(b"\x30\x03\x02\x01").decode()}, "signature unreadable"),
    ],
)
def test_a_bad_signature_fails(document: Path, changes: dict[str, Any], reason: str) -> None:
    result = check_signature(signature(**changes), document)
    assert result == SignatureCheck("sig-1", FAIL, result.reason)
    assert reason in result.reason


@pytest.mark.parametrize(
    ("changes", "reason"),
    [
        ({"certificate": None}, "no certificate sent with the signature"),
        ({"certificate": None, "certificate_reference": "ldap://ca.example/cn=zjj"},
         "only a reference, ldap://ca.example/cn=zjj, which is not fetched"),
        ({"result": None}, "签名结果 is not a base64 signature value"),
        ({"result": "验证通过"}, "not a base64 signature value"),
        ({"algorithm": None}, "no signature algorithm (签名算法标识) given"),
        ({"algorithm": "GOST R 34.10"}, "'GOST R 34.10' is not supported here"),
    ],
)  # fmt: skip
def test_what_cannot_be_checked_says_why(
    document: Path, changes: dict[str, Any], reason: str
) -> None:
    result = check_signature(signature(**changes), document)
    assert result.result == NOT_CHECKED
    assert reason in result.reason


def test_a_signature_without_a_time_is_verified_without_the_validity_check(document: Path) -> None:
    result = check_signature(signature(time=None), document)
    assert result.result == PASS
    assert "signed within" not in result.reason


def _x509_certificate(key: Any) -> bytes:
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "市中级人民法院")])
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(7)
        .not_valid_before(VALID_FROM)
        .not_valid_after(VALID_UNTIL)
        .sign(key, hashes.SHA256())
    )
    return certificate.public_bytes(serialization.Encoding.DER)


def test_rsa_and_ecdsa_signatures_verify_and_a_changed_file_fails(document: Path) -> None:
    rsa_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    ec_key = ec.generate_private_key(ec.SECP256R1())
    cases = [
        (rsa_key, "SHA256withRSA", rsa_key.sign(CONTENT, padding.PKCS1v15(), hashes.SHA256())),
        (rsa_key, "RSA-SHA512", rsa_key.sign(CONTENT, padding.PKCS1v15(), hashes.SHA512())),
        (ec_key, "ECDSA-SHA256", ec_key.sign(CONTENT, ec.ECDSA(hashes.SHA256()))),
    ]
    for key, name, value in cases:
        signed = signature(
            algorithm=name,
            certificate=_x509_certificate(key),
            result=base64.b64encode(value).decode(),
        )
        result = check_signature(signed, document)
        assert result.result == PASS, (name, result.reason)
        assert "市中级人民法院" in result.reason
        document.write_bytes(CONTENT + b"x")
        assert check_signature(signed, document).result == FAIL, name
        document.write_bytes(CONTENT)


# --- in the check at receipt (YJ-1-1) ---------------------------------------------------------
def test_a_failing_signature_fails_yj_1_1_and_rejects_the_record() -> None:
    signed = component(signatures=[SignatureCheck("sig-1", FAIL, "SM2 … does not match")])
    report = check(evidence(signed))
    item = report.item("YJ-1-1")
    assert item.result == FAIL and report.rejects
    assert item.reason == "通知.pdf: signature sig-1 fails: SM2 … does not match"
    assert item.sub_results == (
        SubResult("通知.pdf signature sig-1", FAIL, "SM2 … does not match"),
    )


def test_an_unchecked_signature_leaves_yj_1_1_passing_and_says_so() -> None:
    signed = component(signatures=[SignatureCheck("sig-1", PASS, "verifies"),
                                   SignatureCheck("sig-2", NOT_CHECKED, "no certificate")])  # fmt: skip
    report = check(evidence(signed))
    item = report.item("YJ-1-1")
    assert item.result == PASS and not report.rejects
    assert "signature sig-2 not-checked: no certificate" in item.reason
    assert [sub.result for sub in item.sub_results] == [PASS, NOT_CHECKED]
    assert report.as_dict()["items"][0]["sub_results"][1] == {
        "subject": "通知.pdf signature sig-2",
        "result": NOT_CHECKED,
        "reason": "no certificate",
    }


def test_no_signatures_no_sub_results() -> None:
    item = check(evidence(dataclasses.replace(component(), signatures=()))).item("YJ-1-1")
    assert item.result == PASS and item.sub_results == ()
