//! Writes the seed corpus and the dictionaries of every target:
//! `seeds OUT` makes `OUT/seeds/<target>/<name>` and `OUT/dicts/<target>.dict`
//! (run by `cargo xtask fuzz`, uninstrumented).

use std::path::PathBuf;
use std::process::ExitCode;

fn main() -> ExitCode {
    let Some(out) = std::env::args_os().nth(1).map(PathBuf::from) else {
        eprintln!("usage: seeds OUT_DIR");
        return ExitCode::from(2);
    };
    match write(&out) {
        Ok(count) => {
            eprintln!("seeds: {count} seeds and {} dictionaries in {}", cis490_fuzz::TARGETS.len(), out.display());
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("seeds: cannot write under {}: {e}", out.display());
            ExitCode::FAILURE
        }
    }
}

fn write(out: &std::path::Path) -> std::io::Result<usize> {
    let seeds = cis490_fuzz::seeds::seeds();
    for (target, _) in cis490_fuzz::TARGETS {
        let dir = out.join("seeds").join(target);
        // Seeds are regenerated whole: a renamed seed leaves no stale file.
        if dir.exists() {
            std::fs::remove_dir_all(&dir)?;
        }
        std::fs::create_dir_all(&dir)?;
        std::fs::create_dir_all(out.join("dicts"))?;
        std::fs::write(out.join("dicts").join(format!("{target}.dict")), cis490_fuzz::seeds::dictionary(target))?;
    }
    for seed in &seeds {
        std::fs::write(out.join("seeds").join(seed.target).join(&seed.name), &seed.bytes)?;
    }
    Ok(seeds.len())
}
