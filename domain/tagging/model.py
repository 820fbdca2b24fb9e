"""A multinomial logistic regression over sparse binary features, in pure Python.

Small enough to train in seconds on the corpus and to load in milliseconds from JSON: no numpy,
so `zhitong tag` for one message starts as fast as jieba allows.
"""

from __future__ import annotations

import math
import random
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass

MODEL_FORMAT = 1


@dataclass(frozen=True, slots=True)
class Sample:
    """One training example: text features (binary), pooled rule features (valued), label."""

    features: tuple[str, ...]
    rules: Mapping[str, float]
    label: int


@dataclass(slots=True)
class LinearModel:
    classes: tuple[str, ...]
    bias: list[float]
    weights: dict[str, list[float]]
    meta: dict[str, object]

    def probabilities(self, features: Collection[str], rules: Mapping[str, float]) -> list[float]:
        """Class probabilities (softmax) for one message.

        Text features are scaled by 1/sqrt(n) so long messages are not more confident merely for
        being long; pooled rule features keep their own value.
        """
        get = self.weights.get
        rows = [row for row in map(get, features) if row is not None]
        logits = list(self.bias)
        if rows:
            scale = 1.0 / math.sqrt(len(features))
            for i, total in enumerate(map(sum, zip(*rows, strict=True))):
                logits[i] += total * scale
        for name, value in rules.items():
            row = get(name)
            if row is not None:
                for i, w in enumerate(row):
                    logits[i] += w * value
        return _softmax(logits)

    def to_json(self) -> dict[str, object]:
        return {
            "format": MODEL_FORMAT,
            "classes": list(self.classes),
            "bias": [round(b, 4) for b in self.bias],
            "weights": {f: [round(w, 4) for w in row] for f, row in sorted(self.weights.items())},
            "meta": self.meta,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, object]) -> LinearModel:
        if data.get("format") != MODEL_FORMAT:
            raise ValueError(f"unsupported model format {data.get('format')!r}")
        classes = tuple(str(c) for c in data["classes"])  # type: ignore[attr-defined]
        bias = [float(b) for b in data["bias"]]  # type: ignore[attr-defined]
        weights = {str(k): list(v) for k, v in data["weights"].items()}  # type: ignore[attr-defined]
        meta = dict(data.get("meta") or {})  # type: ignore[call-overload]
        return cls(classes, bias, weights, meta)


def _softmax(logits: Sequence[float]) -> list[float]:
    top = max(logits)
    exps = [math.exp(x - top) for x in logits]
    total = sum(exps)
    return [e / total for e in exps]


def train(
    samples: Sequence[Sample],
    classes: Sequence[str],
    *,
    epochs: int = 40,
    learning_rate: float = 0.5,
    l2: float = 1e-4,
    seed: int = 13,
    prune_below: float = 0.01,
) -> LinearModel:
    """Stochastic gradient descent on cross-entropy, classes balanced by sample weights.

    Deterministic for a given corpus and seed, so `zhitong tag train` rebuilds the same model.
    """
    k = len(classes)
    counts = [0] * k
    for s in samples:
        counts[s.label] += 1
    # Balanced: every class weighs the same in total, however many examples it has.
    class_weight = [len(samples) / (k * c) if c else 0.0 for c in counts]
    weights: dict[str, list[float]] = {}
    bias = [0.0] * k
    order = list(range(len(samples)))
    rng = random.Random(seed)
    step = 0
    total_steps = max(1, epochs * len(samples))
    for _ in range(epochs):
        rng.shuffle(order)
        for idx in order:
            sample = samples[idx]
            lr = learning_rate * (1.0 - step / total_steps) + 0.01
            step += 1
            feats = sample.features
            scale = 1.0 / math.sqrt(len(feats)) if feats else 0.0
            inputs: list[tuple[list[float], float]] = [
                (weights.setdefault(f, [0.0] * k), scale) for f in feats
            ]
            inputs.extend((weights.setdefault(n, [0.0] * k), v) for n, v in sample.rules.items())
            logits = list(bias)
            for row, value in inputs:
                for i in range(k):
                    logits[i] += row[i] * value
            probs = _softmax(logits)
            sw = class_weight[sample.label]
            grads = [(probs[i] - (1.0 if i == sample.label else 0.0)) * sw for i in range(k)]
            for i in range(k):
                bias[i] -= lr * grads[i]
            decay = 1.0 - lr * l2
            for row, value in inputs:
                for i in range(k):
                    row[i] = row[i] * decay - lr * grads[i] * value
    kept = {f: row for f, row in weights.items() if max(abs(w) for w in row) >= prune_below}
    return LinearModel(tuple(classes), bias, kept, {})
