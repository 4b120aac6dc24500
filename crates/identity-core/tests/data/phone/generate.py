#!/usr/bin/env python3
"""Generates vectors.jsonl, the expected answers of the phone number check.

The oracle is Python's `phonenumbers` (a port of Google's libphonenumber,
independent of the Rust `phonenumber` crate), pinned to 9.0.33: the same
libphonenumber metadata release (v9.0.33) that the Rust crate 0.3.10+9.0.33
compiles in, so that a disagreement is a difference of the code, not of the
data. For each input string the expected answer is what
`phonenumbers.parse(s, None)` followed by `is_valid_number` gives: the E.164
form when the number parses and is valid, `null` otherwise.

    python3 -m venv /tmp/phone-venv
    /tmp/phone-venv/bin/pip install phonenumbers==9.0.33
    /tmp/phone-venv/bin/python generate.py > vectors.jsonl

The output is deterministic (fixed seed, sorted iteration); running it again
must reproduce the committed file byte for byte.

Inputs: the example number of every region and non-geographic entity for
every number type, each written in E.164, in the international format and
one more formatting variant (spaces, hyphens, dots, parentheses, none);
seeded mutations of them (a digit dropped, added, changed or swapped, the
country calling code replaced, a leading or national-prefix zero inserted,
truncated, extended); hand-picked edge cases (+800, NANPA regions, Italian
leading zeros, +7, +44, national prefixes written after the country code,
hyphenated forms that an RFC 3966 reading splits differently); and inputs
outside the common form (no plus, letters, extensions, full-width and
Arabic-Indic digits, invisible characters, leading and trailing spaces).
"""

import json
import random
import sys

import phonenumbers
from phonenumbers import PhoneNumberFormat, PhoneNumberType

PINNED = "9.0.33"
SEED = 0x7E1_15_02

TYPES = [
    PhoneNumberType.FIXED_LINE,
    PhoneNumberType.MOBILE,
    PhoneNumberType.TOLL_FREE,
    PhoneNumberType.PREMIUM_RATE,
    PhoneNumberType.SHARED_COST,
    PhoneNumberType.VOIP,
    PhoneNumberType.PERSONAL_NUMBER,
    PhoneNumberType.PAGER,
    PhoneNumberType.UAN,
    PhoneNumberType.VOICEMAIL,
]

