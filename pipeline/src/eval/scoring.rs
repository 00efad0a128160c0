//! Scores of one model on one side of a split (held-out test or
//! in-distribution test): overall, per class, per profile and per host,
//! each with a cluster-bootstrap interval, plus every resample's macro F1
//! for the paired comparisons.
//!
//! Windows are first summed into one confusion matrix per episode; a
//! resample is then a weighted sum of those matrices, so its cost is
//! independent of the number of windows. Each resample's macro F1 is taken
//! over the label set of the data as observed (of the side, or of the
//! group), see [`Confusion::macro_f1_over`].

use cis490_shared::label::Label;

use super::bootstrap::{Draws, Interval, percentile_interval};
use super::confusion::Confusion;

/// The episodes of a side, in draw order, and the groups they belong to.
#[derive(Debug, Clone, PartialEq)]
pub struct SideEpisodes {
    /// Episode ids; the index is the episode's position in [`Draws`].
    pub ids: Vec<String>,
    /// Group names of the profile breakdown (episode profiles, sorted).
    pub profiles: Vec<String>,
    /// Profile group of each episode.
    pub profile_of: Vec<usize>,
    /// Group names of the host breakdown (sorted).
    pub hosts: Vec<String>,
    /// Host group of each episode.
    pub host_of: Vec<usize>,
}

impl SideEpisodes {
    /// Episodes `ids` (any order; kept sorted) with their profile and host.
    pub fn new(mut ids: Vec<String>, profile_and_host: impl Fn(&str) -> (String, String)) -> Self {
        ids.sort();
        ids.dedup();
        let facts: Vec<(String, String)> = ids.iter().map(|id| profile_and_host(id)).collect();
        let groups = |pick: fn(&(String, String)) -> &String| {
            let mut names: Vec<String> = facts.iter().map(|f| pick(f).clone()).collect();
            names.sort();
            names.dedup();
            let of = facts.iter().map(|f| names.binary_search(pick(f)).unwrap_or(0)).collect();
            (names, of)
        };
        let (profiles, profile_of) = groups(|f| &f.0);
        let (hosts, host_of) = groups(|f| &f.1);
        Self { ids, profiles, profile_of, hosts, host_of }
    }

    /// Position of an episode, if it is on this side.
    pub fn position(&self, id: &str) -> Option<usize> {
        self.ids.binary_search_by(|probe| probe.as_str().cmp(id)).ok()
    }
}

/// Per-class and per-group scores (the report's types).
pub use cis490_shared::evaluation::{ClassScores, GroupScores};

/// Everything measured of one model on one side.
#[derive(Debug, Clone, PartialEq)]
pub struct SideScores {
    /// Windows scored.
    pub windows: u64,
    /// Episodes with at least one scored window.
    pub episodes: usize,
    /// All windows.
    pub confusion: Confusion,
    /// Macro F1.
    pub macro_f1: Interval,
    /// Accuracy.
    pub accuracy: Interval,
    /// Classes present in truth or predictions, in label order.
    pub per_class: Vec<ClassScores>,
    /// One entry per profile of the side's episodes.
    pub per_profile: Vec<GroupScores>,
    /// One entry per host of the side's episodes.
    pub per_host: Vec<GroupScores>,
    /// Macro F1 of every resample (NaN where undefined).
    pub resampled_macro_f1: Vec<f64>,
}

/// One scored window: the episode's position, truth and predicted class.
pub type ScoredWindow = (usize, usize, usize);

const BENIGN: usize = 0;

fn attack_detected(c: &Confusion) -> Option<f64> {
    let attacks = (1..c.classes()).map(|t| c.support(t)).sum::<u64>();
    let detected = (1..c.classes()).map(|t| (1..c.classes()).map(|p| c.get(t, p)).sum::<u64>()).sum::<u64>();
    (attacks > 0).then(|| detected as f64 / attacks as f64)
}

fn false_alarm(c: &Confusion) -> Option<f64> {
    let benign = c.support(BENIGN);
    (benign > 0).then(|| (benign - c.get(BENIGN, BENIGN)) as f64 / benign as f64)
}

/// A group's scores on every resample; macro F1 over the group's label set
/// as observed.
struct GroupSamples {
    labels: Vec<usize>,
    macro_f1: Vec<f64>,
    accuracy: Vec<f64>,
    recall: Vec<f64>,
}

