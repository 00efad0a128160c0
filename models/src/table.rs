//! A table of windows for the tree model and the evaluation: row-major
//! summary features with one class index per row. Always built: the
//! feature shards are read into it whether or not this build trains.

/// Rows of features and their class indices.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Table {
    /// Row-major features (`rows × cols`), `NaN` for missing.
    pub x: Vec<f32>,
    /// Number of rows.
    pub rows: usize,
    /// Features per row.
    pub cols: usize,
    /// Class index per row.
    pub y: Vec<u32>,
}
