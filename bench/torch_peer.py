# What every PyTorch peer of the benchmarks shares: the BLAS set-up (OpenBLAS with one BLAS thread, so
# that OpenBLAS threads do not fight torch's own), a report of what the peer actually ran on, the choice
# between 1 and 2 torch threads, Flickr8k-shaped synthetic captions, the data files bench/*.mjs write
# for a peer (bench/lib/torch-peer.mjs), and the merge decoder in capgen's weight layout.
# Import this module BEFORE torch: OpenBLAS reads OPENBLAS_NUM_THREADS once, when torch loads it.
import ctypes
import json
import os
import random
import subprocess
import time

# One BLAS thread: torch already splits work over its intra-op threads; OpenBLAS's own pthreads on top
# of those oversubscribe 2 cores (issue 11 measured 97 s per epoch with 2 BLAS threads against ~50 s).
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import torch  # noqa: E402
import torch.nn as nn  # noqa: E402

ALTERNATIVE = "libblas.so.3-x86_64-linux-gnu"
SPECIALS = {"pad": 0, "start": 1, "end": 2, "unk": 3}


def loaded_blas():
    """Paths of the BLAS libraries mapped into this process (after a matmul has run)."""
    a = torch.randn(64, 64)
    (a @ a).sum().item()
    paths = set()
    with open("/proc/self/maps") as f:
        for line in f:
            p = line.split()[-1] if len(line.split()) >= 6 else ""
            name = os.path.basename(p).lower()
            if "blas" in name or "mkl" in name:
                paths.add(p)
    return sorted(paths)


def blas_report():
    """What the peer runs on: torch version, BLAS library path and kind, OpenBLAS threads, the alternative."""
    paths = loaded_blas()
    kind = "none found"
    detail = ""
    if any("openblas" in p for p in paths):
        kind = "OpenBLAS"
        for p in paths:
            try:
                lib = ctypes.CDLL(p)
                lib.openblas_get_config.restype = ctypes.c_char_p
                detail = f"{lib.openblas_get_config().decode()}, {lib.openblas_get_num_threads()} BLAS thread(s)"
                break
            except (OSError, AttributeError):
                continue
    elif any("mkl" in p for p in paths):
        kind = "MKL"
    elif paths:
        kind = "reference BLAS (netlib): the slow one, NOT a fair peer"
    try:
        alt = subprocess.run(["update-alternatives", "--query", ALTERNATIVE], capture_output=True, text=True).stdout
        value = next((l.split(": ", 1)[1] for l in alt.splitlines() if l.startswith("Value: ")), "?")
    except OSError:
        value = "update-alternatives not found"
    return {
        "torch": torch.__version__,
        "blas": kind,
        "blasDetail": detail,
        "blasPaths": paths,
        "alternative": value,
        "openblasNumThreadsEnv": os.environ.get("OPENBLAS_NUM_THREADS"),
        "best": kind == "OpenBLAS" and os.environ.get("OPENBLAS_NUM_THREADS") == "1",
    }


def print_report(prefix="torch"):
    r = blas_report()
    print(f"{prefix}: torch {r['torch']}, BLAS {r['blas']} ({', '.join(r['blasPaths']) or '-'}){' [' + r['blasDetail'] + ']' if r['blasDetail'] else ''}, "
          f"OPENBLAS_NUM_THREADS={r['openblasNumThreadsEnv']}, {ALTERNATIVE} -> {r['alternative']}", flush=True)
    if not r["best"]:
        print(f"{prefix}: WARNING: the peer is NOT in its best configuration (needs OpenBLAS with OPENBLAS_NUM_THREADS=1): "
              "apt-get install -y libopenblas0-pthread; its times are not a fair comparison", flush=True)
    return r


def parse_threads(text):
    return [int(t) for t in str(text).split(",") if t.strip()]


def load_average():
    return "/".join(f"{x:.1f}" for x in os.getloadavg())


