#!/usr/bin/env python3
"""Generate password-hash test vectors with implementations we did not write.

    pip install passlib bcrypt argon2-cffi cryptography
    python3 crates/identity-password/vectors/generate.py > crates/identity-password/vectors/vectors.json

Sources: the `bcrypt` module (and passlib's builtin backend for the original
`$2$`), argon2-cffi, passlib (md5_crypt, sha256_crypt, sha512_crypt,
ldap_salted_sha*, and its MD4 fallback), the system crypt(3) through Python's
`crypt` module when present, hashlib (pbkdf2_hmac, scrypt, digests), hmac,
and cryptography's AES-CTR for Firebase scrypt.

Every salt comes from a seeded RNG so that re-running yields the same file.
Costs are modest so that the Rust tests stay fast. The Kratos spellings of
SPEC §7 are produced by rewriting the standard prefixes (`$1$` ->
`$md5-crypt$`, ...), exactly as Kratos rewrites them back.

Each vector: {format, note, hash, password, wrong}; verify(password) must be
true and verify(wrong) false. `errors` lists (hash, password, kind) where
verify must fail with that kind. `malformed` lists (format, note, hash, kind)
where check_import and verify must fail with that kind.
"""

import base64
import hashlib
import hmac
import json
import os
import random
import sys
import warnings

warnings.filterwarnings("ignore")
os.environ.setdefault("PASSLIB_BUILTIN_BCRYPT", "enabled")

import argon2  # noqa: E402
import bcrypt  # noqa: E402
import cryptography  # noqa: E402
import passlib  # noqa: E402
from argon2.low_level import Type, hash_secret  # noqa: E402
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes  # noqa: E402
from passlib.crypto.digest import lookup_hash  # noqa: E402
from passlib.hash import bcrypt as passlib_bcrypt  # noqa: E402
from passlib.hash import (  # noqa: E402
    ldap_salted_sha1,
    ldap_salted_sha256,
    ldap_salted_sha512,
    md5_crypt,
    sha256_crypt,
    sha512_crypt,
)

try:
    import crypt as system_crypt  # deprecated, gone in Python 3.13
except ImportError:  # pragma: no cover
    system_crypt = None

RNG = random.Random(20240607)
HASH64 = "./0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"

# Passwords: ASCII, Unicode (multi-byte, astral plane) and 1 KiB.
ASCII = "correct horse battery staple"
UNICODE = "pässwörd ✓ 密码 🔑"
# Exactly 1024 bytes of UTF-8, ending in multi-byte characters.
KIB = ("0123456789abcdef" * 64)[:1024 - len("ü".encode()) * 8] + "ü" * 8
assert len(KIB.encode()) == 1024, len(KIB.encode())
PASSWORDS = [ASCII, UNICODE, KIB, "p", "Tr0ub4dor&3"]


def wrong_for(password):
    """A password that differs from `password` (never empty)."""
    if password == ASCII:
        return "correct horse battery stapl"
    if password == UNICODE:
        return "passwörd ✓ 密码 🔑"
    if len(password.encode()) >= 72:
        return password[:-1] + ("x" if password[-1] != "x" else "y")
    return password + "!"


def rbytes(n):
    return bytes(RNG.getrandbits(8) for _ in range(n))


def rhash64(n):
    return "".join(RNG.choice(HASH64) for _ in range(n))


def b64(data):
    return base64.b64encode(data).decode()


def b64_nopad(data):
    return base64.b64encode(data).decode().rstrip("=")


vectors = []
errors = []
malformed = []


def vec(fmt, note, encoded, password):
    vectors.append(
        {
            "format": fmt,
            "note": note,
            "hash": encoded,
            "password": password,
            "wrong": wrong_for(password),
        }
    )


def bad(fmt, note, encoded, kind):
    malformed.append({"format": fmt, "note": note, "hash": encoded, "kind": kind})


# ---------------------------------------------------------------- bcrypt
BCRYPT_B64 = "./ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"


