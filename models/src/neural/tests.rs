//! Each architecture learns a tiny set perfectly, trains deterministically,
//! and its ONNX file run by tract matches the native forward pass.

use super::source::Windows;
use super::trainer::{Hooks, TrainConfig, train};
use super::*;
use crate::onnx::OnnxRunner;
use crate::score::argmax_rows;

const CHANNELS: usize = 4;
const STEPS: usize = 20;

/// 7 classes × `per_class` windows: class `c` puts a wave of frequency
/// `c + 1` on channel `c % 4` (its sign says `c ≥ 4`), over noise; one
/// value in the summary version is missing.
fn tiny_set(per_class: usize, summary: bool) -> (Vec<f32>, Vec<u32>, InputShape) {
    let mut rng = Rng::new(11);
    let (mut x, mut y) = (Vec::new(), Vec::new());
    for c in 0..NUM_CLASSES {
        for _ in 0..per_class {
            let mut window = vec![0.0f32; CHANNELS * STEPS];
            for (i, v) in window.iter_mut().enumerate() {
                let (ch, t) = (i / STEPS, i % STEPS);
                let sign = if c >= 4 { -1.0 } else { 1.0 };
                let wave = if ch == c % 4 { sign * (t as f64 * (c + 1) as f64 * 0.3).sin() * 3.0 } else { 0.0 };
                *v = (100.0 + wave + 0.3 * rng.normal()) as f32;
            }
            if summary {
                let mut s: Vec<f32> = (0..CHANNELS)
                    .flat_map(|ch| {
                        let row = &window[ch * STEPS..(ch + 1) * STEPS];
                        let mean = row.iter().sum::<f32>() / STEPS as f32;
                        let first_half = row[..STEPS / 2].iter().sum::<f32>() / (STEPS / 2) as f32;
                        [mean, first_half - mean, row.iter().map(|v| (v - mean).abs()).sum::<f32>()]
                    })
                    .collect();
                s[1] = f32::NAN;
                x.extend(s);
            } else {
                x.extend(window);
            }
            y.push(c as u32);
        }
    }
    let input = if summary {
        InputShape::Features(CHANNELS * 3)
    } else {
        InputShape::Sequence { channels: CHANNELS, steps: STEPS }
    };
    (x, y, input)
}

fn fit(arch: Arch, seed: u64) -> Result<(NeuralModel, Vec<f32>, Vec<u32>), NeuralError> {
    let (x, y, input) = tiny_set(6, arch == Arch::Mlp);
    let len = input.len();
    let mut mean = vec![0.0f32; len];
    let mut std = vec![1.0f32; len];
    for j in 0..len {
        let col: Vec<f32> = x.chunks(len).map(|r| r[j]).filter(|v| !v.is_nan()).collect();
        mean[j] = col.iter().sum::<f32>() / col.len() as f32;
        let var = col.iter().map(|v| (v - mean[j]).powi(2)).sum::<f32>() / col.len() as f32;
        std[j] = if var > 0.0 { var.sqrt() } else { 1.0 };
    }
    let cfg = TrainConfig {
        max_epochs: 60,
        patience: 60,
        batch_size: 14,
        learning_rate: 5e-3,
        width: Some(if arch == Arch::Mlp { 32 } else { 16 }),
        seed,
        ..TrainConfig::default()
    };
    let windows = Windows { x: &x, y: &y };
    let (model, _) = train(arch, input, &cfg, (mean, std), &windows, &windows, Hooks::epochs(&mut |_| {}))?;
    Ok((model, x, y))
}

fn native(model: &NeuralModel, x: &[f32]) -> Result<Vec<f32>, ModelError> {
    let rows: Vec<&[f32]> = x.chunks(model.input_len()).collect();
    Ok(model.predict_proba(&rows)?.into_iter().flatten().collect())
}

fn learns_and_exports(arch: Arch) -> Result<(), Box<dyn std::error::Error>> {
    let (model, x, y) = fit(arch, 7)?;
    let probs = native(&model, &x)?;
    let predicted = argmax_rows(&probs, NUM_CLASSES);
    let accuracy = predicted.iter().zip(&y).filter(|(p, t)| p == t).count() as f64 / y.len() as f64;
    assert_eq!(accuracy, 1.0, "{} did not learn the tiny set", arch.as_str());

    let bytes = model.onnx_bytes(&[("architecture".into(), arch.as_str().into())])?;
    let mut shape = vec![y.len()];
    shape.extend(model.input.dims());
    let via_tract = OnnxRunner::new(&bytes, &shape)?.probabilities(&x)?;
    let worst = probs.iter().zip(&via_tract).map(|(a, b)| (a - b).abs()).fold(0.0f32, f32::max);
    assert!(worst <= 1e-4, "{}: tract differs from burn by {worst}", arch.as_str());
    let via_lean = OnnxRunner::with_lean_tract(&bytes, &shape)?.probabilities(&x)?;
    assert_eq!(via_lean, via_tract, "{}: the browser's lean registry runs it differently", arch.as_str());

    let reloaded = NeuralModel::from_bytes(
        arch,
        model.input,
        model.width,
        model.mean.clone(),
        model.std.clone(),
        &model.weights_bytes()?,
    )?;
    assert_eq!(native(&reloaded, &x)?, probs, "{}: reloaded weights predict differently", arch.as_str());
    Ok(())
}

#[test]
fn mlp_learns_and_exports() -> Result<(), Box<dyn std::error::Error>> {
    learns_and_exports(Arch::Mlp)
}

