//! A strict JSON parser (RFC 8259) that remembers where every value starts and ends.
//!
//! serde_json throws positions away, but every jitlint finding must point at the offending value,
//! so this parser keeps the byte span of each value and object key. Strings borrow from the input
//! unless they contain escapes. Nesting is limited to [`MAX_DEPTH`] levels so that hostile input
//! (100,000 `[`) is an error instead of a stack overflow; everything that walks a [`Node`] tree
//! recursively relies on that bound.

use std::fmt;
use std::ops::Deref;

/// Deepest nesting of arrays and objects accepted. IAM policies nest about 6 levels and Terraform
/// plans about 30, so 256 leaves a wide margin while keeping recursion shallow.
pub const MAX_DEPTH: usize = 256;

/// Byte offsets `start..end` of a value or key in the parsed text.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Span {
    pub start: u32,
    pub end: u32,
}

/// A JSON value with its position.
#[derive(Debug, Clone, PartialEq)]
pub struct Node<'a> {
    pub value: Value<'a>,
    pub span: Span,
}

/// An object member: the key (with its own span) and the value.
#[derive(Debug, Clone, PartialEq)]
pub struct Member<'a> {
    pub key: Str<'a>,
    pub key_span: Span,
    pub value: Node<'a>,
}

/// The value itself. Numbers keep their source text; object members keep their order and duplicates.
#[derive(Debug, Clone, PartialEq)]
pub enum Value<'a> {
    Null,
    Bool(bool),
    Number(&'a str),
    String(Str<'a>),
    // Boxed slices, not vectors: no spare capacity, and a smaller node (plans have 100,000s).
    Array(Box<[Node<'a>]>),
    Object(Box<[Member<'a>]>),
}

/// A string from the input: borrowed when it has no escapes, decoded otherwise. Two words
/// plus a tag, against three for `Cow<str>`.
#[derive(Clone, PartialEq, Eq)]
pub enum Str<'a> {
    Borrowed(&'a str),
    Owned(Box<str>),
}

impl Deref for Str<'_> {
    type Target = str;

    fn deref(&self) -> &str {
        match self {
            Str::Borrowed(s) => s,
            Str::Owned(s) => s,
        }
    }
}

impl PartialEq<str> for Str<'_> {
    fn eq(&self, other: &str) -> bool {
        **self == *other
    }
}

impl PartialEq<&str> for Str<'_> {
    fn eq(&self, other: &&str) -> bool {
        **self == **other
    }
}

impl fmt::Debug for Str<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&**self, f)
    }
}

impl fmt::Display for Str<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self)
    }
}

/// Why a text is not JSON, and where (byte offset; turn it into line and column with [`LineIndex`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParseError {
    pub message: String,
    pub offset: usize,
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for ParseError {}

/// Parses one JSON document. A leading UTF-8 byte-order mark is skipped.
pub fn parse(text: &str) -> Result<Node<'_>, ParseError> {
    if text.len() > u32::MAX as usize {
        return Err(ParseError {
            message: "the input is larger than 4 GiB".into(),
            offset: 0,
        });
    }
    let mut p = Parser {
        text,
        bytes: text.as_bytes(),
        pos: 0,
    };
    if text.starts_with('\u{feff}') {
        p.pos = 3;
    }
    p.skip_ws();
    let node = p.value(0)?;
    p.skip_ws();
    if p.pos < p.bytes.len() {
        return Err(p.err_here("unexpected content after the JSON value"));
    }
    Ok(node)
}

struct Parser<'a> {
    text: &'a str,
    bytes: &'a [u8],
    pos: usize,
}

impl<'a> Parser<'a> {
    fn err(&self, offset: usize, message: impl Into<String>) -> ParseError {
        ParseError {
            message: message.into(),
            offset,
        }
    }

    fn err_here(&self, what: &str) -> ParseError {
        self.err(self.pos, format!("{what}, found {}", self.describe_here()))
    }

    fn describe_here(&self) -> String {
        match self.text[self.pos..].chars().next() {
            None => "end of input".into(),
            Some(c) if c.is_control() => format!("{:?}", c),
            Some(c) => format!("'{c}'"),
        }
    }