def bcrypt_salt():
    # 22 chars whose last one carries no stray bits (canonical encoding).
    return "".join(RNG.choice(BCRYPT_B64) for _ in range(21)) + RNG.choice(".Oeu")


bcrypt_cases = [
    ("2a", 4, ASCII),
    ("2b", 5, UNICODE),
    ("2b", 6, "Tr0ub4dor&3"),
    ("2a", 4, "x" * 72),
]
for ident, cost, pw in bcrypt_cases:
    salt = f"${ident}${cost:02d}${bcrypt_salt()}".encode()
    h = bcrypt.hashpw(pw.encode(), salt).decode()
    vec("bcrypt", f"bcrypt module, ${ident}$, cost {cost}", h, pw)
# $2y$ is PHP's name for the same algorithm as $2b$.
salt = f"$2b$04${bcrypt_salt()}".encode()
h = bcrypt.hashpw(b"p", salt).decode().replace("$2b$", "$2y$", 1)
vec("bcrypt", "bcrypt module, $2b$ relabelled $2y$ (same algorithm)", h, "p")
# The original $2$: passlib's builtin backend (OpenBSD semantics, no NUL).
for pw in [ASCII, "Tr0ub4dor&3", UNICODE]:
    hasher = passlib_bcrypt.using(ident="2", rounds=4, salt=bcrypt_salt())
    hasher.set_backend("builtin")
    vec("bcrypt", "passlib builtin backend, original $2$, cost 4", hasher.hash(pw), pw)
# A 1 KiB password is refused, never truncated.
h = bcrypt.hashpw(KIB.encode()[:72], f"$2b$04${bcrypt_salt()}".encode()).decode()
errors.append({"format": "bcrypt", "note": "1 KiB password", "hash": h, "password": KIB, "kind": "too_long"})
errors.append({"format": "bcrypt", "note": "73 bytes", "hash": h, "password": "y" * 73, "kind": "too_long"})
good_bcrypt = vectors[0]["hash"]
bad("bcrypt", "truncated", good_bcrypt[:-1], "malformed_hash")
bad("bcrypt", "bad character", good_bcrypt[:-5] + "!" + good_bcrypt[-4:], "malformed_hash")
bad("bcrypt", "cost 00", good_bcrypt[:4] + "00" + good_bcrypt[6:], "parameters_out_of_bounds")
bad("bcrypt", "cost 03", good_bcrypt[:4] + "03" + good_bcrypt[6:], "parameters_out_of_bounds")
bad("bcrypt", "cost 16", good_bcrypt[:4] + "16" + good_bcrypt[6:], "parameters_out_of_bounds")
bad("bcrypt", "cost 31", good_bcrypt[:4] + "31" + good_bcrypt[6:], "parameters_out_of_bounds")
bad("bcrypt", "cost not digits", good_bcrypt[:4] + "1a" + good_bcrypt[6:], "malformed_hash")
bad("bcrypt", "one-digit cost", good_bcrypt[:4] + "4" + good_bcrypt[6:], "malformed_hash")
bad("bcrypt", "no cost field", good_bcrypt[:4], "malformed_hash")
bad("bcrypt", "$2x$ is not supported", "$2x$" + good_bcrypt[4:], "unsupported_format")

# ---------------------------------------------------------------- argon2
argon2_cases = [
    (64, 1, 1, 8, 16),
    (256, 2, 2, 16, 32),
    (1024, 3, 4, 24, 48),
    (128, 1, 1, 16, 32),
]
for kind, typ in (("argon2id", Type.ID), ("argon2i", Type.I)):
    for i, (m, t, p, salt_len, hash_len) in enumerate(argon2_cases):
        pw = PASSWORDS[i % len(PASSWORDS)]
        h = hash_secret(pw.encode(), rbytes(salt_len), t, m, p, hash_len, typ).decode()
        vec(kind, f"argon2-cffi m={m} t={t} p={p} salt={salt_len} key={hash_len}", h, pw)
    h = hash_secret(KIB.encode(), rbytes(16), 1, 64, 1, 32, typ).decode()
    vec(kind, "argon2-cffi, 1 KiB password", h, KIB)

