"""Sign a file as an agency's system would, with SM2/SM3 and a self-issued certificate: what the
demo's signed sample and the signature tests send. Not part of the pipeline, which only verifies
(archival/signatures.py); a real agency signs with the key its CA certified."""

from __future__ import annotations

import base64
import datetime as dt
import hashlib

from asn1crypto import algos, keys, x509

from archival import sm2


def sm2_private_key(seed: str) -> int:
    """A deterministic private key from a seed, so the samples are the same bytes every run."""
    return int.from_bytes(hashlib.sha256(seed.encode()).digest(), "big") % (sm2.N - 2) + 1


def sm2_certificate(private: int, common_name: str, organisation: str,
                    not_before: dt.datetime, not_after: dt.datetime) -> bytes:  # fmt: skip
    """A self-issued X.509 v3 certificate (DER) for the key, signed SM3withSM2."""
    public = sm2.private_to_public(private)
    name = x509.Name.build(
        {"common_name": common_name, "organization_name": organisation, "country_name": "CN"}
    )
    signature_algorithm = algos.SignedDigestAlgorithm({"algorithm": sm2.SIGNATURE_OID})
    tbs = x509.TbsCertificate({
        "version": "v3",
        "serial_number": int.from_bytes(hashlib.sha256(common_name.encode()).digest()[:8], "big"),
        "signature": signature_algorithm,
        "issuer": name,
        "validity": {"not_before": x509.Time({"utc_time": not_before}),
                     "not_after": x509.Time({"utc_time": not_after})},
        "subject": name,
        "subject_public_key_info": keys.PublicKeyInfo({
            "algorithm": {"algorithm": "ec", "parameters": keys.ECDomainParameters(
                name="named", value=sm2.CURVE_OID)},
            "public_key": sm2.encode_point(public),
        }),
    })  # fmt: skip
    signature = sm2_sign(private, [tbs.dump()])
    return x509.Certificate(
        {
            "tbs_certificate": tbs,
            "signature_algorithm": signature_algorithm,
            "signature_value": base64.b64decode(signature),
        }
    ).dump()


def sm2_sign(private: int, chunks: list[bytes]) -> str:
    """The SM2/SM3 signature on the concatenated chunks, DER-encoded, as base64 (签名结果)."""
    public = sm2.private_to_public(private)
    r, s = sm2.sign(private, sm2.digest(public, chunks))
    return base64.b64encode(algos.DSASignature({"r": r, "s": s}).dump()).decode()
