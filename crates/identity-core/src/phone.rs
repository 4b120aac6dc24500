//! The fast path of [`crate::normalize::phone`]: a phone number written the
//! common international way (ASCII `+`, digits, and spaces, hyphens, dots or
//! parentheses between them) is answered here, from the `phonenumber`
//! crate's own metadata, without the crate's parser.
//!
//! A full `phonenumber::parse` costs about 100,000 instructions: a nom
//! grammar tried twice (RFC 3966, then free text), Unicode-aware regexes for
//! trailing characters and extensions, and every metadata pattern fetched
//! through `regex_cache`'s shared LRU cache (a mutex, a hash of the
//! pattern's text, and a recompilation whenever the pattern has been
//! evicted by the 100 most recent ones). Its first use also loads the
//! crate's whole database: about 600 million instructions, as each of its
//! ~2,500 patterns is parsed to check its syntax.
//!
//! This path reads the same metadata from `phone/metadata.txt`: the fields
//! it needs, written out from the crate's database. A unit test renders
//! them again from `phonenumber::metadata::DATABASE` and fails when the two
//! differ, so the file cannot drift from the crate in use
//! (`PHONE_METADATA_UPDATE=1 cargo test -p identity-core --lib phone`
//! rewrites it). Each pattern is compiled on first use; the steps of
//! `parse` + `is_valid` + E.164 formatting run as the crate runs them for
//! the inputs this path accepts, so that its answer is the full path's
//! answer, bug for bug:
//!
//! - the input is read as the crate reads it: without a space, as RFC 3966
//!   (the digits before the first hyphen, dot or parenthesis are the calling
//!   code, whatever they are: `+4420-7946-0958` has calling code 4420, which
//!   does not exist); otherwise as free text (trailing punctuation dropped,
//!   at least three digits, the calling code the first 1, 2 or 3 digits
//!   that the metadata knows as one, none when the digits start with `0`);
//! - the region is found as the crate does (`validator::source_for`: the
//!   only region of the code; or the first region, main region first, whose
//!   leading digits match, or which has none and whose number types match),
//!   first with the national number's leading zeros removed (for the
//!   national prefix), then as it is (for validity);
//! - the national prefix and carrier code are stripped, or the number
//!   transformed, as `helper::national_number` does, then the national
//!   prefix once more (the crate's `parse` does it twice), unless the result
//!   is too short by the region's possible lengths;
//! - the number is valid when its region's general description and one of
//!   the ten number types (premium rate, toll free, shared cost, VoIP,
//!   personal, pager, UAN, voicemail, fixed line, mobile) match it: its
//!   length among the possible lengths, and the pattern matching from its
//!   first digit. The crate's `Descriptor::is_match` does not require the
//!   pattern to match the whole number (libphonenumber does), and neither
//!   does this path: the two must agree.
//!
//! An input of only digits, spaces and those separators, without `+`, is
//! invalid: the crate finds no calling code in it (only a `+` or an
//! RFC 3966 `phone-context` gives one when no default region is given).
//! Anything else (non-ASCII, letters, extensions, a second `+`) is left to
//! the full parse. The differential test `tests/it/phone.rs` checks that
//! both answer alike on a couple of hundred thousand seeded strings.

use std::sync::OnceLock;

use regex::bytes::{Regex, RegexBuilder};

/// The fast path's answer: `None` when the input is not of the common form
/// (the full parse decides), `Some(None)` for an invalid number,
/// `Some(Some(e164))` for a valid one.
pub(crate) fn e164(value: &str) -> Option<Option<String>> {
    if !value.is_ascii() {
        return None;
    }
    // What the full path parses: ASCII is its own NFKC form and holds no
    // invisible characters, so only the trim is left.
    let s = value.trim();
    let (plus, rest) = match s.strip_prefix('+') {
        Some(rest) => (true, rest),
        None => (false, s),
    };
    if !rest
        .bytes()
        .all(|b| b.is_ascii_digit() || is_separator(b) || b == b' ')
    {
        return None;
    }
    if !plus {
        return Some(None);
    }
    decide(tables().as_ref()?, s, rest)
}

/// Hyphen, dot and parentheses: punctuation for both of the crate's
/// grammars, and the separators of its RFC 3966 grammar.
fn is_separator(b: u8) -> bool {
    matches!(b, b'-' | b'.' | b'(' | b')')
}