g = hash_secret(b"pw", rbytes(16), 1, 64, 1, 32, Type.ID).decode()
head, salt_s, key_s = g.rsplit("$", 2)
bad("argon2id", "version 16", g.replace("v=19", "v=16"), "malformed_hash")
bad("argon2id", "no version", g.replace("$v=19", ""), "malformed_hash")
bad("argon2id", "m=0", g.replace("m=64", "m=0"), "parameters_out_of_bounds")
bad("argon2id", "m over 1 GiB", g.replace("m=64", "m=1048577"), "parameters_out_of_bounds")
bad("argon2id", "m below 8 per lane", g.replace("m=64,t=1,p=1", "m=64,t=1,p=16"), "parameters_out_of_bounds")
bad("argon2id", "t=0", g.replace("t=1", "t=0"), "parameters_out_of_bounds")
bad("argon2id", "t=11", g.replace("t=1", "t=11"), "parameters_out_of_bounds")
bad("argon2id", "p=0", g.replace("p=1", "p=0"), "parameters_out_of_bounds")
bad("argon2id", "p=17", g.replace("p=1", "p=17"), "parameters_out_of_bounds")
bad("argon2id", "m overflows u32", g.replace("m=64", "m=99999999999"), "malformed_hash")
bad("argon2id", "negative t", g.replace("t=1", "t=-1"), "malformed_hash")
bad("argon2id", "parameters reordered", g.replace("m=64,t=1,p=1", "t=1,m=64,p=1"), "malformed_hash")
bad("argon2id", "extra parameter", g.replace("p=1", "p=1,k=2"), "malformed_hash")
bad("argon2id", "bad base64 salt", f"{head}$!!!!salt!!!!${key_s}", "malformed_hash")
bad("argon2id", "padded base64 key", f"{head}${salt_s}${key_s}=", "malformed_hash")
bad("argon2id", "empty salt", f"{head}$${key_s}", "malformed_hash")
bad("argon2id", "salt of 4 bytes", f"{head}${b64_nopad(b'abcd')}${key_s}", "malformed_hash")
bad("argon2id", "empty key", f"{head}${salt_s}$", "malformed_hash")
bad("argon2id", "truncated (no key)", f"{head}${salt_s}", "malformed_hash")
bad("argon2id", "truncated mid-params", g[:20], "malformed_hash")
bad("argon2i", "version 16", g.replace("$argon2id$", "$argon2i$").replace("v=19", "v=16"), "malformed_hash")
bad("argon2d", "argon2d is not supported", g.replace("$argon2id$", "$argon2d$"), "unsupported_format")

# ---------------------------------------------------------------- pbkdf2
pbkdf2_cases = [
    ("sha1", "sha1", 1000, 8, 20),
    ("sha1", "sha1", 1500, 16, 32),
    ("sha256", "sha256", 1000, 16, 32),
    ("sha256", "sha256", 2000, 12, 16),
    ("sha512", "sha512", 1000, 16, 64),
    ("sha512", "sha512", 1200, 32, 40),
    ("sha224", "sha3_224", 1000, 16, 28),
    ("sha224", "sha3_224", 1100, 8, 32),
    ("sha384", "sha3_384", 1000, 16, 48),
    ("sha384", "sha3_384", 900, 20, 24),
]
for i, (name, hname, iters, salt_len, dklen) in enumerate(pbkdf2_cases):
    pw = PASSWORDS[i % len(PASSWORDS)]
    salt = rbytes(salt_len)
    key = hashlib.pbkdf2_hmac(hname, pw.encode(), salt, iters, dklen)
    note = f"hashlib pbkdf2_hmac({hname}) i={iters} salt={salt_len} key={dklen}"
    vec("pbkdf2", note, f"$pbkdf2-{name}$i={iters},l={dklen}${b64_nopad(salt)}${b64_nopad(key)}", pw)
