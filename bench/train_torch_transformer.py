# PyTorch peer for capgen's `train --decoder transformer` (issue 12): a small pre-norm Transformer decoder
# (nn.TransformerDecoderLayer, norm_first) with causal self-attention over the words and cross-attention over
# the image regions, which carry learned 2-D position embeddings (a row and a column embedding, added);
# learned word positions; warmup then inverse-square-root decay; optional label smoothing; teacher forcing with
# the masked loss. One epoch timed (validation included) on synthetic data of Flickr8k size; 1 and 2 threads.
# Usage: /usr/bin/python3 bench/train_torch_transformer.py [--steps N] [--layers 3] [--width 512] [--heads 8]
#        [--ffn 0] [--dropout 0.1] [--label-smoothing 0.1] [--lr 5e-4] [--warmup 2000] [--threads 1,2] (--help: all)
import math
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import torch_spatial  # noqa: E402  (imports torch_peer first: OpenBLAS threads)
import torch  # noqa: E402
import torch.nn as nn  # noqa: E402
import torch.nn.functional as F  # noqa: E402

p = torch_spatial.common_args("pre-norm Transformer caption decoder with cross-attention over regions, one epoch timed")
p.add_argument("--layers", type=int, default=3)
p.add_argument("--width", type=int, default=512, help="model width (issue 12: 256-512)")
p.add_argument("--heads", type=int, default=8)
p.add_argument("--ffn", type=int, default=0, help="feed-forward width (0 = 4 x width)")
p.add_argument("--dropout", type=float, default=0.1)
p.add_argument("--label-smoothing", type=float, default=0.1)
p.add_argument("--lr", type=float, default=5e-4, help="peak learning rate, reached after --warmup steps")
p.add_argument("--warmup", type=int, default=2000, help="linear warmup steps, then lr * sqrt(warmup / step)")
p.add_argument("--max-length", type=int, default=40, help="word positions (longest Flickr8k caption: 34 + start/end)")
args = p.parse_args()


class CaptionTransformer(nn.Module):
    def __init__(self, vocab, channels, grid, width, layers, heads, ffn, dropout, max_length):
        super().__init__()
        self.width = width
        self.features = nn.Linear(channels, width)
        self.rows = nn.Parameter(torch.randn(grid, 1, width) * 0.02)  # learned 2-D positions: row + column
        self.cols = nn.Parameter(torch.randn(1, grid, width) * 0.02)
        self.words = nn.Embedding(vocab, width, padding_idx=0)
        self.positions = nn.Embedding(max_length, width)
        self.drop = nn.Dropout(dropout)
        layer = nn.TransformerDecoderLayer(width, heads, ffn or 4 * width, dropout, activation="gelu", batch_first=True, norm_first=True)
        self.decoder = nn.TransformerDecoder(layer, layers, norm=nn.LayerNorm(width))  # pre-norm needs a final norm
        self.output = nn.Linear(width, vocab)

    def forward(self, feats, inputs, mask):
        """feats [B, R, C], inputs/mask [B, T] -> logits [N, vocab] at the scored positions."""
        B, T = inputs.shape
        memory = self.features(feats) + (self.rows + self.cols).reshape(1, -1, self.width)  # [B, R, width]
        x = self.drop(self.words(inputs) * math.sqrt(self.width) + self.positions(torch.arange(T))[None])  # [B, T, width]
        causal = torch.triu(torch.full((T, T), float("-inf")), 1)
        # No key-padding mask: padding sits after every scored position, so the causal mask already hides it.
        y = self.decoder(x, memory, tgt_mask=causal)
        return self.output(y[mask]), None


def schedule(step):
    step += 1
    return step / args.warmup if step < args.warmup else math.sqrt(args.warmup / step)


def make_optimizer(model):
    opt = torch.optim.Adam(model.parameters(), lr=args.lr, betas=(0.9, 0.98), eps=1e-9)
    return opt, torch.optim.lr_scheduler.LambdaLR(opt, schedule)


torch_spatial.benchmark(
    args,
    "transformer",
    lambda: CaptionTransformer(args.vocab, args.channels, args.grid, args.width, args.layers, args.heads, args.ffn, args.dropout, args.max_length),
    make_optimizer,
    lambda logits, targets, _extra, _mask: F.cross_entropy(logits, targets, label_smoothing=args.label_smoothing),
)
