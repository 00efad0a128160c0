//! A fast parser for the flat JSON objects of JSONL telemetry rows.
//!
//! Every row of an episode is `{"key": value, ...}` with numbers, `null` or
//! short strings. This parser works on bytes, allocates nothing for the
//! common case, accepts the Python-style `NaN`, `Infinity` and `-Infinity`
//! tokens (reported as non-finite numbers so the validator can degrade the
//! episode instead of rejecting it), and reports nested values and booleans
//! as [`Value::Other`] so callers can flag wrong types.

use std::borrow::Cow;

/// One parsed value.
#[derive(Debug, Clone, PartialEq)]
pub enum Value<'a> {
    /// An integer that fits `i64`, written without fraction or exponent.
    Int(i64),
    /// Any other finite number.
    Float(f64),
    /// `NaN`, `Infinity` or `-Infinity` (not JSON, but Python writes them).
    NonFinite(f64),
    /// `null`.
    Null,
    /// A string, unescaped.
    Str(Cow<'a, str>),
    /// A boolean, object or array (never valid in a telemetry row).
    Other,
}

impl Value<'_> {
    /// The value as a number, when it is one.
    pub fn as_f64(&self) -> Option<f64> {
        match self {
            Value::Int(i) => Some(*i as f64),
            Value::Float(f) | Value::NonFinite(f) => Some(*f),
            _ => None,
        }
    }
}

/// Why a line is not a flat JSON object.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LineError {
    /// The bytes are not valid JSON at the given offset.
    #[error("not a JSON object: {what} at byte {at}")]
    Malformed {
        /// What was expected.
        what: &'static str,
        /// Byte offset in the line.
        at: usize,
    },
    /// A string holds bytes that are not UTF-8.
    #[error("string at byte {at} is not valid UTF-8")]
    NotUtf8 {
        /// Byte offset of the string in the line.
        at: usize,
    },
}

struct Cursor<'a> {
    b: &'a [u8],
    i: usize,
}

impl<'a> Cursor<'a> {
    #[inline]
    fn skip_ws(&mut self) {
        while let Some(c) = self.b.get(self.i) {
            if matches!(c, b' ' | b'\t' | b'\r' | b'\n') {
                self.i += 1;
            } else {
                break;
            }
        }
    }

    #[inline]
    fn peek(&self) -> Option<u8> {
        self.b.get(self.i).copied()
    }

    fn err(&self, what: &'static str) -> LineError {
        LineError::Malformed { what, at: self.i }
    }

    #[inline]
    fn expect(&mut self, c: u8, what: &'static str) -> Result<(), LineError> {
        if self.peek() == Some(c) {
            self.i += 1;
            Ok(())
        } else {
            Err(self.err(what))
        }
    }

    fn string(&mut self) -> Result<Cow<'a, str>, LineError> {
        let start = self.i;
        self.expect(b'"', "expected '\"'")?;
        let body = self.i;
        let mut escaped = false;
        loop {
            match self.b.get(self.i) {
                None => return Err(self.err("unterminated string")),
                Some(b'"') => break,
                Some(b'\\') => {
                    escaped = true;
                    self.i += 2;
                }
                Some(_) => self.i += 1,
            }
        }
        let raw = &self.b[body..self.i];
        self.i += 1;
        let text = std::str::from_utf8(raw).map_err(|_| LineError::NotUtf8 { at: start })?;
        if !escaped {
            return Ok(Cow::Borrowed(text));
        }
        unescape(text).map(Cow::Owned).ok_or(LineError::Malformed { what: "bad escape", at: start })
    }

    fn literal(&mut self, word: &[u8]) -> bool {
        if self.b[self.i..].starts_with(word) {
            self.i += word.len();
            true
        } else {
            false
        }
    }

    fn number(&mut self) -> Result<Value<'a>, LineError> {
        let start = self.i;
        if self.literal(b"-Infinity") {
            return Ok(Value::NonFinite(f64::NEG_INFINITY));
        }
        let neg = self.peek() == Some(b'-');
        if neg {
            self.i += 1;
        }
        let mut int: i64 = 0;
        let mut overflow = false;
        let digits_start = self.i;
        while let Some(c @ b'0'..=b'9') = self.peek() {
            match int.checked_mul(10).and_then(|v| v.checked_add(i64::from(c - b'0'))) {
                Some(v) => int = v,
                None => overflow = true,
            }
            self.i += 1;
        }
        if self.i == digits_start {
            return Err(self.err("expected a value"));
        }
        let mut is_float = overflow;
        if self.peek() == Some(b'.') {
            is_float = true;
            self.i += 1;
            while matches!(self.peek(), Some(b'0'..=b'9')) {
                self.i += 1;
            }
        }
        if matches!(self.peek(), Some(b'e' | b'E')) {
            is_float = true;
            self.i += 1;
            if matches!(self.peek(), Some(b'+' | b'-')) {
                self.i += 1;
            }
            while matches!(self.peek(), Some(b'0'..=b'9')) {
                self.i += 1;
            }
        }
        if !is_float {
            return Ok(Value::Int(if neg { -int } else { int }));
        }
        // The slice is ASCII by construction.
        let text = std::str::from_utf8(&self.b[start..self.i]).map_err(|_| self.err("bad number"))?;
        let f: f64 = text.parse().map_err(|_| LineError::Malformed { what: "bad number", at: start })?;
        Ok(Value::Float(f))
    }

    fn skip_nested(&mut self) -> Result<(), LineError> {
        let mut depth = 0usize;
        loop {
            match self.peek() {
                None => return Err(self.err("unterminated object or array")),
                Some(b'"') => {
                    self.string()?;
                    continue;
                }
                Some(b'{' | b'[') => depth += 1,
                Some(b'}' | b']') => {
                    depth -= 1;
                    if depth == 0 {
                        self.i += 1;
                        return Ok(());
                    }
                }
                Some(_) => {}
            }
            self.i += 1;
        }
    }

    fn value(&mut self) -> Result<Value<'a>, LineError> {
        match self.peek() {
            Some(b'"') => Ok(Value::Str(self.string()?)),
            Some(b'n') if self.literal(b"null") => Ok(Value::Null),
            Some(b't') if self.literal(b"true") => Ok(Value::Other),
            Some(b'f') if self.literal(b"false") => Ok(Value::Other),
            Some(b'N') if self.literal(b"NaN") => Ok(Value::NonFinite(f64::NAN)),
            Some(b'I') if self.literal(b"Infinity") => Ok(Value::NonFinite(f64::INFINITY)),
            Some(b'{' | b'[') => {
                self.skip_nested()?;
                Ok(Value::Other)
            }
            Some(b'-' | b'0'..=b'9') => self.number(),
            _ => Err(self.err("expected a value")),
        }
    }
}