impl GroupSamples {
    fn new(observed: &Confusion, resamples: usize) -> Self {
        Self {
            labels: observed.present_classes(),
            macro_f1: Vec::with_capacity(resamples),
            accuracy: Vec::with_capacity(resamples),
            recall: Vec::with_capacity(resamples),
        }
    }

    fn push(&mut self, c: &Confusion, own_class: Option<usize>) {
        // An empty resample of the group (none of its episodes drawn) is undefined.
        let defined = c.total() > 0;
        self.macro_f1.push(c.macro_f1_over(&self.labels).filter(|_| defined).unwrap_or(f64::NAN));
        self.accuracy.push(c.accuracy().unwrap_or(f64::NAN));
        self.recall.push(own_class.and_then(|k| c.recall(k)).unwrap_or(f64::NAN));
    }
}

fn group_scores(
    name: &str,
    observed: &Confusion,
    episodes: usize,
    samples: &GroupSamples,
    own_class: Option<usize>,
    confidence: f64,
) -> GroupScores {
    let interval =
        |point: Option<f64>, resampled: &[f64]| percentile_interval(point.unwrap_or(f64::NAN), resampled, confidence);
    GroupScores {
        name: name.to_string(),
        episodes,
        windows: observed.total(),
        macro_f1: interval(observed.macro_f1(), &samples.macro_f1),
        accuracy: interval(observed.accuracy(), &samples.accuracy),
        recall: own_class.map(|k| interval(observed.recall(k), &samples.recall)),
        attack_detected: attack_detected(observed),
        false_alarm: false_alarm(observed),
    }
}

