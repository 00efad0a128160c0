//! The starting corpus and the libFuzzer dictionaries, made in code.
//!
//! Seeds are a small valid episode (written with the store's `TarWriter`
//! in every archive mode), hostile tar members (links, devices, `..`,
//! absolute paths, pax and GNU long names, sparse members), telemetry and
//! label rows of every source, and one event of each type. Dictionaries
//! list the tokens a mutation would hardly guess: registry field names,
//! event fields, tar magic and pax keys. `cargo xtask fuzz` writes both
//! with the `seeds` binary; the regression test replays every seed.

use cis490_shared::events::EventKind;
use cis490_shared::registry::{CHANNELS, Source};
use cis490_store::tar_writer::{MemberType, TarWriter, header_block, pax_record, set_checksum};

use crate::archive::{Mode, ROUND_TRIP_NAMES, compress, encode_members};

/// One seed input of one target.
#[derive(Debug, Clone)]
pub struct Seed {
    /// The target it is for (`archive`, `jsonl`, `events`).
    pub target: &'static str,
    /// A file name saying what it is.
    pub name: String,
    /// The input.
    pub bytes: Vec<u8>,
}

const WALL0: i64 = 1_767_225_600_000_000_000;

/// One telemetry row of `source` with every field, at step `i`.
fn row(source: Source, i: i64) -> String {
    let mut fields = vec![format!(r#""t_mono_ns":{}"#, 5_000_000_000 + i * 500_000_000)];
    fields.push(format!(r#""t_wall_ns":{}"#, WALL0 + i * 500_000_000));
    for (k, channel) in source.channels().enumerate() {
        let value = match k % 4 {
            0 => format!("{}", 1000 * i + k as i64),
            1 => format!("{}.25", i),
            2 => "null".to_string(),
            _ => format!("-{}.5", k),
        };
        fields.push(format!(r#""{}":{value}"#, channel.field));
    }
    format!("{{{}}}", fields.join(","))
}

fn labels_jsonl() -> String {
    let mut out = String::new();
    for (i, label) in ["benign", "cpu-saturate", "benign", "end"].into_iter().enumerate() {
        let t = i as i64 * 20_000_000_000;
        out.push_str(&format!(
            "{{\"t_mono_ns\":{},\"t_wall_ns\":{},\"label\":\"{label}\"}}\n",
            5_000_000_000 + t,
            WALL0 + t
        ));
    }
    out
}

fn source_jsonl(source: Source) -> String {
    (0..4).map(|i| row(source, i) + "\n").collect()
}

/// The members of a small valid episode, manifest first.
pub fn episode_members() -> Vec<(&'static str, Vec<u8>)> {
    let manifest = serde_json::json!({
        "schema_version": 1, "episode_id": "ep-000001", "host_id": "lab-pc-01",
        "profile": "cpu-saturate", "sample_id": "miner-a", "agent_version": "1.4.0",
        "started_wall_ns": WALL0, "files": {}
    });
    let mut members = vec![("manifest.json", manifest.to_string().into_bytes())];
    members.push(("labels.jsonl", labels_jsonl().into_bytes()));
    for source in Source::ALL {
        members.push((source.member_name(), source_jsonl(source).into_bytes()));
    }
    members
}

/// An episode with every kind of member the reader must refuse or decode,
/// and a size in base-256.
fn hostile_tar() -> Vec<u8> {
    let mut w = TarWriter::new();
    w.file("manifest.json", br#"{"schema_version":1}"#, 1);
    w.member(b"link", MemberType::Symlink, b"/etc/passwd", b"", 1);
    w.member(b"hard", MemberType::Hardlink, b"manifest.json", b"", 1);
    w.member(b"dir/", MemberType::Directory, b"", b"", 1);
    w.member(b"fifo", MemberType::Fifo, b"", b"", 1);
    w.member(b"dev", MemberType::CharDevice, b"", b"", 1);
    w.file("../escape", b"x", 1);
    w.file("/abs", b"x", 1);
    w.file("a/b.jsonl", b"x", 1);
    w.file("./labels.jsonl", labels_jsonl().as_bytes(), 1);
    w.file("labels.jsonl", b"dup", 1);
    w.member(b"pax", MemberType::PaxHeader, b"", pax_record("path", "proc.jsonl").as_bytes(), 1);
    w.file("short", source_jsonl(Source::Proc).as_bytes(), 1);
    w.member(b"././@LongLink", MemberType::GnuLongName, b"", b"qmp.jsonl\0", 1);
    w.file("cut", source_jsonl(Source::Qmp).as_bytes(), 1);
    let sparse = pax_record("GNU.sparse.map", "0,1");
    w.member(b"pax", MemberType::PaxHeader, b"", sparse.as_bytes(), 1);
    w.file("sparse", b"s", 1);
    w.member(b"old-sparse", MemberType::Sparse, b"", b"data", 1);
    let mut bytes = w.finish();
    // A member whose size is written in base-256 (as GNU tar does past 8 GiB).
    let end = bytes.len() - 1024;
    let mut header = header_block(b"base256.jsonl", MemberType::File, b"", 0, 1);
    header[124..136].copy_from_slice(&[0x80, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 3]);
    set_checksum(&mut header);
    let mut member = header.to_vec();
    member.extend_from_slice(b"{}\n");
    member.resize(1024, 0);
    bytes.splice(end..end, member);
    bytes
}

fn with_selector(selector: u8, bytes: &[u8]) -> Vec<u8> {
    let mut out = vec![selector];
    out.extend_from_slice(bytes);
    out
}

fn archive_seeds() -> Vec<Seed> {
    let mut w = TarWriter::new();
    for (name, content) in episode_members() {
        w.file(name, &content, 1);
    }
    let episode = w.finish();
    let hostile = hostile_tar();
    let mut seeds = vec![
        ("episode.zstd", with_selector(Mode::Zstd.selector(), &compress(&episode))),
        ("hostile.zstd", with_selector(Mode::Zstd.selector(), &compress(&hostile))),
        ("episode.tar", with_selector(Mode::Tar.selector(), &episode)),
        ("hostile.tar", with_selector(Mode::Tar.selector(), &hostile)),
        ("episode.tight", with_selector(Mode::TarTight.selector(), &episode)),
        ("hostile.tight", with_selector(Mode::TarTight.selector(), &hostile)),
        ("episode.reader", with_selector(Mode::TarReader.selector(), &episode)),
        ("hostile.reader", with_selector(Mode::TarReader.selector(), &hostile)),
        ("hostile.reader-tight", with_selector(Mode::TarReader.selector() + 5, &hostile)),
    ];
    let members = episode_members();
    let selected: Vec<(u8, &[u8])> = members
        .iter()
        .filter_map(|(name, content)| {
            let index = ROUND_TRIP_NAMES.iter().position(|n| n == name)?;
            Some((u8::try_from(index).ok()?, content.as_slice()))
        })
        .collect();
    seeds.push(("episode.round-trip", encode_members(&selected)));
    seeds.into_iter().map(|(name, bytes)| Seed { target: "archive", name: name.into(), bytes }).collect()
}

fn jsonl_seeds() -> Vec<Seed> {
    let mut seeds = Vec::new();
    for (k, source) in Source::ALL.into_iter().enumerate() {
        let text = source_jsonl(source);
        seeds.push(Seed {
            target: "jsonl",
            name: format!("{}.jsonl", source.as_str()),
            bytes: with_selector(k as u8, text.as_bytes()),
        });
    }
    seeds.push(Seed {
        target: "jsonl",
        name: "labels.jsonl".into(),
        bytes: with_selector(0, labels_jsonl().as_bytes()),
    });
    // The lines of the store's own agreement test, on fields a, b, c.
    let lines = [
        r#"{"t_mono_ns":1,"t_wall_ns":2,"a":3,"b":4.25,"c":null}"#,
        r#"{ "t_wall_ns" : 2 , "t_mono_ns":-1, "c":-0.5, "zz": 9, "a": 12345678901234 }"#,
        r#"{"t_mono_ns":1,"t_wall_ns":2,"a":1e3}"#,
        r#"{"t_mono_ns":1,"t_wall_ns":2,"a":NaN,"b":Infinity,"c":-Infinity}"#,
        r#"{"t_mono_ns":1,"t_wall_ns":2,"a":"x\"y\u00e9"}"#,
        r#"{"t_mono_ns":1.5,"t_wall_ns":2}"#,
        r#"{"t_mono_ns":1,"t_wall_ns":2,"b":0.1234567890123456}"#,
        r#"{"t_mono_ns":1,"t_wall_ns":2,"a":[1,{"x":"]"}],"b":true}"#,
        r#"{"t_mono_ns":1,"t_wall_ns":2,"a":3} x"#,
        r#"{}"#,
    ];
    seeds.push(Seed {
        target: "jsonl",
        name: "agreement-test.jsonl".into(),
        bytes: with_selector(4, lines.join("\n").as_bytes()),
    });
    seeds
}

fn event_seeds() -> Vec<Seed> {
    let curve: Vec<f64> = (0..8).map(|i| f64::from(i) / 7.0).collect();
    let events = [
        serde_json::json!({"type": "replay", "episode_id": "e", "host_id": "h", "t_s": 1.5, "label": "benign", "values": {"proc.cpu_user": 1.0, "guest.load1": null}}),
        serde_json::json!({"type": "prediction", "model": "gbt", "variant": "realistic", "episode_id": "e", "t_s": 10, "probs": {"benign": 1.0}, "predicted": "benign", "truth": "benign", "latency_us": 120, "runtime": "server"}),
        serde_json::json!({"type": "progress", "job": "train", "id": "gbt-realistic", "done": 3, "total": 10, "unit": "epochs", "message": "x", "epoch": 3, "train_loss": 0.5, "val_macro_f1": 0.8, "lr": 0.001, "history": [[1, 0.9, 0.5]]}),
        serde_json::json!({"type": "metrics", "model": "gbt", "variant": "oracle", "split": "host", "macro_f1": {"point": 0.8, "lo": 0.7, "hi": 0.9}, "untested_profiles": ["io-walk"]}),
        serde_json::json!({"type": "perf", "source": "hub", "name": "fanout", "value": 3, "unit": "events/s", "p50": 1, "p95": 2, "p99": 3.5}),
        serde_json::json!({"type": "attack_profile", "name": "cpu-saturate", "shape": "sustained", "curve": curve, "channel": "proc.cpu_user"}),
    ];
    let mut seeds = Vec::new();
    for (k, event) in events.iter().enumerate() {
        let kind = EventKind::ALL[k].as_str();
        // As sent: a first byte of 6 or more keeps the whole input, and a
        // leading space is still JSON.
        seeds.push(Seed { target: "events", name: format!("{kind}.json"), bytes: format!(" {event}").into_bytes() });
        let mut untyped = event.clone();
        untyped.as_object_mut().map(|o| o.remove("type"));
        seeds.push(Seed {
            target: "events",
            name: format!("{kind}.forced"),
            bytes: with_selector(k as u8, untyped.to_string().as_bytes()),
        });
    }
    let array = serde_json::Value::Array(events.to_vec());
    seeds.push(Seed { target: "events", name: "array.json".into(), bytes: format!(" {array}").into_bytes() });
    seeds
}

/// Every seed of every target.
pub fn seeds() -> Vec<Seed> {
    let mut all = archive_seeds();
    all.extend(jsonl_seeds());
    all.extend(event_seeds());
    all
}

/// One libFuzzer dictionary entry: the token quoted, bytes outside
/// printable ASCII (and `"`, `\`) as `\xNN`.
fn entry(token: &[u8]) -> String {
    let mut out = String::from("\"");
    for b in token {
        match b {
            b' '..=b'~' if *b != b'"' && *b != b'\\' => out.push(char::from(*b)),
            _ => out.push_str(&format!("\\x{b:02x}")),
        }
    }
    out.push_str("\"\n");
    out
}

fn jsonl_tokens() -> Vec<Vec<u8>> {
    let mut tokens: Vec<Vec<u8>> = ["t_mono_ns", "t_wall_ns", "label"]
        .into_iter()
        .chain(CHANNELS.iter().map(|c| c.field))
        .map(|f| format!("\"{f}\":").into_bytes())
        .collect();
    for t in [
        "NaN",
        "Infinity",
        "-Infinity",
        "null",
        "true",
        "false",
        "\\u00e9",
        "\\\"",
        "e-7",
        "-0.0",
        "1767225600000000000",
        ".25",
        "\":",
        ",\"",
        "{\"",
        "\"}",
    ] {
        tokens.push(t.as_bytes().to_vec());
    }
    tokens
}

/// The dictionary of a target, in libFuzzer's format.
pub fn dictionary(target: &str) -> String {
    let mut tokens: Vec<Vec<u8>> = Vec::new();
    match target {
        "jsonl" => tokens = jsonl_tokens(),
        "archive" => {
            for t in [
                &b"ustar\x0000"[..],
                b"ustar  \x00",
                b"path=",
                b"size=",
                b"GNU.sparse.map=",
                b"GNU.sparse.size=",
                b"././@LongLink",
                b"./",
                // A base-256 number field (sizes over 8 GiB).
                b"\x80\x00\x00\x00",
            ] {
                tokens.push(t.to_vec());
            }
            tokens.extend(ROUND_TRIP_NAMES.iter().map(|n| n.as_bytes().to_vec()));
            tokens.extend(jsonl_tokens());
        }
        "events" => {
            let fields = [
                "type",
                "episode_id",
                "host_id",
                "t_s",
                "label",
                "values",
                "model",
                "variant",
                "probs",
                "predicted",
                "truth",
                "latency_us",
                "runtime",
                "job",
                "id",
                "done",
                "total",
                "unit",
                "message",
                "epoch",
                "train_loss",
                "val_macro_f1",
                "lr",
                "history",
                "split",
                "macro_f1",
                "point",
                "lo",
                "hi",
                "untested_profiles",
                "source",
                "name",
                "value",
                "p50",
                "p95",
                "p99",
                "shape",
                "curve",
                "channel",
            ];
            tokens.extend(fields.iter().map(|f| format!("\"{f}\":").into_bytes()));
            tokens.extend(EventKind::ALL.iter().map(|k| format!("\"{}\"", k.as_str()).into_bytes()));
            for t in ["null", "true", "false", "[]", "{}", "1e308", "-0", "\\u0000"] {
                tokens.push(t.as_bytes().to_vec());
            }
        }
        _ => {}
    }
    tokens.iter().map(|t| entry(t)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use cis490_store::archive::{ReadLimits, read_archive_from};

    #[test]
    fn the_hostile_seed_holds_what_it_says() {
        let (_, read) = read_archive_from(compress(&hostile_tar()).as_slice(), &ReadLimits::default());
        let Ok(episode) = read else { panic!("the hostile seed does not read: {read:?}") };
        let names: Vec<&str> = episode.members.keys().map(String::as_str).collect();
        assert_eq!(names, ["base256.jsonl", "labels.jsonl", "manifest.json", "proc.jsonl", "qmp.jsonl"]);
        assert_eq!(episode.members.get("base256.jsonl").map(|d| d.bytes), Some(3));
        // Links, a folder, a FIFO, a device, `..`, an absolute path, a
        // nested name, a duplicate and two sparse members.
        assert_eq!(episode.unsafe_members.len(), 11, "{:?}", episode.unsafe_members);
    }
}
