//! The fast path of [`crate::normalize::phone`]: a phone number written the
//! common international way (ASCII `+`, digits, and spaces, hyphens, dots or
//! parentheses between them) is answered here, from the `phonenumber`
//! crate's own metadata, without the crate's parser.
//!
//! A full `phonenumber::parse` costs about 100,000 instructions: a nom
//! grammar tried twice (RFC 3966, then free text), Unicode-aware regexes for
//! trailing characters and extensions, and above all every metadata pattern
//! fetched through `regex_cache`'s shared LRU cache (a mutex, a hash of the
//! pattern's text, and a recompilation whenever one of the crate's ~2,500
//! patterns has been evicted by the 100 most recent ones). This path compiles
//! the patterns of a calling code once, on first use, and runs the very steps
//! of `parse` + `is_valid` + E.164 formatting for the inputs it accepts, so
//! that its answer is the full path's answer, bug for bug:
//!
//! - the input is read as the crate reads it: without a space, as RFC 3966
//!   (the digits before the first hyphen, dot or parenthesis are the calling
//!   code, whatever they are: `+4420-7946-0958` has calling code 4420, which
//!   does not exist); otherwise as free text (trailing punctuation dropped,
//!   at least three digits, the longest calling code of 1 to 3 digits that
//!   the metadata knows, none when the digits start with `0`);
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
//! Anything else (non-ASCII, letters, extensions, a second `+`, no `+`)
//! is left to the full parse. The differential test
//! `tests/it/phone.rs` checks that both answer alike on hundreds of
//! thousands of seeded strings.

use std::sync::OnceLock;

use phonenumber::metadata::{DATABASE, Database, Descriptor, Metadata};
use regex::{Regex, RegexBuilder};

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
    let rest = s.strip_prefix('+')?;
    if !rest
        .bytes()
        .all(|b| b.is_ascii_digit() || is_separator(b) || b == b' ')
    {
        return None;
    }
    decide(tables(), s, rest)
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
            let text = s.trim_end_matches(|c| matches!(c, '+' | ' ' | '-' | '.' | '(' | ')'));
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
        if let Some(prefix) = region.meta.national_prefix()
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
    if !region.compiled()?.is_known(&national) {
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
        let compiled = region.compiled()?;
        let matched = match &compiled.leading_digits {
            Some(leading) => leading.is_match(national),
            None => compiled.is_known(national),
        };
        if matched {
            return Some(Some(region));
        }
    }
    Some(None)
}

/// The regions of every calling code, in the crate's order.
struct Tables {
    /// Indexed by calling code (1 to 3 digits); empty where none.
    by_code: Vec<Box<[Region]>>,
}

impl Tables {
    fn regions(&self, code: u16) -> Option<&[Region]> {
        self.by_code
            .get(usize::from(code))
            .map(|r| &r[..])
            .filter(|r| !r.is_empty())
    }
}

fn tables() -> &'static Tables {
    static TABLES: OnceLock<Tables> = OnceLock::new();
    TABLES.get_or_init(|| {
        let database: &'static Database = &DATABASE;
        let by_code = (0..1000u16)
            .map(|code| {
                let metas = database.by_code(&code).unwrap_or_default();
                metas
                    .into_iter()
                    .map(|meta| Region {
                        meta,
                        // `source_for` gives a lone region only when it is a
                        // non-geographic entity or a known country id.
                        named: meta.id() == "001"
                            || meta.id().parse::<phonenumber::country::Id>().is_ok(),
                        compiled: OnceLock::new(),
                    })
                    .collect()
            })
            .collect();
        Tables { by_code }
    })
}

/// One region (or non-geographic entity) of a calling code.
struct Region {
    meta: &'static Metadata,
    named: bool,
    /// Its patterns, compiled on first use (`None` if one would not
    /// compile here: the full parse answers for the code then).
    compiled: OnceLock<Option<Compiled>>,
}

impl Region {
    fn compiled(&self) -> Option<&Compiled> {
        self.compiled
            .get_or_init(|| Compiled::new(self.meta))
            .as_ref()
    }

