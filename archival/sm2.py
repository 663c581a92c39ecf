"""SM2 signatures with SM3 (GB/T 32918.2-2016, GB/T 35276-2017): verify, and sign for the samples.

Written here because no library fits: OpenSSL has SM2, but `cryptography` does not expose it
("Curve 1.2.156.10197.1.301 is not supported"); the pure-Python packages hash the whole message in
pure Python from memory (gmalg), or corrupt public keys whose X coordinate begins with 0 or 4
(gmssl 3.2.2 `lstrip("04")`). Here the message digest is streamed through OpenSSL's SM3
(`hashlib.new("sm3")`), and only the curve arithmetic, two scalar multiplications per signature, is
Python integers. A unit test checks it against OpenSSL's own SM2 signatures.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Iterable

# The recommended curve sm2p256v1 (GB/T 32918.5-2017).
P = 0xFFFFFFFE_FFFFFFFF_FFFFFFFF_FFFFFFFF_FFFFFFFF_00000000_FFFFFFFF_FFFFFFFF
A = 0xFFFFFFFE_FFFFFFFF_FFFFFFFF_FFFFFFFF_FFFFFFFF_00000000_FFFFFFFF_FFFFFFFC
B = 0x28E9FA9E_9D9F5E34_4D5A9E4B_CF6509A7_F39789F5_15AB8F92_DDBCBD41_4D940E93
N = 0xFFFFFFFE_FFFFFFFF_FFFFFFFF_FFFFFFFF_7203DF6B_21C6052B_53BBF409_39D54123
G = (
    0x32C4AE2C_1F198119_5F990446_6A39C994_8FE30BBF_F2660BE1_715A4589_334C74C7,
    0xBC3736A2_F4F6779C_59BDCEE3_6B692153_D0A9877C_C62A4740_02DF32E5_2139F0A0,
)
CURVE_OID = "1.2.156.10197.1.301"  # sm2p256v1, in a certificate's public key parameters
SIGNATURE_OID = "1.2.156.10197.1.501"  # SM3withSM2, a certificate's signature algorithm
DEFAULT_ID = b"1234567812345678"  # the signer ID when none is agreed (GB/T 35276-2017 §10)

Point = tuple[int, int] | None  # None: the point at infinity


def _add(p1: Point, p2: Point) -> Point:
    if p1 is None:
        return p2
    if p2 is None:
        return p1
    (x1, y1), (x2, y2) = p1, p2
    if x1 == x2:
        if (y1 + y2) % P == 0:
            return None
        slope = (3 * x1 * x1 + A) * pow(2 * y1, -1, P) % P
    else:
        slope = (y2 - y1) * pow(x2 - x1, -1, P) % P
    x3 = (slope * slope - x1 - x2) % P
    return x3, (slope * (x1 - x3) - y1) % P


def _multiply(k: int, point: Point) -> Point:
    result: Point = None
    while k:
        if k & 1:
            result = _add(result, point)
        point = _add(point, point)
        k >>= 1
    return result


def on_curve(point: tuple[int, int]) -> bool:
    x, y = point
    return 0 <= x < P and 0 <= y < P and (y * y - x * x * x - A * x - B) % P == 0


def public_point(encoded: bytes) -> tuple[int, int]:
    """An uncompressed public key (04 ‖ X ‖ Y, as in a certificate) as a point on the curve."""
    if len(encoded) != 65 or encoded[0] != 4:
        raise ValueError("not an uncompressed SM2 public key (04 ‖ X ‖ Y, 65 bytes)")
    point = int.from_bytes(encoded[1:33], "big"), int.from_bytes(encoded[33:], "big")
    if not on_curve(point):
        raise ValueError("the public key is not a point on the SM2 curve")
    return point


def encode_point(point: tuple[int, int]) -> bytes:
    return b"\x04" + point[0].to_bytes(32, "big") + point[1].to_bytes(32, "big")


def digest(public: tuple[int, int], chunks: Iterable[bytes], signer_id: bytes = DEFAULT_ID) -> int:
    """e = SM3(Z ‖ M), Z binding the signer's ID and public key to the curve (GB/T 32918.2 §5.5)."""
    z = hashlib.new("sm3")
    z.update((len(signer_id) * 8).to_bytes(2, "big") + signer_id)
    for value in (A, B, *G, *public):
        z.update(value.to_bytes(32, "big"))
    e = hashlib.new("sm3", z.digest())
    for chunk in chunks:
        e.update(chunk)
    return int.from_bytes(e.digest(), "big")


def verify(public: tuple[int, int], e: int, r: int, s: int) -> bool:
    """Whether (r, s) is a signature by `public` on the digest `e` (GB/T 32918.2 §7)."""
    if not (1 <= r < N and 1 <= s < N):
        return False
    t = (r + s) % N
    if t == 0:
        return False
    point = _add(_multiply(s, G), _multiply(t, public))
    return point is not None and (e + point[0]) % N == r


def private_to_public(private: int) -> tuple[int, int]:
    point = _multiply(private, G)
    assert point is not None, "a private key is 1..n-2"
    return point


def sign(private: int, e: int) -> tuple[int, int]:
    """(r, s) on the digest `e`. Deterministic (k from an HMAC of key and digest, in the manner of
    RFC 6979), so the bundled samples are the same bytes on every run."""
    counter = 0
    while True:
        seed = hmac.digest(private.to_bytes(32, "big"), e.to_bytes(32, "big") + bytes([counter]),
                           "sha256")  # fmt: skip
        k = int.from_bytes(seed, "big") % (N - 1) + 1
        point = _multiply(k, G)
        assert point is not None
        r = (e + point[0]) % N
        s = pow(1 + private, -1, N) * (k - r * private) % N
        if r != 0 and r + k != N and s != 0:
            return r, s
        counter += 1
