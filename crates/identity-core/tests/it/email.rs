//! Differential test of the fast `email` check against the SPEC's rule: the
//! `jsonschema` crate's own `email` format, at most 254 bytes in all and at
//! most 64 in the local part. Over a seeded corpus of valid, invalid and
//! edge-case addresses, the two must agree on every string.

use identity_core::{EMAIL_LOCAL_MAX_LEN, EMAIL_MAX_LEN, is_valid_email, stock_email_rule};

/// The SPEC's rule, spelled out without the fast path.
fn spec_rule(value: &str) -> bool {
    if value.len() > EMAIL_MAX_LEN {
        return false;
    }
    if value.rfind('@').is_some_and(|at| at > EMAIL_LOCAL_MAX_LEN) {
        return false;
    }
    stock_email_rule(value)
}

/// xorshift64*: a small seeded generator, so the corpus is the same on
/// every run and every machine.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
    fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items[self.below(items.len())]
    }
}

/// Pieces addresses are built from: plain characters, every `atext`
/// special, and what only the slow rule handles (quotes, brackets, spaces,
/// backslashes, comments, non-ASCII, invisible characters).
const PIECES: &[&str] = &[
    "a",
    "b",
    "z",
    "A",
    "Z",
    "0",
    "9",
    "x",
    "ada",
    "user",
    "-",
    "-",
    ".",
    ".",
    "..",
    "_",
    "+",
    "!",
    "#",
    "$",
    "%",
    "&",
    "'",
    "*",
    "/",
    "=",
    "?",
    "^",
    "`",
    "{",
    "|",
    "}",
    "~",
    "@",
    "@",
    "\"",
    "\\",
    " ",
    "\t",
    "(",
    ")",
    "<",
    ">",
    "[",
    "]",
    ",",
    ":",
    ";",
    "é",
    "ü",
    "ß",
    "日本",
    "😀",
    "\u{200b}",
    "\u{0}",
    "xn--",
    "--",
    "xn--bcher-kva",
    "xn--zz",
    "1",
    "127",
    "IPv6:",
    "::1",
    "com",
    "example",
    "localhost",
];

const DOMAINS: &[&str] = &[
    "example.com",
    "a.b",
    "localhost",
    "x",
    "sub.example.co.uk",
    "123.example",
    "1.2.3.4",
    "example.123",
    "xn--bcher-kva.example",
    "xn--zz.example",
    "ab--cd.example",
    "a-b.example",
    "-ab.example",
    "ab-.example",
    "example.com.",
    ".example.com",
    "exa_mple.com",
    "[127.0.0.1]",
    "[IPv6:::1]",
    "[ipv6:2001:db8::1]",
    "[300.1.1.1]",
    "bücher.example",
    "EXAMPLE.COM",
];

const LOCALS: &[&str] = &[
    "ada",
    "ada.lovelace",
    "a+tag",
    "first_last",
    "o'brien",
    "x",
    "!#$%&'*+-/=?^_`{|}~",
    ".ada",
    "ada.",
    "a..b",
    "\"quoted\"",
    "\"with space\"",
    "\"\"",
    "\"a\\\"b\"",
    "\"unterminated",
    "Ada <ada",
    "ad a",
    "ädä",
    "(comment)ada",
    "ada@home",
];

fn mutate(rng: &mut Rng, s: &str) -> String {
    let mut chars: Vec<String> = s.chars().map(String::from).collect();
    for _ in 0..=rng.below(3) {
        let at = rng.below(chars.len() + 1);
        match rng.below(4) {
            0 => chars.insert(at, rng.pick(PIECES).to_owned()),
            1 if at < chars.len() => {
                chars.remove(at);
            }
            2 if at < chars.len() => chars[at] = rng.pick(PIECES).to_owned(),
            _ => {
                let piece = chars.get(at).cloned().unwrap_or_default();
                chars.insert(at, piece);
            }
        }
    }
    chars.concat()
}