# `l` disagreeing with the real key length: the decoded key counts.
salt = rbytes(16)
key = hashlib.pbkdf2_hmac("sha256", ASCII.encode(), salt, 1000, 32)
vec("pbkdf2", "l=64 but a 32-byte key (the decoded length counts)",
    f"$pbkdf2-sha256$i=1000,l=64${b64_nopad(salt)}${b64_nopad(key)}", ASCII)
g = f"$pbkdf2-sha256$i=1000,l=32${b64_nopad(salt)}${b64_nopad(key)}"
bad("pbkdf2", "i=0", g.replace("i=1000", "i=0"), "parameters_out_of_bounds")
bad("pbkdf2", "i over 10 million", g.replace("i=1000", "i=10000001"), "parameters_out_of_bounds")
bad("pbkdf2", "empty salt", f"$pbkdf2-sha256$i=1000,l=32$${b64_nopad(key)}", "malformed_hash")
bad("pbkdf2", "empty key", f"$pbkdf2-sha256$i=1000,l=32${b64_nopad(salt)}$", "malformed_hash")
bad("pbkdf2", "bad base64", f"$pbkdf2-sha256$i=1000,l=32$@@@@${b64_nopad(key)}", "malformed_hash")
bad("pbkdf2", "padded base64", f"$pbkdf2-sha256$i=1000,l=32${b64(salt)}${b64(key)}", "malformed_hash")
bad("pbkdf2", "missing l", g.replace(",l=32", ""), "malformed_hash")
bad("pbkdf2", "l not a number", g.replace("l=32", "l=x"), "malformed_hash")
bad("pbkdf2", "truncated", g.rsplit("$", 1)[0], "malformed_hash")
bad("pbkdf2", "key truncated to 15 bytes", g.rsplit("$", 1)[0] + "$" + b64_nopad(key[:15]), "malformed_hash")
bad("pbkdf2", "md5 digest is not supported", g.replace("pbkdf2-sha256", "pbkdf2-md5"), "unsupported_format")

# ---------------------------------------------------------------- scrypt
scrypt_cases = [(16, 1, 1, 8, 16), (256, 4, 2, 16, 32), (1024, 8, 3, 24, 64), (512, 8, 1, 16, 32)]
for i, (n, r, p, salt_len, dklen) in enumerate(scrypt_cases):
    pw = PASSWORDS[i % len(PASSWORDS)]
    salt = rbytes(salt_len)
    key = hashlib.scrypt(pw.encode(), salt=salt, n=n, r=r, p=p, dklen=dklen)
    vec("scrypt", f"hashlib.scrypt N={n} r={r} p={p} salt={salt_len} key={dklen}",
        f"$scrypt$ln={n},r={r},p={p}${b64(salt)}${b64(key)}", pw)
salt = rbytes(16)
key = hashlib.scrypt(b"pw", salt=salt, n=16, r=1, p=1, dklen=32)
g = f"$scrypt$ln=16,r=1,p=1${b64(salt)}${b64(key)}"
bad("scrypt", "N=0", g.replace("ln=16", "ln=0"), "parameters_out_of_bounds")
bad("scrypt", "N=1", g.replace("ln=16", "ln=1"), "parameters_out_of_bounds")
bad("scrypt", "N over 131072", g.replace("ln=16", "ln=262144"), "parameters_out_of_bounds")
bad("scrypt", "N not a power of two", g.replace("ln=16", "ln=1000"), "malformed_hash")
bad("scrypt", "r=0", g.replace("r=1", "r=0"), "parameters_out_of_bounds")
bad("scrypt", "r=9", g.replace("r=1", "r=9"), "parameters_out_of_bounds")
bad("scrypt", "p=0", g.replace("p=1", "p=0"), "parameters_out_of_bounds")
bad("scrypt", "p=11", g.replace("p=1", "p=11"), "parameters_out_of_bounds")
bad("scrypt", "unpadded base64", f"$scrypt$ln=16,r=1,p=1${b64_nopad(salt)}${b64_nopad(key)}",
    "malformed_hash")
