//! Tests of the event parser: every fixture event the hub's tests publish
//! (collected from `tests/hub*.rs`, `tests/browser_smoke.rs`,
//! `tests/dashboard_live.rs`, the hub's and dashboard's unit tests and the
//! fuzz seeds) comes back out unchanged, numbers included, and every bad
//! field is named.

use super::*;
use serde_json::json;

fn f1(p: f64) -> Value {
    json!({"point": p, "lo": p - 0.05, "hi": p + 0.04})
}

/// The events the test suites publish, one or two of each shape.
fn fixtures() -> Vec<Value> {
    let curve: Vec<f64> = (0..80).map(|i| (f64::from(i) / 79.0 * 1000.0).round() / 1000.0).collect();
    let history: Vec<Value> = (1..=3u32)
        .map(|e| json!({"epoch": e, "train_loss": 1.0 / f64::from(e), "val_macro_f1": 0.5 + 0.1 * f64::from(e)}))
        .collect();
    let group = |name: &str| {
        json!({"name": name, "episodes": 12, "windows": 400, "macro_f1": f1(0.7), "accuracy": f1(0.8),
               "recall": f1(0.6), "attack_detected": 0.8, "false_alarm": 0.05})
    };
    vec![
        // tests/hub.rs: the Python profile, and replay frames whose values hold a string.
        json!({"type": "attack_profile", "name": "cpu-saturate", "shape": "sustained 1-vCPU peg (XMRig)", "curve": curve}),
        json!({"type": "replay", "episode_id": "ep-1", "host_id": "lab-pc-01", "t_s": 7, "label": "benign",
               "values": {"proc.cpu_user": 7, "pad": "xxxx"}}),
        // tests/hub_access.rs, tests/dashboard_live.rs: a bare metrics event.
        json!({"type": "metrics", "model": "gbt", "variant": "realistic", "split": "host",
               "macro_f1": {"point": 0.9, "lo": 0.8, "hi": 0.95}}),
        // tests/hub_limits.rs.
        json!({"type": "perf", "source": "flood", "name": "k1", "value": 1, "unit": "x"}),
        json!({"type": "progress", "job": "flood", "id": "3", "done": 1, "total": 2, "message": "m".repeat(100)}),
        json!({"type": "replay", "episode_id": "e", "host_id": "h", "t_s": 1, "label": "benign", "values": {}}),
        // tests/dashboard_live.rs: a full report entry.
        json!({"type": "metrics", "model": "cnn", "variant": "oracle", "split": "host", "macro_f1": f1(0.66),
               "accuracy": f1(0.66), "in_distribution": {"macro_f1": f1(0.95)}, "generalization_gap": f1(0.29),
               "per_class": [{"label": "benign", "support": 300, "f1": f1(0.66)}],
               "per_profile": [group("benign"), group("io-walk")], "per_host": [group("rpi-01")],
               "confusion": {"labels": ["benign", "io-walk"], "matrix": [[300, 3], [5, 300]]},
               "untested_profiles": ["scan-and-dial"],
               "comparisons": [{"split": "host", "a": {"model": "cnn", "variant": "oracle"},
                                "b": {"model": "gbt", "variant": "oracle"}, "delta": f1(-0.02), "p_value": 0.01,
                                "p_holm": 0.06, "significant": false}]}),
        json!({"type": "replay", "episode_id": "ep-budget", "host_id": "lab-pc-01", "t_s": 12.5, "label": "benign",
               "values": {"channel_00": 20.1, "channel_01": 19.93}}),
        // tests/browser_smoke.rs: training progress with its history, predictions, percentiles.
        json!({"type": "progress", "job": "train", "id": "gru-oracle", "done": 3, "total": 8, "unit": "epochs",
               "message": "epoch 3", "epoch": 3, "train_loss": 0.333, "val_macro_f1": 0.8, "lr": 0.001,
               "history": history}),
        json!({"type": "prediction", "model": "gbt", "variant": "oracle", "episode_id": "ep-replay-1", "t_s": 4.5,
               "probs": {"benign": 0.7, "bursty-c2": 0.3}, "predicted": "benign", "truth": "benign",
               "latency_us": 109.0, "runtime": "server"}),
        json!({"type": "attack_profile", "name": "io-walk", "shape": "shape 2", "curve": [0.25, 0.2625, 1],
               "channel": "host_cpu_pct"}),
        json!({"type": "perf", "source": "hub", "name": "delivered", "value": 120.0, "unit": "events/s",
               "p50": 1.5, "p95": 3.0, "p99": 4.5}),
        // The hub's own unit tests and what the hub sends (seq and ts already set).
        json!({"seq": 2, "ts": 5, "type": "attack_profile", "name": "io-walk", "shape": "new", "curve": [0.0]}),
        // The dashboard's unit tests: a null channel, a browser prediction.
        json!({"type": "replay", "episode_id": "ep-1", "host_id": "rpi-01", "t_s": 0.5, "label": "benign",
               "values": {"host_cpu": 0.5, "guest_rss": null}}),
        json!({"type": "prediction", "model": "gbt", "variant": "oracle", "episode_id": "ep-1", "t_s": 10.0,
               "probs": {"benign": 0.2, "io-walk": 0.8}, "predicted": "benign", "truth": "io-walk",
               "latency_us": 900.0, "runtime": "browser"}),
        // The fuzz seeds: integer times and latencies, a history of arrays.
        json!({"type": "prediction", "model": "gbt", "variant": "realistic", "episode_id": "e", "t_s": 10,
               "probs": {"benign": 1.0}, "predicted": "benign", "truth": "benign", "latency_us": 120, "runtime": "server"}),
        json!({"type": "progress", "job": "train", "id": "gbt-realistic", "done": 3, "total": 10, "unit": "epochs",
               "message": "x", "epoch": 3, "train_loss": 0.5, "val_macro_f1": 0.8, "lr": 0.001, "history": [[1, 0.9, 0.5]]}),
        json!({"type": "perf", "source": "hub", "name": "fanout", "value": 3, "unit": "events/s", "p50": 1, "p95": 2, "p99": 3.5}),
        // The validation job's progress (status counts) and the hub benchmark's frames.
        json!({"type": "progress", "job": "validate", "id": "store", "done": 10, "total": 600, "unit": "episodes",
               "message": "validating", "accepted": 8, "degraded": 1, "rejected": 1, "errored": 0}),
        json!({"type": "replay", "episode_id": "bench", "host_id": "bench", "t_s": 41, "label": "benign",
               "values": {"proc.cpu_user": 1.0}, "sent_us": 123_456_789u64}),
    ]
}

