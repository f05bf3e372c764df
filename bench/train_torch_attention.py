# PyTorch peer for capgen's `train --decoder attention` (issue 12): a soft-attention LSTM in the manner of
# Show, Attend and Tell over spatial features [regions, channels] (MobileNet 7x7x1024): features optionally
# projected to a smaller width; initial h/c from the mean feature; additive attention over the regions at every
# step; a gating scalar on the context; the doubly-stochastic attention penalty; dropout; teacher forcing with
# the masked loss. One epoch timed (validation included) on synthetic data of Flickr8k size; 1 and 2 threads.
# Usage: /usr/bin/python3 bench/train_torch_attention.py [--steps N] [--embedding 256] [--hidden 512]
#        [--attention 512] [--project 0] [--dropout 0.5] [--penalty 1.0] [--lr 4e-4] [--threads 1,2] (--help: all)
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import torch_spatial  # noqa: E402  (imports torch_peer first: OpenBLAS threads)
import torch  # noqa: E402
import torch.nn as nn  # noqa: E402
import torch.nn.functional as F  # noqa: E402

p = torch_spatial.common_args("Show-Attend-Tell soft attention LSTM, one epoch timed")
p.add_argument("--embedding", type=int, default=256, help="word embedding width")
p.add_argument("--hidden", type=int, default=512, help="LSTM width (the paper's Flickr8k model: 1800; common re-implementations: 512)")
p.add_argument("--attention", type=int, default=512, help="width of the additive attention's hidden layer")
p.add_argument("--project", type=int, default=0, help="project the features to this width first (0 = keep the channels)")
p.add_argument("--dropout", type=float, default=0.5, help="on the embeddings and before the output layer")
p.add_argument("--penalty", type=float, default=1.0, help="doubly-stochastic attention penalty weight (the paper's lambda)")
p.add_argument("--lr", type=float, default=4e-4, help="Adam learning rate (common Show-Attend-Tell setting)")
args = p.parse_args()


class SoftAttentionLstm(nn.Module):
    def __init__(self, vocab, channels, emb, hidden, att, project, dropout):
        super().__init__()
        self.project = nn.Linear(channels, project) if project else None
        width = project or channels
        self.embedding = nn.Embedding(vocab, emb, padding_idx=0)
        self.init_h = nn.Linear(width, hidden)
        self.init_c = nn.Linear(width, hidden)
        self.att_features = nn.Linear(width, att)
        self.att_hidden = nn.Linear(hidden, att)
        self.att_score = nn.Linear(att, 1)
        self.gate = nn.Linear(hidden, 1)  # beta: how much of the context the step takes
        self.cell = nn.LSTMCell(emb + width, hidden)
        self.drop = nn.Dropout(dropout)
        self.output = nn.Linear(hidden, vocab)

    def forward(self, feats, inputs, mask):
        """feats [B, R, C], inputs/mask [B, T] -> logits [N, vocab] at scored positions, attention [B, T, R]."""
        if self.project is not None:
            feats = torch.relu(self.project(feats))  # [B, R, D]
        mean = feats.mean(1)
        h, c = torch.tanh(self.init_h(mean)), torch.tanh(self.init_c(mean))  # [B, hidden]
        keys = self.att_features(feats)  # [B, R, A], once per batch
        emb = self.drop(self.embedding(inputs))  # [B, T, E]
        hs, alphas = [], []
        for t in range(inputs.shape[1]):
            scores = self.att_score(torch.tanh(keys + self.att_hidden(h)[:, None, :])).squeeze(2)  # [B, R]
            alpha = torch.softmax(scores, 1)
            context = torch.bmm(alpha[:, None, :], feats).squeeze(1) * torch.sigmoid(self.gate(h))  # [B, D]
            h, c = self.cell(torch.cat([emb[:, t], context], 1), (h, c))
            hs.append(h)
            alphas.append(alpha)
        seq = torch.stack(hs, 1)  # [B, T, hidden]
        return self.output(self.drop(seq[mask])), torch.stack(alphas, 1)


def loss_fn(logits, targets, alphas, mask):
    """Masked cross-entropy + lambda * sum over regions of (1 - attention summed over the caption's steps)^2."""
    coverage = (alphas * mask[:, :, None]).sum(1)  # [B, R]
    return F.cross_entropy(logits, targets) + args.penalty * ((1 - coverage) ** 2).sum(1).mean()


torch_spatial.benchmark(
    args,
    "attention",
    lambda: SoftAttentionLstm(args.vocab, args.channels, args.embedding, args.hidden, args.attention, args.project, args.dropout),
    lambda model: (torch.optim.Adam(model.parameters(), lr=args.lr, eps=1e-7), None),
    loss_fn,
)