bad("scrypt", "empty salt", f"$scrypt$ln=16,r=1,p=1$${b64(key)}", "malformed_hash")
bad("scrypt", "empty key", f"$scrypt$ln=16,r=1,p=1${b64(salt)}$", "malformed_hash")
bad("scrypt", "truncated", g[:-6], "malformed_hash")
bad("scrypt", "key of 8 bytes", g.rsplit("$", 1)[0] + "$" + b64(key[:8]), "malformed_hash")
bad("scrypt", "missing p", g.replace(",p=1", ""), "malformed_hash")

# ---------------------------------------------------------------- firebase scrypt


def firebase(pw, salt, sep, signer, ln, r, p):
    key = hashlib.scrypt(pw.encode(), salt=salt + sep, n=2**ln, r=r, p=p, dklen=32)
    enc = Cipher(algorithms.AES(key), modes.CTR(b"\0" * 16)).encryptor()
    h = enc.update(signer) + enc.finalize()
    return f"$firescrypt$ln={ln},r={r},p={p}${b64(salt)}${b64(h)}${b64(sep)}${b64(signer)}"


fire_cases = [(4, 8, 1, 8, 64), (5, 4, 2, 12, 32), (6, 2, 1, 16, 48), (4, 8, 1, 8, 64)]
for i, (ln, r, p, salt_len, signer_len) in enumerate(fire_cases):
    pw = PASSWORDS[i % len(PASSWORDS)]
    sep = base64.b64decode("Bw==") if i % 2 == 0 else rbytes(2)
    h = firebase(pw, rbytes(salt_len), sep, rbytes(signer_len), ln, r, p)
    vec("firescrypt", f"hashlib.scrypt + cryptography AES-256-CTR, ln={ln} r={r} p={p}", h, pw)
salt, sep, signer = rbytes(12), b"\x07", rbytes(64)
g = firebase("pw", salt, sep, signer, 4, 8, 1)
parts = g.split("$")
bad("firescrypt", "ln=0", g.replace("ln=4", "ln=0"), "parameters_out_of_bounds")
bad("firescrypt", "ln=18 (N over 131072)", g.replace("ln=4", "ln=18"), "parameters_out_of_bounds")
bad("firescrypt", "r=0", g.replace("r=8", "r=0"), "parameters_out_of_bounds")
bad("firescrypt", "r=9", g.replace("r=8", "r=9"), "parameters_out_of_bounds")
bad("firescrypt", "p=11", g.replace("p=1$", "p=11$"), "parameters_out_of_bounds")
bad("firescrypt", "empty salt", "$".join(parts[:3] + [""] + parts[4:]), "malformed_hash")
bad("firescrypt", "empty hash and signer key", "$".join(parts[:4] + ["", parts[5], ""]),
    "malformed_hash")
bad("firescrypt", "bad base64 signer key", "$".join(parts[:6] + ["%%%%"]), "malformed_hash")
bad("firescrypt", "signer key length differs from hash",
    "$".join(parts[:6] + [b64(signer[:32])]), "malformed_hash")
bad("firescrypt", "missing signer key", "$".join(parts[:6]), "malformed_hash")
g8 = firebase("pw", salt, sep, signer[:8], 4, 8, 1)
bad("firescrypt", "8-byte hash and signer key", g8, "malformed_hash")

# ---------------------------------------------------------------- crypt(3)
for i, salt_len in enumerate([8, 4, 1, 8]):
    pw = PASSWORDS[i % len(PASSWORDS)]
    h = md5_crypt.using(salt=rhash64(salt_len)).hash(pw)
    vec("md5-crypt", f"passlib md5_crypt salt={salt_len}", h.replace("$1$", "$md5-crypt$", 1), pw)