EDGE_CASES = [
    # Non-geographic entities.
    "+800 1234 5678",
    "+80012345678",
    "+800 123456789",
    "+808 1234 5678",
    "+870 301 234 567",
    "+878 10 123 456 789",
    "+881 6 1234 5678",
    "+882 3456 1234 5678",
    "+882 9 1234 5678",
    "+883 5100 1234 5678",
    "+888 123 456 789",
    "+979 1 2345 6789",
    "+979 123456789",
    # NANPA: one calling code, many regions told apart by area code.
    "+1 650 253 0000",
    "+1 (650) 253-0000",
    "+1-650-253-0000",
    "+1.650.253.0000",
    "+16502530000",
    "+1 416 555 0123",
    "+1 604 555 0123",
    "+1 268 464 1234",
    "+1 242 359 1234",
    "+1 787 234 5678",
    "+1 876 234 5678",
    "+1 809 234 5678",
    "+1 441 234 5678",
    "+1 684 733 1234",
    "+1 671 300 1234",
    "+1 800 253 0000",
    "+1 900 253 0000",
    "+1 555 253 0000",
    "+1 123 253 0000",
    "+1 650 253 000",
    "+1 650 253 00000",
    "+1 2530000",
    "+1 1 650 253 0000",
    "+1 464 1234",
    # Italy: the leading zero belongs to the number.
    "+39 06 6988 1234",
    "+39 02 3661 8300",
    "+390236618300",
    "+39 312 345 6789",
    "+39 0236618300",
    "+39 236618300",
    "+39 06698 12345",
    "+39 023661830000",
    "+3923 2366",
    # Russia and Kazakhstan share +7.
    "+7 495 123 4567",
    "+7 912 345 6789",
    "+7 7172 123 456",
    "+7 701 123 4567",
    "+7 8 495 123 4567",
    "+7 800 123 4567",
    # United Kingdom and its crown dependencies share +44.
    "+44 20 7946 0958",
    "+44 (0)20 7946 0958",
    "+44 020 7946 0958",
    "+44 7912 345678",
    "+44 791234567",
    "+44 1481 256789",
    "+44 1534 456789",
    "+44 1624 456789",
    "+44 800 123 4567",
    # Germany, France, others with a national prefix 0.
    "+49 30 12345678",
    "+49 030 12345678",
    "+49 1234",
    "+33 1 23 45 67 89",
    "+33 01 23 45 67 89",
    "+330631966543",
    "+64 21 387 835",
    "+64 3 316 005",
    "+61 4 1234 5678",
    "+61 04 1234 5678",
    "+54 9 11 1234 5678",
    "+54 11 1234 5678",
    "+52 1 55 1234 5678",
    "+52 55 1234 5678",
    "+55 11 91234 5678",
    "+55 0 11 91234 5678",
    "+86 10 1234 5678",
    "+86 138 0013 8000",
    "+81 3 1234 5678",
    "+91 98765 43210",
    "+972 3 314 2764978",
    "+97233142764978",
    # Calling codes that do not exist, and the shortest and longest inputs.
    "+0 123 456",
    "+00 44 20 7946 0958",
    "+999 123 456 789",
    "+28 123 456 789",
    "+1",
    "+12",
    "+123",
    "+1234",
    "+",
    "++44 20 7946 0958",
    "+44 20 7946 0958 1234 5678 9012",
    "+1 650 253 0000 000000000000",
    # Separators only where an RFC 3966 reading splits the calling code.
    "+44-20-7946-0958",
    "+4420-7946-0958",
    "+442-079-460-958",
    "+16-50-253-0000",
    "+165-0253-0000",
    "+1(650)253-0000",
    "+(1)650 253 0000",
    "+1 650 253 0000-",
    "+1 650 253 0000 ",
    "+1 650 253 0000.",
    "+1 650 253 0000)",
    "(+1) 650 253 0000",
    "+01-650-253-0000",
    "+001-650-253-0000",
    "+0044-20-7946-0958",
    "+65535-1-2",
    "+65536-123-456",
    # Outside the common form: the full parser answers these.
    "16502530000",
    "0016502530000",
    "650 253 0000",
    "tel:+1-650-253-0000",
    "tel:6502530000;phone-context=+1",
    "+1 650 253 0000 ext. 123",
    "+1 650 253 0000 x123",
    "+1 650 253 0000#",
    "+1 650 CALL NOW",
    "+1 800 FLOWERS",
    "+1 650 253 0000 / +1 650 253 0001",
    "\uff0b\uff11 \uff16\uff15\uff10 \uff12\uff15\uff13 \uff10\uff10\uff10\uff10",
    "+\u0661 \u0666\u0665\u0660 \u0662\u0665\u0663 \u0660\u0660\u0660\u0660",
    "+1\u00a0650\u00a0253\u00a00000",
    "+1\u2011650\u2011253\u20110000",
    "+1 650\u200b253 0000",
    " +1 650 253 0000",
    "\t+1 650 253 0000\n",
    "+1\t650 253 0000",
    "+1 650/253/0000",
    "+1 650 253 0000 ,",
    "+1 [650] 253 0000",
    "+44 20 7946 0958;ext=12",
    "",
    " ",
    "+ ",
    "abc",
    "phone",
    "+abc",
]

SEPARATORS = [" ", " ", "-", ".", ""]


def expected(s):
    """`parse(s, None)` + `is_valid_number`, as E.164, or None."""
    try:
        number = phonenumbers.parse(s, None)
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_valid_number(number):
        return None
    return phonenumbers.format_number(number, PhoneNumberFormat.E164)


def examples():
    """(calling code, national number) of every example, sorted."""
    out = set()
    for region in sorted(phonenumbers.SUPPORTED_REGIONS):
        for kind in TYPES:
            n = phonenumbers.example_number_for_type(region, kind)
            if n is not None:
                out.add((n.country_code, phonenumbers.national_significant_number(n)))
    for code in sorted(phonenumbers.COUNTRY_CODES_FOR_NON_GEO_REGIONS):
        meta = phonenumbers.PhoneMetadata.metadata_for_nongeo_region(code)
        for kind in TYPES:
            desc = phonenumbers.phonenumberutil._number_desc_by_type(meta, kind)
            if desc is not None and desc.example_number:
                out.add((code, desc.example_number))
    return sorted(out)


