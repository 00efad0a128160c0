//! Feature maths shared by the extractor and the browser: alignment of the
//! four sources on wall-clock time, 10 s windows with a 5 s stride, summary
//! statistics and channel × time tensors.
//!
//! - [`align`]: sources → one 2 Hz grid of all 46 channels (counters as
//!   per-second rates, resets missing, gaps filled and flagged);
//! - [`window`]: the window grid and its labels;
//! - [`stats`]: per-window summary statistics and the tensor.
//!
//! All of it is pure and compiles to wasm32, so in-browser inference sees
//! exactly the features the models were trained on.

pub mod align;
pub mod stats;
pub mod window;

use crate::registry::{STRIDE_S, WINDOW_S};

/// Grid step in nanoseconds (2 Hz).
pub const STEP_NS: i64 = 500_000_000;
/// Grid steps per second.
pub const STEPS_PER_S: usize = 2;
/// Grid steps in one window (the tensor's time length).
pub const WINDOW_STEPS: usize = WINDOW_S as usize * STEPS_PER_S;
/// Grid steps between window starts.
pub const STRIDE_STEPS: usize = STRIDE_S as usize * STEPS_PER_S;
