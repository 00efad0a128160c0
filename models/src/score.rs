//! Scores the trainer needs (validation macro F1, from [`Confusion`]); the
//! full evaluation with confidence intervals lives in the backend's
//! evaluation.

use crate::confusion::Confusion;

/// Macro F1 over the classes that occur in `truth` or `predicted`
/// (a class absent from both does not count; one predicted but absent
/// from truth counts with F1 0); 0 without windows. The conventions are
/// [`Confusion`]'s.
pub fn macro_f1(truth: &[u32], predicted: &[u32], classes: usize) -> f64 {
    Confusion::from_pairs(truth, predicted, classes).macro_f1().unwrap_or(0.0)
}

/// The index of the largest value of each `classes`-long row
/// ([`cis490_shared::argmax`]: the lowest index wins a tie, NaN never
/// wins; 0 for a row without any number).
pub fn argmax_rows(probs: &[f32], classes: usize) -> Vec<u32> {
    probs.chunks(classes.max(1)).map(|row| cis490_shared::argmax::argmax(row).unwrap_or(0) as u32).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn macro_f1_by_hand() {
        // class 0: tp 1, fn 1 -> 2/3; class 1: tp 1, fp 1 -> 2/3; class 2 unseen.
        assert!((macro_f1(&[0, 0, 1], &[0, 1, 1], 3) - 2.0 / 3.0).abs() < 1e-12);
        assert_eq!(macro_f1(&[1, 1], &[1, 1], 7), 1.0);
        // A class only predicted counts with F1 0.
        assert_eq!(macro_f1(&[0, 0], &[0, 2], 3), (2.0 / 3.0 + 0.0) / 2.0);
        assert_eq!(argmax_rows(&[0.1, 0.9, 0.7, 0.3], 2), vec![1, 0]);
        assert_eq!(argmax_rows(&[0.5, 0.5, f32::NAN, 0.2, f32::NAN, f32::NAN], 2), vec![0, 1, 0], "ties, NaN");
    }
}
