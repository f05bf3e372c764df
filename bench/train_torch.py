# Peer benchmark for bench/train.mjs: the same merge-LSTM decoder, objective (teacher forcing, loss on
# non-padding positions only), length-bucketed batches, Adam and global-norm clipping, in PyTorch.
# Synthetic Flickr8k-sized data (lengths ~ N(11.8, 3.8) in [3, 34]); prints the epoch time.
# Usage: /usr/bin/python3 bench/train_torch.py [--captions 30000] [--vocab 3000] [--features 1024] [--batch 64] [--steps N] [--threads N]
import argparse
import os
import random
import time

import torch
import torch.nn as nn
import torch.nn.functional as F

p = argparse.ArgumentParser()
p.add_argument("--captions", type=int, default=30000)
p.add_argument("--vocab", type=int, default=3000)
p.add_argument("--features", type=int, default=1024)
p.add_argument("--batch", type=int, default=64)
p.add_argument("--steps", type=int, default=0, help="0 = the whole epoch")
p.add_argument("--threads", type=int, default=os.cpu_count())
args = p.parse_args()
torch.set_num_threads(args.threads)
torch.manual_seed(1)
rng = random.Random(1)


class MergeLstm(nn.Module):
    def __init__(self, vocab, features, emb=256, hidden=256, dropout=0.5):
        super().__init__()
        self.embedding = nn.Embedding(vocab, emb, padding_idx=0)
        self.drop = nn.Dropout(dropout)
        self.image = nn.Linear(features, hidden)
        self.lstm = nn.LSTM(emb, hidden, batch_first=True)
        self.decoder = nn.Linear(hidden, hidden)
        self.output = nn.Linear(hidden, vocab)

    def forward(self, feats, inputs, mask):
        img = F.relu(self.image(self.drop(feats)))  # [B, h]
        seq, _ = self.lstm(self.drop(self.embedding(inputs)))  # [B, T, h]
        merged = (seq + img[:, None, :])[mask]  # scored positions only, [N, h]
        return self.output(F.relu(self.decoder(merged)))


lengths = [min(34, max(3, round(rng.gauss(11.8, 3.8)))) for _ in range(args.captions)]
captions = [[4 + int((args.vocab - 4) * rng.random() ** 3) for _ in range(n)] for n in lengths]
images = torch.relu(torch.randn(6000, args.features))
order = list(range(args.captions))
rng.shuffle(order)
order.sort(key=lambda i: lengths[i])
batches = [order[i : i + args.batch] for i in range(0, len(order), args.batch)]
rng.shuffle(batches)
steps = args.steps or len(batches)

model = MergeLstm(args.vocab, args.features)
opt = torch.optim.Adam(model.parameters(), lr=1e-3, eps=1e-7)
model.train()
done = 0
t0 = time.perf_counter()
for bi, b in enumerate(batches[:steps]):
    T = max(lengths[i] for i in b) + 1
    inputs = torch.zeros(len(b), T, dtype=torch.long)
    targets = torch.zeros(len(b), T, dtype=torch.long)
    for r, i in enumerate(b):
        c = captions[i]
        inputs[r, : len(c) + 1] = torch.tensor([1] + c)
        targets[r, : len(c) + 1] = torch.tensor(c + [2])
    mask = inputs != 0
    mask[:, 0] = True
    logits = model(images[[i % 6000 for i in b]], inputs, mask)
    loss = F.cross_entropy(logits, targets[mask])
    opt.zero_grad()
    loss.backward()
    torch.nn.utils.clip_grad_norm_(model.parameters(), 5.0)
    opt.step()
    done += len(b)
    if bi == 0:
        first = loss.item()
seconds = time.perf_counter() - t0
epoch = seconds * args.captions / done
print(f"torch {torch.__version__}, {args.threads} threads: {steps}/{len(batches)} steps in {seconds:.1f} s, {done / seconds:.0f} captions/s, loss {first:.3f} -> {loss.item():.3f}")
print(f"torch: epoch time {epoch:.1f} s{' (extrapolated)' if steps < len(batches) else ''}")
