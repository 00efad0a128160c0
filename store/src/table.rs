//! Column tables built from JSONL members, one row per line.
//!
//! [`SourceTable`] holds one telemetry source's rows as columns aligned on
//! `t_wall_ns`; [`LabelsTable`] holds the label timeline. Builders take one
//! line at a time so members are parsed while they stream, and record every
//! problem they meet (with the first one's line number) instead of failing.
//! Each keeps at most a fixed number of rows (see `ReadLimits`): lines past
//! the cap are counted, not parsed, so a member of millions of tiny rows
//! costs bounded memory.

use std::borrow::Cow;

use cis490_shared::registry::Source;

use crate::jsonl::{self, Value};
use crate::limits::{MAX_LABEL_BYTES, ReadLimits};

/// Problems seen while parsing a member's lines.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LineProblems {
    /// Lines that are not a flat JSON object (or not UTF-8).
    pub malformed: u32,
    /// Lines with a value of the wrong type (a string where a number belongs, ...).
    pub wrong_type: u32,
    /// Lines without an integer `t_mono_ns` and `t_wall_ns`.
    pub missing_time: u32,
    /// Lines longer than the line cap.
    pub too_long: u32,
    /// `NaN` / `Infinity` values.
    pub non_finite: u32,
    /// Lines not parsed because the member already held the most rows kept.
    pub over_row_cap: u32,
    /// The first problem, as `line N: what`.
    pub first: Option<String>,
}

impl LineProblems {
    fn note(&mut self, line_no: u64, what: impl FnOnce() -> String) {
        if self.first.is_none() {
            self.first = Some(format!("line {line_no}: {}", what()));
        }
    }

    /// Records a line over the length cap.
    pub fn line_too_long(&mut self, line_no: u64, len: usize) {
        self.too_long += 1;
        self.note(line_no, || format!("longer than the line cap ({len} bytes so far)"));
    }

    /// Adds the over-long lines counted while streaming.
    pub fn absorb_long_lines(&mut self, streamed: LineProblems) {
        self.too_long += streamed.too_long;
        if self.first.is_none() {
            self.first = streamed.first;
        }
    }

    /// Whether any line was unusable (malformed, mistyped, untimed, too
    /// long, or past the row cap).
    pub fn any_unusable(&self) -> bool {
        self.malformed + self.wrong_type + self.missing_time + self.too_long + self.over_row_cap > 0
    }

    /// Counts a line that did not parse, or whose field `wrong` is not
    /// `expected` (the first such field); true when the line is unusable.
    fn refused(
        &mut self,
        line_no: u64,
        parsed: Result<(), jsonl::LineError>,
        wrong: Option<&str>,
        expected: &str,
    ) -> bool {
        if let Err(e) = parsed {
            self.malformed += 1;
            self.note(line_no, || e.to_string());
            return true;
        }
        if let Some(key) = wrong {
            self.wrong_type += 1;
            self.note(line_no, || format!("field {key:?} is not {expected}"));
            return true;
        }
        false
    }

    /// Counts a line past the row cap of `max_rows`.
    fn past_row_cap(&mut self, line_no: u64, max_rows: usize) {
        self.over_row_cap = self.over_row_cap.saturating_add(1);
        self.note(line_no, || format!("more than {max_rows} rows: this and later lines are not read"));
    }
}

/// One telemetry source's rows, as columns in file order.
#[derive(Debug, Clone)]
pub struct SourceTable {
    /// The recording source.
    pub source: Source,
    /// Each row's `t_mono_ns` (on the source's own clock).
    pub t_mono_ns: Vec<i64>,
    /// Each row's `t_wall_ns` (Unix ns): the alignment key.
    pub t_wall_ns: Vec<i64>,
    /// One column per registry channel of the source, in registry order;
    /// `NaN` marks a missing value (and a non-finite one, which is counted).
    pub columns: Vec<Vec<f64>>,
    /// Names of the source's channel fields, in column order.
    pub fields: Vec<&'static str>,
    /// Problems met while parsing.
    pub problems: LineProblems,
    /// Lines seen (including unusable ones).
    pub lines: u64,
    /// Most rows kept.
    max_rows: usize,
}