/// The steps of `phonenumber::parse(None, s)`, `is_valid` and E.164
/// formatting, for `s` = `+` `rest`, `rest` of digits, spaces and
/// separators. The outer `None` gives the input back to the full parse.
fn decide(tables: &Tables, s: &str, rest: &str) -> Option<Option<String>> {
    let (code, national) = match rfc3966_split(s, rest) {
        // RFC 3966: the calling code is everything up to the first
        // separator, taken as it is written (leading zeros and all).
        Some((prefix, tail)) => {
            if !is_viable(tail) {
                return Some(None);
            }
            let national = digits(tail);
            if national.len() <= MIN_LENGTH_FOR_NSN {
                return Some(None);
            }
            let Ok(code) = prefix.parse::<u16>() else {
                return Some(None);
            };
            if tables.regions(code).is_none() {
                return Some(None);
            }
            (code, national)
        }
        // Free text: trailing punctuation goes, the `+` is dropped, and the
        // calling code is the first 1 to 3 digits that the metadata knows.
        None => {
            let text = s.trim_end_matches(['+', ' ', '-', '.', '(', ')']);
            if !is_viable(text) {
                return Some(None);
            }
            let all = digits(text);
            if all.len() <= MIN_LENGTH_FOR_NSN || all.starts_with('0') {
                return Some(None);
            }
            let found = (1..=MAX_LENGTH_FOR_COUNTRY_CODE).find_map(|len| {
                let code = all[..len].parse::<u16>().ok()?;
                tables.regions(code).map(|_| (code, len))
            });
            let Some((code, len)) = found else {
                return Some(None);
            };
            (code, all[len..].to_owned())
        }
    };
    let regions = tables.regions(code)?;

    // `parse`: the region (found without the leading zeros) strips the
    // national prefix, unless what is left is too short for it.
    let mut national = national;
    if let Some(region) = source_for(regions, national.trim_start_matches('0'))? {
        let mut potential = region.national_number(&national)?;
        if let Some(prefix) = region.national_prefix
            && potential.starts_with(prefix)
        {
            potential.drain(..prefix.len());
        }
        if !region.too_short(potential.len()) {
            national = potential;
        }
    }
    if national.len() < MIN_LENGTH_FOR_NSN || national.len() > MAX_LENGTH_FOR_NSN {
        return Some(None);
    }
    // `NationalNumber`: leading zeros counted apart, the rest a number
    // below 2^56 (and not empty).
    let zeros = national.bytes().take_while(|&b| b == b'0').count();
    match national[zeros..].parse::<u64>() {
        Ok(value) if value < 1 << 56 => {}
        _ => return Some(None),
    }

    // `is_valid`: the region of the number as it is, and a known type there.
    let Some(region) = source_for(regions, &national)? else {
        return Some(None);
    };
    if !region.is_known(&national)? {
        return Some(None);
    }
    Some(Some(format!("+{code}{national}")))
}

/// The crate's `MIN_LENGTH_FOR_NSN`, `MAX_LENGTH_FOR_NSN` and
/// `MAX_LENGTH_FOR_COUNTRY_CODE`.
const MIN_LENGTH_FOR_NSN: usize = 2;
const MAX_LENGTH_FOR_NSN: usize = 17;
const MAX_LENGTH_FOR_COUNTRY_CODE: usize = 3;

/// The crate tries its RFC 3966 grammar first, and it applies to an input
/// without spaces whose `+` is followed by at least one character before
/// the first separator: those characters are the calling code, the rest
/// (from the separator on) the number.
fn rfc3966_split<'a>(s: &str, rest: &'a str) -> Option<(&'a str, &'a str)> {
    if s.contains(' ') {
        return None;
    }
    let at = rest.bytes().position(is_separator)?;
    (at > 0).then(|| rest.split_at(at))
}

/// The crate's `is_viable` for a string of `+`, digits and punctuation:
/// at least three digits.
fn is_viable(text: &str) -> bool {
    text.bytes().filter(u8::is_ascii_digit).count() >= 3
}

fn digits(text: &str) -> String {
    text.chars().filter(char::is_ascii_digit).collect()
}

/// `validator::source_for`: the region whose metadata describes `national`
/// (the outer `None`: a pattern that would not compile here).
fn source_for<'t>(regions: &'t [Region], national: &str) -> Option<Option<&'t Region>> {
    if let [only] = regions {
        return Some(only.named.then_some(only));
    }
    for region in regions {
        let matched = match &region.leading_digits {
            Some(leading) => leading.regex()?.is_match(national.as_bytes()),
            None => region.is_known(national)?,
        };
        if matched {
            return Some(Some(region));
        }
    }
    Some(None)
}

/// The `phonenumber` crate's metadata, the fields this path reads (see the
/// module documentation).
const METADATA: &str = include_str!("phone/metadata.txt");