def grouped(rng, digits):
    """The digits in random groups of 1 to 4."""
    groups = []
    i = 0
    while i < len(digits):
        step = rng.randint(1, 4)
        groups.append(digits[i : i + step])
        i += step
    return groups


def written(rng, code, national):
    """One formatting variant of +code national."""
    style = rng.randrange(7)
    if style == 0:
        return f"+{code}{national}"
    if style == 1:
        try:
            n = phonenumbers.parse(f"+{code}{national}", None)
            return phonenumbers.format_number(n, PhoneNumberFormat.INTERNATIONAL)
        except phonenumbers.NumberParseException:
            return f"+{code} {national}"
    sep = rng.choice(SEPARATORS)
    groups = grouped(rng, national)
    if style == 2 and len(groups) > 1:
        groups[0] = f"({groups[0]})"
        return f"+{code} " + " ".join(groups)
    if style == 3:
        # Separator straight after the calling code too, as RFC 3966 does.
        return f"+{code}{sep or '-'}" + (sep or "-").join(groups)
    if style == 4:
        return f"+{code}" + sep.join(groups)
    if style == 5:
        return f"+{code} " + "".join(rng.choice(SEPARATORS) + g for g in groups).lstrip(" -.")
    return f"+{code} " + sep.join(groups)


def mutated(rng, codes, code, national):
    """(code, national) with one seeded change."""
    digits = list(national)
    kind = rng.randrange(10)
    at = rng.randrange(len(digits) + 1)
    d = str(rng.randrange(10))
    if kind == 0 and digits:
        del digits[min(at, len(digits) - 1)]
    elif kind == 1:
        digits.insert(at, d)
    elif kind == 2 and digits:
        digits[min(at, len(digits) - 1)] = d
    elif kind == 3 and len(digits) > 1:
        i = min(at, len(digits) - 2)
        digits[i], digits[i + 1] = digits[i + 1], digits[i]
    elif kind == 4:
        code = rng.choice(codes)
    elif kind == 5:
        digits.insert(0, "0")
    elif kind == 6:
        digits = digits[: max(1, len(digits) - rng.randint(1, 4))]
    elif kind == 7:
        digits += [str(rng.randrange(10)) for _ in range(rng.randint(1, 5))]
    elif kind == 8:
        code = int(str(code) + d) if rng.randrange(2) else code // 10 or code
    else:
        digits = [str(rng.randrange(10)) for _ in range(len(digits))]
    return code, "".join(digits)


def main():
    if phonenumbers.__version__ != PINNED:
        sys.exit(f"phonenumbers {phonenumbers.__version__}; the vectors need {PINNED}")
    rng = random.Random(SEED)
    codes = sorted(
        set(phonenumbers.COUNTRY_CODE_TO_REGION_CODE) | {0, 28, 99, 210, 999}
    )
    inputs = list(EDGE_CASES)
    for code, national in examples():
        inputs.append(f"+{code}{national}")
        inputs.append(written(rng, code, national))
        for _ in range(2):
            c, n = mutated(rng, codes, code, national)
            inputs.append(written(rng, c, n))
    # Random digit strings after a random calling code.
    for _ in range(600):
        code = rng.choice(codes)
        national = "".join(str(rng.randrange(10)) for _ in range(rng.randint(1, 16)))
        inputs.append(written(rng, code, national))
    seen = set()
    lines = [
        json.dumps(
            {
                "generator": "generate.py",
                "phonenumbers": phonenumbers.__version__,
                "seed": SEED,
                "rule": "phonenumbers.parse(s, None) + is_valid_number, E.164 or null",
            }
        )
    ]
    for s in inputs:
        if s in seen:
            continue
        seen.add(s)
        lines.append(json.dumps([s, expected(s)]))
    sys.stdout.write("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