fn unescape(s: &str) -> Option<String> {
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next()? {
            '"' => out.push('"'),
            '\\' => out.push('\\'),
            '/' => out.push('/'),
            'b' => out.push('\u{8}'),
            'f' => out.push('\u{c}'),
            'n' => out.push('\n'),
            'r' => out.push('\r'),
            't' => out.push('\t'),
            'u' => {
                let hex: String = chars.by_ref().take(4).collect();
                let code = u32::from_str_radix(&hex, 16).ok()?;
                out.push(char::from_u32(code).unwrap_or('\u{fffd}'));
            }
            _ => return None,
        }
    }
    Some(out)
}

/// Parses one line holding a flat JSON object, calling `field` for each
/// key/value pair in order. Keys are passed as raw bytes (our keys never
/// need unescaping; a key with escapes is passed as written).
pub fn parse_object<'a>(line: &'a [u8], mut field: impl FnMut(&'a [u8], Value<'a>)) -> Result<(), LineError> {
    let mut c = Cursor { b: line, i: 0 };
    c.skip_ws();
    c.expect(b'{', "expected '{'")?;
    c.skip_ws();
    if c.peek() == Some(b'}') {
        c.i += 1;
    } else {
        loop {
            c.skip_ws();
            let key_at = c.i;
            c.expect(b'"', "expected a key")?;
            let key_start = c.i;
            let Some(len) = memchr::memchr(b'"', &line[key_start..]) else {
                return Err(LineError::Malformed { what: "unterminated key", at: key_at });
            };
            let key = &line[key_start..key_start + len];
            if std::str::from_utf8(key).is_err() {
                return Err(LineError::NotUtf8 { at: key_at });
            }
            c.i = key_start + len + 1;
            c.skip_ws();
            c.expect(b':', "expected ':'")?;
            c.skip_ws();
            let v = c.value()?;
            field(key, v);
            c.skip_ws();
            match c.peek() {
                Some(b',') => c.i += 1,
                Some(b'}') => {
                    c.i += 1;
                    break;
                }
                _ => return Err(c.err("expected ',' or '}'")),
            }
        }
    }
    c.skip_ws();
    if c.i != line.len() {
        return Err(c.err("trailing bytes after the object"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(line: &str) -> Result<Vec<(String, Value<'_>)>, LineError> {
        let mut out = Vec::new();
        parse_object(line.as_bytes(), |k, v| out.push((String::from_utf8_lossy(k).into_owned(), v)))?;
        Ok(out)
    }

    #[test]
    fn parses_numbers_null_and_strings() -> Result<(), LineError> {
        let row = parse(r#"{"t_mono_ns": 17, "t_wall_ns":1767225600000000000, "a":-1.5e3,"b":null,"c":"x\"y"}"#)?;
        assert_eq!(row[0], ("t_mono_ns".into(), Value::Int(17)));
        assert_eq!(row[1].1, Value::Int(1_767_225_600_000_000_000));
        assert_eq!(row[2].1, Value::Float(-1500.0));
        assert_eq!(row[3].1, Value::Null);
        assert_eq!(row[4].1, Value::Str("x\"y".into()));
        assert_eq!(parse("{}")?.len(), 0);
        Ok(())
    }

    #[test]
    fn python_non_finite_tokens_are_reported_as_such() -> Result<(), LineError> {
        let row = parse(r#"{"a": NaN, "b": Infinity, "c": -Infinity}"#)?;
        assert!(matches!(row[0].1, Value::NonFinite(f) if f.is_nan()));
        assert_eq!(row[1].1, Value::NonFinite(f64::INFINITY));
        assert_eq!(row[2].1, Value::NonFinite(f64::NEG_INFINITY));
        Ok(())
    }

    #[test]
    fn wrong_types_and_garbage_are_told_apart() -> Result<(), LineError> {
        let row = parse(r#"{"a": true, "b": [1, {"x": "]"}], "c": 1}"#)?;
        assert_eq!(row[0].1, Value::Other);
        assert_eq!(row[1].1, Value::Other);
        assert_eq!(row[2].1, Value::Int(1));
        assert!(parse(r#"{"a": 1"#).is_err());
        assert!(parse(r#"{"a": 1} x"#).is_err());
        assert!(parse(r#"{"a": nope}"#).is_err());
        assert!(parse("").is_err());
        let bad = b"{\"a\": \"\xff\xfe\"}";
        assert_eq!(parse_object(bad, |_, _| {}), Err(LineError::NotUtf8 { at: 6 }));
        Ok(())
    }

    #[test]
    fn huge_integers_become_floats() -> Result<(), LineError> {
        let row = parse(r#"{"a": 99999999999999999999}"#)?;
        assert_eq!(row[0].1, Value::Float(1e20));
        Ok(())
    }
}
