//! The entries of an import file, read one at a time: a JSON array or JSON
//! lines, told apart by the first byte that is not white space. Neither
//! form is read whole: an entry is collected up to a byte limit (past it
//! the rest of the entry is skipped, not kept), so memory stays bounded by
//! the entry limit whatever the file's size.

use std::io::{self, BufRead};

/// One entry: where it is and its bytes (or why they were not kept).
#[derive(Debug)]
pub(crate) struct Entry {
    /// 1-based position among the entries.
    pub index: u64,
    /// The 1-based line the entry starts on.
    pub line: u64,
    /// The entry's JSON text, or why it was skipped.
    pub text: Result<Vec<u8>, String>,
}

/// The two shapes of an import file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Shape {
    /// Not known yet (nothing but white space read).
    Unknown,
    /// `[entry, entry, ...]`.
    Array,
    /// One entry per line; blank lines are skipped.
    Lines,
    /// The array's `]` was read.
    Done,
}

/// Reads entries from `R`.
pub(crate) struct EntryReader<R> {
    input: R,
    shape: Shape,
    max_bytes: usize,
    /// The line the next byte is on.
    line: u64,
    entries: u64,
    bytes: u64,
    /// A structural error found after the last entry: returned by the next
    /// call, so that the entry before it is still imported.
    broken: Option<String>,
}

/// Whether `b` is JSON white space.
fn is_space(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\n' | b'\r')
}

impl<R: BufRead> EntryReader<R> {
    pub(crate) fn new(input: R, max_bytes: usize) -> Self {
        EntryReader {
            input,
            shape: Shape::Unknown,
            max_bytes,
            line: 1,
            entries: 0,
            bytes: 0,
            broken: None,
        }
    }

    /// Bytes consumed so far.
    pub(crate) fn bytes_read(&self) -> u64 {
        self.bytes
    }

    /// The next entry; `Ok(None)` at the end. An error is fatal: the input
    /// failed, or an array's structure is broken so that no later entry
    /// can be found.
    pub(crate) fn next_entry(&mut self) -> Result<Option<Entry>, String> {
        if let Some(e) = self.broken.take() {
            self.shape = Shape::Done;
            return Err(e);
        }
        if self.shape == Shape::Unknown {
            self.skip_bom().map_err(|e| self.io_error(e))?;
            match self.skip_space().map_err(|e| self.io_error(e))? {
                None => return Ok(None),
                Some(b'[') => {
                    self.consume(1);
                    self.shape = Shape::Array;
                    if self.skip_space().map_err(|e| self.io_error(e))? == Some(b']') {
                        self.consume(1);
                        self.shape = Shape::Done;
                        return self.expect_end().map(|()| None);
                    }
                }
                Some(_) => self.shape = Shape::Lines,
            }
        }
        match self.shape {
            Shape::Lines => self.next_line(),
            Shape::Array => self.next_element(),
            Shape::Done | Shape::Unknown => Ok(None),
        }
    }

    fn io_error(&self, e: io::Error) -> String {
        format!("reading line {} failed: {e}", self.line)
    }

    /// The next byte, not consumed; `None` at the end.
    fn peek(&mut self) -> io::Result<Option<u8>> {
        loop {
            match self.input.fill_buf() {
                Ok(buf) => return Ok(buf.first().copied()),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            }
        }
    }

    fn consume(&mut self, n: usize) {
        self.input.consume(n);
        self.bytes += n as u64;
    }

    /// Skips a UTF-8 byte order mark at the very start.
    fn skip_bom(&mut self) -> io::Result<()> {
        let buf = loop {
            match self.input.fill_buf() {
                Ok(buf) => break buf,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            }
        };
        if buf.starts_with(&[0xEF, 0xBB, 0xBF]) {
            self.consume(3);
        }
        Ok(())
    }

    /// Skips white space; the first other byte, not consumed.
    fn skip_space(&mut self) -> io::Result<Option<u8>> {
        while let Some(b) = self.peek()? {
            if !is_space(b) {
                return Ok(Some(b));
            }
            if b == b'\n' {
                self.line += 1;
            }
            self.consume(1);
        }
        Ok(None)
    }