/// The regions of every calling code, in the crate's order (the main region
/// first).
struct Tables {
    /// Indexed by calling code (1 to 3 digits); empty where none.
    by_code: Vec<Vec<Region>>,
}

impl Tables {
    fn regions(&self, code: u16) -> Option<&[Region]> {
        self.by_code
            .get(usize::from(code))
            .map(Vec::as_slice)
            .filter(|r| !r.is_empty())
    }

    /// Reads `metadata.txt`; `None` if it is malformed (then the full parse
    /// answers everything; the unit tests keep the file well formed).
    fn read(text: &'static str) -> Option<Self> {
        let mut by_code: Vec<Vec<Region>> = (0..1000).map(|_| Vec::new()).collect();
        let mut current: Option<&mut Region> = None;
        for line in text.lines() {
            let mut fields = line.split(' ');
            let tag = fields.next()?;
            if tag == "#" {
                continue;
            }
            if tag == "=" {
                let code: usize = fields.next()?.parse().ok()?;
                let id = fields.next()?;
                let regions = by_code.get_mut(code)?;
                regions.push(Region::new(id));
                current = regions.last_mut();
                continue;
            }
            let region = current.as_mut()?;
            match tag {
                "np" => region.national_prefix = Some(fields.next()?),
                "pp" => region.prefix_for_parsing = Some(PrefixForParsing::new(fields.next()?)),
                "tr" => region.transform_rule = Some(fields.next()?),
                "ld" => region.leading_digits = Some(LazyRegex::anchored(fields.next()?)),
                "gd" => {
                    region.general = Pattern::new(fields.next()?, fields.next()?)?;
                    // The local lengths follow the pattern.
                    region.general_local = lengths(fields.next()?)?;
                }
                "ty" => {
                    let _name = fields.next()?;
                    let pattern = Pattern::new(fields.next()?, fields.next()?)?;
                    region.types.push(pattern);
                }
                _ => return None,
            }
        }
        Some(Self { by_code })
    }
}

/// `1,2,3` or `-` (none).
fn lengths(field: &str) -> Option<Box<[u16]>> {
    if field == "-" {
        return Some(Box::new([]));
    }
    field.split(',').map(|l| l.parse().ok()).collect()
}

fn tables() -> &'static Option<Tables> {
    static TABLES: OnceLock<Option<Tables>> = OnceLock::new();
    TABLES.get_or_init(|| Tables::read(METADATA))
}

/// One region (or non-geographic entity) of a calling code.
struct Region {
    /// `source_for` gives a lone region only when it is a non-geographic
    /// entity (`001`) or its id is one of the crate's `country::Id`s.
    named: bool,
    national_prefix: Option<&'static str>,
    prefix_for_parsing: Option<PrefixForParsing>,
    transform_rule: Option<&'static str>,
    leading_digits: Option<LazyRegex>,
    general: Pattern,
    general_local: Box<[u16]>,
    /// The ten number types `validator::number_type` tries, mobile and
    /// fixed line first (the common answers; for validity the order does
    /// not matter).
    types: Vec<Pattern>,
}

impl Region {
    fn new(id: &str) -> Self {
        Self {
            named: id == "001" || id.parse::<phonenumber::country::Id>().is_ok(),
            national_prefix: None,
            prefix_for_parsing: None,
            transform_rule: None,
            leading_digits: None,
            general: Pattern {
                lengths: Box::new([]),
                regex: LazyRegex::anchored(""),
            },
            general_local: Box::new([]),
            types: Vec::new(),
        }
    }

    /// `validator::number_type(meta, national) != Type::Unknown`.
    fn is_known(&self, national: &str) -> Option<bool> {
        if !self.general.is_match(national)? {
            return Some(false);
        }
        for t in &self.types {
            if t.is_match(national)? {
                return Some(true);
            }
        }
        Some(false)
    }

    /// `helper::national_number`: the national prefix or carrier code
    /// stripped, or the number transformed by the region's rule.
    fn national_number(&self, national: &str) -> Option<String> {
        let Some(parsing) = &self.prefix_for_parsing else {
            let stripped = match self.national_prefix {
                Some(prefix) => national.strip_prefix(prefix).unwrap_or(national),
                None => national,
            };
            return Some(stripped.to_owned());
        };
        // The crate searches anywhere and keeps only a match at the start;
        // the anchored twin answers that without scanning the number.
        if !parsing.anchored.regex()?.is_match(national.as_bytes()) {
            return Some(national.to_owned());
        }
        let plain = parsing.plain.regex()?;
        let end = plain.find(national.as_bytes())?.end();
        let viable = self.general.is_match(national)?;
        let captures = plain.captures(national.as_bytes())?;
        let first = captures.get(1);
        let last = captures.get(captures.len() - 1);
        match (self.transform_rule, last) {
            (Some(rule), Some(_)) => {
                // The crate unwraps the first group here (and would panic).
                first?;
                let transformed = plain.replace(national.as_bytes(), rule.as_bytes());
                let transformed = String::from_utf8(transformed.into_owned()).ok()?;
                if viable && !self.general.is_match(&transformed)? {
                    return Some(national.to_owned());
                }
                Some(transformed)
            }
            // The crate's check of the number from the match's start (0)
            // is the `viable` check itself: it never keeps the number.
            _ => Some(national[end..].to_owned()),
        }
    }

