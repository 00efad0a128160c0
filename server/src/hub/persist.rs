//! The hub's state kept across restarts (`cis490 serve --state-dir DIR`):
//! the state events a new client is sent first — latest `attack_profile`,
//! `metrics`, `progress` (with training's whole `history`) and `perf` per
//! key — saved to `DIR/hub-state.json` and published again, in their
//! order, when the next hub starts. The server's own figures (`perf` from
//! sources `hub` and `cis490-serve`) describe the process that made them
//! and are not kept; nor are the recent `replay` and `prediction` frames,
//! a live stream that would read as current after a restart.
//!
//! Saving is debounced: a background task writes at most once per
//! [`SAVE_EVERY`], only when the kept state changed, and once more on
//! shutdown. Each write is atomic ([`cis490_store::atomic_file`]: an
//! exclusive temporary file, never through a link, renamed over the old
//! one). The file is bounded by the hub's own state bounds
//! ([`HubLimits::state_file_bytes`]). A file that cannot be read as a hub
//! state — corrupt, oversized, not a regular file — is logged with its
//! name, renamed aside (`hub-state.json.unreadable-<unix ms>`, kept for a
//! person to look at) and the hub starts empty.

use std::io;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use cis490_shared::events::Event;
use cis490_store::atomic_file;
use serde_json::Value;
use tokio::sync::watch;

use super::{Hub, HubLimits};

/// The state file's name inside the state folder.
pub const STATE_FILE: &str = "hub-state.json";

/// The state file's `format`.
pub const FORMAT: &str = "cis490-hub-state/1";

/// Most time between a change of the kept state and its write.
pub const SAVE_EVERY: Duration = Duration::from_secs(5);

/// A state file could not be read or written.
#[derive(Debug, thiserror::Error)]
pub enum StateFileError {
    /// Reading failed (a link, a FIFO, over the size bound, an I/O error).
    #[error("cannot read the hub state {path}")]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        source: io::Error,
    },
    /// Not a hub state file of this format.
    #[error("{path} is not a hub state file: {reason}")]
    Corrupt {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
    /// Writing failed.
    #[error(transparent)]
    Write(#[from] atomic_file::WriteError),
    /// Setting an unreadable file aside failed.
    #[error("cannot rename {path} aside to {aside}")]
    SetAside {
        /// The unreadable file.
        path: PathBuf,
        /// Where it was to go.
        aside: PathBuf,
        /// Why.
        source: io::Error,
    },
}

/// The hub's state file in a state folder.
#[derive(Debug, Clone)]
pub struct StateFile {
    path: PathBuf,
    max_bytes: u64,
    /// The hub's [`Hub::state_generation`] when the file last matched it.
    saved_generation: u64,
}

impl StateFile {
    /// `dir/hub-state.json`, at most `limits.state_file_bytes()` long.
    pub fn in_dir(dir: &Path, limits: &HubLimits) -> Self {
        Self { path: dir.join(STATE_FILE), max_bytes: limits.state_file_bytes() as u64, saved_generation: 0 }
    }

    /// Where the file is.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The saved events in their order; none when there is no file yet.
    pub fn load(&self) -> Result<Vec<Event>, StateFileError> {
        let bytes = match cis490_store::regular_file::read_regular(&self.path, self.max_bytes) {
            Ok(bytes) => bytes,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(source) => return Err(StateFileError::Read { path: self.path.clone(), source }),
        };
        parse(&bytes).map_err(|reason| StateFileError::Corrupt { path: self.path.clone(), reason })
    }

    /// Writes `text` (from [`Hub::saved_state_text`]) atomically.
    pub fn save(&self, text: &str) -> Result<(), StateFileError> {
        Ok(atomic_file::write_bytes_atomically(&self.path, text.as_bytes())?)
    }

    /// Renames the file aside (same folder, `.unreadable-<unix ms>`
    /// appended) and returns where it went.
    pub fn set_aside(&self) -> Result<PathBuf, StateFileError> {
        let mut name = self.path.file_name().unwrap_or_default().to_os_string();
        name.push(format!(".unreadable-{}", super::now_ms()));
        let aside = self.path.with_file_name(name);
        std::fs::rename(&self.path, &aside).map_err(|source| StateFileError::SetAside {
            path: self.path.clone(),
            aside: aside.clone(),
            source,
        })?;
        Ok(aside)
    }
}

/// The events of a state file's text.
fn parse(bytes: &[u8]) -> Result<Vec<Event>, String> {
    let value: Value = serde_json::from_slice(bytes).map_err(|e| format!("not JSON ({e})"))?;
    match value.get("format").and_then(Value::as_str) {
        Some(FORMAT) => {}
        Some(other) => return Err(format!("format {other:?}, expected {FORMAT:?}")),
        None => return Err(format!("no \"format\": {FORMAT:?}")),
    }
    let Some(Value::Array(events)) = value.get("events") else { return Err("no \"events\" array".into()) };
    events
        .iter()
        .enumerate()
        .map(|(i, e)| Event::from_value(e.clone()).map_err(|err| format!("event {i}: {err}")))
        .collect()
}

/// The state file's text around `events`, the kept events' JSON texts in
/// `seq` order.
pub(super) fn file_text<'a>(events: impl Iterator<Item = &'a str>, saved_ms: u64) -> String {
    let mut out = format!("{{\"format\":\"{FORMAT}\",\"saved_ms\":{saved_ms},\"events\":[");
    for (i, event) in events.enumerate() {
        if i > 0 {
            out.push(',');
        }
        out.push('\n');
        out.push_str(event);
    }
    out.push_str("\n]}\n");
    out
}