def best_of_threads(threads, run, prefix="torch"):
    """run(n) -> dict with 'seconds' (and anything else) for n torch threads; prints each, returns the fastest."""
    results = []
    for n in threads:
        torch.set_num_threads(n)
        r = run(n)
        r["threads"] = n
        results.append(r)
    best = min(results, key=lambda r: r["seconds"])
    if len(results) > 1:
        each = ", ".join("%d: %.1f s" % (r["threads"], r["seconds"]) for r in results)
        print(f"{prefix}: fastest with {best['threads']} thread(s) ({each})", flush=True)
    return best


# ---- data ---------------------------------------------------------------------------------------------

def synthetic_lengths(count, rng):
    """Flickr8k-like caption lengths: ~N(11.8, 3.8) words in [3, 34]."""
    return [min(34, max(3, round(rng.gauss(11.8, 3.8)))) for _ in range(count)]


def synthetic_captions(count, vocab, images, rng, first_image=0):
    """(image row, word ids) pairs with Zipf-ish ids (>= 4: no specials), 5 captions per image."""
    out = []
    for c, n in enumerate(synthetic_lengths(count, rng)):
        out.append((first_image + c % images, [4 + int((vocab - 4) * rng.random() ** 3) for _ in range(n)]))
    return out


def read_peer_data(folder):
    """What bench/lib/torch-peer.mjs writes: meta.json, features.f32 [images, ...featureShape], captions."""
    with open(os.path.join(folder, "meta.json")) as f:
        meta = json.load(f)
    shape = [meta["images"], *meta["featureShape"]]
    features = torch.from_file(os.path.join(folder, "features.f32"), size=int(torch.tensor(shape).prod()), dtype=torch.float32).reshape(shape)
    return meta, features


def plan_epoch(captions, batch, rng, shuffle=True):
    """capgen's planEpoch: shuffle, stable sort by length (one length per batch), shuffle the batches."""
    order = list(range(len(captions)))
    if shuffle:
        rng.shuffle(order)
    order.sort(key=lambda i: len(captions[i][1]))
    batches = [order[i : i + batch] for i in range(0, len(order), batch)]
    if shuffle:
        rng.shuffle(batches)
    return batches


def teacher_batch(captions, picks):
    """inputs [B, T] = start, w1..wn, pad; targets [B, T] = w1..wn, end, pad; mask [B, T] = scored positions."""
    T = max(len(captions[i][1]) for i in picks) + 1
    inputs = torch.zeros(len(picks), T, dtype=torch.long)
    targets = torch.zeros(len(picks), T, dtype=torch.long)
    for r, i in enumerate(picks):
        ids = captions[i][1]
        inputs[r, : len(ids) + 1] = torch.tensor([SPECIALS["start"], *ids])
        targets[r, : len(ids) + 1] = torch.tensor([*ids, SPECIALS["end"]])
    mask = torch.zeros(len(picks), T, dtype=torch.bool)
    for r, i in enumerate(picks):
        mask[r, : len(captions[i][1]) + 1] = True
    return inputs, targets, mask


class Timer:
    """Wall-clock and process CPU seconds (all threads) since construction."""

    def __init__(self):
        self.t0 = time.perf_counter()
        self.cpu0 = time.process_time()

    def seconds(self):
        return time.perf_counter() - self.t0

    def cpu_seconds(self):
        return time.process_time() - self.cpu0


# ---- the merge decoder, in capgen's weight layout (src/model/merge-lstm.ts) ------------------------------

WEIGHT_NAMES = ["embedding", "image.kernel", "image.bias", "lstm.kernel", "lstm.recurrent", "lstm.bias",
                "decoder.kernel", "decoder.bias", "output.kernel", "output.bias"]