    fn skip_ws(&mut self) {
        while let Some(&b) = self.bytes.get(self.pos) {
            if matches!(b, b' ' | b'\t' | b'\n' | b'\r') {
                self.pos += 1;
            } else {
                break;
            }
        }
    }

    fn span(&self, start: usize) -> Span {
        // Both fit: `parse` rejects inputs longer than u32::MAX.
        Span {
            start: start as u32,
            end: self.pos as u32,
        }
    }

    fn value(&mut self, depth: usize) -> Result<Node<'a>, ParseError> {
        let start = self.pos;
        let value = match self.bytes.get(self.pos) {
            None => return Err(self.err_here("expected a JSON value")),
            Some(b'{') => self.object(depth + 1)?,
            Some(b'[') => self.array(depth + 1)?,
            Some(b'"') => Value::String(self.string()?),
            Some(b't') => self.literal("true", Value::Bool(true))?,
            Some(b'f') => self.literal("false", Value::Bool(false))?,
            Some(b'n') => self.literal("null", Value::Null)?,
            Some(b'-' | b'0'..=b'9') => Value::Number(self.number()?),
            Some(_) => return Err(self.err_here("expected a JSON value")),
        };
        Ok(Node {
            value,
            span: self.span(start),
        })
    }

    fn literal(&mut self, word: &str, value: Value<'a>) -> Result<Value<'a>, ParseError> {
        if self.bytes[self.pos..].starts_with(word.as_bytes()) {
            self.pos += word.len();
            Ok(value)
        } else {
            Err(self.err_here("expected a JSON value"))
        }
    }

    fn enter(&self, depth: usize) -> Result<(), ParseError> {
        if depth > MAX_DEPTH {
            Err(self.err(
                self.pos,
                format!("arrays and objects are nested deeper than {MAX_DEPTH} levels"),
            ))
        } else {
            Ok(())
        }
    }

    fn array(&mut self, depth: usize) -> Result<Value<'a>, ParseError> {
        self.enter(depth)?;
        self.pos += 1;
        let mut items = Vec::new();
        self.skip_ws();
        if self.bytes.get(self.pos) == Some(&b']') {
            self.pos += 1;
            return Ok(Value::Array(items.into_boxed_slice()));
        }
        loop {
            self.skip_ws();
            items.push(self.value(depth)?);
            self.skip_ws();
            match self.bytes.get(self.pos) {
                Some(b',') => self.pos += 1,
                Some(b']') => {
                    self.pos += 1;
                    return Ok(Value::Array(items.into_boxed_slice()));
                }
                _ => return Err(self.err_here("expected ',' or ']' after an array element")),
            }
        }
    }

    fn object(&mut self, depth: usize) -> Result<Value<'a>, ParseError> {
        self.enter(depth)?;
        self.pos += 1;
        let mut members = Vec::new();
        self.skip_ws();
        if self.bytes.get(self.pos) == Some(&b'}') {
            self.pos += 1;
            return Ok(Value::Object(members.into_boxed_slice()));
        }
        loop {
            self.skip_ws();
            if self.bytes.get(self.pos) != Some(&b'"') {
                return Err(self.err_here("expected a string key in double quotes"));
            }
            let key_start = self.pos;
            let key = self.string()?;
            let key_span = self.span(key_start);
            self.skip_ws();
            if self.bytes.get(self.pos) != Some(&b':') {
                return Err(self.err_here("expected ':' after an object key"));
            }
            self.pos += 1;
            self.skip_ws();
            let value = self.value(depth)?;
            members.push(Member {
                key,
                key_span,
                value,
            });
            self.skip_ws();
            match self.bytes.get(self.pos) {
                Some(b',') => self.pos += 1,
                Some(b'}') => {
                    self.pos += 1;
                    return Ok(Value::Object(members.into_boxed_slice()));
                }
                _ => return Err(self.err_here("expected ',' or '}' after an object member")),
            }
        }
    }

    fn string(&mut self) -> Result<Str<'a>, ParseError> {
        let open = self.pos;
        self.pos += 1;
        let start = self.pos;
        // Fast path: no escapes, borrow the slice.
        loop {
            match self.bytes.get(self.pos) {
                None => return Err(self.err(open, "unterminated string")),
                Some(b'"') => {
                    let s = &self.text[start..self.pos];
                    self.pos += 1;
                    return Ok(Str::Borrowed(s));
                }
                Some(b'\\') => break,
                Some(&b) if b < 0x20 => return Err(self.control_char(b)),
                Some(_) => self.pos += 1,
            }
        }
        let mut out = String::with_capacity(self.pos - start + 16);
        out.push_str(&self.text[start..self.pos]);
        loop {
            match self.bytes.get(self.pos) {
                None => return Err(self.err(open, "unterminated string")),
                Some(b'"') => {
                    self.pos += 1;
                    return Ok(Str::Owned(out.into_boxed_str()));
                }
                Some(b'\\') => {
                    let esc = self.pos;
                    self.pos += 1;
                    let c = match self.bytes.get(self.pos) {
                        Some(b'"') => '"',
                        Some(b'\\') => '\\',
                        Some(b'/') => '/',
                        Some(b'b') => '\u{8}',
                        Some(b'f') => '\u{c}',
                        Some(b'n') => '\n',
                        Some(b'r') => '\r',
                        Some(b't') => '\t',
                        Some(b'u') => {
                            self.pos += 1;
                            out.push(self.unicode_escape(esc)?);
                            continue;
                        }
                        _ => {
                            return Err(self.err(
                                esc,
                                format!("invalid escape sequence in a string, found \\{}", {
                                    let rest = &self.text[self.pos..];
                                    rest.chars().next().map(String::from).unwrap_or_default()
                                }),
                            ));
                        }
                    };
                    self.pos += 1;
                    out.push(c);
                }
                Some(&b) if b < 0x20 => return Err(self.control_char(b)),
                Some(_) => {
                    // Copy the run up to the next quote, backslash or control byte in one go.
                    let run = self.pos;
                    while let Some(&b) = self.bytes.get(self.pos) {
                        if b == b'"' || b == b'\\' || b < 0x20 {
                            break;
                        }
                        self.pos += 1;
                    }
                    out.push_str(&self.text[run..self.pos]);
                }
            }
        }
    }

    fn control_char(&self, b: u8) -> ParseError {
        self.err(
            self.pos,
            format!("control character U+{b:04X} in a string; escape it (e.g. \\n or \\u{b:04x})"),
        )
    }

    /// Reads the four hex digits after `\u` (and a following low surrogate when needed).
    fn unicode_escape(&mut self, esc: usize) -> Result<char, ParseError> {
        let hi = self.hex4(esc)?;
        if (0xD800..0xDC00).contains(&hi) {
            if self.bytes.get(self.pos) == Some(&b'\\')
                && self.bytes.get(self.pos + 1) == Some(&b'u')
            {
                self.pos += 2;
                let lo = self.hex4(esc)?;
                if (0xDC00..0xE000).contains(&lo) {
                    let c = 0x10000 + ((hi - 0xD800) << 10) + (lo - 0xDC00);
                    return char::from_u32(c)
                        .ok_or_else(|| self.err(esc, "invalid unicode escape"));
                }
            }
            return Err(self.err(esc, format!("unpaired surrogate \\u{hi:04x} in a string")));
        }
        if (0xDC00..0xE000).contains(&hi) {
            return Err(self.err(esc, format!("unpaired surrogate \\u{hi:04x} in a string")));
        }
        char::from_u32(hi).ok_or_else(|| self.err(esc, "invalid unicode escape"))
    }

    fn hex4(&mut self, esc: usize) -> Result<u32, ParseError> {
        let digits = self
            .bytes
            .get(self.pos..self.pos + 4)
            .filter(|d| d.iter().all(u8::is_ascii_hexdigit))
            .ok_or_else(|| self.err(esc, "\\u must be followed by four hex digits"))?;
        // Checked above: four ASCII hex digits.
        let s = std::str::from_utf8(digits).unwrap_or("0");
        let v = u32::from_str_radix(s, 16).unwrap_or(0);
        self.pos += 4;
        Ok(v)
    }

    fn number(&mut self) -> Result<&'a str, ParseError> {
        let start = self.pos;
        if self.bytes[self.pos] == b'-' {
            self.pos += 1;
        }
        match self.bytes.get(self.pos) {
            Some(b'0') => self.pos += 1,
            Some(b'1'..=b'9') => self.digits(),
            _ => return Err(self.err_here("expected a digit in a number")),
        }
        if self.bytes.get(self.pos) == Some(&b'.') {
            self.pos += 1;
            if !self.bytes.get(self.pos).is_some_and(u8::is_ascii_digit) {
                return Err(self.err_here("expected a digit after the decimal point"));
            }
            self.digits();
        }
        if matches!(self.bytes.get(self.pos), Some(b'e' | b'E')) {
            self.pos += 1;
            if matches!(self.bytes.get(self.pos), Some(b'+' | b'-')) {
                self.pos += 1;
            }
            if !self.bytes.get(self.pos).is_some_and(u8::is_ascii_digit) {
                return Err(self.err_here("expected a digit in the exponent"));
            }
            self.digits();
        }
        Ok(&self.text[start..self.pos])
    }

    fn digits(&mut self) {
        while self.bytes.get(self.pos).is_some_and(u8::is_ascii_digit) {
            self.pos += 1;
        }
    }
}

