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
            if !key.is_ascii() && std::str::from_utf8(key).is_err() {
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

/// Powers of ten exactly representable as `f64`.
const POW10: [f64; 16] = [1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15];

/// The value of eight ASCII digits, or `None` when any byte is not a digit
/// (SWAR: one 64-bit load instead of eight byte steps).
#[inline]
fn eight_digits(bytes: &[u8]) -> Option<u64> {
    let chunk = u64::from_le_bytes(bytes.try_into().ok()?);
    let high = chunk & 0xF0F0_F0F0_F0F0_F0F0;
    let carried = (chunk.wrapping_add(0x0606_0606_0606_0606) & 0xF0F0_F0F0_F0F0_F0F0) >> 4;
    if high | carried != 0x3333_3333_3333_3333 {
        return None;
    }
    let mut v = chunk.wrapping_sub(0x3030_3030_3030_3030);
    v = v.wrapping_mul(10).wrapping_add(v >> 8);
    let mask = 0x0000_00FF_0000_00FF;
    let v = ((v & mask).wrapping_mul(0x000F_4240_0000_0064))
        .wrapping_add(((v >> 16) & mask).wrapping_mul(0x0000_2710_0000_0001))
        >> 32;
    Some(v & 0xFFFF_FFFF)
}

/// Whether `rest` starts with `key` followed by the closing quote.
#[inline]
fn starts_with_key(rest: &[u8], key: &[u8]) -> bool {
    rest.len() > key.len() && rest[key.len()] == b'"' && rest.iter().zip(key).all(|(a, b)| a == b)
}

/// Timestamps and values of one telemetry row, filled by [`parse_numeric_row`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct NumericRow {
    /// `t_mono_ns`, when present as an integer.
    pub t_mono_ns: Option<i64>,
    /// `t_wall_ns`, when present as an integer.
    pub t_wall_ns: Option<i64>,
}