class MergeLstm(nn.Module):
    """image -> Dropout -> Dense(h, relu); words -> Embedding -> Dropout -> LSTM(h); add -> Dense(h, relu) -> Dense(vocab)."""

    def __init__(self, vocab, features, emb=256, hidden=256, dropout=0.5):
        super().__init__()
        self.embedding = nn.Embedding(vocab, emb, padding_idx=0)
        self.drop = nn.Dropout(dropout)
        self.image = nn.Linear(features, hidden)
        self.lstm = nn.LSTM(emb, hidden, batch_first=True)
        self.decoder = nn.Linear(hidden, hidden)
        self.output = nn.Linear(hidden, vocab)
        with torch.no_grad():  # Keras' unit_forget_bias, as capgen (gate order i, f, g, o = Keras i, f, c, o)
            self.lstm.bias_ih_l0.zero_()
            self.lstm.bias_hh_l0.zero_()
            self.lstm.bias_ih_l0[hidden : 2 * hidden] = 1

    def forward(self, feats, inputs, mask):
        """feats [B, D], inputs [B, T], mask [B, T] -> logits at the scored positions [N, vocab]."""
        img = torch.relu(self.image(self.drop(feats)))  # [B, h]
        seq, _ = self.lstm(self.drop(self.embedding(inputs)))  # [B, T, h]
        merged = (seq + img[:, None, :])[mask]  # [N, h]
        return self.output(torch.relu(self.decoder(merged)))

    def capgen_weights(self):
        """Weights in capgen's layout (Keras kernels [in, out]), WEIGHT_NAMES order, float32."""
        h = self.lstm.hidden_size
        t = {
            "embedding": self.embedding.weight, "image.kernel": self.image.weight.t(), "image.bias": self.image.bias,
            "lstm.kernel": self.lstm.weight_ih_l0.t(), "lstm.recurrent": self.lstm.weight_hh_l0.t(),
            "lstm.bias": self.lstm.bias_ih_l0 + self.lstm.bias_hh_l0,
            "decoder.kernel": self.decoder.weight.t(), "decoder.bias": self.decoder.bias,
            "output.kernel": self.output.weight.t(), "output.bias": self.output.bias,
        }
        assert t["lstm.bias"].shape[0] == 4 * h
        return [t[n].detach().contiguous().float() for n in WEIGHT_NAMES]

    def load_capgen_weights(self, arrays):
        """The inverse of capgen_weights (arrays: tensors in WEIGHT_NAMES order, capgen shapes)."""
        w = dict(zip(WEIGHT_NAMES, arrays))
        with torch.no_grad():
            self.embedding.weight.copy_(w["embedding"])
            self.image.weight.copy_(w["image.kernel"].t())
            self.image.bias.copy_(w["image.bias"])
            self.lstm.weight_ih_l0.copy_(w["lstm.kernel"].t())
            self.lstm.weight_hh_l0.copy_(w["lstm.recurrent"].t())
            self.lstm.bias_ih_l0.copy_(w["lstm.bias"])
            self.lstm.bias_hh_l0.zero_()
            self.decoder.weight.copy_(w["decoder.kernel"].t())
            self.decoder.bias.copy_(w["decoder.bias"])
            self.output.weight.copy_(w["output.kernel"].t())
            self.output.bias.copy_(w["output.bias"])


def merge_shapes(vocab, features, emb, hidden):
    return {"embedding": [vocab, emb], "image.kernel": [features, hidden], "image.bias": [hidden],
            "lstm.kernel": [emb, 4 * hidden], "lstm.recurrent": [hidden, 4 * hidden], "lstm.bias": [4 * hidden],
            "decoder.kernel": [hidden, hidden], "decoder.bias": [hidden], "output.kernel": [hidden, vocab], "output.bias": [vocab]}


def save_capgen_weights(model, path):
    """weights.bin as capgen's checkpoints hold it: float32 arrays concatenated in WEIGHT_NAMES order."""
    with open(path + ".tmp", "wb") as f:
        for a in model.capgen_weights():
            f.write(a.numpy().astype("<f4").tobytes())
    os.replace(path + ".tmp", path)


def read_capgen_weights(path, shapes):
    total = sum(int(torch.tensor(shapes[n]).prod()) for n in WEIGHT_NAMES)
    flat = torch.from_file(path, size=total, dtype=torch.float32)
    out, offset = [], 0
    for n in WEIGHT_NAMES:
        size = int(torch.tensor(shapes[n]).prod())
        out.append(flat[offset : offset + size].reshape(shapes[n]))
        offset += size
    return out


def seeded(seed):
    torch.manual_seed(seed)
    return random.Random(seed)
