//! Replays, without instrumentation, every input the fuzzer ever crashed
//! on (`regressions/<target>/*`, saved by `cargo xtask fuzz`) and every
//! seed through the same target functions the fuzzer runs. A fixed bug
//! stays fixed: its input is a test case for good.

use std::path::{Path, PathBuf};

fn regression_dir(target: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("regressions").join(target)
}

/// The saved inputs of one target (files only, `README.md` aside).
fn saved_inputs(target: &str) -> Vec<PathBuf> {
    let Ok(entries) = std::fs::read_dir(regression_dir(target)) else { return Vec::new() };
    let mut files: Vec<PathBuf> = entries
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.is_file() && p.file_name().is_some_and(|n| n != "README.md" && n != ".gitkeep"))
        .collect();
    files.sort();
    files
}

#[test]
fn every_saved_crash_input_passes() -> std::io::Result<()> {
    let mut replayed = 0;
    for (target, run) in cis490_fuzz::TARGETS {
        for path in saved_inputs(target) {
            let bytes = std::fs::read(&path)?;
            eprintln!("replaying {target}/{}", path.file_name().map(|n| n.to_string_lossy()).unwrap_or_default());
            run(&bytes);
            replayed += 1;
        }
    }
    eprintln!("{replayed} saved inputs replayed");
    Ok(())
}

#[test]
fn every_seed_passes() {
    let seeds = cis490_fuzz::seeds::seeds();
    for (target, run) in cis490_fuzz::TARGETS {
        let mine: Vec<_> = seeds.iter().filter(|s| s.target == target).collect();
        assert!(mine.len() >= 3, "{target} has {} seeds", mine.len());
        for seed in mine {
            run(&seed.bytes);
        }
    }
}

#[test]
fn dictionaries_are_in_libfuzzer_format() {
    for (target, _) in cis490_fuzz::TARGETS {
        let dict = cis490_fuzz::seeds::dictionary(target);
        assert!(dict.lines().count() > 5, "{target}");
        for line in dict.lines() {
            assert!(line.len() >= 3 && line.starts_with('"') && line.ends_with('"'), "{target}: {line}");
            assert!(line.bytes().all(|b| (b' '..=b'~').contains(&b)), "{target}: {line}");
        }
    }
}
