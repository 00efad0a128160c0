//! Held-out splits: whole episodes per side, profiles covered, impossible
//! recipes refused, normalization fitted on training windows only.

use std::collections::BTreeSet;

use cis490_pipeline::split::recipes::Recipe;
use cis490_pipeline::split::{self, SplitError, SplitFile, SplitOptions};

type TestResult = Result<(), Box<dyn std::error::Error>>;

/// One feature folder shared by the tests of this file (generated once per
/// run, under cargo's target tmp dir).
fn shared_features() -> Result<std::path::PathBuf, Box<dyn std::error::Error>> {
    static FEATURES: std::sync::OnceLock<Result<std::path::PathBuf, String>> = std::sync::OnceLock::new();
    let made = FEATURES.get_or_init(|| {
        let dir = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("split-tests-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).map_err(|e| e.to_string())?;
        features(&dir).map_err(|e| e.to_string())
    });
    made.clone().map_err(Into::into)
}

fn features(dir: &std::path::Path) -> Result<std::path::PathBuf, Box<dyn std::error::Error>> {
    cis490_tests::extracted_store(dir, 90, 31, 0.1)
}

fn split(features: &std::path::Path, recipe: Recipe, hosts: &[&str], seed: u64) -> Result<SplitFile, SplitError> {
    let out = features.parent().unwrap_or(features).join(format!("split-{recipe:?}-{seed}.json"));
    split::run(&SplitOptions {
        features: features.to_path_buf(),
        recipe,
        test_hosts: hosts.iter().map(|h| h.to_string()).collect(),
        seed,
        val_share: 0.15,
        in_distribution_share: 0.1,
        out,
    })
}

fn check_sides(s: &SplitFile) {
    let sides: [BTreeSet<&String>; 4] = [&s.train, &s.val, &s.test, &s.in_distribution].map(|ids| ids.iter().collect());
    for (i, a) in sides.iter().enumerate() {
        for b in &sides[i + 1..] {
            assert!(a.is_disjoint(b), "an episode on two sides");
        }
        assert!(!a.is_empty(), "side {i} is empty");
    }
    let profiles = |side: &str| -> BTreeSet<String> {
        s.counts
            .get(side)
            .map(|c| c.iter().filter(|(_, n)| n.episodes > 0).map(|(p, _)| p.clone()).collect())
            .unwrap_or_default()
    };
    let (in_train, in_test) = (profiles("train"), profiles("test"));
    assert!(in_test.is_subset(&in_train), "test profiles {in_test:?} not all in train {in_train:?}");
    // The in-distribution side is drawn from what training sees.
    assert!(profiles("in_distribution").is_subset(&in_train));
    for p in &s.untested_profiles {
        assert!(!in_test.contains(p), "{p} is listed untested but has test episodes");
    }
}

#[test]
fn the_three_recipes_keep_episodes_whole_and_profiles_covered() -> TestResult {
    let feats = shared_features()?;
    let host = split(&feats, Recipe::Host, &[], 490)?;
    check_sides(&host);
    assert_eq!(host.held_out.len(), 1);
    // In-distribution test episodes come from the training hosts, never the held-out one.
    let episodes = cis490_pipeline::extract::shards::episodes::read_episodes(&feats)?;
    for id in &host.in_distribution {
        let info = episodes.get(id).ok_or("unknown episode")?;
        assert!(!host.held_out.contains(&info.host_id), "{id} of held-out host {}", info.host_id);
    }
    assert_eq!(host.features, feats.display().to_string());
    let sample = split(&feats, Recipe::Sample, &[], 490)?;
    check_sides(&sample);
    let time = split(&feats, Recipe::Time, &[], 490)?;
    check_sides(&time);
    // The time recipe puts the latest episodes in test (ids increase with time).
    let last_train = time.train.iter().chain(&time.val).max().ok_or("train is empty")?;
    let first_test = time.test.iter().min().ok_or("test is empty")?;
    assert!(last_train < first_test, "{last_train} is trained on but later than test's {first_test}");
    // The same seed gives the same split; the file holds what was returned.
    assert_eq!(split(&feats, Recipe::Sample, &[], 490)?, sample);
    let on_disk: SplitFile = split::read_split_file(&feats.parent().ok_or("dir")?.join("split-Sample-490.json"))?;
    assert_eq!(on_disk, sample);
    assert_eq!(on_disk.digest(), sample.digest());
    assert_ne!(host.digest(), sample.digest());
    Ok(())
}

#[test]
fn the_pi_held_out_leaves_scan_and_dial_untested() -> TestResult {
    let feats = shared_features()?;
    let s = split(&feats, Recipe::Host, &["rpi-01"], 1)?;
    check_sides(&s);
    assert!(s.untested_profiles.contains(&"scan-and-dial".to_string()), "{:?}", s.untested_profiles);
    Ok(())
}

#[test]
fn impossible_recipes_are_refused_with_a_reason() -> TestResult {
    let feats = shared_features()?;
    let err = split(&feats, Recipe::Host, &["no-such-host"], 1).err().ok_or("unknown host accepted")?;
    assert!(err.to_string().contains("no-such-host"), "{err}");
    let all = ["lab-pc-01", "lab-pc-02", "lab-pc-03", "rpi-01", "server-01"];
    let err = split(&feats, Recipe::Host, &all, 1).err().ok_or("holding out every host accepted")?;
    assert!(err.to_string().contains("impossible"), "{err}");
    let dir = tempfile::tempdir()?;
    let missing = split(&dir.path().join("nowhere"), Recipe::Time, &[], 1).err().ok_or("missing folder accepted")?;
    let missing = cis490_shared::error_chain(&missing);
    assert!(missing.contains("cis490 extract"), "{missing}");
    Ok(())
}

#[test]
fn normalization_is_fitted_on_training_windows_only() -> TestResult {
    let feats = shared_features()?;
    let s = split(&feats, Recipe::Host, &[], 77)?;
    let norm_path = split::normalization_path(&feats.parent().ok_or("dir")?.join("split-Host-77.json"));
    let norm: split::norm::Normalization = serde_json::from_slice(&std::fs::read(norm_path)?)?;
    let train_windows: u64 = s.counts.get("train").map(|c| c.values().map(|n| n.windows).sum()).unwrap_or(0);
    assert_eq!(norm.train_windows, train_windows);
    assert_eq!(norm.summary.names.len(), 46 * 6);
    assert_eq!(norm.tensor.names.len(), 46);
    assert!(norm.summary.std.iter().all(|s| *s > 0.0));
    assert_eq!(norm.schema_hash, cis490_shared::registry::schema_hash());
    Ok(())
}