impl SourceTable {
    /// An empty table for `source` with the default row cap.
    pub fn new(source: Source) -> Self {
        Self::with_max_rows(source, ReadLimits::default().max_rows_per_member)
    }

    /// An empty table for `source` keeping at most `max_rows` rows.
    pub fn with_max_rows(source: Source, max_rows: usize) -> Self {
        let fields: Vec<&'static str> = source.channels().map(|c| c.field).collect();
        Self {
            source,
            t_mono_ns: Vec::new(),
            t_wall_ns: Vec::new(),
            columns: vec![Vec::new(); fields.len()],
            fields,
            problems: LineProblems::default(),
            lines: 0,
            max_rows,
        }
    }

    /// Number of usable rows.
    pub fn rows(&self) -> usize {
        self.t_wall_ns.len()
    }

    /// Parses one line and appends it as a row, or records why it is unusable.
    pub fn push_line(&mut self, line: &[u8], line_no: u64) {
        self.lines += 1;
        if self.rows() >= self.max_rows {
            self.problems.past_row_cap(line_no, self.max_rows);
            return;
        }
        let n = self.fields.len();
        let mut values = [f64::NAN; 16];
        if let Some(row) = jsonl::parse_numeric_row(line, &self.fields, &mut values[..n])
            && let (Some(mono), Some(wall)) = (row.t_mono_ns, row.t_wall_ns)
        {
            self.push_row(mono, wall, &values[..n]);
            return;
        }
        values = [f64::NAN; 16];
        let (mut mono, mut wall) = (None, None);
        let mut wrong: Option<String> = None;
        let mut non_finite = 0u32;
        let mut next_guess = 0usize;
        let fields = &self.fields;
        let parsed = jsonl::parse_object(line, |key, value| {
            match key {
                b"t_mono_ns" => mono = time_value(&value),
                b"t_wall_ns" => wall = time_value(&value),
                _ => {
                    // Rows usually list fields in registry order: try that slot first.
                    let slot = if next_guess < n && fields[next_guess].as_bytes() == key {
                        Some(next_guess)
                    } else {
                        fields.iter().position(|f| f.as_bytes() == key)
                    };
                    let Some(slot) = slot else { return };
                    next_guess = slot + 1;
                    match value {
                        Value::Int(i) => values[slot] = i as f64,
                        Value::Float(f) => values[slot] = f,
                        Value::NonFinite(_) => non_finite += 1,
                        Value::Null => {}
                        Value::Str(_) | Value::Other => {
                            if wrong.is_none() {
                                wrong = Some(String::from_utf8_lossy(key).into_owned());
                            }
                        }
                    }
                }
            }
        });
        if self.problems.refused(line_no, parsed, wrong.as_deref(), "a number") {
            return;
        }
        let (Some(mono), Some(wall)) = (mono, wall) else {
            self.problems.missing_time += 1;
            self.problems.note(line_no, || "t_mono_ns and t_wall_ns must be integers".into());
            return;
        };
        if non_finite > 0 {
            self.problems.non_finite += non_finite;
            self.problems.note(line_no, || "non-finite value (NaN or Infinity)".into());
        }
        self.push_row(mono, wall, &values[..n]);
    }

    fn push_row(&mut self, mono: i64, wall: i64, values: &[f64]) {
        self.t_mono_ns.push(mono);
        self.t_wall_ns.push(wall);
        for (col, v) in self.columns.iter_mut().zip(values) {
            col.push(*v);
        }
    }