    /// `validator::length(meta, number, Type::Unknown) == TooShort`.
    fn too_short(&self, len: usize) -> bool {
        let len = len as u16;
        match self.general.lengths.first() {
            None => false,
            Some(&min) => !self.general_local.contains(&len) && len < min,
        }
    }
}

struct PrefixForParsing {
    /// Matches where the crate's search would find a match at the start.
    anchored: LazyRegex,
    /// The pattern as the crate compiles it, for its captures and rule.
    plain: LazyRegex,
}

impl PrefixForParsing {
    fn new(source: &'static str) -> Self {
        Self {
            anchored: LazyRegex::anchored(source),
            plain: LazyRegex {
                source,
                anchored: false,
                regex: OnceLock::new(),
            },
        }
    }
}

/// A number type's description: possible lengths and pattern.
struct Pattern {
    lengths: Box<[u16]>,
    regex: LazyRegex,
}

impl Pattern {
    fn new(lengths_field: &str, source: &'static str) -> Option<Self> {
        Some(Self {
            lengths: lengths(lengths_field)?,
            regex: LazyRegex::anchored(source),
        })
    }

    /// `Descriptor::is_match`: a possible length (when the description
    /// lists any), and a match of the pattern that starts at the first
    /// digit (not necessarily ending at the last).
    fn is_match(&self, national: &str) -> Option<bool> {
        let possible = self.lengths.is_empty() || self.lengths.contains(&(national.len() as u16));
        Some(possible && self.regex.regex()?.is_match(national.as_bytes()))
    }
}

/// A metadata pattern, compiled on first use (`None` if it would not
/// compile here: the full parse answers for its region then).
struct LazyRegex {
    source: &'static str,
    anchored: bool,
    regex: OnceLock<Option<Regex>>,
}

impl LazyRegex {
    fn anchored(source: &'static str) -> Self {
        Self {
            source,
            anchored: true,
            regex: OnceLock::new(),
        }
    }

    /// The pattern as the crate compiles it (`regex_cache` with
    /// `ignore_whitespace`, otherwise `regex`'s defaults), over bytes and
    /// without Unicode classes: the number is ASCII digits, on which `\d`
    /// means the same either way. Anchored, it matches exactly where the
    /// crate's `find(..)` returns a match starting at 0 (a leftmost-first
    /// search finds a match at 0 whenever there is one).
    fn regex(&self) -> Option<&Regex> {
        self.regex
            .get_or_init(|| {
                let source = if self.anchored {
                    format!("^(?:{})", self.source)
                } else {
                    self.source.to_owned()
                };
                RegexBuilder::new(&source)
                    .ignore_whitespace(true)
                    .unicode(false)
                    .build()
                    .ok()
            })
            .as_ref()
    }
}

#[cfg(test)]
mod tests {
    use std::fmt::Write as _;

    use phonenumber::metadata::{DATABASE, Database, Descriptor, Descriptors};

    use super::*;