impl<'a> Node<'a> {
    /// The value of member `key` of an object (the last one if the key is repeated, as most JSON
    /// readers, Terraform and Python included, do).
    pub fn get(&self, key: &str) -> Option<&Node<'a>> {
        self.member(key).map(|m| &m.value)
    }

    /// Member `key` of an object, with its key span.
    pub fn member(&self, key: &str) -> Option<&Member<'a>> {
        match &self.value {
            Value::Object(members) => members.iter().rev().find(|m| m.key == key),
            _ => None,
        }
    }

    pub fn as_str(&self) -> Option<&str> {
        match &self.value {
            Value::String(s) => Some(s),
            _ => None,
        }
    }

    pub fn as_bool(&self) -> Option<bool> {
        match self.value {
            Value::Bool(b) => Some(b),
            _ => None,
        }
    }

    pub fn as_f64(&self) -> Option<f64> {
        match self.value {
            Value::Number(n) => n.parse().ok(),
            _ => None,
        }
    }

    pub fn as_array(&self) -> Option<&[Node<'a>]> {
        match &self.value {
            Value::Array(items) => Some(items),
            _ => None,
        }
    }

    pub fn as_object(&self) -> Option<&[Member<'a>]> {
        match &self.value {
            Value::Object(members) => Some(members),
            _ => None,
        }
    }

    pub fn is_null(&self) -> bool {
        matches!(self.value, Value::Null)
    }

    /// "string", "number", … for error messages.
    pub fn kind(&self) -> &'static str {
        match self.value {
            Value::Null => "null",
            Value::Bool(_) => "boolean",
            Value::Number(_) => "number",
            Value::String(_) => "string",
            Value::Array(_) => "array",
            Value::Object(_) => "object",
        }
    }

    /// Appends the value as minified JSON: the same text however the source was formatted.
    pub fn write_compact(&self, out: &mut String) {
        match &self.value {
            Value::Null => out.push_str("null"),
            Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
            Value::Number(n) => out.push_str(n),
            Value::String(s) => write_json_string(out, s),
            Value::Array(items) => {
                out.push('[');
                for (i, item) in items.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    item.write_compact(out);
                }
                out.push(']');
            }
            Value::Object(members) => {
                out.push('{');
                for (i, m) in members.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    write_json_string(out, &m.key);
                    out.push(':');
                    m.value.write_compact(out);
                }
                out.push('}');
            }
        }
    }

    /// The value as minified JSON.
    pub fn to_compact(&self) -> String {
        let mut out = String::new();
        self.write_compact(&mut out);
        out
    }
}

