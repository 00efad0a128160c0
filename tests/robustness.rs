//! Hostile bytes never crash the validator: seeded random damage to a
//! valid episode (bit flips, truncation, inserted garbage, in the tar and
//! in the compressed stream) always yields one of the four statuses, and
//! never the `internal_error` that a panic would produce.

use cis490_pipeline::store::archive::ReadLimits;
use cis490_tests::{EpisodeFixture, validate_bytes};

/// SplitMix64, seeded: the same damage every run.
struct Dice(u64);

impl Dice {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

fn damage(bytes: &mut Vec<u8>, dice: &mut Dice) {
    match dice.below(4) {
        0 => {
            for _ in 0..1 + dice.below(8) {
                let at = dice.below(bytes.len());
                bytes[at] ^= 1 << dice.below(8);
            }
        }
        1 => bytes.truncate(dice.below(bytes.len())),
        2 => {
            let at = dice.below(bytes.len());
            let junk: Vec<u8> = (0..1 + dice.below(64)).map(|_| dice.next() as u8).collect();
            bytes.splice(at..at, junk);
        }
        _ => {
            let at = dice.below(bytes.len());
            let len = dice.below(512).min(bytes.len() - at);
            bytes.drain(at..at + len);
        }
    }
}

#[test]
fn damaged_archives_always_get_a_status_and_never_crash() -> Result<(), Box<dyn std::error::Error>> {
    let dir = tempfile::tempdir()?;
    let fx = EpisodeFixture::clean();
    let tar = fx.tar();
    let compressed = fx.build();
    let mut dice = Dice(490);
    let mut statuses = std::collections::BTreeMap::new();
    for round in 0..400 {
        let archive = if round % 2 == 0 {
            let mut t = tar.clone();
            damage(&mut t, &mut dice);
            zstd::bulk::compress(&t, 1)?
        } else {
            let mut z = compressed.clone();
            damage(&mut z, &mut dice);
            z
        };
        let row = validate_bytes(dir.path(), &archive, &ReadLimits::default());
        assert!(["accepted", "degraded", "rejected", "errored"].contains(&row.status.as_str()), "{row:?}");
        assert!(
            !row.reasons.iter().any(|r| r.code == cis490_shared::validation::ReasonCode::InternalError),
            "round {round}: the reader panicked"
        );
        assert_eq!(
            row.status == cis490_shared::validation::Status::Accepted,
            row.reasons.is_empty(),
            "round {round}: {row:?}"
        );
        *statuses.entry(row.status).or_insert(0) += 1;
    }
    // The damage really exercised the rules, not only the zstd layer.
    assert!(statuses.len() >= 3, "{statuses:?}");
    Ok(())
}
