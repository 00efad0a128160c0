"""PyTorch reference for `cis490 bench neural`: training step time at batch 64.

The same five architectures as models/src/neural (same widths, layers,
inputs: 276 summary features for the MLP, 46 channels x 20 steps for the
others), AdamW, class-weighted cross-entropy and per-parameter gradient
clipping, on random inputs. Prints milliseconds per step (median of the
timed steps) for 1 and 2 threads.

    python3 bench/neural_torch.py [--steps 40]

Installs torch into ~/.cache/cis490-bench-torch on first use (bench_env.py).
"""
import argparse
import statistics
import time

from bench_env import ensure

ensure("torch", ["torch"])

import torch  # noqa: E402
from torch import nn  # noqa: E402

CHANNELS, STEPS, FEATURES, CLASSES, BATCH = 46, 20, 276, 7, 64


class Mlp(nn.Module):
    def __init__(self, width=128):
        super().__init__()
        self.net = nn.Sequential(nn.Linear(FEATURES, width), nn.ReLU(), nn.Linear(width, width // 2), nn.ReLU(),
                                 nn.Linear(width // 2, CLASSES))

    def forward(self, x):
        return self.net(x)


class Cnn(nn.Module):
    def __init__(self, width=32):
        super().__init__()
        self.conv1 = nn.Conv1d(CHANNELS, width, 5, padding=2)
        self.conv2 = nn.Conv1d(width, width, 5, padding=2)
        self.head = nn.Linear(width, CLASSES)

    def forward(self, x):
        h = torch.relu(self.conv2(torch.relu(self.conv1(x))))
        return self.head(h.mean(dim=2))


class Recurrent(nn.Module):
    def __init__(self, cell, hidden=64):
        super().__init__()
        self.rnn = cell(CHANNELS, hidden, batch_first=True)
        self.head = nn.Linear(hidden, CLASSES)

    def forward(self, x):
        out, _ = self.rnn(x.transpose(1, 2))
        return self.head(out[:, -1])


class Transformer(nn.Module):
    def __init__(self, width=32, heads=4, layers=2):
        super().__init__()
        self.embed = nn.Linear(CHANNELS, width)
        self.position = nn.Parameter(torch.randn(STEPS, width) * 0.02)
        layer = nn.TransformerEncoderLayer(width, heads, 2 * width, dropout=0.0, activation="relu",
                                           batch_first=True, norm_first=True)
        self.encoder = nn.TransformerEncoder(layer, layers, enable_nested_tensor=False)
        self.norm = nn.LayerNorm(width)
        self.head = nn.Linear(width, CLASSES)

    def forward(self, x):
        h = self.encoder(self.embed(x.transpose(1, 2)) + self.position)
        return self.head(self.norm(h).mean(dim=1))


def step_times(model, x, y, steps):
    opt = torch.optim.AdamW(model.parameters(), lr=2e-3, weight_decay=1e-4)
    loss_fn = nn.CrossEntropyLoss(weight=torch.ones(CLASSES))
    times = []
    for _ in range(steps + 3):
        started = time.perf_counter()
        opt.zero_grad()
        loss = loss_fn(model(x), y)
        loss.backward()
        for p in model.parameters():
            torch.nn.utils.clip_grad_norm_([p], 1.0)
        opt.step()
        times.append(time.perf_counter() - started)
    return statistics.median(times[3:]) * 1000


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--steps", type=int, default=40)
    args = parser.parse_args()
    torch.manual_seed(0)
    seq = torch.randn(BATCH, CHANNELS, STEPS)
    feats = torch.randn(BATCH, FEATURES)
    y = torch.randint(0, CLASSES, (BATCH,))
    models = {
        "mlp": (Mlp, feats), "cnn": (Cnn, seq), "gru": (lambda: Recurrent(nn.GRU), seq),
        "lstm": (lambda: Recurrent(nn.LSTM), seq), "transformer": (Transformer, seq),
    }
    print(f"torch {torch.__version__}, batch {BATCH}, ms per training step (median of {args.steps})")
    print(f"{'model':<12} {'1 thread':>10} {'2 threads':>10}")
    for name, (make, x) in models.items():
        row = []
        for threads in (1, 2):
            torch.set_num_threads(threads)
            row.append(step_times(make(), x, y, args.steps))
        print(f"{name:<12} {row[0]:>10.2f} {row[1]:>10.2f}")


if __name__ == "__main__":
    main()