/// Scores `windows` of the episodes of `side` on the resamples `draws`.
pub fn score_side(side: &SideEpisodes, windows: &[ScoredWindow], draws: &Draws, confidence: f64) -> SideScores {
    let classes = Label::ALL.len();
    let mut per_episode = vec![Confusion::new(classes); side.ids.len()];
    for &(episode, truth, predicted) in windows {
        if let Some(c) = per_episode.get_mut(episode) {
            c.add(truth, predicted);
        }
    }
    let scored: Vec<bool> = per_episode.iter().map(|c| c.total() > 0).collect();
    let sum_groups = |of: &[usize], groups: usize, weight: &dyn Fn(usize) -> u64| {
        let mut sums = vec![Confusion::new(classes); groups];
        for (e, c) in per_episode.iter().enumerate() {
            let times = weight(e);
            if times > 0 && scored[e] {
                sums[of[e]].add_scaled(c, times);
            }
        }
        sums
    };
    let total_of = |groups: &[Confusion]| {
        let mut total = Confusion::new(classes);
        groups.iter().for_each(|g| total.add_scaled(g, 1));
        total
    };
    let own_class = |profile: &str| profile.parse::<Label>().ok().map(Label::index);

    // The data as observed.
    let by_profile = sum_groups(&side.profile_of, side.profiles.len(), &|_| 1);
    let by_host = sum_groups(&side.host_of, side.hosts.len(), &|_| 1);
    let observed = total_of(&by_profile);

    // Resamples.
    let resamples = draws.resamples();
    let mut overall = GroupSamples::new(&observed, resamples);
    let mut class_f1: Vec<Vec<f64>> = vec![Vec::with_capacity(resamples); classes];
    let mut profile_samples: Vec<GroupSamples> = by_profile.iter().map(|c| GroupSamples::new(c, resamples)).collect();
    let mut host_samples: Vec<GroupSamples> = by_host.iter().map(|c| GroupSamples::new(c, resamples)).collect();
    for r in 0..resamples {
        let times = draws.resample(r);
        let weight = |e: usize| u64::from(times.get(e).copied().unwrap_or(0));
        let profiles = sum_groups(&side.profile_of, side.profiles.len(), &weight);
        let hosts = sum_groups(&side.host_of, side.hosts.len(), &weight);
        let total = total_of(&profiles);
        overall.push(&total, None);
        for (k, samples) in class_f1.iter_mut().enumerate() {
            samples.push(total.f1(k).unwrap_or(f64::NAN));
        }
        for (g, c) in profiles.iter().enumerate() {
            profile_samples[g].push(c, own_class(&side.profiles[g]));
        }
        for (g, c) in hosts.iter().enumerate() {
            host_samples[g].push(c, None);
        }
    }

    let episodes_in = |of: &[usize], g: usize| (0..side.ids.len()).filter(|e| of[*e] == g && scored[*e]).count();
    let groups = |names: &[String], sums: &[Confusion], samples: &[GroupSamples], of: &[usize], own: bool| {
        names
            .iter()
            .enumerate()
            .filter(|(g, _)| sums[*g].total() > 0)
            .map(|(g, name)| {
                let class = if own { own_class(name) } else { None };
                group_scores(name, &sums[g], episodes_in(of, g), &samples[g], class, confidence)
            })
            .collect()
    };
    let per_class = observed
        .present_classes()
        .into_iter()
        .map(|k| ClassScores {
            label: Label::ALL[k].to_string(),
            support: observed.support(k),
            predicted: observed.predicted(k),
            precision: observed.precision(k),
            recall: observed.recall(k),
            f1: percentile_interval(observed.f1(k).unwrap_or(f64::NAN), &class_f1[k], confidence),
        })
        .collect();
    let whole = group_scores("all", &observed, scored.iter().filter(|s| **s).count(), &overall, None, confidence);
    SideScores {
        windows: observed.total(),
        episodes: whole.episodes,
        macro_f1: whole.macro_f1,
        accuracy: whole.accuracy,
        per_class,
        per_profile: groups(&side.profiles, &by_profile, &profile_samples, &side.profile_of, true),
        per_host: groups(&side.hosts, &by_host, &host_samples, &side.host_of, false),
        confusion: observed,
        resampled_macro_f1: overall.macro_f1,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn side() -> SideEpisodes {
        // e0, e1: cpu-saturate on h1; e2: benign on h2; e3: benign on h1.
        SideEpisodes::new(vec!["e2".into(), "e0".into(), "e3".into(), "e1".into()], |id| match id {
            "e0" | "e1" => ("cpu-saturate".into(), "h1".into()),
            "e2" => ("benign".into(), "h2".into()),
            _ => ("benign".into(), "h1".into()),
        })
    }

    #[test]
    fn episodes_are_sorted_and_grouped() {
        let s = side();
        assert_eq!(s.ids, vec!["e0", "e1", "e2", "e3"]);
        assert_eq!(s.profiles, vec!["benign", "cpu-saturate"]);
        assert_eq!(s.profile_of, vec![1, 1, 0, 0]);
        assert_eq!(s.hosts, vec!["h1", "h2"]);
        assert_eq!(s.host_of, vec![0, 0, 1, 0]);
        assert_eq!(s.position("e2"), Some(2));
        assert_eq!(s.position("e9"), None);
    }

    #[test]
    fn breakdowns_by_hand() {
        let s = side();
        let cpu = Label::Attack(cis490_shared::label::Profile::CpuSaturate).index();
        let windows: Vec<ScoredWindow> = vec![
            // e0: 2 benign right, 2 cpu right; e1: 2 cpu, 1 missed (called benign);
            (0, 0, 0),
            (0, 0, 0),
            (0, cpu, cpu),
            (0, cpu, cpu),
            (1, cpu, cpu),
            (1, cpu, 0),
            // e2: 2 benign, one false alarm; e3: no windows at all.
            (2, 0, 0),
            (2, 0, cpu),
        ];
        let draws = Draws::new(s.ids.len(), 200, 1);
        let scores = score_side(&s, &windows, &draws, 0.95);
        assert_eq!(scores.windows, 8);
        assert_eq!(scores.episodes, 3);
        // benign: tp 3, fp 1, fn 1 -> 0.75; cpu: tp 3, fp 1, fn 1 -> 0.75.
        assert!((scores.macro_f1.point - 0.75).abs() < 1e-12);
        assert_eq!(scores.per_class.len(), 2);
        assert_eq!(scores.per_class[1].support, 4);
        let cpu_group = &scores.per_profile[1];
        assert_eq!((cpu_group.name.as_str(), cpu_group.episodes, cpu_group.windows), ("cpu-saturate", 2, 6));
        assert_eq!(cpu_group.recall.map(|r| r.point), Some(0.75));
        assert_eq!(cpu_group.attack_detected, Some(0.75));
        assert_eq!(cpu_group.false_alarm, Some(0.0));
        let benign_group = &scores.per_profile[0];
        assert_eq!(benign_group.episodes, 1, "e3 has no windows");
        assert_eq!(benign_group.false_alarm, Some(0.5));
        assert_eq!(benign_group.attack_detected, None);
        assert_eq!(scores.per_host.iter().map(|h| h.windows).collect::<Vec<_>>(), vec![6, 2]);
        assert_eq!(scores.resampled_macro_f1.len(), 200);
        assert!(scores.macro_f1.lo <= scores.macro_f1.point && scores.macro_f1.point <= scores.macro_f1.hi);
    }
}
