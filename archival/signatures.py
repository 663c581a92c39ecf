"""Verify the electronic signatures (电子签名) that ride along with a file: part of YJ-1-1.

An agency's system may sign a file before it sends it; the event carries each signature in
`file_details[].signatures` (DA/T 46 签名 elements): the signature value as base64 in 签名结果
(`result`), the signer's certificate (`certificate`, DER), the algorithm (`algorithm`) and the
signing time (`time`). A signature here is detached, over the file's bytes exactly as sent.

One signature gives one `SignatureCheck`:
- pass: the value verifies over the file with the certificate's public key, and the signing time,
  when given, lies within the certificate's validity;
- fail: it does not verify, the certificate is not one, its key does not fit the algorithm, or the
  file was signed outside the certificate's validity;
- not-checked: what is needed is not there (no certificate, only a reference to one; no signature
  value; an algorithm not supported here), said in the reason.
The certificate's chain to a trusted CA and its revocation are not checked: there is no trust list
here (recordflow/checks.yaml says so under not_at_receipt).

Supported: SM2 with SM3 (GB/T 35276; archival/sm2.py), RSA PKCS#1 v1.5 and ECDSA with SHA-256,
SHA-384 or SHA-512 (`cryptography`).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from asn1crypto import algos, x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa, utils

from archival import sm2
from archival.checks import FAIL, NOT_CHECKED, PASS, SignatureCheck

CHUNK = 1 << 20


@dataclass(frozen=True)
class Algorithm:
    key: str  # the certificate's key type: sm2, rsa or ec
    hash: str  # hashlib name

    @property
    def label(self) -> str:
        return f"{self.key.upper()} with {self.hash.upper()}"


SM2_SM3 = Algorithm("sm2", "sm3")
# Names agencies' systems use for the algorithm (签名算法标识), compared in capitals without
# punctuation, and the signature algorithm OIDs.
ALGORITHMS = {
    "SM2": SM2_SM3, "SM2SM3": SM2_SM3, "SM2WITHSM3": SM2_SM3, "SM3WITHSM2": SM2_SM3,
    sm2.SIGNATURE_OID: SM2_SM3,
    **{name: Algorithm("rsa", f"sha{bits}") for bits in (256, 384, 512)
       for name in (f"RSASHA{bits}", f"SHA{bits}WITHRSA", f"SHA{bits}WITHRSAENCRYPTION")},
    "1.2.840.113549.1.1.11": Algorithm("rsa", "sha256"),
    "1.2.840.113549.1.1.12": Algorithm("rsa", "sha384"),
    "1.2.840.113549.1.1.13": Algorithm("rsa", "sha512"),
    **{name: Algorithm("ec", f"sha{bits}") for bits in (256, 384, 512)
       for name in (f"ECDSASHA{bits}", f"SHA{bits}WITHECDSA")},
}  # fmt: skip
CRYPTOGRAPHY_HASHES: dict[str, hashes.HashAlgorithm] = {
    "sha256": hashes.SHA256(), "sha384": hashes.SHA384(), "sha512": hashes.SHA512(),
}  # fmt: skip


def algorithm(name: str | None) -> Algorithm | None:
    if not name:
        return None
    if name.strip() in ALGORITHMS:  # an OID
        return ALGORITHMS[name.strip()]
    return ALGORITHMS.get(re.sub(r"[^A-Z0-9]", "", name.upper()))


def check_signature(signature: Mapping[str, Any], content: Path) -> SignatureCheck:
    """Verify one signature over the file at `content`."""
    sid = signature["signature_id"]
    result, reason = _check(signature, content)
    return SignatureCheck(sid, result, reason)


def _check(signature: Mapping[str, Any], content: Path) -> tuple[Any, str]:
    scheme = algorithm(signature.get("algorithm"))
    if scheme is None:
        named = signature.get("algorithm")
        return NOT_CHECKED, (
            f"signature algorithm {named!r} is not supported here" if named
            else "no signature algorithm (签名算法标识) given"
        )  # fmt: skip
    if not signature.get("certificate"):
        where = signature.get("certificate_reference")
        return NOT_CHECKED, "no certificate sent with the signature" + (
            f" (only a reference, {where}, which is not fetched)" if where else ""
        )
    value = _signature_value(signature.get("result"))
    if value is None:
        return NOT_CHECKED, "签名结果 is not a base64 signature value"
    try:
        certificate = x509.Certificate.load(signature["certificate"], strict=True)
        names = certificate.subject.native
        subject = names.get("common_name") or certificate.subject.human_friendly
        key_type = certificate.public_key.algorithm
        not_before = certificate.not_valid_before
        not_after = certificate.not_valid_after
        if key_type == "ec" and certificate.public_key.curve[1] == sm2.CURVE_OID:
            key_type = "sm2"
    except (ValueError, TypeError, KeyError) as exc:
        return FAIL, f"the certificate is not a DER X.509 certificate 证书无法解析 ({exc})"
    if key_type != scheme.key:
        return FAIL, f"the certificate holds an {key_type.upper()} key, not {scheme.key.upper()}"
    signed_at = signature.get("time")
    if signed_at is not None and not not_before <= signed_at <= not_after:
        return FAIL, (
            f"signed at {signed_at:%Y-%m-%d %H:%M}, outside the certificate's validity "
            f"{not_before:%Y-%m-%d}..{not_after:%Y-%m-%d} 签名时证书不在有效期内"
        )
    try:
        verified = _verify(scheme, certificate, value, content)
    except ValueError as exc:
        return FAIL, f"{scheme.label} signature unreadable 签名值无效: {exc}"
    if not verified:
        return FAIL, f"{scheme.label} signature by {subject} does not match the file 签名验证失败"
    when = "" if signed_at is None else f", signed within its validity ({signed_at:%Y-%m-%d})"
    return PASS, (
        f"{scheme.label} signature by {subject} verifies with its certificate{when} 签名有效 "
        "(certificate chain not checked)"
    )


def _signature_value(text: str | None) -> bytes | None:
    if not text:
        return None
    try:
        return base64.b64decode(text.strip(), validate=True)
    except (binascii.Error, ValueError):
        return None


def _chunks(path: Path) -> Iterator[bytes]:
    with path.open("rb") as handle:
        while chunk := handle.read(CHUNK):
            yield chunk


def _verify(scheme: Algorithm, certificate: x509.Certificate, value: bytes, content: Path) -> bool:
    if scheme.key == "sm2":
        public = sm2.public_point(certificate.public_key["public_key"].native)
        r, s = _sm2_signature(value)
        return sm2.verify(public, sm2.digest(public, _chunks(content)), r, s)
    digest = hashlib.new(scheme.hash)
    for chunk in _chunks(content):
        digest.update(chunk)
    key = serialization.load_der_public_key(certificate.public_key.dump())
    prehashed = utils.Prehashed(CRYPTOGRAPHY_HASHES[scheme.hash])
    try:
        if isinstance(key, rsa.RSAPublicKey):
            key.verify(value, digest.digest(), padding.PKCS1v15(), prehashed)
        elif isinstance(key, ec.EllipticCurvePublicKey):
            key.verify(value, digest.digest(), ec.ECDSA(prehashed))
        else:
            raise ValueError(f"a {type(key).__name__} key is not {scheme.key.upper()}")
    except InvalidSignature:
        return False
    return True


def _sm2_signature(value: bytes) -> tuple[int, int]:
    """(r, s) from DER (GB/T 35276 SM2Signature), or from the 64-byte r ‖ s some systems send."""
    if len(value) == 64:
        return int.from_bytes(value[:32], "big"), int.from_bytes(value[32:], "big")
    parsed = algos.DSASignature.load(value, strict=True).native
    return parsed["r"], parsed["s"]
