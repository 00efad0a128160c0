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

/// The store's own check of the fast path against the reference parser
/// ([`cis490_store::jsonl::fast_path_disagreement`]).
pub fn fast_agrees_with_reference(line: &[u8], fields: &[&str]) {
    if let Some(difference) = cis490_store::jsonl::fast_path_disagreement(line, fields) {
        panic!("{difference}");
    }
}