#[test]
fn cnn_learns_and_exports() -> Result<(), Box<dyn std::error::Error>> {
    learns_and_exports(Arch::Cnn)
}

#[test]
fn gru_learns_and_exports() -> Result<(), Box<dyn std::error::Error>> {
    learns_and_exports(Arch::Gru)
}

#[test]
fn lstm_learns_and_exports() -> Result<(), Box<dyn std::error::Error>> {
    learns_and_exports(Arch::Lstm)
}

#[test]
fn transformer_learns_and_exports() -> Result<(), Box<dyn std::error::Error>> {
    learns_and_exports(Arch::Transformer)
}

#[test]
fn training_is_deterministic() -> Result<(), Box<dyn std::error::Error>> {
    let (a, _, _) = fit(Arch::Gru, 3)?;
    let (b, _, _) = fit(Arch::Gru, 3)?;
    assert_eq!(a.weights_bytes()?, b.weights_bytes()?);
    let (c, _, _) = fit(Arch::Gru, 4)?;
    assert_ne!(a.weights_bytes()?, c.weights_bytes()?);
    Ok(())
}

#[test]
fn damaged_weights_and_bad_inputs_are_refused() {
    let (mean, std) = (vec![0.0; 12], vec![1.0; 12]);
    let bad = NeuralModel::from_bytes(Arch::Mlp, InputShape::Features(12), 32, mean, std, b"\x01\x00\x00\x00garbage");
    assert!(matches!(bad, Err(NeuralError::Weights(_))));
    let seq = InputShape::Sequence { channels: 4, steps: 20 };
    assert!(Net::init(Arch::Mlp, seq, 32, &mut Rng::new(1), &Device::flex()).is_err());
    assert!(Net::init(Arch::Transformer, seq, 30, &mut Rng::new(1), &Device::flex()).is_err());
}

/// A run stopped after some epochs and resumed from its saved state ends
/// with the same weights and the same curve as a run never stopped; a
/// sampled epoch (fewer windows than the set) keeps that promise too.
#[test]
fn a_resumed_run_equals_an_uninterrupted_one() -> Result<(), NeuralError> {
    use std::sync::atomic::AtomicBool;
    for (arch, sampled) in [(Arch::Cnn, false), (Arch::Mlp, true), (Arch::Gru, false)] {
        let (x, y, input) = tiny_set(6, arch == Arch::Mlp);
        let len = input.len();
        let norm = || (vec![100.0f32; len], vec![3.0f32; len]);
        let cfg = TrainConfig {
            max_epochs: 6,
            patience: 6,
            batch_size: 8,
            width: Some(8),
            max_windows_per_epoch: sampled.then_some(20),
            ..TrainConfig::default()
        };
        let windows = Windows { x: &x, y: &y };
        let (whole, whole_report) = train(arch, input, &cfg, norm(), &windows, &windows, Hooks::epochs(&mut |_| {}))?;

        // First run: saves after each epoch, stopped during epoch 4.
        let stop = AtomicBool::new(false);
        let mut saved: Vec<u8> = Vec::new();
        let mut save = |bytes: &[u8]| {
            saved = bytes.to_vec();
            Ok(())
        };
        let mut on_epoch = |r: &super::trainer::EpochReport| {
            if r.epoch == 3 {
                stop.store(true, std::sync::atomic::Ordering::Relaxed);
            }
        };
        let first = train(
            arch,
            input,
            &cfg,
            norm(),
            &windows,
            &windows,
            Hooks { save_state: Some(&mut save), stop: Some(&stop), ..Hooks::epochs(&mut on_epoch) },
        );
        assert!(matches!(first, Err(NeuralError::Interrupted { epochs_done: 3 })), "{arch:?}: {first:?}");

        let mut seen = Vec::new();
        let mut on_epoch = |r: &super::trainer::EpochReport| seen.push(r.epoch);
        let hooks = Hooks { resume_from: Some(&saved), ..Hooks::epochs(&mut on_epoch) };
        let (resumed, resumed_report) = train(arch, input, &cfg, norm(), &windows, &windows, hooks)?;
        assert_eq!(seen, [1, 2, 3, 4, 5, 6], "{arch:?}: restored epochs are reported again");
        assert_eq!(resumed.weights_bytes()?, whole.weights_bytes()?, "{arch:?}: same weights");
        let curve = |r: &super::trainer::TrainReport| -> Vec<(f64, f64, f64)> {
            r.history.iter().map(|e| (e.train_loss, e.val_macro_f1, e.lr)).collect()
        };
        assert_eq!(curve(&resumed_report), curve(&whole_report), "{arch:?}: same curve");
        assert_eq!(resumed_report.best_epoch, whole_report.best_epoch);

        // A state is refused by another run.
        let other = TrainConfig { seed: cfg.seed + 1, ..cfg.clone() };
        let mut ignore = |_: &super::trainer::EpochReport| {};
        let hooks = Hooks { resume_from: Some(&saved), ..Hooks::epochs(&mut ignore) };
        let refused = train(arch, input, &other, norm(), &windows, &windows, hooks);
        assert!(matches!(&refused, Err(NeuralError::Invalid(m)) if m.contains("another run")), "{refused:?}");
        let hooks = Hooks { resume_from: Some(&saved[..saved.len() / 2]), ..Hooks::epochs(&mut ignore) };
        assert!(train(arch, input, &cfg, norm(), &windows, &windows, hooks).is_err(), "a cut state is refused");
    }
    Ok(())
}