    /// Keeps only rows whose `t_wall_ns` is after the previous kept row's,
    /// so the table is strictly ordered on wall-clock time. Returns how many
    /// rows were dropped as duplicates (equal time) and as out of order.
    pub fn drop_unordered_rows(&mut self) -> (usize, usize) {
        let (mut dups, mut backwards) = (0, 0);
        let mut keep = Vec::with_capacity(self.rows());
        let mut last = i64::MIN;
        for (i, &t) in self.t_wall_ns.iter().enumerate() {
            if t > last {
                keep.push(i);
                last = t;
            } else if t == last {
                dups += 1;
            } else {
                backwards += 1;
            }
        }
        if keep.len() != self.rows() {
            let pick = |v: &Vec<i64>| keep.iter().map(|&i| v[i]).collect::<Vec<_>>();
            self.t_mono_ns = pick(&self.t_mono_ns);
            self.t_wall_ns = pick(&self.t_wall_ns);
            for col in &mut self.columns {
                *col = keep.iter().map(|&i| col[i]).collect();
            }
        }
        (dups, backwards)
    }

    /// The row range whose `t_wall_ns` lies in `[start, end)`, for a table
    /// ordered by [`SourceTable::drop_unordered_rows`].
    pub fn rows_between(&self, start_wall_ns: i64, end_wall_ns: i64) -> std::ops::Range<usize> {
        let lo = self.t_wall_ns.partition_point(|&t| t < start_wall_ns);
        let hi = self.t_wall_ns.partition_point(|&t| t < end_wall_ns);
        lo..hi.max(lo)
    }

    /// The column of one field, e.g. `cpu_user`.
    pub fn column(&self, field: &str) -> Option<&[f64]> {
        self.fields.iter().position(|f| *f == field).map(|i| self.columns[i].as_slice())
    }
}

fn time_value(v: &Value<'_>) -> Option<i64> {
    match v {
        Value::Int(i) => Some(*i),
        _ => None,
    }
}

/// One row of `labels.jsonl`: a segment start (or the closing `end`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LabelRow {
    /// Host monotonic time.
    pub t_mono_ns: i64,
    /// Unix time in ns.
    pub t_wall_ns: i64,
    /// The label text as written (validated later).
    pub label: String,
}

/// The label timeline of an episode.
#[derive(Debug, Clone)]
pub struct LabelsTable {
    /// Rows in file order.
    pub rows: Vec<LabelRow>,
    /// Problems met while parsing.
    pub problems: LineProblems,
    /// Lines seen.
    pub lines: u64,
    /// Most rows kept.
    max_rows: usize,
}

impl Default for LabelsTable {
    fn default() -> Self {
        Self::with_max_rows(ReadLimits::default().max_label_rows)
    }
}

/// `label` cut to [`MAX_LABEL_BYTES`] on a character boundary (a label
/// that long is unknown anyway; the cut text is what reports show).
fn capped_label(label: Cow<'_, str>) -> String {
    if label.len() <= MAX_LABEL_BYTES {
        return label.into_owned();
    }
    let mut cut = MAX_LABEL_BYTES;
    while !label.is_char_boundary(cut) {
        cut -= 1;
    }
    format!("{}…", &label[..cut])
}

impl LabelsTable {
    /// An empty timeline keeping at most `max_rows` rows.
    pub fn with_max_rows(max_rows: usize) -> Self {
        Self { rows: Vec::new(), problems: LineProblems::default(), lines: 0, max_rows }
    }

