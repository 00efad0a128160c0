//! The browser's model runner, natively: a dashboard that applied an
//! episode's replay frames rebuilds each predicted window from them
//! (`Replay::window`), and the runner (`cis490-runner`, what the Web Worker
//! runs) computes the model's inputs and probabilities from that window —
//! equal to the server's `prediction` events for the same windows, for a
//! summary model (mlp) and a tensor model (cnn) under both threat models.

use cis490_frontend::state::DashboardState;
use cis490_pipeline::producers::{predictions, replay};
use cis490_runner::WindowModel;
use cis490_shared::label::Label;

type TestResult = Result<(), Box<dyn std::error::Error>>;

#[test]
fn the_browser_runner_predicts_what_the_server_predicts_from_replay_frames() -> TestResult {
    let dir = tempfile::tempdir()?;
    let (made, run) = cis490_tests::small_trained_run(dir.path(), &["mlp", "cnn"])?;
    let (row, ep) = cis490_tests::test_episode(dir.path(), &made)?;
    let live = predictions::load_run(&run)?;
    let served = predictions::prediction_events(&live, &ep, row.episode_id.as_str());
    assert!(!served.is_empty());

    // The dashboard's view of the episode: its replay frames, as JSON text.
    let mut state = DashboardState::default();
    for frame in replay::frames_of(&ep, row.episode_id.as_str(), row.host_id.as_str()) {
        state.apply_text(&serde_json::to_string(&cis490_shared::events::Event::Replay(frame))?);
    }

    let mut compared = 0;
    for listed in cis490_pipeline::run_dir::RunDir::new(&run).models()? {
        let model = WindowModel::load(&std::fs::read(listed.onnx())?)?;
        for (_, event) in served.iter().filter(|(_, e)| format!("{}-{}", e.model, e.variant) == model.name) {
            let t = event.t_s.as_f64();
            let (values, observed) = state.replay.window(t).ok_or(format!("no window ending at {t} s"))?;
            let probs = model.run(&values, &observed)?;
            for (label, p) in Label::ALL.iter().zip(&probs) {
                let server = event.probability(label.as_str()).ok_or("probs")?;
                assert!(
                    (f64::from(*p) - server).abs() < 1e-5,
                    "{} at {t} s, {label}: browser {p}, server {server}",
                    model.name
                );
            }
            compared += 1;
        }
    }
    assert!(compared >= 4 * 3, "only {compared} windows compared");
    // A window whose frames are not kept is refused, not guessed.
    assert!(state.replay.window(1e6).is_none());
    Ok(())
}
