//! The `jsonl` target: the fast telemetry row parser against the reference
//! parser, and the column tables that use both.
//!
//! The first byte picks the field list (one of the four sources' channel
//! fields, or `a`, `b`, `c` as in the store's unit test); the rest is split
//! into lines. For each line, whenever `parse_numeric_row` (the fast path)
//! accepts it, `parse_object` (the reference) must accept it too and give
//! the same `t_mono_ns` / `t_wall_ns` and the same value for every field,
//! bit for bit (NaN for a missing value or `null`). Every line is then
//! pushed into a `SourceTable` and a `LabelsTable` with small row caps,
//! whose invariants are checked.

use cis490_shared::registry::Source;
use cis490_store::jsonl::{Value, parse_numeric_row, parse_object};
use cis490_store::table::{LabelsTable, SourceTable};

use crate::archive::{check_labels, check_source_table};

/// The field list of the store's unit test.
const TEST_FIELDS: [&str; 3] = ["a", "b", "c"];

/// Row caps small enough that inputs reach them.
const MAX_ROWS: usize = 8;

/// The target: one input, any bytes.
pub fn jsonl(data: &[u8]) {
    let Some((&selector, text)) = data.split_first() else { return };
    let source = Source::ALL.get(usize::from(selector % 5)).copied();
    let fields: Vec<&str> = match source {
        Some(s) => s.channels().map(|c| c.field).collect(),
        None => TEST_FIELDS.to_vec(),
    };
    let mut table = SourceTable::with_max_rows(source.unwrap_or(Source::Netflow), MAX_ROWS);
    let mut labels = LabelsTable::with_max_rows(MAX_ROWS);
    let mut lines = 0u64;
    for (no, line) in text.split(|b| *b == b'\n').enumerate() {
        fast_agrees_with_reference(line, &fields);
        table.push_line(line, no as u64 + 1);
        labels.push_line(line, no as u64 + 1);
        lines += 1;
    }
    assert_eq!(table.lines, lines);
    check_source_table(&table, MAX_ROWS, lines);
    check_labels(&labels, MAX_ROWS, lines);
    let _ = table.drop_unordered_rows();
    assert!(table.t_wall_ns.windows(2).all(|w| w[0] < w[1]));
}

/// The comparison of the store's `the_fast_path_agrees_with_the_reference_parser`.
pub fn fast_agrees_with_reference(line: &[u8], fields: &[&str]) {
    let mut fast = vec![f64::NAN; fields.len()];
    let Some(row) = parse_numeric_row(line, fields, &mut fast) else { return };
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
    assert!(parsed.is_ok(), "fast path accepted what the reference rejects ({parsed:?}): {shown}");
    assert_eq!((row.t_mono_ns, row.t_wall_ns), (mono, wall), "timestamps differ: {shown}");
    for ((field, f), s) in fields.iter().zip(&fast).zip(&slow) {
        assert!(
            f.to_bits() == s.to_bits() || (f.is_nan() && s.is_nan()),
            "field {field}: fast {f:?} ({:#x}) vs reference {s:?} ({:#x}): {shown}",
            f.to_bits(),
            s.to_bits()
        );
    }
}