    /// Parses one line of `labels.jsonl`.
    pub fn push_line(&mut self, line: &[u8], line_no: u64) {
        self.lines += 1;
        if self.rows.len() >= self.max_rows {
            self.problems.past_row_cap(line_no, self.max_rows);
            return;
        }
        let (mut mono, mut wall, mut label): (Option<i64>, Option<i64>, Option<Cow<'_, str>>) = (None, None, None);
        let mut wrong = None;
        let parsed = jsonl::parse_object(line, |key, value| match key {
            b"t_mono_ns" => mono = time_value(&value),
            b"t_wall_ns" => wall = time_value(&value),
            b"label" => match value {
                Value::Str(s) => label = Some(s),
                _ => wrong = Some("label"),
            },
            _ => {}
        });
        if self.problems.refused(line_no, parsed, wrong, "a string") {
            return;
        }
        match (mono, wall, label) {
            (Some(t_mono_ns), Some(t_wall_ns), Some(label)) => {
                self.rows.push(LabelRow { t_mono_ns, t_wall_ns, label: capped_label(label) })
            }
            _ => {
                self.problems.missing_time += 1;
                self.problems.note(line_no, || "needs integer t_mono_ns, t_wall_ns and a string label".into());
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_become_columns_with_missing_values_as_nan() {
        let mut t = SourceTable::new(Source::Netflow);
        t.push_line(br#"{"t_mono_ns":1,"t_wall_ns":10,"bytes_in":5,"syn_count":null}"#, 1);
        t.push_line(br#"{"t_mono_ns":2,"t_wall_ns":20,"syn_count":3,"bytes_in":NaN}"#, 2);
        t.push_line(br#"{"t_mono_ns":3,"t_wall_ns":30,"bytes_in":"7"}"#, 3);
        t.push_line(br#"{"t_mono_ns":4}"#, 4);
        t.push_line(b"garbage", 5);
        assert_eq!(t.rows(), 2);
        assert_eq!(t.column("bytes_in").map(|c| c[0]), Some(5.0));
        assert!(t.column("bytes_in").is_some_and(|c| c[1].is_nan()));
        assert!(t.column("syn_count").is_some_and(|c| c[0].is_nan()));
        assert_eq!(t.column("syn_count").map(|c| c[1]), Some(3.0));
        assert_eq!(t.problems.non_finite, 1);
        assert_eq!(t.problems.wrong_type, 1);
        assert_eq!(t.problems.missing_time, 1);
        assert_eq!(t.problems.malformed, 1);
        assert_eq!(t.problems.first.as_deref(), Some("line 2: non-finite value (NaN or Infinity)"));
    }

    #[test]
    fn rows_past_the_cap_are_counted_not_kept() {
        let mut t = SourceTable::with_max_rows(Source::Qmp, 2);
        for i in 0..5 {
            t.push_line(format!(r#"{{"t_mono_ns":{i},"t_wall_ns":{i}}}"#).as_bytes(), i + 1);
        }
        assert_eq!((t.rows(), t.lines, t.problems.over_row_cap), (2, 5, 3));
        assert_eq!(t.problems.first.as_deref(), Some("line 3: more than 2 rows: this and later lines are not read"));
        assert!(t.problems.any_unusable());
        let mut labels = LabelsTable::with_max_rows(1);
        let long = "x".repeat(10_000);
        labels.push_line(format!(r#"{{"t_mono_ns":1,"t_wall_ns":1,"label":"{long}"}}"#).as_bytes(), 1);
        labels.push_line(br#"{"t_mono_ns":2,"t_wall_ns":2,"label":"end"}"#, 2);
        assert_eq!(labels.rows.len(), 1);
        assert_eq!(labels.rows[0].label.len(), MAX_LABEL_BYTES + '…'.len_utf8());
        assert_eq!(labels.problems.over_row_cap, 1);
    }

    #[test]
    fn unordered_rows_are_dropped_and_counted() {
        let mut t = SourceTable::new(Source::Qmp);
        for (i, w) in [10, 20, 20, 15, 30].into_iter().enumerate() {
            t.push_line(format!(r#"{{"t_mono_ns":{i},"t_wall_ns":{w},"kvm_exits":{i}}}"#).as_bytes(), i as u64);
        }
        assert_eq!(t.drop_unordered_rows(), (1, 1));
        assert_eq!(t.t_wall_ns, vec![10, 20, 30]);
        assert_eq!(t.column("kvm_exits"), Some(&[0.0, 1.0, 4.0][..]));
        assert_eq!(t.rows_between(15, 30), 1..2);
    }
}
