//! Confusion matrices and the scores read from them: per-class precision,
//! recall and F1, macro F1 and accuracy — one definition for the trainer's
//! validation score and the backend's evaluation.
//!
//! Conventions (the same as scikit-learn's `f1_score(average="macro")` with
//! its default labels, so a peer recomputing from `predictions.parquet`
//! gets our numbers):
//! - F1 of a class is `2·TP / (2·TP + FP + FN)`;
//! - macro F1 averages it over the classes that occur in the truth **or**
//!   in the predictions; a class predicted but absent from the truth counts
//!   with F1 0 (its false alarms are errors), a class absent from both is
//!   left out;
//! - precision of a class never predicted, and recall of a class absent
//!   from the truth, are undefined (`None`);
//! - a bootstrap resample is scored over the label set of the data as
//!   observed ([`Confusion::macro_f1_over`]).

/// Counts of (truth, predicted) pairs; rows are the truth.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Confusion {
    classes: usize,
    counts: Vec<u64>,
}

impl Confusion {
    /// An empty matrix over `classes` classes.
    pub fn new(classes: usize) -> Self {
        Self { classes, counts: vec![0; classes * classes] }
    }

    /// Number of classes.
    pub fn classes(&self) -> usize {
        self.classes
    }

    /// The matrix of paired `truth` and `predicted` class indices.
    pub fn from_pairs(truth: &[u32], predicted: &[u32], classes: usize) -> Self {
        let mut c = Confusion::new(classes);
        truth.iter().zip(predicted).for_each(|(t, p)| c.add(*t as usize, *p as usize));
        c
    }

    /// Counts one window; out-of-range classes are ignored.
    pub fn add(&mut self, truth: usize, predicted: usize) {
        if truth < self.classes && predicted < self.classes {
            self.counts[truth * self.classes + predicted] += 1;
        }
    }

    /// Adds `times` copies of `other` (same number of classes).
    pub fn add_scaled(&mut self, other: &Confusion, times: u64) {
        for (mine, theirs) in self.counts.iter_mut().zip(&other.counts) {
            *mine += theirs * times;
        }
    }

    /// Empties the matrix.
    pub fn clear(&mut self) {
        self.counts.fill(0);
    }

    /// Windows with this truth and prediction.
    pub fn get(&self, truth: usize, predicted: usize) -> u64 {
        self.counts[truth * self.classes + predicted]
    }

    /// Windows whose truth is `class`.
    pub fn support(&self, class: usize) -> u64 {
        (0..self.classes).map(|p| self.get(class, p)).sum()
    }

    /// Windows predicted as `class`.
    pub fn predicted(&self, class: usize) -> u64 {
        (0..self.classes).map(|t| self.get(t, class)).sum()
    }

    /// All windows.
    pub fn total(&self) -> u64 {
        self.counts.iter().sum()
    }

    /// Whether `class` occurs in the truth or the predictions.
    pub fn is_present(&self, class: usize) -> bool {
        self.support(class) + self.predicted(class) > 0
    }

    /// The classes that occur in the truth or the predictions, ascending.
    pub fn present_classes(&self) -> Vec<usize> {
        (0..self.classes).filter(|c| self.is_present(*c)).collect()
    }

    /// Rows of the matrix restricted to `classes` (truth × predicted).
    pub fn rows(&self, classes: &[usize]) -> Vec<Vec<u64>> {
        classes.iter().map(|t| classes.iter().map(|p| self.get(*t, *p)).collect()).collect()
    }

    /// TP / (TP + FP); `None` when the class is never predicted.
    pub fn precision(&self, class: usize) -> Option<f64> {
        ratio(self.get(class, class), self.predicted(class))
    }

    /// TP / (TP + FN); `None` when the class is absent from the truth.
    pub fn recall(&self, class: usize) -> Option<f64> {
        ratio(self.get(class, class), self.support(class))
    }

    /// 2·TP / (2·TP + FP + FN); `None` when the class is absent from both.
    pub fn f1(&self, class: usize) -> Option<f64> {
        let tp = self.get(class, class);
        let fp = self.predicted(class) - tp;
        let fn_ = self.support(class) - tp;
        ratio(2 * tp, 2 * tp + fp + fn_)
    }

    /// Mean F1 over the classes present in truth or predictions (see the
    /// module's conventions); `None` for an empty matrix.
    pub fn macro_f1(&self) -> Option<f64> {
        let scores: Vec<f64> = (0..self.classes).filter_map(|c| self.f1(c)).collect();
        (!scores.is_empty()).then(|| scores.iter().sum::<f64>() / scores.len() as f64)
    }