/// Appends `s` as a JSON string literal.
pub fn write_json_string(out: &mut String, s: &str) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 => {
                use fmt::Write;
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

/// Maps byte offsets to 1-based lines and columns (columns count Unicode scalar values).
///
/// `terraform show -json` prints a whole plan on one line of megabytes, so columns must not
/// be counted from the start of the line each time: the index keeps the number of characters
/// before every 4,096th byte, and counts at most that many bytes per lookup.
#[derive(Debug, Clone)]
pub struct LineIndex {
    line_starts: Vec<u32>,
    /// (byte offset on a character boundary, characters before it), in order.
    checkpoints: Vec<(u32, u32)>,
}

/// Bytes between character-count checkpoints.
const CHECKPOINT: usize = 4096;

/// A 1-based line and column.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Position {
    pub line: u32,
    pub column: u32,
}

impl LineIndex {
    pub fn new(text: &str) -> LineIndex {
        let mut line_starts = vec![0u32];
        line_starts.extend(
            text.bytes()
                .enumerate()
                .filter(|&(_, b)| b == b'\n')
                .map(|(i, _)| (i + 1) as u32),
        );
        let mut checkpoints = vec![(0u32, 0u32)];
        let (mut at, mut chars) = (0usize, 0usize);
        while at + CHECKPOINT < text.len() {
            let mut next = at + CHECKPOINT;
            while !text.is_char_boundary(next) {
                next += 1;
            }
            chars += text[at..next].chars().count();
            checkpoints.push((next as u32, chars as u32));
            at = next;
        }
        LineIndex {
            line_starts,
            checkpoints,
        }
    }