vec("md5-crypt", "passlib md5_crypt, 1 KiB password",
    md5_crypt.using(salt=rhash64(8)).hash(KIB).replace("$1$", "$md5-crypt$", 1), KIB)
if system_crypt is not None:
    h = system_crypt.crypt(UNICODE, "$1$" + rhash64(8))
    if h and h.startswith("$1$"):
        vec("md5-crypt", "system crypt(3)", h.replace("$1$", "$md5-crypt$", 1), UNICODE)

for fmt, handler, ident in (("sha256-crypt", sha256_crypt, "$5$"), ("sha512-crypt", sha512_crypt, "$6$")):
    for i, (rounds, salt_len) in enumerate([(1000, 16), (5000, 8), (2000, 4), (1234, 12)]):
        pw = PASSWORDS[i % len(PASSWORDS)]
        h = handler.using(rounds=rounds, salt=rhash64(salt_len)).hash(pw)
        note = f"passlib rounds={rounds} salt={salt_len}" + (" (implicit rounds)" if rounds == 5000 else "")
        vec(fmt, note, h.replace(ident, f"${fmt}$", 1), pw)
    h = handler.using(rounds=1000, salt=rhash64(16)).hash(KIB)
    vec(fmt, "passlib, 1 KiB password", h.replace(ident, f"${fmt}$", 1), KIB)
    if system_crypt is not None:
        h = system_crypt.crypt(UNICODE, ident + "rounds=1500$" + rhash64(16))
        if h and h.startswith(ident):
            vec(fmt, "system crypt(3) rounds=1500", h.replace(ident, f"${fmt}$", 1), UNICODE)

g = md5_crypt.using(salt="saltsalt").hash("pw").replace("$1$", "$md5-crypt$", 1)
bad("md5-crypt", "truncated checksum", g[:-1], "malformed_hash")
bad("md5-crypt", "empty salt", "$md5-crypt$$" + g.rsplit("$", 1)[1], "malformed_hash")
bad("md5-crypt", "9-char salt", "$md5-crypt$saltsalts$" + g.rsplit("$", 1)[1], "malformed_hash")
bad("md5-crypt", "bad checksum character", g[:-1] + "!", "malformed_hash")
bad("md5-crypt", "no checksum", "$md5-crypt$saltsalt", "malformed_hash")
bad("md5-crypt", "rounds are not part of md5-crypt",
    "$md5-crypt$rounds=1000$saltsalt$" + g.rsplit("$", 1)[1], "malformed_hash")
bad("md5-crypt", "standard $1$ prefix is not the Kratos spelling", g.replace("$md5-crypt$", "$1$"),
    "unsupported_format")

for fmt, handler, ident in (("sha256-crypt", sha256_crypt, "$5$"), ("sha512-crypt", sha512_crypt, "$6$")):
    g = handler.using(rounds=1000, salt="abcdefgh").hash("pw").replace(ident, f"${fmt}$", 1)
    checksum = g.rsplit("$", 1)[1]
    bad(fmt, "rounds=0", g.replace("rounds=1000", "rounds=0"), "parameters_out_of_bounds")
    bad(fmt, "rounds=999", g.replace("rounds=1000", "rounds=999"), "parameters_out_of_bounds")
    bad(fmt, "rounds over 10 million", g.replace("rounds=1000", "rounds=10000001"),
        "parameters_out_of_bounds")
    bad(fmt, "rounds not a number", g.replace("rounds=1000", "rounds=abc"), "malformed_hash")
    bad(fmt, "empty salt", f"${fmt}$rounds=1000$${checksum}", "malformed_hash")
    bad(fmt, "17-char salt", f"${fmt}$rounds=1000$abcdefghijklmnopq${checksum}", "malformed_hash")
    bad(fmt, "truncated checksum", g[:-1], "malformed_hash")
    bad(fmt, "salt character outside the crypt alphabet", f"${fmt}$rounds=1000$ab*defgh${checksum}",
        "malformed_hash")
    bad(fmt, "bad checksum character", g[:-1] + "*", "malformed_hash")
    bad(fmt, "missing checksum", g.rsplit("$", 1)[0], "malformed_hash")
    bad(fmt, "standard prefix is not the Kratos spelling", g.replace(f"${fmt}$", ident),
        "unsupported_format")

