//! Where a network's windows come from, and which of them an epoch sees.
//!
//! A [`WindowSource`] holds every window's class index in memory and hands
//! out raw input rows on request, so a network trains from batches read
//! one at a time (from memory for small sets, from a file on disk for the
//! lab's corpus) instead of one giant tensor. [`epoch_sample`] draws an
//! epoch's windows: all of them, shuffled, when the epoch is at least as
//! large as the set; otherwise a class-stratified sample of that size.

use cis490_shared::rng::Rng;

use crate::NUM_CLASSES;
use crate::table::Table;

/// Windows with their class indices, read by row.
pub trait WindowSource: Sync {
    /// Raw values per window.
    fn row_len(&self) -> usize;
    /// Class index per window (its length is the number of windows).
    fn labels(&self) -> &[u32];
    /// Appends the raw values of windows `rows`, in that order, to `out`.
    fn read_rows(&self, rows: &[usize], out: &mut Vec<f32>) -> Result<(), String>;
    /// Appends the raw values of windows `start..start + count` to `out`.
    fn read_range(&self, start: usize, count: usize, out: &mut Vec<f32>) -> Result<(), String> {
        let rows: Vec<usize> = (start..start + count).collect();
        self.read_rows(&rows, out)
    }
}

/// Windows and labels in memory: `y.len()` rows of `x.len() / y.len()` raw values.
#[derive(Debug, Clone, Copy)]
pub struct Windows<'a> {
    /// Raw inputs, row-major.
    pub x: &'a [f32],
    /// Class index per row.
    pub y: &'a [u32],
}

fn rows_of(x: &[f32], len: usize, n: usize, rows: &[usize], out: &mut Vec<f32>) -> Result<(), String> {
    out.reserve(rows.len() * len);
    for &r in rows {
        if r >= n {
            return Err(format!("window {r} of {n} asked for"));
        }
        out.extend_from_slice(&x[r * len..(r + 1) * len]);
    }
    Ok(())
}

impl WindowSource for Windows<'_> {
    fn row_len(&self) -> usize {
        if self.y.is_empty() { 0 } else { self.x.len() / self.y.len() }
    }

    fn labels(&self) -> &[u32] {
        self.y
    }

    fn read_rows(&self, rows: &[usize], out: &mut Vec<f32>) -> Result<(), String> {
        rows_of(self.x, self.row_len(), self.y.len(), rows, out)
    }

    fn read_range(&self, start: usize, count: usize, out: &mut Vec<f32>) -> Result<(), String> {
        let len = self.row_len();
        let end = start.checked_add(count).filter(|e| *e <= self.y.len()).ok_or("window range out of bounds")?;
        out.extend_from_slice(&self.x[start * len..end * len]);
        Ok(())
    }
}

impl WindowSource for Table {
    fn row_len(&self) -> usize {
        self.cols
    }

    fn labels(&self) -> &[u32] {
        &self.y
    }

    fn read_rows(&self, rows: &[usize], out: &mut Vec<f32>) -> Result<(), String> {
        rows_of(&self.x, self.cols, self.rows, rows, out)
    }

    fn read_range(&self, start: usize, count: usize, out: &mut Vec<f32>) -> Result<(), String> {
        let end = start.checked_add(count).filter(|e| *e <= self.rows).ok_or("window range out of bounds")?;
        out.extend_from_slice(&self.x[start * self.cols..end * self.cols]);
        Ok(())
    }
}

/// The windows of one epoch, in training order: every window shuffled
/// (`order` is shuffled in place and returned whole) when `epoch_windows`
/// covers the set, else `epoch_windows` of them drawn per class in
/// proportion to the class sizes (largest remainders, every present class
/// at least once), then shuffled.
pub fn epoch_sample(order: &mut [usize], labels: &[u32], epoch_windows: usize, rng: &mut Rng) -> Vec<usize> {
    if epoch_windows >= order.len() {
        rng.shuffle(order);
        return order.to_vec();
    }
    let mut by_class: Vec<Vec<usize>> = vec![Vec::new(); NUM_CLASSES];
    for (i, &c) in labels.iter().enumerate() {
        if let Some(members) = by_class.get_mut(c as usize) {
            members.push(i);
        }
    }
    let quotas = stratified_quotas(&by_class.iter().map(Vec::len).collect::<Vec<_>>(), epoch_windows);
    let mut chosen = Vec::with_capacity(epoch_windows);
    for (members, quota) in by_class.iter_mut().zip(quotas) {
        // A partial Fisher–Yates shuffle: the first `quota` are a uniform sample.
        for k in 0..quota {
            let j = k + rng.below((members.len() - k) as u64) as usize;
            members.swap(k, j);
        }
        chosen.extend_from_slice(&members[..quota]);
    }
    rng.shuffle(&mut chosen);
    chosen
}