    /// The number types in the order of `metadata.txt` (and of the checks).
    fn number_types(d: &Descriptors) -> [(&'static str, Option<&Descriptor>); 10] {
        [
            ("mobile", d.mobile()),
            ("fixed_line", d.fixed_line()),
            ("premium_rate", d.premium_rate()),
            ("toll_free", d.toll_free()),
            ("shared_cost", d.shared_cost()),
            ("voip", d.voip()),
            ("personal_number", d.personal_number()),
            ("pager", d.pager()),
            ("uan", d.uan()),
            ("voicemail", d.voicemail()),
        ]
    }

    /// A pattern without its layout: under `ignore_whitespace` whitespace
    /// means nothing, unless escaped or in a comment, which no metadata
    /// pattern has.
    fn pattern(source: &str) -> String {
        assert!(!source.contains('#'), "{source}");
        assert!(
            !source.contains("\\ ") && !source.contains("\\\n"),
            "{source}"
        );
        source.chars().filter(|c| !c.is_whitespace()).collect()
    }

    fn word(value: &str) -> &str {
        assert!(!value.contains(char::is_whitespace), "{value:?}");
        value
    }

    fn lengths_field(lengths: &[u16]) -> String {
        if lengths.is_empty() {
            return "-".to_owned();
        }
        let all: Vec<String> = lengths.iter().map(u16::to_string).collect();
        all.join(",")
    }

    /// `metadata.txt` as the crate's database gives it.
    fn render(database: &Database) -> String {
        let mut out = String::from(
            "# The phonenumber crate's metadata (libphonenumber's, as the crate loads it), the\n\
             # fields the phone fast path reads. Generated from phonenumber::metadata::DATABASE\n\
             # by PHONE_METADATA_UPDATE=1 cargo test -p identity-core --lib phone; do not edit.\n\
             # = code id | np national prefix | pp national prefix for parsing |\n\
             # tr transform rule | ld leading digits | gd lengths pattern local-lengths |\n\
             # ty type lengths pattern\n",
        );
        for code in 0..1000u16 {
            for meta in database.by_code(&code).unwrap_or_default() {
                let d = meta.descriptors();
                let _ = writeln!(out, "= {code} {}", word(meta.id()));
                if let Some(prefix) = meta.national_prefix() {
                    let _ = writeln!(out, "np {}", word(prefix));
                }
                if let Some(re) = meta.national_prefix_for_parsing() {
                    let _ = writeln!(out, "pp {}", pattern(re.as_str()));
                }
                if let Some(rule) = meta.national_prefix_transform_rule() {
                    let _ = writeln!(out, "tr {}", word(rule));
                }
                if let Some(re) = meta.leading_digits() {
                    let _ = writeln!(out, "ld {}", pattern(re.as_str()));
                }
                let g = d.general();
                let _ = writeln!(
                    out,
                    "gd {} {} {}",
                    lengths_field(g.possible_length()),
                    pattern(g.national_number().as_str()),
                    lengths_field(g.possible_local_length()),
                );
                for (name, desc) in number_types(d) {
                    if let Some(desc) = desc {
                        let _ = writeln!(
                            out,
                            "ty {name} {} {}",
                            lengths_field(desc.possible_length()),
                            pattern(desc.national_number().as_str()),
                        );
                    }
                }
            }
        }
        out
    }

    #[test]
    fn the_metadata_file_is_the_crates() {
        let rendered = render(&DATABASE);
        if std::env::var_os("PHONE_METADATA_UPDATE").is_some() {
            let path = concat!(env!("CARGO_MANIFEST_DIR"), "/src/phone/metadata.txt");
            std::fs::write(path, &rendered).expect("metadata.txt written");
            return;
        }
        assert!(
            rendered == METADATA,
            "src/phone/metadata.txt is not the phonenumber crate's metadata: \
             PHONE_METADATA_UPDATE=1 cargo test -p identity-core --lib phone"
        );
    }

    #[test]
    fn every_pattern_compiles() {
        let tables = tables().as_ref().expect("metadata.txt reads");
        let mut regions = 0;
        for code in 0..1000 {
            for region in tables.regions(code).unwrap_or_default() {
                regions += 1;
                let mut lazies = vec![&region.general.regex];
                lazies.extend(region.types.iter().map(|t| &t.regex));
                lazies.extend(&region.leading_digits);
                if let Some(p) = &region.prefix_for_parsing {
                    lazies.extend([&p.anchored, &p.plain]);
                }
                for lazy in lazies {
                    assert!(lazy.regex().is_some(), "{}", lazy.source);
                }
            }
        }
        // 245 regions and 9 non-geographic entities in metadata 9.0.33.
        assert_eq!(regions, 254);
    }

    #[test]
    fn common_forms() {
        assert_eq!(e164("+1 (650) 253-0000"), Some(Some("+16502530000".into())));
        assert_eq!(e164("+44 20 7946 0958"), Some(Some("+442079460958".into())));
        assert_eq!(e164("+39 06 6988 1234"), Some(Some("+390669881234".into())));
        assert_eq!(e164("+800 1234 5678"), Some(Some("+80012345678".into())));
        assert_eq!(e164("+1 555"), Some(None));
        // RFC 3966 reading: calling code 4420.
        assert_eq!(e164("+4420-7946-0958"), Some(None));
        // No calling code without a `+`.
        assert_eq!(e164("16502530000"), Some(None));
        assert_eq!(e164("+1 650 253 0000 ext. 1"), None);
        assert_eq!(e164("\u{ff0b}1 650 253 0000"), None);
    }
}