/// Opens `dir` as the hub's state folder (created when missing): loads
/// its state into `hub`. A file that cannot be read is logged, set aside
/// and the hub starts empty. Returns the file to keep saving to, or `None`
/// when saving would overwrite a file that could not be set aside (or the
/// folder cannot be created), which is logged too.
pub fn open(dir: &Path, hub: &Hub) -> Option<StateFile> {
    if let Err(e) = std::fs::create_dir_all(dir) {
        tracing::error!("cannot create the hub state folder {}: {e}; the hub state is not kept", dir.display());
        return None;
    }
    atomic_file::remove_stale_temps(dir);
    let file = StateFile::in_dir(dir, &hub.limits());
    let events = match file.load() {
        Ok(events) => events,
        Err(e) => {
            let why = cis490_shared::error_chain(&e);
            match file.set_aside() {
                Ok(aside) => {
                    tracing::error!("{why}; kept as {} and starting with an empty hub", aside.display());
                }
                Err(e) => {
                    tracing::error!(
                        "{why}; {}; starting with an empty hub that does not save its state (so the file stays)",
                        cis490_shared::error_chain(&e)
                    );
                    return None;
                }
            }
            Vec::new()
        }
    };
    let count = events.len();
    match hub.publish_all(events) {
        Ok(_) if count > 0 => tracing::info!("hub state: {count} events from {}", file.path().display()),
        Ok(_) => {}
        Err(e) => tracing::error!("hub state from {} not restored: {e}", file.path().display()),
    }
    // What was just loaded is what the file holds.
    Some(StateFile { saved_generation: hub.state_generation(), ..file })
}

/// Saves `hub`'s state to `file` when it changed since `saved` (a
/// [`Hub::saved_state_text`] generation); returns the generation now saved.
async fn save_if_changed(hub: &Hub, file: &StateFile, saved: u64) -> u64 {
    let Some((generation, text)) = hub.saved_state_text(saved) else { return saved };
    let file = file.clone();
    let written = tokio::task::spawn_blocking(move || file.save(&text).map_err(|e| (file, e))).await;
    match written {
        Ok(Ok(())) => generation,
        Ok(Err((file, e))) => {
            tracing::warn!("hub state not saved to {}: {}", file.path().display(), cis490_shared::error_chain(&e));
            saved
        }
        Err(e) => {
            tracing::warn!("hub state not saved: {e}");
            saved
        }
    }
}

