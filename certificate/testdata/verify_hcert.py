#!/usr/bin/python3
"""An independent check of a certificate the gateway issued.

Written from the HCERT specification and RFC 9052/9285 with nothing but
Debian's python3-cbor2 and python3-cryptography, so that it shares no code
with the Go implementation it checks.

usage: verify_hcert.py SIGNER.pem < QR-STRING
prints the health certificate as JSON; exits 1 with a reason when invalid.
"""
import hashlib
import json
import sys
import zlib

import cbor2
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature
from cryptography.hazmat.primitives.serialization import Encoding

ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ $%*+-./:"


def b45decode(s):
    out = bytearray()
    for i in range(0, len(s), 3):
        chunk = [ALPHABET.index(c) for c in s[i:i + 3]]
        n = sum(v * 45 ** k for k, v in enumerate(chunk))
        out += n.to_bytes(2 if len(chunk) == 3 else 1, "big")
    return bytes(out)


def fail(reason):
    print(reason, file=sys.stderr)
    sys.exit(1)


def main():
    cert = x509.load_pem_x509_certificate(open(sys.argv[1], "rb").read())
    qr = sys.stdin.read().strip()
    if not qr.startswith("HC1:"):
        fail("no HC1: prefix")
    cose = cbor2.loads(zlib.decompress(b45decode(qr[4:])))
    if isinstance(cose, cbor2.CBORTag):
        if cose.tag != 18:
            fail("tag %d is not COSE_Sign1" % cose.tag)
        cose = cose.value
    protected_bstr, unprotected, payload, signature = cose
    protected = cbor2.loads(protected_bstr) if protected_bstr else {}
    if protected.get(1) != -7:
        fail("algorithm %r is not ES256" % protected.get(1))
    kid = protected.get(4, unprotected.get(4))
    if kid != hashlib.sha256(cert.public_bytes(Encoding.DER)).digest()[:8]:
        fail("key ID is not the signer certificate's")
    to_be_signed = cbor2.dumps(["Signature1", protected_bstr, b"", payload])
    r = int.from_bytes(signature[:32], "big")
    s = int.from_bytes(signature[32:], "big")
    try:
        cert.public_key().verify(encode_dss_signature(r, s), to_be_signed, ec.ECDSA(hashes.SHA256()))
    except Exception:
        fail("signature does not verify")
    claims = cbor2.loads(payload)
    print(json.dumps({"iss": claims[1], "iat": claims[6], "exp": claims[4], "hcert": claims[-260][1]}))


main()