/// The fast path for telemetry rows: a flat object whose values are all
/// plain numbers or `null`, with ASCII keys and no escapes. Known `fields`
/// are written into `values` (same index; `null` leaves `NaN`), unknown
/// keys are skipped. Returns `None` whenever the line is anything else
/// (strings, `NaN` tokens, exponents, long mantissas, bad syntax): the
/// caller then uses [`parse_object`], which is the reference behaviour.
pub fn parse_numeric_row(line: &[u8], fields: &[&str], values: &mut [f64]) -> Option<NumericRow> {
    let b = line;
    let mut i = 0;
    let ws = |i: &mut usize| {
        while *i < b.len() && matches!(b[*i], b' ' | b'\t' | b'\r') {
            *i += 1;
        }
    };
    let mut row = NumericRow { t_mono_ns: None, t_wall_ns: None };
    let mut guess = 0usize;
    ws(&mut i);
    if b.get(i) != Some(&b'{') {
        return None;
    }
    i += 1;
    ws(&mut i);
    if b.get(i) == Some(&b'}') {
        i += 1;
        ws(&mut i);
        return (i == b.len()).then_some(row);
    }
    loop {
        ws(&mut i);
        if b.get(i) != Some(&b'"') {
            return None;
        }
        i += 1;
        // Key: the timestamps, then the field expected next, else scan to
        // the closing quote and look it up.
        let rest = &b[i..];
        let (slot, key_len) = if starts_with_key(rest, b"t_wall_ns") || starts_with_key(rest, b"t_mono_ns") {
            (None, 9)
        } else {
            match fields.get(guess) {
                Some(f) if starts_with_key(rest, f.as_bytes()) => (Some(guess), f.len()),
                _ => {
                    let len = memchr::memchr(b'"', rest)?;
                    let key = &rest[..len];
                    if key.contains(&b'\\') || !key.is_ascii() {
                        return None;
                    }
                    (fields.iter().position(|f| f.as_bytes() == key), len)
                }
            }
        };
        let key = &rest[..key_len];
        i += key_len + 1;
        ws(&mut i);
        if b.get(i) != Some(&b':') {
            return None;
        }
        i += 1;
        ws(&mut i);
        // Value: an integer, a short plain decimal, or null.
        let value = match b.get(i)? {
            b'n' if b[i..].starts_with(b"null") => {
                i += 4;
                None
            }
            b'-' | b'0'..=b'9' => {
                let neg = b[i] == b'-';
                if neg {
                    i += 1;
                }
                let start = i;
                // At most 19 digits: always fits u64.
                let mut mantissa: u64 = 0;
                // Eight digits at a time while they fit the 19-digit budget.
                while i - start + 8 <= 19
                    && let Some(eight) = b.get(i..i + 8).and_then(eight_digits)
                {
                    mantissa = mantissa * 100_000_000 + eight;
                    i += 8;
                }
                while i < b.len() && b[i].is_ascii_digit() && i - start < 19 {
                    mantissa = mantissa * 10 + u64::from(b[i] - b'0');
                    i += 1;
                }
                let int_digits = i - start;
                if int_digits == 0 || b.get(i).is_some_and(u8::is_ascii_digit) {
                    return None;
                }
                let mut frac_digits = 0;
                if b.get(i) == Some(&b'.') {
                    i += 1;
                    let frac_start = i;
                    while i < b.len() && b[i].is_ascii_digit() && int_digits + (i - frac_start) < 15 {
                        mantissa = mantissa * 10 + u64::from(b[i] - b'0');
                        i += 1;
                    }
                    frac_digits = i - frac_start;
                    // Exact (Clinger's fast path): mantissa < 10^15 < 2^53 and 10^k exact.
                    if frac_digits == 0 || b.get(i).is_some_and(u8::is_ascii_digit) {
                        return None;
                    }
                }
                if matches!(b.get(i), Some(b'e' | b'E')) {
                    return None;
                }
                let magnitude = i64::try_from(mantissa).ok()?;
                let signed = if neg { -magnitude } else { magnitude };
                // The sign goes on the float, so `-0.0` stays negative zero
                // as in the reference parser.
                let float = magnitude as f64 / POW10[frac_digits];
                Some(if frac_digits == 0 { Ok(signed) } else { Err(if neg { -float } else { float }) })
            }
            _ => return None,
        };
        match (key, value) {
            (b"t_mono_ns", Some(Ok(t))) => row.t_mono_ns = Some(t),
            (b"t_wall_ns", Some(Ok(t))) => row.t_wall_ns = Some(t),
            (b"t_mono_ns" | b"t_wall_ns", _) => return None,
            _ => {
                if let Some(slot) = slot {
                    values[slot] = match value {
                        Some(Ok(int)) => int as f64,
                        Some(Err(float)) => float,
                        None => f64::NAN,
                    };
                    guess = slot + 1;
                }
            }
        }
        ws(&mut i);
        match b.get(i)? {
            b',' => i += 1,
            b'}' => {
                i += 1;
                break;
            }
            _ => return None,
        }
    }
    ws(&mut i);
    (i == b.len()).then_some(row)
}