    /// After the array: only white space may follow.
    fn expect_end(&mut self) -> Result<(), String> {
        match self.skip_space().map_err(|e| self.io_error(e))? {
            None => Ok(()),
            Some(_) => Err(format!(
                "line {}: unexpected content after the JSON array",
                self.line
            )),
        }
    }

    /// One line of JSON lines, skipping blank ones.
    fn next_line(&mut self) -> Result<Option<Entry>, String> {
        loop {
            let line = self.line;
            let mut text = Vec::new();
            let mut too_long = false;
            let mut ended = false;
            let mut any = false;
            loop {
                let buf = loop {
                    match self.input.fill_buf() {
                        Ok(buf) => break buf,
                        Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                        Err(e) => return Err(format!("reading line {line} failed: {e}")),
                    }
                };
                if buf.is_empty() {
                    break;
                }
                any = true;
                let (chunk, used, newline) = match buf.iter().position(|&b| b == b'\n') {
                    Some(at) => (&buf[..at], at + 1, true),
                    None => (buf, buf.len(), false),
                };
                if !too_long {
                    if text.len() + chunk.len() > self.max_bytes {
                        too_long = true;
                        text = Vec::new();
                    } else {
                        text.extend_from_slice(chunk);
                    }
                }
                self.consume(used);
                if newline {
                    self.line += 1;
                    ended = true;
                    break;
                }
            }
            if !any {
                return Ok(None);
            }
            if !too_long && text.iter().all(|&b| is_space(b)) {
                if ended {
                    continue;
                }
                return Ok(None);
            }
            self.entries += 1;
            return Ok(Some(Entry {
                index: self.entries,
                line,
                text: if too_long {
                    Err(self.too_large())
                } else {
                    Ok(text)
                },
            }));
        }
    }

    fn too_large(&self) -> String {
        format!(
            "the entry is larger than the limit of {} bytes",
            self.max_bytes
        )
    }

