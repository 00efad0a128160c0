//! The one argmax of cis490: which class a row of probabilities (or
//! logits) predicts, in training, evaluation, live predictions and the
//! browser alike.
//!
//! Tie rule: the first maximum wins, i.e. the lowest class index, as
//! NumPy's `argmax` and ONNX `ArgMax` (without `select_last_index`) do, so
//! the exported models' `label` output agrees. NaN never wins; a row with
//! no number at all (empty, or all NaN) has no maximum.

/// The index of the largest value of `values`: the first one on a tie,
/// never a NaN; `None` when no value is a number.
pub fn argmax<T: PartialOrd + Copy>(values: &[T]) -> Option<usize> {
    let mut best: Option<(usize, T)> = None;
    for (i, &v) in values.iter().enumerate() {
        // NaN is the one value not comparable with itself.
        if v.partial_cmp(&v).is_none() {
            continue;
        }
        if best.is_none_or(|(_, b)| v > b) {
            best = Some((i, v));
        }
    }
    best.map(|(i, _)| i)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_first_maximum_wins_a_tie() {
        assert_eq!(argmax(&[0.1f32, 0.4, 0.4, 0.1]), Some(1));
        assert_eq!(argmax(&[0.25f64; 4]), Some(0));
        assert_eq!(argmax(&[0.1f64, 0.2, 0.7]), Some(2));
        assert_eq!(argmax(&[-3i32, -1, -1]), Some(1), "any ordered type, negatives too");
    }

    #[test]
    fn nan_never_wins() {
        assert_eq!(argmax(&[f32::NAN, 0.2, 0.1]), Some(1), "a NaN first is skipped, not kept");
        assert_eq!(argmax(&[0.2f64, f64::NAN, 0.1]), Some(0));
        assert_eq!(argmax(&[f64::NEG_INFINITY, f64::NAN]), Some(0), "infinities are numbers");
        assert_eq!(argmax(&[f64::NAN, f64::NAN]), None);
        assert_eq!(argmax::<f32>(&[]), None);
    }
}