/// A Python producer's event: extra fields of every JSON type, integers
/// and floats side by side, a producer's own `seq` and a float `ts`, an
/// optional field sent as `null`.
fn python_style() -> Value {
    json!({"type": "attack_profile", "name": "cpu-saturate", "shape": "sustained 1-vCPU peg (XMRig)",
           "curve": [0, 0.12, 1, 1.0, 0.5], "channel": null, "seq": 17, "ts": 1767225600123.5,
           "episode": {"host": "lab-pc-03", "id": "ep-000123", "n": 3, "share": 3.0},
           "tags": ["xmrig", 1, 2.5, true, null], "big": 18_446_744_073_709_551_615u64, "neg": -3})
}

fn round_trip(v: &Value) -> Result<Value, String> {
    let event = Event::from_value(v.clone()).map_err(|e| format!("{v}: {e}"))?;
    let text = serde_json::to_string(&event).map_err(|e| e.to_string())?;
    let again: Event = serde_json::from_str(&text).map_err(|e| format!("{text}: {e}"))?;
    assert_eq!(again, event, "parsing the text sent gives the same event");
    serde_json::from_str(&text).map_err(|e| e.to_string())
}

#[test]
fn every_fixture_event_comes_back_unchanged() -> Result<(), String> {
    let mut all = fixtures();
    all.push(python_style());
    for v in &all {
        // Value equality tells an integer from a float (3 != 3.0).
        assert_eq!(&round_trip(v)?, v);
    }
    Ok(())
}