fn label(rng: &mut Rng, len: usize) -> String {
    (0..len)
        .map(|i| {
            let pool = if i == 0 || i + 1 == len {
                "abcdefghijklmnopqrstuvwxyz0123456789"
            } else {
                "abcdefghijklmnopqrstuvwxyz0123456789-"
            };
            char::from(pool.as_bytes()[rng.below(pool.len())])
        })
        .collect()
}

/// Addresses at the length limits: local parts around 64, labels around 63,
/// domains around 253 and whole addresses around 254.
fn near_limits(rng: &mut Rng) -> String {
    let local = "l".repeat(60 + rng.below(8));
    let first = 58 + rng.below(9);
    let mut domain = label(rng, first);
    let target = 240 + rng.below(20);
    while domain.len() < target {
        domain.push('.');
        let len = 1 + rng.below(63);
        domain.push_str(&label(rng, len));
    }
    match rng.below(3) {
        0 => format!("{local}@{domain}"),
        1 => format!("a@{domain}"),
        _ => format!("{local}@example.com"),
    }
}

fn corpus() -> Vec<String> {
    let mut rng = Rng(0x0e11_a11d_5eed_0001);
    let mut out: Vec<String> = Vec::new();
    for local in LOCALS {
        for domain in DOMAINS {
            out.push(format!("{local}@{domain}"));
        }
    }
    out.extend(
        [
            "",
            "@",
            "a@",
            "@b",
            "a@@b",
            "a@b@c",
            "\"a@b\"@c",
            "a",
            "a b@c",
            "a@b c",
            "<a@b>",
            "A <a@b>",
            " a@b",
            "a@b ",
            "a@b\n",
            "a@b.c-",
            "a@-",
            "a@0",
            "a@0.0",
        ]
        .map(String::from),
    );
    for _ in 0..60_000 {
        let base = format!("{}@{}", rng.pick(LOCALS), rng.pick(DOMAINS));
        out.push(mutate(&mut rng, &base));
    }
    for _ in 0..60_000 {
        let len = rng.below(12);
        let mut s: String = (0..len).map(|_| rng.pick(PIECES)).collect();
        if rng.below(4) != 0 {
            let at = rng.below(s.len() + 1);
            if s.is_char_boundary(at) {
                s.insert(at, '@');
            }
        }
        out.push(s);
    }
    for _ in 0..20_000 {
        let s = near_limits(&mut rng);
        out.push(s.clone());
        out.push(mutate(&mut rng, &s));
    }
    out
}

#[test]
fn the_fast_email_check_agrees_with_the_spec_rule_on_every_corpus_string() {
    let corpus = corpus();
    let mut accepted = 0usize;
    let mut disagreements = Vec::new();
    for s in &corpus {
        let expected = spec_rule(s);
        accepted += usize::from(expected);
        if is_valid_email(s) != expected {
            disagreements.push((s.clone(), expected));
        }
    }
    assert_eq!(disagreements, Vec::<(String, bool)>::new());
    assert_eq!(corpus.len(), 160_479);
    // Both sides of the rule are well represented.
    assert!(accepted > corpus.len() / 10, "only {accepted} accepted");
    assert!(accepted < corpus.len() * 9 / 10, "{accepted} accepted");
}

#[test]
fn plain_addresses_and_their_edges() {
    for ok in [
        "ada@example.com",
        "a@b",
        "!#$%&'*+-/=?^_`{|}~@example.com",
        "ada@xn--bcher-kva.example",
        "\"quoted\"@example.com",
        "ada@[127.0.0.1]",
    ] {
        assert!(is_valid_email(ok), "{ok} should be valid");
    }
    for bad in [
        "ada@",
        ".ada@example.com",
        "ada..l@example.com",
        "ada@-example.com",
        "ada@example.com.",
        "ada@ab--cd.example",
        "ada lovelace@example.com",
    ] {
        assert!(!is_valid_email(bad), "{bad} should be invalid");
    }
}
