# Peer benchmark for bench/decode.mjs: batched greedy decoding of capgen's merge decoder in PyTorch, with the
# same weights (capgen's weights.bin layout) and the same rules as capgen's greedySearch (src/decode/greedy.ts):
# start from <start>, never emit <pad>/<start>/<unk>, at least one word before <end>, a caption stops at its
# <end> token and leaves the batch, at most maxLength words. On OpenBLAS with one BLAS thread; 1 and 2 torch threads, the faster reported.
# Usage: /usr/bin/python3 bench/decode_torch.py --data DIR --weights weights.bin [--batch 1000] [--threads 1,2]
#        [--out captions.json]   (DIR: features.f32 + meta.json from bench/lib/torch-peer.mjs, with
#        meta.sizes {vocabSize, embeddingSize, hiddenSize, featureSize} and meta.maxLength)
import argparse
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import torch_peer as peer  # noqa: E402  (before torch: sets OPENBLAS_NUM_THREADS)
import torch  # noqa: E402
import torch.nn as nn  # noqa: E402

p = argparse.ArgumentParser()
p.add_argument("--data", required=True)
p.add_argument("--weights", required=True, help="capgen weights.bin (float32, WEIGHT_NAMES order)")
p.add_argument("--batch", type=int, default=1000, help="images per batch (1000 = all of them at once)")
p.add_argument("--threads", default="1,2")
p.add_argument("--out", help="write the captions (word ids) as JSON here")
p.add_argument("--repeats", type=int, default=3, help="decode this many times, report the fastest (runs of ~0.5 s are noisy)")
args = p.parse_args()

info = peer.print_report()
meta, features = peer.read_peer_data(args.data)
s = meta["sizes"]
max_length = meta["maxLength"]
model = peer.MergeLstm(s["vocabSize"], s["featureSize"], s["embeddingSize"], s["hiddenSize"], dropout=0.0)
model.load_capgen_weights(peer.read_capgen_weights(args.weights, peer.merge_shapes(s["vocabSize"], s["featureSize"], s["embeddingSize"], s["hiddenSize"])))
model.eval()
# One step of the LSTM at a time: an LSTMCell sharing nn.LSTM's weights, as torch captioners decode.
cell = nn.LSTMCell(s["embeddingSize"], s["hiddenSize"])
with torch.no_grad():
    cell.weight_ih.copy_(model.lstm.weight_ih_l0)
    cell.weight_hh.copy_(model.lstm.weight_hh_l0)
    cell.bias_ih.copy_(model.lstm.bias_ih_l0)
    cell.bias_hh.copy_(model.lstm.bias_hh_l0)
END = peer.SPECIALS["end"]
NEVER = [peer.SPECIALS["pad"], peer.SPECIALS["start"], peer.SPECIALS["unk"]]


def greedy(feats):
    """feats [B, D] -> word ids [B, maxLength + 1] (the end token, then padding, after each caption)."""
    B = feats.shape[0]
    out = torch.zeros(B, max_length + 1, dtype=torch.long)
    img = torch.relu(model.image(feats))  # [B, h]
    h = torch.zeros(B, s["hiddenSize"])
    c = torch.zeros(B, s["hiddenSize"])
    tokens = torch.full((B,), peer.SPECIALS["start"], dtype=torch.long)
    active = torch.arange(B)
    for t in range(max_length + 1):
        h, c = cell(model.embedding(tokens), (h, c))
        if t == max_length:  # the caption has maxLength words: only the end token may follow
            out[active, t] = END
            break
        logits = model.output(torch.relu(model.decoder(h + img)))  # [active, vocab]
        logits[:, NEVER] = float("-inf")
        if t == 0 and max_length > 0:  # a caption has at least one word, as capgen's search rules say
            logits[:, END] = float("-inf")
        tokens = logits.argmax(1)
        out[active, t] = tokens
        keep = tokens != END
        if not bool(keep.all()):
            idx = keep.nonzero().squeeze(1)
            if idx.numel() == 0:
                break
            h, c, img, tokens, active = h[idx], c[idx], img[idx], tokens[idx], active[idx]
    return out


def decode_all():
    rows = []
    for start in range(0, features.shape[0], args.batch):
        rows.append(greedy(features[start : start + args.batch]))
    return torch.cat(rows)


def run(threads):
    with torch.inference_mode():
        greedy(features[:8])  # warm-up, as bench/decode.mjs does for capgen
        seconds = cpu = float("inf")
        for _ in range(args.repeats):
            t = peer.Timer()
            out = decode_all()
            if t.seconds() < seconds:
                seconds, cpu = t.seconds(), t.cpu_seconds()
    captions = []
    for row in out.tolist():
        captions.append(row[: row.index(END)] if END in row else row)
    words = sum(len(c) for c in captions) / len(captions)
    print(f"torch {torch.__version__}, {threads} thread(s): greedy {len(captions)} images in {seconds:.2f} s wall, {cpu:.2f} s CPU (batch {args.batch}), mean {words:.1f} words", flush=True)
    return {"seconds": seconds, "cpuSeconds": cpu, "meanWords": words, "captions": captions}


best = peer.best_of_threads(peer.parse_threads(args.threads), run)
if args.out:
    with open(args.out, "w") as f:
        json.dump(best["captions"], f)
print(f"torch: greedy decoding of {features.shape[0]} images {best['seconds']:.2f} s with {best['threads']} thread(s); load average {peer.load_average()}")
print("torch-result " + json.dumps({**{k: v for k, v in best.items() if k != "captions"}, "batch": args.batch, "peer": info}))