#[test]
fn integers_stay_integers_and_floats_floats() -> Result<(), String> {
    let back = round_trip(&python_style())?;
    let text = back.to_string();
    for written in
        [r#""curve":[0,0.12,1,1.0,0.5]"#, r#""n":3,"#, r#""share":3.0"#, "18446744073709551615", r#""neg":-3"#]
    {
        assert!(text.contains(written), "{written} in {text}");
    }
    // In fields the parser types as numbers, too.
    let perf = json!({"type": "perf", "source": "s", "name": "n", "value": 3, "unit": "x", "p50": 3.0});
    let Ok(Event::Perf(p)) = Event::from_value(perf) else { return Err("not perf".into()) };
    assert_eq!((p.value.as_f64(), p.p50.as_ref().map(Number::as_f64)), (3.0, Some(3.0)));
    let text = serde_json::to_string(&Event::Perf(p)).map_err(|e| e.to_string())?;
    assert!(text.contains(r#""value":3,"#) && text.contains(r#""p50":3.0"#), "{text}");
    Ok(())
}

#[test]
fn the_type_comes_first_then_the_known_fields_then_the_others() -> Result<(), String> {
    let v = json!({"unit": "x", "zeta": 1, "alpha": 2, "value": 1, "name": "n", "source": "s", "type": "perf"});
    let event = Event::from_value(v).map_err(|e| e.to_string())?;
    let text = serde_json::to_string(&event).map_err(|e| e.to_string())?;
    assert_eq!(text, r#"{"type":"perf","source":"s","name":"n","value":1,"unit":"x","alpha":2,"zeta":1}"#);
    Ok(())
}

#[test]
fn the_hub_envelope_replaces_seq_and_keeps_a_producers_ts() -> Result<(), String> {
    let mut event = Event::from_value(python_style()).map_err(|e| e.to_string())?;
    event.stamp(99);
    assert_eq!((event.extra().get("seq"), event.extra()["ts"].as_f64()), (None, Some(1_767_225_600_123.5)));
    let mut bare = Event::from_value(fixtures()[0].clone()).map_err(|e| e.to_string())?;
    bare.stamp(99);
    assert_eq!(bare.extra().get("ts"), Some(&json!(99)));
    Ok(())
}

#[test]
fn the_earlier_python_producers_event_is_keyed_by_name() -> Result<(), String> {
    let event = Event::from_value(fixtures()[0].clone()).map_err(|e| e.to_string())?;
    assert_eq!(event.kind(), EventKind::AttackProfile);
    assert_eq!(event.state_key().as_deref(), Some("attack_profile/cpu-saturate"));
    Ok(())
}

#[test]
fn every_type_names_its_missing_or_mistyped_field() {
    let required: [(&str, &[&str]); 6] = [
        ("replay", &["episode_id", "host_id", "t_s", "label", "values"]),
        (
            "prediction",
            &["model", "variant", "episode_id", "t_s", "probs", "predicted", "truth", "latency_us", "runtime"],
        ),
        ("progress", &["job", "id", "done", "total"]),
        ("metrics", &["model", "variant", "split", "macro_f1"]),
        ("perf", &["source", "name", "value", "unit"]),
        ("attack_profile", &["name", "shape", "curve"]),
    ];
    let fixtures = fixtures();
    for (kind, fields) in required {
        let valid = fixtures.iter().find(|v| v["type"] == kind).cloned().unwrap_or_default();
        assert!(Event::from_value(valid.clone()).is_ok(), "{valid}");
        for field in fields {
            let mut broken = valid.clone();
            broken.as_object_mut().map(|o| o.remove(*field));
            let expected = EventError::MissingField {
                kind: EventKind::ALL.iter().find(|k| k.as_str() == kind).map_or("", |k| k.as_str()),
                field: (*field).to_string(),
            };
            assert_eq!(Event::from_value(broken), Err(expected));
        }
    }
    let wrong = |v: Value| Event::from_value(v).err().map(|e| e.to_string()).unwrap_or_default();
    assert_eq!(
        wrong(json!({"type": "perf", "source": "hub", "name": "x", "value": "fast", "unit": "s"})),
        r#"perf event: field "value" must be a number"#
    );
    assert_eq!(
        wrong(json!({"type": "attack_profile", "name": "x", "shape": "y", "curve": ["a"]})),
        r#"attack_profile event: field "curve" must be an array of numbers"#
    );
    assert_eq!(
        wrong(json!({"type": "progress", "job": "j", "id": "i", "done": 1, "total": 2, "history": {}})),
        r#"progress event: field "history" must be an array"#
    );
    assert_eq!(
        wrong(
            json!({"type": "metrics", "model": "m", "variant": "v", "split": "s", "macro_f1": {"point": 0.5, "lo": 0.4}})
        ),
        r#"metrics event: field "macro_f1.hi" is missing"#
    );
    assert_eq!(
        wrong(
            json!({"type": "metrics", "model": "m", "variant": "v", "split": "s", "macro_f1": {"point": 0.5, "lo": null, "hi": 1}})
        ),
        r#"metrics event: field "macro_f1.lo" must be a number"#
    );
    assert_eq!(Event::from_value(json!([1])), Err(EventError::NotAnObject));
    assert_eq!(Event::from_value(json!({"name": "x"})), Err(EventError::MissingType));
    assert_eq!(Event::from_value(json!({"type": 3})), Err(EventError::MissingType));
    assert!(matches!(Event::from_value(json!({"type": "nope"})), Err(EventError::UnknownType(_))));
    // An optional field may be null (kept), never another type.
    assert!(
        Event::from_value(json!({"type": "perf", "source": "s", "name": "n", "value": 1, "unit": "x", "p99": null}))
            .is_ok()
    );
    assert_eq!(
        wrong(json!({"type": "perf", "source": "s", "name": "n", "value": 1, "unit": "x", "p99": "high"})),
        r#"perf event: field "p99" must be a number"#
    );
}

#[test]
fn accessors_read_what_the_protocol_leaves_as_json() -> Result<(), String> {
    let all = fixtures();
    let parse = |i: usize| Event::from_value(all[i].clone()).map_err(|e| e.to_string());
    let Event::Replay(frame) = parse(13)? else { return Err("not a replay".into()) };
    assert_eq!((frame.value("host_cpu"), frame.value("guest_rss"), frame.value("none")), (Some(0.5), None, None));
    let Event::Prediction(p) = parse(9)? else { return Err("not a prediction".into()) };
    assert_eq!((p.probability("benign"), p.probability("io-walk")), (Some(0.7), None));
    let Event::Progress(progress) = parse(8)? else { return Err("not progress".into()) };
    assert_eq!(progress.history_scores().len(), 3);
    assert_eq!(progress.epoch_scores().map(|s| s.val_macro_f1), Some(0.8));
    let Event::Progress(arrays) = parse(16)? else { return Err("not progress".into()) };
    assert!(arrays.history_scores().is_empty(), "entries that are not epoch scores are skipped");
    let Event::Metrics(m) = parse(6)? else { return Err("not metrics".into()) };
    let sections = m.sections();
    assert_eq!((sections.per_profile.len(), sections.per_host.len(), sections.comparisons.len()), (2, 1, 1));
    assert_eq!(sections.in_distribution.map(|d| d.macro_f1.point), Some(0.95));
    assert_eq!(sections.confusion.map(|c| c.matrix), Some(vec![vec![300, 3], vec![5, 300]]));
    assert_eq!(m.untested_profile_names(), vec!["scan-and-dial"]);
    assert_eq!(m.macro_f1.interval().text(), "0.660 [0.610, 0.700]");
    let Event::Metrics(bare) = parse(2)? else { return Err("not metrics".into()) };
    assert_eq!(bare.sections(), MetricsSections::default(), "a bare event has no sections");
    Ok(())
}

#[test]
fn history_entries_read_a_null_or_missing_score_as_nan_and_keep_a_validation_loss() -> Result<(), String> {
    let event = json!({"type": "progress", "job": "train", "id": "gbt-oracle", "done": 3, "total": 300,
                       "history": [{"epoch": 1, "val_loss": 0.9}, {"epoch": 2, "train_loss": null, "val_macro_f1": 0.7},
                                   {"train_loss": 1.0}]});
    let Event::Progress(progress) = Event::from_value(event).map_err(|e| e.to_string())? else {
        return Err("not progress".into());
    };
    let scores = progress.history_scores();
    assert_eq!(scores.len(), 2, "an entry without its epoch is skipped");
    assert!(scores[0].train_loss.is_nan() && scores[0].val_macro_f1.is_nan());
    assert_eq!(scores[0].val_loss, Some(0.9));
    assert_eq!((scores[1].val_macro_f1, scores[1].val_loss), (0.7, None));
    assert!(scores[1].train_loss.is_nan());
    Ok(())
}