/// Saves `hub`'s state to `file` at most once per `every` while it
/// changes, and a last time when `stop` turns true (or its sender goes).
/// Changes count from the state `file` was opened with ([`open`]), so
/// events published before this task first runs are saved too.
pub async fn keep_saved(hub: Arc<Hub>, file: StateFile, every: Duration, mut stop: watch::Receiver<bool>) {
    let mut saved = file.saved_generation;
    loop {
        tokio::select! {
            () = tokio::time::sleep(every) => {}
            changed = stop.changed() => {
                if changed.is_err() || *stop.borrow() {
                    break;
                }
            }
        }
        saved = save_if_changed(&hub, &file, saved).await;
    }
    save_if_changed(&hub, &file, saved).await;
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hub::state::Bound;
    use serde_json::json;

    fn publish(hub: &Hub, event: Value) {
        let parsed = Event::from_value(event).unwrap_or_else(|e| panic!("{e}"));
        hub.publish(parsed).unwrap_or_else(|e| panic!("{e}"));
    }

    fn progress(id: &str, epochs: u32) -> Value {
        let history: Vec<Value> =
            (1..=epochs).map(|e| json!({"epoch": e, "train_loss": 1.0 / f64::from(e), "val_macro_f1": 0.5})).collect();
        json!({"type": "progress", "job": "train", "id": id, "done": epochs, "total": epochs, "history": history})
    }

    fn kept_types(hub: &Hub) -> Vec<String> {
        let list = hub.snapshot_json().as_array().cloned().unwrap_or_default();
        list.iter()
            .map(|e| format!("{}/{}", e["type"].as_str().unwrap_or(""), e["id"].as_str().unwrap_or("")))
            .collect()
    }

    #[test]
    fn the_state_round_trips_in_order_without_frames_or_the_servers_own_figures()
    -> Result<(), Box<dyn std::error::Error>> {
        let dir = tempfile::tempdir()?;
        let hub = Hub::new();
        publish(&hub, progress("mlp-oracle", 3));
        publish(
            &hub,
            json!({"type": "metrics", "model": "gbt", "variant": "oracle", "split": "host",
                            "macro_f1": {"point": 0.9, "lo": 0.8, "hi": 0.95}, "ts": 7}),
        );
        publish(
            &hub,
            json!({"type": "replay", "episode_id": "e", "host_id": "h", "t_s": 0, "label": "benign",
                            "values": {}}),
        );
        publish(&hub, json!({"type": "perf", "source": "hub", "name": "clients", "value": 1, "unit": "clients"}));
        publish(&hub, json!({"type": "perf", "source": "bench", "name": "windows", "value": 9, "unit": "1/s"}));
        publish(&hub, progress("gbt-oracle", 40));
        let file = StateFile::in_dir(dir.path(), &hub.limits());
        let (generation, text) = hub.saved_state_text(0).ok_or("nothing to save")?;
        assert!(hub.saved_state_text(generation).is_none(), "unchanged since");
        file.save(&text)?;

        let next = Hub::new();
        let restored = open(dir.path(), &next).ok_or("not opened")?;
        assert_eq!(restored.path(), file.path());
        let list = next.snapshot_json();
        let list = list.as_array().ok_or("not an array")?;
        let types: Vec<&str> = list.iter().filter_map(|e| e["type"].as_str()).collect();
        assert_eq!(types, ["progress", "metrics", "perf", "progress"], "in order; no replay, no hub figures");
        assert_eq!(list[1]["ts"], 7, "timestamps kept");
        assert_eq!(list[3]["history"].as_array().map(Vec::len), Some(40), "the whole curve");
        assert_eq!(list[0]["seq"], 1, "numbered again by the new hub");
        Ok(())
    }

    #[test]
    fn a_corrupt_or_foreign_file_is_set_aside_and_the_hub_starts_empty() -> Result<(), Box<dyn std::error::Error>> {
        for (content, reason) in [
            (&b"{\"format\": \"cis490-hub-state/1\", \"events\": [{\"type\""[..], "not JSON"),
            (&b"{\"format\": \"other/9\", \"events\": []}"[..], "format \"other/9\""),
            (&b"{\"format\": \"cis490-hub-state/1\", \"events\": [{\"type\": \"progress\"}]}"[..], "event 0"),
        ] {
            let dir = tempfile::tempdir()?;
            let path = dir.path().join(STATE_FILE);
            std::fs::write(&path, content)?;
            let hub = Hub::new();
            let file = StateFile::in_dir(dir.path(), &hub.limits());
            let err = file.load().err().ok_or("a corrupt file was read")?.to_string();
            assert!(err.contains(&path.display().to_string()) && err.contains(reason), "{err}");
            assert!(open(dir.path(), &hub).is_some(), "the hub goes on saving to a fresh file");
            assert!(kept_types(&hub).is_empty());
            let aside: Vec<PathBuf> =
                std::fs::read_dir(dir.path())?.map(|e| e.map(|e| e.path())).collect::<Result<_, _>>()?;
            assert_eq!(aside.len(), 1);
            assert!(aside[0].to_string_lossy().contains("hub-state.json.unreadable-"), "{aside:?}");
            assert_eq!(std::fs::read(&aside[0])?, content, "kept as it was");
        }
        Ok(())
    }

    #[test]
    fn the_file_is_bounded_by_the_hubs_state_bounds_and_an_oversized_one_is_set_aside()
    -> Result<(), Box<dyn std::error::Error>> {
        let limits = HubLimits { state_per_kind: Bound { events: 8, bytes: 4096 }, ..HubLimits::default() };
        let hub = Hub::with_limits(limits);
        for i in 0..100 {
            publish(&hub, progress(&format!("m{i}"), 5));
            let curve = vec![0.5; 80];
            publish(&hub, json!({"type": "attack_profile", "name": format!("p{i}"), "shape": "s", "curve": curve}));
        }
        let (_, text) = hub.saved_state_text(0).ok_or("nothing to save")?;
        assert!(text.len() <= limits.state_file_bytes(), "{} > {}", text.len(), limits.state_file_bytes());
        assert_eq!(parse(text.as_bytes())?.len(), 16, "8 keys of each kind");

        let dir = tempfile::tempdir()?;
        std::fs::write(dir.path().join(STATE_FILE), " ".repeat(limits.state_file_bytes() + 1))?;
        let small = Hub::with_limits(limits);
        let err = StateFile::in_dir(dir.path(), &limits).load().err().ok_or("an oversized file was read")?;
        assert!(cis490_shared::error_chain(&err).contains("is larger than"), "{err}");
        assert!(open(dir.path(), &small).is_some());
        assert!(!dir.path().join(STATE_FILE).exists(), "set aside");
        assert_eq!(std::fs::read_dir(dir.path())?.count(), 1);
        Ok(())
    }

    #[test]
    fn a_link_in_place_of_the_file_is_set_aside_not_followed() -> Result<(), Box<dyn std::error::Error>> {
        let dir = tempfile::tempdir()?;
        let target = dir.path().join("elsewhere.json");
        std::fs::write(&target, "precious")?;
        std::os::unix::fs::symlink(&target, dir.path().join(STATE_FILE))?;
        let hub = Hub::new();
        let file = open(dir.path(), &hub).ok_or("not opened")?;
        publish(&hub, progress("cnn-oracle", 2));
        let (_, text) = hub.saved_state_text(0).ok_or("nothing to save")?;
        file.save(&text)?;
        assert_eq!(std::fs::read_to_string(&target)?, "precious", "never written through");
        assert_eq!(file.load()?.len(), 1);
        Ok(())
    }

    #[tokio::test]
    async fn saving_is_debounced_and_flushed_on_shutdown() -> Result<(), Box<dyn std::error::Error>> {
        let dir = tempfile::tempdir()?;
        let hub = Arc::new(Hub::new());
        let file = open(dir.path(), &hub).ok_or("not opened")?;
        let (stop, stopping) = watch::channel(false);
        let saver = tokio::spawn(keep_saved(hub.clone(), file.clone(), Duration::from_secs(3600), stopping));
        for epochs in 1..=50 {
            publish(&hub, progress("gru-oracle", epochs));
        }
        tokio::task::yield_now().await;
        assert!(!file.path().exists(), "nothing written before the interval or shutdown");
        stop.send(true)?;
        saver.await?;
        let events = file.load()?;
        assert_eq!(events.len(), 1);
        let Event::Progress(p) = &events[0] else { return Err("not progress".into()) };
        assert_eq!(p.history_scores().len(), 50, "the latest state, written once on shutdown");
        Ok(())
    }
}