    /// One element of the array, then its `,` or `]`.
    fn next_element(&mut self) -> Result<Option<Entry>, String> {
        let io = |s: &Self, e: io::Error| s.io_error(e);
        match self.skip_space().map_err(|e| io(self, e))? {
            None => {
                return Err(format!(
                    "line {}: the JSON array ends without `]`",
                    self.line
                ));
            }
            Some(b',' | b']') => {
                return Err(format!("line {}: expected an entry", self.line));
            }
            Some(_) => {}
        }
        let line = self.line;
        self.entries += 1;
        let index = self.entries;
        let mut text = Vec::new();
        let mut too_long = false;
        let mut depth: u64 = 0;
        let mut in_string = false;
        let mut escaped = false;
        let mut first: Option<u8> = None;
        loop {
            let Some(b) = self.peek().map_err(|e| io(self, e))? else {
                return Err(format!(
                    "line {}: the JSON array ends inside entry {index} (line {line})",
                    self.line
                ));
            };
            // A scalar ends at the first byte that cannot be part of it.
            if let Some(first) = first
                && depth == 0
                && !in_string
                && !matches!(first, b'{' | b'[' | b'"')
                && (b == b',' || b == b']' || is_space(b))
            {
                break;
            }
            first.get_or_insert(b);
            self.consume(1);
            if b == b'\n' {
                self.line += 1;
            }
            if !too_long {
                if text.len() >= self.max_bytes {
                    too_long = true;
                    text = Vec::new();
                } else {
                    text.push(b);
                }
            }
            if in_string {
                if escaped {
                    escaped = false;
                } else if b == b'\\' {
                    escaped = true;
                } else if b == b'"' {
                    in_string = false;
                    if depth == 0 {
                        break;
                    }
                }
                continue;
            }
            match b {
                b'"' => in_string = true,
                b'{' | b'[' => depth += 1,
                b'}' | b']' => {
                    depth = depth.saturating_sub(1);
                    if depth == 0 {
                        break;
                    }
                }
                _ => {}
            }
        }
        match self.skip_space().map_err(|e| io(self, e))? {
            Some(b',') => self.consume(1),
            Some(b']') => {
                self.consume(1);
                self.shape = Shape::Done;
                self.broken = self.expect_end().err();
            }
            Some(_) => {
                self.broken = Some(format!(
                    "line {}: expected `,` or `]` after entry {index}",
                    self.line
                ));
            }
            None => {
                self.broken = Some(format!(
                    "line {}: the JSON array ends without `]`",
                    self.line
                ));
            }
        }
        Ok(Some(Entry {
            index,
            line,
            text: if too_long {
                Err(self.too_large())
            } else {
                Ok(text)
            },
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An entry as (index, line, text or error).
    type Read = (u64, u64, Result<String, String>);

    /// Every entry, then the fatal error if any.
    fn read(input: &str, max: usize) -> (Vec<Read>, Option<String>) {
        // A tiny buffer, so entries span many reads.
        let mut reader = EntryReader::new(io::BufReader::with_capacity(3, input.as_bytes()), max);
        let mut out = Vec::new();
        loop {
            match reader.next_entry() {
                Ok(Some(e)) => out.push((
                    e.index,
                    e.line,
                    e.text.map(|t| String::from_utf8(t).expect("utf-8")),
                )),
                Ok(None) => return (out, None),
                Err(e) => return (out, Some(e)),
            }
        }
    }

    fn ok(index: u64, line: u64, text: &str) -> Read {
        (index, line, Ok(text.to_owned()))
    }

    #[test]
    fn json_lines() {
        let (entries, fatal) = read("\n{\"a\":1}\n\n  \n{\"b\":\"x\\ny\"}\r\n[1]", 100);
        assert_eq!(
            entries,
            [
                ok(1, 2, "{\"a\":1}"),
                ok(2, 5, "{\"b\":\"x\\ny\"}\r"),
                ok(3, 6, "[1]")
            ]
        );
        assert_eq!(fatal, None);
    }

    #[test]
    fn arrays() {
        let input = "\u{feff} [ {\"a\":\"]},\\\"\"},\n{\"b\":[1,{}]} ,\n\nnull, 12 ,\"s\"]\n ";
        let (entries, fatal) = read(input, 100);
        assert_eq!(
            entries,
            [
                ok(1, 1, "{\"a\":\"]},\\\"\"}"),
                ok(2, 2, "{\"b\":[1,{}]}"),
                ok(3, 4, "null"),
                ok(4, 4, "12"),
                ok(5, 4, "\"s\"")
            ]
        );
        assert_eq!(fatal, None);
        assert_eq!(read(" [ ] ", 10), (vec![], None));
        assert_eq!(read("  \n ", 10), (vec![], None));
    }

    #[test]
    fn oversized_entries_are_skipped_not_kept() {
        let too = Err("the entry is larger than the limit of 8 bytes".to_owned());
        let (entries, fatal) = read("{\"a\":\"0123456789\"}\n{\"b\":1}\n", 8);
        assert_eq!(entries, [(1, 1, too.clone()), ok(2, 2, "{\"b\":1}")]);
        assert_eq!(fatal, None);
        let (entries, fatal) = read("[{\"a\":\"0123456789\"},{\"b\":1}]", 8);
        assert_eq!(entries, [(1, 1, too), ok(2, 1, "{\"b\":1}")]);
        assert_eq!(fatal, None);
    }

    #[test]
    fn broken_arrays_are_fatal() {
        for (input, error) in [
            ("[{\"a\":1}", "line 1: the JSON array ends without `]`"),
            ("[{\"a\":1},", "line 1: the JSON array ends without `]`"),
            (
                "[{\"a\":\n1",
                "line 2: the JSON array ends inside entry 1 (line 1)",
            ),
            ("[{} {}]", "line 1: expected `,` or `]` after entry 1"),
            ("[{},,{}]", "line 1: expected an entry"),
            (
                "[{}]\n[]",
                "line 2: unexpected content after the JSON array",
            ),
        ] {
            assert_eq!(read(input, 100).1.as_deref(), Some(error), "{input}");
        }
    }
}