/// Checks the fast path against the reference on one line: when
/// [`parse_numeric_row`] accepts `line`, [`parse_object`] must accept it
/// too, with the same timestamps and the same value, bit for bit, for
/// every field of `fields`. Returns what differs (`None` when they agree
/// or the fast path declines). Used by the unit tests and the fuzz target.
pub fn fast_path_disagreement(line: &[u8], fields: &[&str]) -> Option<String> {
    let mut fast = vec![f64::NAN; fields.len()];
    let row = parse_numeric_row(line, fields, &mut fast)?;
    let mut slow = vec![f64::NAN; fields.len()];
    let (mut mono, mut wall) = (None, None);
    let parsed = parse_object(line, |k, v| match k {
        b"t_mono_ns" => mono = if let Value::Int(i) = v { Some(i) } else { None },
        b"t_wall_ns" => wall = if let Value::Int(i) = v { Some(i) } else { None },
        _ => {
            if let Some(slot) = fields.iter().position(|f| f.as_bytes() == k) {
                slow[slot] = v.as_f64().unwrap_or(f64::NAN);
            }
        }
    });
    let shown = String::from_utf8_lossy(line);
    if let Err(e) = parsed {
        return Some(format!("the fast path accepted what the reference rejects ({e}): {shown}"));
    }
    if (row.t_mono_ns, row.t_wall_ns) != (mono, wall) {
        return Some(format!("timestamps differ: {shown}"));
    }
    fields.iter().zip(&fast).zip(&slow).find_map(|((field, f), s)| {
        let same = f.to_bits() == s.to_bits() || (f.is_nan() && s.is_nan());
        (!same).then(|| {
            format!("field {field}: fast {f:?} ({:#x}) vs reference {s:?} ({:#x}): {shown}", f.to_bits(), s.to_bits())
        })
    })
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

    #[test]
    fn the_fast_path_agrees_with_the_reference_parser() {
        let fields = ["a", "b", "c"];
        let lines: [&[u8]; 11] = [
            br#"{"t_mono_ns":1,"t_wall_ns":2,"a":3,"b":4.25,"c":null}"#,
            br#"{"t_mono_ns":1,"t_wall_ns":2,"a":-0.0,"b":-0,"c":-0.5}"#,
            br#"{ "t_wall_ns" : 2 , "t_mono_ns":-1, "c":-0.5, "zz": 9, "a": 12345678901234 }"#,
            br#"{"t_mono_ns":1,"t_wall_ns":2,"a":1e3}"#,
            br#"{"t_mono_ns":1,"t_wall_ns":2,"a":NaN}"#,
            br#"{"t_mono_ns":1,"t_wall_ns":2,"a":"x"}"#,
            br#"{"t_mono_ns":1.5,"t_wall_ns":2}"#,
            br#"{"t_mono_ns":1,"t_wall_ns":2,"b":0.1234567890123456}"#,
            br#"{"t_mono_ns":1,"t_wall_ns":2,"a":3"#,
            br#"{"t_mono_ns":1,"t_wall_ns":2,"a":3} x"#,
            br#"{}"#,
        ];
        for line in lines {
            assert_eq!(fast_path_disagreement(line, &fields), None);
        }
        // The fast path declines what it cannot do exactly.
        let mut v = [f64::NAN; 3];
        assert!(parse_numeric_row(br#"{"a":1e3}"#, &fields, &mut v).is_none());
        assert!(parse_numeric_row(br#"{"a":NaN}"#, &fields, &mut v).is_none());
        assert!(parse_numeric_row(br#"{"a":"1"}"#, &fields, &mut v).is_none());
        assert!(parse_numeric_row(br#"{"t_wall_ns":1.5}"#, &fields, &mut v).is_none());
        assert!(parse_numeric_row(br#"{"b":0.1234567890123456}"#, &fields, &mut v).is_none());
    }

    #[test]
    fn eight_digits_at_once() {
        assert_eq!(eight_digits(b"12345678"), Some(12_345_678));
        assert_eq!(eight_digits(b"00000009"), Some(9));
        assert_eq!(eight_digits(b"99999999"), Some(99_999_999));
        assert_eq!(eight_digits(b"1234567,"), None);
        assert_eq!(eight_digits(b"1234:678"), None);
        assert_eq!(eight_digits(b"/2345678"), None);
        let mut v = [f64::NAN; 1];
        let row = parse_numeric_row(
            br#"{"t_mono_ns":1234567890123456789,"t_wall_ns":-9223372036854775807,"a":123456789.25}"#,
            &["a"],
            &mut v,
        );
        assert_eq!(
            row.map(|r| (r.t_mono_ns, r.t_wall_ns)),
            Some((Some(1_234_567_890_123_456_789), Some(-9_223_372_036_854_775_807)))
        );
        assert_eq!(v[0], 123_456_789.25);
        assert!(parse_numeric_row(br#"{"t_mono_ns":12345678901234567890}"#, &["a"], &mut v).is_none());
    }
}