    /// `helper::national_number`: the national prefix or carrier code
    /// stripped, or the number transformed by the region's rule.
    fn national_number(&self, national: &str) -> Option<String> {
        let compiled = self.compiled()?;
        let Some(parsing) = &compiled.prefix_for_parsing else {
            let stripped = match self.meta.national_prefix() {
                Some(prefix) => national.strip_prefix(prefix).unwrap_or(national),
                None => national,
            };
            return Some(stripped.to_owned());
        };
        // The crate searches anywhere and keeps only a match at the start;
        // the anchored twin answers that without scanning the number.
        if !parsing.anchored.is_match(national) {
            return Some(national.to_owned());
        }
        let end = parsing.plain.find(national)?.end();
        let viable = compiled.general.is_match(national);
        let captures = parsing.plain.captures(national)?;
        let first = captures.get(1);
        let last = captures.get(captures.len() - 1);
        match (self.meta.national_prefix_transform_rule(), last) {
            (Some(rule), Some(_)) => {
                // The crate unwraps the first group here.
                first?;
                let transformed = parsing.plain.replace(national, rule).into_owned();
                if viable && !compiled.general.is_match(&transformed) {
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
        let general = self.meta.descriptors().general();
        let possible = general.possible_length();
        let len = len as u16;
        match possible.first() {
            None => false,
            Some(&min) => !general.possible_local_length().contains(&len) && len < min,
        }
    }
}

/// A region's patterns, compiled once.
struct Compiled {
    general: Pattern,
    /// The ten number types `validator::number_type` tries, mobile and
    /// fixed line first (the common answers; for validity the order does
    /// not matter).
    types: Vec<Pattern>,
    leading_digits: Option<Regex>,
    prefix_for_parsing: Option<PrefixForParsing>,
}

struct PrefixForParsing {
    /// Matches where the crate's search would find a match at the start.
    anchored: Regex,
    /// The pattern as the crate compiles it, for its captures and rule.
    plain: Regex,
}

impl Compiled {
    fn new(meta: &'static Metadata) -> Option<Self> {
        let d = meta.descriptors();
        let types = [
            d.mobile(),
            d.fixed_line(),
            d.premium_rate(),
            d.toll_free(),
            d.shared_cost(),
            d.voip(),
            d.personal_number(),
            d.pager(),
            d.uan(),
            d.voicemail(),
        ];
        Some(Self {
            general: Pattern::new(d.general())?,
            types: types
                .into_iter()
                .flatten()
                .map(Pattern::new)
                .collect::<Option<_>>()?,
            leading_digits: match meta.leading_digits() {
                Some(re) => Some(anchored(re.as_str())?),
                None => None,
            },
            prefix_for_parsing: match meta.national_prefix_for_parsing() {
                Some(re) => Some(PrefixForParsing {
                    anchored: anchored(re.as_str())?,
                    plain: compile(re.as_str())?,
                }),
                None => None,
            },
        })
    }

    /// `validator::number_type(meta, national) != Type::Unknown`.
    fn is_known(&self, national: &str) -> bool {
        self.general.is_match(national) && self.types.iter().any(|t| t.is_match(national))
    }
}

/// A number type's description: possible lengths and pattern.
struct Pattern {
    lengths: &'static [u16],
    anchored: Regex,
}

impl Pattern {
    fn new(desc: &'static Descriptor) -> Option<Self> {
        Some(Self {
            lengths: desc.possible_length(),
            anchored: anchored(desc.national_number().as_str())?,
        })
    }

    /// `Descriptor::is_match`: a possible length (when the description
    /// lists any), and a match of the pattern that starts at the first
    /// digit (not necessarily ending at the last).
    fn is_match(&self, national: &str) -> bool {
        (self.lengths.is_empty() || self.lengths.contains(&(national.len() as u16)))
            && self.anchored.is_match(national)
    }
}

/// A metadata pattern as the crate compiles it (`regex_cache` with
/// `ignore_whitespace`, otherwise `regex`'s defaults).
fn compile(source: &str) -> Option<Regex> {
    RegexBuilder::new(source)
        .ignore_whitespace(true)
        .build()
        .ok()
}

/// The pattern anchored at the start: it matches exactly where the crate's
/// `find(..)` returns a match starting at 0 (leftmost-first search finds a
/// match at 0 whenever there is one). A `#` would start a comment under
/// `ignore_whitespace` and swallow the closing parenthesis; no metadata
/// pattern holds one.
fn anchored(source: &str) -> Option<Regex> {
    if source.contains('#') {
        return None;
    }
    compile(&format!("^(?:{source})"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_region_compiles() {
        let tables = tables();
        let mut regions = 0;
        for code in 0..1000 {
            for region in tables.regions(code).unwrap_or_default() {
                assert!(region.compiled().is_some(), "{}", region.meta.id());
                regions += 1;
            }
        }
        // 245 regions and 9 non-geographic entities in metadata 9.0.33
        // (plus the crate's own entries, if any).
        assert!(regions >= 254, "{regions}");
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
        assert_eq!(e164("16502530000"), None);
        assert_eq!(e164("+1 650 253 0000 ext. 1"), None);
        assert_eq!(e164("\u{ff0b}1 650 253 0000"), None);
    }
}