# ---------------------------------------------------------------- SSHA
for handler, fmt_name in ((ldap_salted_sha1, "SSHA"), (ldap_salted_sha256, "SSHA256"),
                          (ldap_salted_sha512, "SSHA512")):
    for i, salt_size in enumerate([4, 8, 16]):
        pw = PASSWORDS[i % len(PASSWORDS)]
        vec("ssha", f"passlib ldap_salted_{fmt_name.lower()} salt={salt_size}",
            handler.using(salt=rbytes(salt_size)).hash(pw), pw)
vec("ssha", "hashlib sha256(password ‖ salt), 1 KiB password",
    "{SSHA256}" + b64(hashlib.sha256(KIB.encode() + b"NaCl").digest() + b"NaCl"), KIB)
digest = hashlib.sha1(b"pw" + b"salt").digest()
bad("ssha", "bad base64", "{SSHA}" + b64(digest + b"salt")[:-2] + "!!", "malformed_hash")
bad("ssha", "no salt", "{SSHA}" + b64(digest), "malformed_hash")
bad("ssha", "truncated", "{SSHA}" + b64(digest + b"salt")[:-1], "malformed_hash")
bad("ssha", "empty body", "{SSHA}", "malformed_hash")
bad("ssha", "{SSHA384} is not supported", "{SSHA384}" + b64(digest + b"salt"), "unsupported_format")

# ---------------------------------------------------------------- salted sha / md5


def templated(name, pw, template, salt):
    data = template.replace(b"{SALT}", salt).replace(b"{PASSWORD}", pw.encode())
    digest = hashlib.new(name, data).digest()
    return f"${name}$pf={b64(template)}${b64(salt)}${b64(digest)}"


# Templates are substituted in one pass; str.replace twice is equivalent here
# because no salt or password below contains a placeholder.
templates = [b"{SALT}{PASSWORD}", b"{PASSWORD}{SALT}", b"{SALT}$${PASSWORD}--{SALT}"]
for name in ("sha1", "sha256", "sha512"):
    for i, template in enumerate(templates):
        pw = PASSWORDS[(i + 1) % len(PASSWORDS)]
        salt = RNG.choice([b"NaCl", rbytes(8), rhash64(12).encode()])
        vec("salted-sha", f"hashlib {name}, template {template.decode()}",
            templated(name, pw, template, salt), pw)
vec("salted-sha", "hashlib sha256, 1 KiB password", templated("sha256", KIB, templates[0], b"salt"), KIB)
for i, template in enumerate(templates):
    pw = PASSWORDS[i % len(PASSWORDS)]
    vec("md5", f"hashlib md5, template {template.decode()}", templated("md5", pw, template, rbytes(6)), pw)
for pw in [ASCII, UNICODE, KIB, "Tr0ub4dor&3"]:
    vec("md5", "hashlib md5, unsalted", "$md5$" + b64(hashlib.md5(pw.encode()).digest()), pw)

g = templated("sha256", "pw", b"{SALT}{PASSWORD}", b"salt")
parts = g.split("$")
bad("salted-sha", "template without {PASSWORD}", templated("sha256", "pw", b"{SALT}", b"salt"),
    "malformed_hash")