    /// Characters before byte `offset` (clamped to the text and to a character boundary).
    fn chars_before(&self, text: &str, offset: usize) -> usize {
        let mut offset = offset.min(text.len());
        while !text.is_char_boundary(offset) {
            offset -= 1;
        }
        let i = self
            .checkpoints
            .partition_point(|&(o, _)| o as usize <= offset)
            - 1;
        let (at, chars) = self.checkpoints[i];
        chars as usize + text[at as usize..offset].chars().count()
    }

    /// Line and column of byte `offset` in `text` (the text this index was built from).
    pub fn position(&self, text: &str, offset: u32) -> Position {
        let line = self.line_starts.partition_point(|&s| s <= offset) - 1;
        let start = self.line_starts[line] as usize;
        let column = self.chars_before(text, offset as usize) - self.chars_before(text, start);
        Position {
            line: line as u32 + 1,
            column: column as u32 + 1,
        }
    }

    /// Byte offset where 1-based line `line` starts.
    pub fn line_start(&self, line: u32) -> usize {
        self.line_starts
            .get(line as usize - 1)
            .map_or(usize::MAX, |&s| s as usize)
    }

    /// The text of 1-based line `line`, without its line break.
    pub fn line_text<'t>(&self, text: &'t str, line: u32) -> &'t str {
        let i = line as usize - 1;
        let start = self.line_starts.get(i).map_or(text.len(), |&s| s as usize);
        let end = self
            .line_starts
            .get(i + 1)
            .map_or(text.len(), |&s| s as usize);
        text.get(start..end)
            .unwrap_or("")
            .trim_end_matches(['\n', '\r'])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pos(text: &str, offset: u32) -> (u32, u32) {
        let p = LineIndex::new(text).position(text, offset);
        (p.line, p.column)
    }

    #[test]
    fn spans_point_at_values_and_keys() {
        let text = "{\n  \"Action\": \"ec2:*\",\n  \"n\": [1, -2.5e3]\n}";
        let root = parse(text).unwrap();
        let m = root.member("Action").unwrap();
        assert_eq!(pos(text, m.key_span.start), (2, 3));
        assert_eq!(pos(text, m.value.span.start), (2, 13));
        assert_eq!(
            &text[m.value.span.start as usize..m.value.span.end as usize],
            "\"ec2:*\""
        );
        let n = root.get("n").unwrap().as_array().unwrap();
        assert_eq!(n[1].value, Value::Number("-2.5e3"));
        assert_eq!(pos(text, n[1].span.start), (3, 12));
    }

    #[test]
    fn escapes_and_unicode_columns() {
        let text = "{\"ü\": \"a\\\"b\\u00e9\\ud83d\\ude00\", \"x\": true}";
        let root = parse(text).unwrap();
        assert_eq!(root.get("ü").unwrap().as_str(), Some("a\"bé😀"));
        let x = root.member("x").unwrap();
        // Columns count characters, not bytes: "ü" is one column.
        assert_eq!(pos(text, x.key_span.start), (1, 33));
    }

    #[test]
    fn compact_form_ignores_formatting() {
        let a = parse("{ \"a\" : [ 1 , \"x\\ty\" ] }").unwrap();
        let b = parse("{\"a\":[1,\"x\\u0009y\"]}").unwrap();
        assert_eq!(a.to_compact(), b.to_compact());
        assert_eq!(a.to_compact(), "{\"a\":[1,\"x\\ty\"]}");
    }

    #[test]
    fn duplicate_keys_take_the_last() {
        let root = parse(r#"{"a": 1, "a": 2}"#).unwrap();
        assert_eq!(root.get("a").unwrap().as_f64(), Some(2.0));
    }

    #[test]
    fn rejects_invalid_json_with_positions() {
        for (text, msg, offset) in [
            ("", "expected a JSON value, found end of input", 0),
            (
                "{\"a\":1,}",
                "expected a string key in double quotes, found '}'",
                7,
            ),
            (
                "[1 2]",
                "expected ',' or ']' after an array element, found '2'",
                3,
            ),
            (
                "01",
                "unexpected content after the JSON value, found '1'",
                1,
            ),
            (
                "\"a\nb\"",
                "control character U+000A in a string; escape it (e.g. \\n or \\u000a)",
                2,
            ),
            (
                "\"\\x\"",
                "invalid escape sequence in a string, found \\x",
                1,
            ),
            ("\"\\ud800\"", "unpaired surrogate \\ud800 in a string", 1),
            (
                "{\"a\" 1}",
                "expected ':' after an object key, found '1'",
                5,
            ),
            ("-", "expected a digit in a number, found end of input", 1),
            (
                "1.",
                "expected a digit after the decimal point, found end of input",
                2,
            ),
            ("nul", "expected a JSON value, found 'n'", 0),
            ("\"abc", "unterminated string", 0),
            (
                "[] x",
                "unexpected content after the JSON value, found 'x'",
                3,
            ),
        ] {
            let err = parse(text).unwrap_err();
            assert_eq!(
                (err.message.as_str(), err.offset),
                (msg, offset),
                "{text:?}"
            );
        }
    }

    #[test]
    fn skips_byte_order_mark() {
        assert_eq!(parse("\u{feff}[]").unwrap().span.start, 3);
    }

    #[test]
    fn deep_nesting_is_an_error_not_a_crash() {
        let deep = "[".repeat(100_000);
        let err = parse(&deep).unwrap_err();
        assert!(
            err.message.contains("nested deeper than 256"),
            "{}",
            err.message
        );
        let mixed: String = "{\"a\":[".repeat(50_000);
        assert!(parse(&mixed).is_err());
        let ok = format!("{}{}", "[".repeat(MAX_DEPTH), "]".repeat(MAX_DEPTH));
        assert!(parse(&ok).is_ok());
        let too_deep = format!("{}{}", "[".repeat(MAX_DEPTH + 1), "]".repeat(MAX_DEPTH + 1));
        assert!(parse(&too_deep).is_err());
    }

    #[test]
    fn columns_on_long_lines_use_checkpoints() {
        // A minified plan: one line, multi-byte characters on both sides of checkpoints.
        let text = format!("{}\"*\"{}", "é".repeat(5000), "x".repeat(9000));
        let idx = LineIndex::new(&text);
        assert!(idx.checkpoints.len() > 2);
        let offset = text.find('"').unwrap() as u32;
        assert_eq!(
            idx.position(&text, offset),
            Position {
                line: 1,
                column: 5001
            }
        );
        let end = text.len() as u32;
        assert_eq!(
            idx.position(&text, end).column as usize,
            text.chars().count() + 1
        );
    }

    #[test]
    fn line_text_strips_line_breaks() {
        let text = "a\r\nbc\nd";
        let idx = LineIndex::new(text);
        assert_eq!(idx.line_text(text, 1), "a");
        assert_eq!(idx.line_text(text, 2), "bc");
        assert_eq!(idx.line_text(text, 3), "d");
        assert_eq!(idx.position(text, 7), Position { line: 3, column: 2 });
    }
}
