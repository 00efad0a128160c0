// The browser scene's Web Worker: loads the tract model runner (runner/,
// built by `cargo xtask bundle` from the cis490-runner crate), then answers
// the scene's messages off the page's main thread:
//   {type: "load", model_index, bytes}                    -> {type: "loaded", model_index, name}
//   {type: "run", model_index, id, t_s, values, observed} -> {type: "result", model_index, id, t_s, probs, latency_us}
// and {type: "error", model_index, id, message} when something fails
// (model_index: which model of the scene's run a message is about).
import init, { Runner } from "./runner/cis490_runner.js";

const ready = init();
let runner = null;

self.onmessage = async (event) => {
  const msg = event.data;
  try {
    await ready;
    if (msg.type === "load") {
      if (runner) runner.free();
      runner = new Runner(new Uint8Array(msg.bytes));
      self.postMessage({ type: "loaded", model_index: msg.model_index, name: runner.name() });
    } else if (msg.type === "run") {
      if (!runner) throw new Error("no model loaded");
      const started = performance.now();
      const probs = runner.run(msg.values, msg.observed);
      const latency_us = (performance.now() - started) * 1000;
      self.postMessage({ type: "result", model_index: msg.model_index, id: msg.id, t_s: msg.t_s, probs: Array.from(probs), latency_us });
    }
  } catch (err) {
    self.postMessage({ type: "error", model_index: msg.model_index ?? null, id: msg.id ?? null, message: String(err && err.message ? err.message : err) });
  }
};
