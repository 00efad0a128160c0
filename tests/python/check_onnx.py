"""onnxruntime opens every model.onnx of a cis490 run and agrees with tract.

Usage: check_onnx.py RUN_DIR

For each RUN_DIR/<model>-<variant>/ the test wrote `inputs.bin` (float32,
shape in `inputs.json`) and `tract.bin` (tract's probabilities). This
script runs model.onnx in onnxruntime on the same inputs and fails when a
probability differs by more than 1e-4, the outputs are misnamed, or the
metadata lacks the schema hash.
"""
import json
import pathlib
import sys

import numpy as np
import onnxruntime as ort


def main() -> int:
    run = pathlib.Path(sys.argv[1])
    checked = 0
    for model_dir in sorted(p for p in run.iterdir() if (p / "model.onnx").exists()):
        session = ort.InferenceSession(str(model_dir / "model.onnx"), providers=["CPUExecutionProvider"])
        meta = session.get_modelmeta().custom_metadata_map
        assert len(meta.get("schema_hash", "")) == 64, f"{model_dir.name}: no schema_hash in metadata"
        names = [o.name for o in session.get_outputs()]
        assert names == ["label", "probabilities"], f"{model_dir.name}: outputs {names}"
        shape = json.loads((model_dir / "inputs.json").read_text())["shape"]
        x = np.fromfile(model_dir / "inputs.bin", dtype="<f4").reshape(shape)
        label, probs = session.run(None, {"input": x})
        tract = np.fromfile(model_dir / "tract.bin", dtype="<f4").reshape(probs.shape)
        worst = float(np.max(np.abs(probs - tract)))
        assert worst <= 1e-4, f"{model_dir.name}: onnxruntime differs from tract by {worst}"
        assert np.array_equal(label, probs.argmax(axis=1)), f"{model_dir.name}: label is not the arg-max"
        print(f"{model_dir.name}: {meta['architecture']} ok, largest difference {worst:.2e}")
        checked += 1
    assert checked > 0, f"no model.onnx under {run}"
    return 0


if __name__ == "__main__":
    sys.exit(main())