    /// Mean F1 over a fixed label set `classes`, a label with no true
    /// positive counting 0 (also when it is absent from truth and
    /// predictions: scikit-learn's `f1_score(labels=classes,
    /// average="macro", zero_division=0)`); `None` for an empty set. The
    /// bootstrap scores every resample over the label set of the data as
    /// observed, so a label seen in a few episodes cannot enter and leave
    /// the average from one resample to the next.
    pub fn macro_f1_over(&self, classes: &[usize]) -> Option<f64> {
        let scores: Vec<f64> = classes.iter().map(|c| self.f1(*c).unwrap_or(0.0)).collect();
        (!scores.is_empty()).then(|| scores.iter().sum::<f64>() / scores.len() as f64)
    }

    /// Share of windows predicted right; `None` for an empty matrix.
    pub fn accuracy(&self) -> Option<f64> {
        ratio((0..self.classes).map(|c| self.get(c, c)).sum(), self.total())
    }
}

fn ratio(numerator: u64, denominator: u64) -> Option<f64> {
    (denominator > 0).then(|| numerator as f64 / denominator as f64)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn matrix(pairs: &[(usize, usize)], classes: usize) -> Confusion {
        let mut c = Confusion::new(classes);
        for (t, p) in pairs {
            c.add(*t, *p);
        }
        c
    }

    #[test]
    fn scores_by_hand() {
        // truth 0 0 0 1 1 2, predicted 0 0 1 1 2 2:
        // class 0: tp 2, fp 0, fn 1 -> P 1, R 2/3, F1 4/5
        // class 1: tp 1, fp 1, fn 1 -> P 1/2, R 1/2, F1 1/2
        // class 2: tp 1, fp 1, fn 0 -> P 1/2, R 1, F1 2/3
        let c = matrix(&[(0, 0), (0, 0), (0, 1), (1, 1), (1, 2), (2, 2)], 4);
        assert_eq!(c.rows(&[0, 1, 2]), vec![vec![2, 1, 0], vec![0, 1, 1], vec![0, 0, 1]]);
        assert_eq!(c.precision(0), Some(1.0));
        assert_eq!(c.recall(0), Some(2.0 / 3.0));
        assert_eq!(c.f1(0), Some(0.8));
        assert_eq!(c.f1(1), Some(0.5));
        assert_eq!(c.f1(2), Some(2.0 / 3.0));
        // Class 3 is absent from truth and predictions: not averaged.
        assert_eq!(c.f1(3), None);
        assert_eq!(c.present_classes(), vec![0, 1, 2]);
        let expected = (0.8 + 0.5 + 2.0 / 3.0) / 3.0;
        assert!((c.macro_f1().unwrap_or_default() - expected).abs() < 1e-12);
        assert_eq!(c.accuracy(), Some(4.0 / 6.0));
        assert_eq!(c.total(), 6);
    }

    #[test]
    fn a_class_only_predicted_counts_with_f1_zero() {
        // Truth is all class 0; one window is predicted as class 5, absent
        // from the truth: class 0 F1 = 2·3/(2·3+0+1) = 6/7, class 5 F1 = 0,
        // macro = 3/7 (scikit-learn gives the same).
        let c = matrix(&[(0, 0), (0, 0), (0, 0), (0, 5)], 7);
        assert_eq!(c.present_classes(), vec![0, 5]);
        assert_eq!(c.f1(5), Some(0.0));
        assert_eq!(c.precision(5), Some(0.0));
        assert_eq!(c.recall(5), None);
        assert!((c.macro_f1().unwrap_or_default() - 3.0 / 7.0).abs() < 1e-12);
        // A class in the truth that is never predicted: precision undefined, F1 0.
        let c = matrix(&[(0, 1), (1, 1)], 2);
        assert_eq!(c.precision(0), None);
        assert_eq!(c.f1(0), Some(0.0));
        assert_eq!(Confusion::new(3).macro_f1(), None);
        // Over a fixed set, a label absent from truth and predictions counts 0.
        let c = matrix(&[(0, 0), (1, 1)], 3);
        assert_eq!(c.macro_f1(), Some(1.0));
        assert_eq!(c.macro_f1_over(&[0, 1, 2]), Some(2.0 / 3.0));
        assert_eq!(c.macro_f1_over(&[]), None);
    }

    #[test]
    fn scaled_sums_are_resampled_episodes() {
        let a = matrix(&[(0, 0), (1, 0)], 2);
        let b = matrix(&[(1, 1)], 2);
        let mut sum = Confusion::new(2);
        sum.add_scaled(&a, 2);
        sum.add_scaled(&b, 3);
        assert_eq!(sum.rows(&[0, 1]), vec![vec![2, 0], vec![2, 3]]);
        // Same as the macro F1 agreed with the trainer's score.
        let truth = [0, 1, 0, 1, 1, 1, 1];
        let predicted = [0, 0, 0, 0, 1, 1, 1];
        let direct = crate::score::macro_f1(&truth, &predicted, 2);
        assert!((sum.macro_f1().unwrap_or_default() - direct).abs() < 1e-12);
        sum.clear();
        assert_eq!(sum.total(), 0);
    }
}
