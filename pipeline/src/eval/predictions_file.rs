//! `RUN/eval/predictions.parquet`: one row per model × variant × scored
//! window — `model`, `variant`, `split` (the recipe for held-out test rows,
//! `in_distribution` for the others), `episode_id`, `host_id`,
//! `window_start_s`, `truth`, `predicted`, and `prob_<label>` per label.

use std::path::Path;
use std::sync::Arc;

use arrow_array::builder::{Float32Builder, Float64Builder, StringBuilder};
use arrow_array::{ArrayRef, RecordBatch};
use arrow_schema::{DataType, Field, Schema};
use cis490_models::ClassProbabilities;
use cis490_shared::label::Label;
use parquet::arrow::ArrowWriter;
use parquet::basic::{Compression, ZstdLevel};
use parquet::file::properties::WriterProperties;

use crate::atomic_file;
use crate::extract::shards::windows::WindowOrigin;

/// The `split` value of in-distribution rows.
pub const IN_DISTRIBUTION: &str = "in_distribution";

/// Rows per record batch written (a few MB whatever the number of rows).
const BATCH_ROWS: usize = 65_536;

/// Rows being written: collected a batch at a time and flushed to the
/// Parquet writer, so the file's size never sits in memory.
pub struct PredictionRows<'w, 'o> {
    text: [StringBuilder; 7],
    window_start_s: Float64Builder,
    probs: Vec<Float32Builder>,
    pending: usize,
    written: usize,
    writer: &'w mut ArrowWriter<&'o mut std::io::BufWriter<std::fs::File>>,
}

const TEXT_COLUMNS: [&str; 7] = ["model", "variant", "split", "episode_id", "host_id", "truth", "predicted"];

/// The name of the probability column of `label`.
pub fn probability_column(label: Label) -> String {
    format!("prob_{label}")
}

/// Which model and side a group of rows comes from.
#[derive(Debug, Clone, Copy)]
pub struct RowSource<'a> {
    /// Architecture.
    pub model: &'a str,
    /// Threat model.
    pub variant: &'a str,
    /// Recipe or [`IN_DISTRIBUTION`].
    pub split: &'a str,
}

fn schema() -> Arc<Schema> {
    let mut fields: Vec<Field> = TEXT_COLUMNS[..5].iter().map(|n| Field::new(*n, DataType::Utf8, false)).collect();
    fields.push(Field::new("window_start_s", DataType::Float64, false));
    fields.extend(TEXT_COLUMNS[5..].iter().map(|n| Field::new(*n, DataType::Utf8, false)));
    fields.extend(Label::ALL.iter().map(|l| Field::new(probability_column(*l), DataType::Float32, false)));
    Arc::new(Schema::new(fields))
}

impl PredictionRows<'_, '_> {
    /// Appends one window.
    pub fn push(
        &mut self,
        source: RowSource<'_>,
        key: &WindowOrigin,
        truth: Label,
        probs: &ClassProbabilities,
    ) -> Result<(), String> {
        let predicted = cis490_models::argmax(probs);
        let values = [
            source.model,
            source.variant,
            source.split,
            &key.episode_id,
            &key.host_id,
            truth.as_str(),
            predicted.as_str(),
        ];
        for (builder, value) in self.text.iter_mut().zip(values) {
            builder.append_value(value);
        }
        self.window_start_s.append_value(key.window_start_s);
        for (builder, p) in self.probs.iter_mut().zip(probs) {
            builder.append_value(*p);
        }
        self.pending += 1;
        if self.pending == BATCH_ROWS { self.flush() } else { Ok(()) }
    }

    fn flush(&mut self) -> Result<(), String> {
        if self.pending == 0 {
            return Ok(());
        }
        let mut text: Vec<ArrayRef> = self.text.iter_mut().map(|b| Arc::new(b.finish()) as ArrayRef).collect();
        let mut columns: Vec<ArrayRef> = text.drain(..5).collect();
        columns.push(Arc::new(self.window_start_s.finish()));
        columns.extend(text);
        columns.extend(self.probs.iter_mut().map(|b| Arc::new(b.finish()) as ArrayRef));
        let batch = RecordBatch::try_new(schema(), columns).map_err(|e| e.to_string())?;
        self.writer.write(&batch).map_err(|e| e.to_string())?;
        self.written += self.pending;
        self.pending = 0;
        Ok(())
    }
}

/// Writes `path` atomically as zstd Parquet with the rows `fill` pushes;
/// returns how many there were.
pub fn write_predictions(
    path: &Path,
    fill: impl FnOnce(&mut PredictionRows<'_, '_>) -> Result<(), String>,
) -> Result<usize, String> {
    let props = WriterProperties::builder()
        .set_compression(Compression::ZSTD(ZstdLevel::try_new(3).map_err(|e| e.to_string())?))
        .build();
    let mut failure: Option<String> = None;
    let mut rows = 0;
    let result = atomic_file::write_atomically(path, |out| {
        let mut writer = ArrowWriter::try_new(out, schema(), Some(props)).map_err(std::io::Error::other)?;
        {
            let mut sink = PredictionRows {
                text: std::array::from_fn(|_| StringBuilder::new()),
                window_start_s: Float64Builder::new(),
                probs: Label::ALL.iter().map(|_| Float32Builder::new()).collect(),
                pending: 0,
                written: 0,
                writer: &mut writer,
            };
            if let Err(e) = fill(&mut sink).and_then(|()| sink.flush()) {
                failure = Some(e.clone());
                return Err(std::io::Error::other(e));
            }
            rows = sink.written;
        }
        writer.close().map_err(std::io::Error::other)?;
        Ok(())
    });
    match (result, failure) {
        (_, Some(e)) => Err(e),
        // The caller names the file: only the cause is said.
        (Err(e), None) => Err(crate::error_chain(&e.source)),
        (Ok(()), None) => Ok(rows),
    }
}