/// Per-class counts summing to `total` (≤ the sum of `sizes`), in
/// proportion to `sizes` by largest remainder, every non-empty class at
/// least one when `total` allows.
pub fn stratified_quotas(sizes: &[usize], total: usize) -> Vec<usize> {
    let n: usize = sizes.iter().sum();
    if n == 0 {
        return vec![0; sizes.len()];
    }
    let total = total.min(n);
    let exact: Vec<f64> = sizes.iter().map(|s| *s as f64 * total as f64 / n as f64).collect();
    let mut quotas: Vec<usize> =
        exact.iter().zip(sizes).map(|(e, s)| if *s > 0 { (e.floor() as usize).clamp(1, *s) } else { 0 }).collect();
    let mut by_remainder: Vec<usize> = (0..sizes.len()).collect();
    by_remainder
        .sort_by(|a, b| (exact[*b] - exact[*b].floor()).total_cmp(&(exact[*a] - exact[*a].floor())).then(a.cmp(b)));
    let mut sum: usize = quotas.iter().sum();
    // Too few: hand out one more to the largest remainders (then anyone with room).
    let mut turn = by_remainder.iter().cycle();
    while sum < total {
        if let Some(&c) = turn.next()
            && quotas[c] < sizes[c]
        {
            quotas[c] += 1;
            sum += 1;
        }
    }
    // Too many (the at-least-one floor): take back from the largest
    // quotas, and when fewer windows than classes are asked for, drop the
    // smallest classes.
    while sum > total {
        let largest = (0..sizes.len()).filter(|c| quotas[*c] > 1).max_by_key(|c| (quotas[*c], std::cmp::Reverse(*c)));
        let smallest = || (0..sizes.len()).filter(|c| quotas[*c] == 1).min_by_key(|c| (sizes[*c], *c));
        match largest.or_else(smallest) {
            Some(c) => {
                quotas[c] -= 1;
                sum -= 1;
            }
            None => break,
        }
    }
    quotas
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quotas_follow_class_sizes_and_sum_to_the_total() {
        assert_eq!(stratified_quotas(&[900, 90, 10, 0], 100), vec![90, 9, 1, 0]);
        let q = stratified_quotas(&[1000, 3, 1], 10);
        assert_eq!(q.iter().sum::<usize>(), 10);
        assert!(q[1] >= 1 && q[2] == 1, "{q:?}: rare classes keep a window");
        assert_eq!(stratified_quotas(&[5, 5], 100), vec![5, 5], "never more than there is");
        assert_eq!(stratified_quotas(&[0, 0], 3), vec![0, 0]);
        for total in 0..40 {
            let q = stratified_quotas(&[17, 2, 1, 9, 0, 3, 1], total);
            assert_eq!(q.iter().sum::<usize>(), total.min(33), "{total}: {q:?}");
        }
    }

    #[test]
    fn a_sampled_epoch_keeps_class_shares_and_never_repeats_a_window() {
        let labels: Vec<u32> = (0..10_000u32).map(|i| if i % 10 == 0 { 3 } else { 0 }).collect();
        let mut order: Vec<usize> = (0..labels.len()).collect();
        let mut rng = Rng::new(7);
        let epoch = epoch_sample(&mut order, &labels, 1_000, &mut rng);
        assert_eq!(epoch.len(), 1_000);
        assert_eq!(epoch.iter().filter(|i| labels[**i] == 3).count(), 100);
        let mut unique = epoch.clone();
        unique.sort_unstable();
        unique.dedup();
        assert_eq!(unique.len(), 1_000);
        let again = epoch_sample(&mut (0..labels.len()).collect::<Vec<_>>(), &labels, 1_000, &mut Rng::new(7));
        assert_eq!(epoch, again, "seeded");
        // A covering epoch is the whole set, shuffled.
        let all = epoch_sample(&mut order, &labels, 20_000, &mut rng);
        assert_eq!(all.len(), labels.len());
    }

    #[test]
    fn in_memory_sources_hand_out_rows_and_refuse_strangers() {
        let x = [0.0, 1.0, 2.0, 3.0, 4.0, 5.0];
        let w = Windows { x: &x, y: &[0, 1, 2] };
        let mut out = Vec::new();
        assert_eq!(w.row_len(), 2);
        w.read_rows(&[2, 0], &mut out).map_err(|e| e.to_string()).ok();
        assert_eq!(out, [4.0, 5.0, 0.0, 1.0]);
        assert!(w.read_rows(&[3], &mut out).is_err());
        out.clear();
        assert!(w.read_range(1, 2, &mut out).is_ok());
        assert_eq!(out, [2.0, 3.0, 4.0, 5.0]);
        assert!(w.read_range(2, 2, &mut out).is_err());
    }
}
