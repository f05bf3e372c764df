# Peer benchmark for bench/train.mjs: capgen's merge-LSTM decoder (src/model/merge-lstm.ts) in PyTorch, trained
# exactly as `capgen train` trains it: dropout 0.5 on the image vector and on the embeddings, teacher forcing
# with the loss on non-padding positions only, length-bucketed shuffled batches of 128, Adam (Keras' epsilon
# 1e-7) with gradient clipping to global norm 5; then validation on the dev captions (batch 256, no dropout),
# as capgen does after every epoch. Runs on OpenBLAS with one BLAS thread (bench/torch_peer.py) and times the
# epoch with 1 and 2 torch threads, reporting the faster.
# Data: --data DIR (what bench/train.mjs writes from a prepared capgen run), else synthetic Flickr8k-sized data.
# Usage: /usr/bin/python3 bench/train_torch.py [--data DIR | --captions 30000 --dev-captions 5000 --vocab 2535
#        --features 1024] [--batch 128] [--steps N] [--threads 1,2] [--no-validate] [--init-weights F]
#        [--epochs 1 --save-weights F]
import argparse
import json
import math
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import torch_peer as peer  # noqa: E402  (before torch: sets OPENBLAS_NUM_THREADS)
import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402

p = argparse.ArgumentParser()
p.add_argument("--data", help="peer data folder written by bench/train.mjs (features.f32, meta.json with captions)")
p.add_argument("--captions", type=int, default=30000, help="synthetic: training captions (Flickr8k: 30000)")
p.add_argument("--dev-captions", type=int, default=5000, help="synthetic: validation captions (Flickr8k dev: 5000)")
p.add_argument("--vocab", type=int, default=2535, help="synthetic: vocabulary (Flickr8k at min-count 5)")
p.add_argument("--features", type=int, default=1024, help="synthetic: feature width (MobileNet 1.0)")
p.add_argument("--batch", type=int, default=128, help="capgen train's default")
p.add_argument("--steps", type=int, default=0, help="time only the first N steps and extrapolate (0 = the whole epoch)")
p.add_argument("--threads", default="1,2", help="torch thread counts to try; the fastest is reported")
p.add_argument("--no-validate", action="store_true")
p.add_argument("--epochs", type=int, default=1, help="with --save-weights: epochs to train before saving")
p.add_argument("--save-weights", help="write the trained weights in capgen's layout (weights.bin) to this file")
p.add_argument("--init-weights", help="start from these weights (capgen's layout), e.g. capgen's own seeded initial weights")
p.add_argument("--seed", type=int, default=1)
args = p.parse_args()

info = peer.print_report()
rng = peer.seeded(args.seed)
if args.data:
    meta, features = peer.read_peer_data(args.data)
    train = [(c[0], c[1:]) for c in meta["train"]]
    dev = [(c[0], c[1:]) for c in meta["dev"]]
    vocab = meta["vocabSize"]
    given_plan = meta.get("plan")
    print(f"torch: data {args.data}: {len(train)} training, {len(dev)} dev captions, {features.shape[0]} images, vocabulary {vocab}, {features.shape[1]}-d features")
else:
    vocab = args.vocab
    given_plan = None
    features = torch.relu(torch.randn(7000, args.features))  # post-ReLU-like; 6000 training + 1000 dev images
    train = peer.synthetic_captions(args.captions, vocab, 6000, rng)
    dev = peer.synthetic_captions(args.dev_captions, vocab, 1000, rng, first_image=6000)
    print(f"torch: synthetic data: {len(train)} training, {len(dev)} dev captions, vocabulary {vocab}, {args.features}-d features")
feature_size = features.shape[1]
if args.no_validate:
    dev = []


def validate(model):
    """capgen's validate(): batch 256 in length order, no dropout; mean loss per word and accuracy."""
    model.eval()
    loss_sum, correct, tokens = 0.0, 0, 0
    with torch.no_grad():
        for picks in peer.plan_epoch(dev, 256, rng, shuffle=False):
            inputs, targets, mask = peer.teacher_batch(dev, picks)
            logits = model(features[[dev[i][0] for i in picks]], inputs, mask)
            t = targets[mask]
            loss_sum += F.cross_entropy(logits, t, reduction="sum").item()
            correct += (logits.argmax(1) == t).sum().item()
            tokens += t.numel()
    model.train()
    return loss_sum / tokens, correct / tokens


def run(threads):
    torch.manual_seed(args.seed)
    model = peer.MergeLstm(vocab, feature_size)
    if args.init_weights:  # the same start as capgen (Keras initialisers): same loss curve, up to dropout draws
        model.load_capgen_weights(peer.read_capgen_weights(args.init_weights, peer.merge_shapes(vocab, feature_size, 256, 256)))
    opt = torch.optim.Adam(model.parameters(), lr=1e-3, eps=1e-7)  # capgen: Keras' Adam defaults
    model.train()
    epochs = args.epochs if args.save_weights else 1
    done, first, last = 0, None, None
    timer = peer.Timer()
    for epoch in range(epochs):
        # capgen's own plan of batches when it handed one over (epoch 0), else the same algorithm here
        plan = given_plan if given_plan and epoch == 0 else peer.plan_epoch(train, args.batch, rng)
        steps = min(len(plan), args.steps or len(plan))
        for picks in plan[:steps]:
            inputs, targets, mask = peer.teacher_batch(train, picks)
            logits = model(features[[train[i][0] for i in picks]], inputs, mask)
            loss = F.cross_entropy(logits, targets[mask])  # mean over the scored positions
            opt.zero_grad()
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 5.0)  # capgen: --clip-norm 5, global norm
            opt.step()
            done += len(picks)
            last = loss.item()
            first = last if first is None else first
    train_seconds = timer.seconds()
    cpu_ms = 1000 * timer.cpu_seconds() / done  # all threads: less sensitive to other load than wall time
    epoch_train = train_seconds * len(train) * epochs / done / epochs
    print(f"torch {torch.__version__}, {threads} thread(s): {steps}/{len(plan)} steps in {train_seconds:.1f} s, {done / train_seconds:.0f} captions/s, {cpu_ms:.2f} CPU-ms per caption, "
          f"loss {first:.3f} -> {last:.3f}; training epoch {epoch_train:.1f} s{' (extrapolated)' if steps < len(plan) else ''}", flush=True)
    val_seconds, val = 0.0, None
    if dev:
        t = peer.Timer()
        val = validate(model)
        val_seconds = t.seconds()
        print(f"torch {threads} thread(s): validation of {len(dev)} dev captions in {val_seconds:.1f} s, loss {val[0]:.3f}, accuracy {val[1]:.3f}", flush=True)
    return {"seconds": epoch_train + val_seconds, "trainSeconds": epoch_train, "validationSeconds": val_seconds, "steps": steps,
            "stepsPerEpoch": len(plan), "extrapolated": steps < len(plan), "cpuMsPerCaption": cpu_ms, "loss": last, "valLoss": val and val[0], "model": model}


best = peer.best_of_threads(peer.parse_threads(args.threads), run)
print(f"torch: epoch time {best['seconds']:.1f} s ({best['trainSeconds']:.1f} s training{' extrapolated' if best['extrapolated'] else ''} + "
      f"{best['validationSeconds']:.1f} s validation), {best['threads']} thread(s); load average {peer.load_average()}")
if args.save_weights:
    peer.save_capgen_weights(best["model"], args.save_weights)
    print(f"torch: weights after {args.epochs} epoch(s) written to {args.save_weights}")
result = {k: v for k, v in best.items() if k != "model"}
print("torch-result " + json.dumps({**result, "peer": info}))