bad("salted-sha", "empty salt", "$".join(parts[:3] + [""] + parts[4:]), "malformed_hash")
bad("salted-sha", "bad base64 digest", "$".join(parts[:4] + ["!!!!"]), "malformed_hash")
bad("salted-sha", "digest of the wrong length", "$".join(parts[:4] + [b64(b"short")]), "malformed_hash")
bad("salted-sha", "missing pf=", "$".join(parts[:2] + [parts[2][3:]] + parts[3:]), "malformed_hash")
bad("salted-sha", "truncated", "$".join(parts[:4]), "malformed_hash")
bad("salted-sha", "unpadded base64 template", g.replace(parts[2], parts[2].rstrip("=")), "malformed_hash")
bad("salted-sha", "sha384 is not supported", g.replace("$sha256$", "$sha384$"), "unsupported_format")
g = "$md5$" + b64(hashlib.md5(b"pw").digest())
bad("md5", "digest of the wrong length", "$md5$" + b64(b"0123456789"), "malformed_hash")
bad("md5", "bad base64", g[:-3] + "*==", "malformed_hash")
bad("md5", "empty digest", "$md5$", "malformed_hash")
bad("md5", "four fields", g + "$x", "malformed_hash")
bad("md5", "salted, empty salt", "$md5$pf=" + b64(b"{SALT}{PASSWORD}") + "$$" + b64(hashlib.md5(b"pw").digest()),
    "malformed_hash")

# ---------------------------------------------------------------- hmac
md4 = lookup_hash("md4").const  # passlib's pure-Python MD4 where OpenSSL lacks it
hmac_algs = [("md4", md4), ("md5", "md5"), ("sha1", "sha1"), ("sha224", "sha224"),
             ("sha256", "sha256"), ("sha384", "sha384"), ("sha512", "sha512")]
for i, (name, digestmod) in enumerate(hmac_algs):
    for j, key_len in enumerate([8, 32]):
        pw = PASSWORDS[(i + j) % len(PASSWORDS)]
        key = rbytes(key_len)
        mac = hmac.new(key, pw.encode(), digestmod).hexdigest()
        vec("hmac", f"hmac {name} key={key_len}", f"$hmac-{name}${b64(mac.encode())}${b64(key)}", pw)
key = rbytes(16)
mac = hmac.new(key, b"pw", "sha256").hexdigest()
g = f"$hmac-sha256${b64(mac.encode())}${b64(key)}"
bad("hmac", "uppercase hex", f"$hmac-sha256${b64(mac.upper().encode())}${b64(key)}", "malformed_hash")
bad("hmac", "raw MAC instead of hex", f"$hmac-sha256${b64(bytes.fromhex(mac))}${b64(key)}", "malformed_hash")
bad("hmac", "empty key", f"$hmac-sha256${b64(mac.encode())}$", "malformed_hash")
bad("hmac", "bad base64 key", f"$hmac-sha256${b64(mac.encode())}$~~~~", "malformed_hash")
bad("hmac", "extra field", g + "$x", "malformed_hash")
bad("hmac", "truncated", f"$hmac-sha256${b64(mac.encode())}", "malformed_hash")
bad("hmac", "sha3 is not supported", g.replace("hmac-sha256", "hmac-sha3"), "unsupported_format")

# ---------------------------------------------------------------- not hashes at all
for s in ["", "plaintext", "$", "$$$", "{SSH}abc", "$argon2$v=19$m=64,t=1,p=1$c2FsdHNhbHQ$a2V5a2V5",
          "$pbkdf2$i=1000,l=32$c2FsdA$a2V5", "$hmac$abc$def", "$2z$04$" + "a" * 53]:
    bad("none", "unsupported", s, "unsupported_format")

json.dump(
    {
        "generator": "crates/identity-password/vectors/generate.py",
        "sources": {
            "python": sys.version.split()[0],
            "passlib": passlib.__version__,
            "bcrypt": bcrypt.__version__,
            "argon2-cffi": argon2.__version__ if hasattr(argon2, "__version__") else "unknown",
            "cryptography": cryptography.__version__,
            "system_crypt": system_crypt is not None,
        },
        "vectors": vectors,
        "errors": errors,
        "malformed": malformed,
    },
    sys.stdout,
    ensure_ascii=False,
    indent=1,
)
sys.stdout.write("\n")
