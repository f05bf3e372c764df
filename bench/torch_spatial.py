# The shared part of the PyTorch peers for the decoders over spatial features (issue 12):
# bench/train_torch_attention.py and bench/train_torch_transformer.py. Synthetic data of Flickr8k size
# (30000 training captions on 6000 images, 5000 dev captions on 1000 images, regions x channels features
# per image, stored as float16 as capgen stores them), capgen's batching (length buckets of 128, shuffled),
# masked loss, Adam with global-norm clipping, validation after the epoch; timed with 1 and 2 torch threads.
import argparse
import json

import torch_peer as peer  # before torch: sets OPENBLAS_NUM_THREADS
import torch
import torch.nn.functional as F


def common_args(description):
    p = argparse.ArgumentParser(description=description)
    p.add_argument("--captions", type=int, default=30000, help="training captions (Flickr8k: 30000)")
    p.add_argument("--dev-captions", type=int, default=5000, help="validation captions (Flickr8k dev: 5000)")
    p.add_argument("--images", type=int, default=6000, help="training images (5 captions each on Flickr8k)")
    p.add_argument("--vocab", type=int, default=2535, help="Flickr8k at min-count 5")
    p.add_argument("--grid", type=int, default=7, help="regions = grid x grid (MobileNet / ResNet50 at 224: 7x7)")
    p.add_argument("--channels", type=int, default=1024, help="feature channels (MobileNet 1.0: 1024, ResNet50: 2048)")
    p.add_argument("--batch", type=int, default=128, help="capgen train's default")
    p.add_argument("--steps", type=int, default=0, help="time only the first N steps and extrapolate (0 = the whole epoch)")
    p.add_argument("--threads", default="1,2", help="torch thread counts to try; the fastest is reported")
    p.add_argument("--no-validate", action="store_true")
    p.add_argument("--clip-norm", type=float, default=5.0, help="capgen's default global-norm clipping")
    p.add_argument("--seed", type=int, default=1)
    return p


def synthetic_data(args, rng):
    """features [images + devImages, regions, channels] float16; (image row, ids) caption lists."""
    dev_images = max(1, args.dev_captions // 5)
    total = args.images + dev_images
    regions = args.grid * args.grid
    features = torch.empty(total, regions, args.channels, dtype=torch.float16)
    for start in range(0, total, 500):  # in chunks: no float32 copy of the whole set
        end = min(total, start + 500)
        features[start:end] = torch.relu(torch.randn(end - start, regions, args.channels)).half()  # post-ReLU-like
    train = peer.synthetic_captions(args.captions, args.vocab, args.images, rng)
    dev = peer.synthetic_captions(args.dev_captions, args.vocab, dev_images, rng, first_image=args.images) if not args.no_validate else []
    print(f"torch: synthetic data: {len(train)} training captions on {args.images} images, {len(dev)} dev captions, vocabulary {args.vocab}, "
          f"features {regions}x{args.channels} float16 ({features.numel() * 2 / 2**20:.0f} MiB)", flush=True)
    return features, train, dev


def benchmark(args, name, make_model, make_optimizer, loss_fn):
    """
    make_model() -> nn.Module with forward(feats [B, R, C] float32, inputs [B, T], mask [B, T]) -> (logits [N, V], extra);
    make_optimizer(model) -> (optimizer, scheduler or None); loss_fn(logits, targets [N], extra, mask) -> loss.
    """
    info = peer.print_report()
    rng = peer.seeded(args.seed)
    features, train, dev = synthetic_data(args, rng)

    def batch_of(captions, picks):
        inputs, targets, mask = peer.teacher_batch(captions, picks)
        return features[[captions[i][0] for i in picks]].float(), inputs, targets, mask

    def validate(model):
        model.eval()
        loss_sum, correct, tokens = 0.0, 0, 0
        with torch.no_grad():
            for picks in peer.plan_epoch(dev, 256, rng, shuffle=False):
                feats, inputs, targets, mask = batch_of(dev, picks)
                logits, _ = model(feats, inputs, mask)
                t = targets[mask]
                loss_sum += F.cross_entropy(logits, t, reduction="sum").item()
                correct += (logits.argmax(1) == t).sum().item()
                tokens += t.numel()
        model.train()
        return loss_sum / tokens, correct / tokens

    def run(threads):
        torch.manual_seed(args.seed)
        model = make_model()
        params = sum(p.numel() for p in model.parameters())
        opt, sched = make_optimizer(model)
        model.train()
        plan = peer.plan_epoch(train, args.batch, rng)
        steps = min(len(plan), args.steps or len(plan))
        done, first, last = 0, None, None
        timer = peer.Timer()
        for picks in plan[:steps]:
            feats, inputs, targets, mask = batch_of(train, picks)
            logits, extra = model(feats, inputs, mask)
            loss = loss_fn(logits, targets[mask], extra, mask)
            opt.zero_grad()
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), args.clip_norm)
            opt.step()
            if sched:
                sched.step()
            done += len(picks)
            last = loss.item()
            first = last if first is None else first
        seconds = timer.seconds()
        cpu_ms = 1000 * timer.cpu_seconds() / done  # all threads: less sensitive to other load than wall time
        epoch_train = seconds * len(train) / done
        print(f"{name}: torch {torch.__version__}, {threads} thread(s), {params / 1e6:.2f} M parameters: {steps}/{len(plan)} steps in {seconds:.1f} s, "
              f"{done / seconds:.0f} captions/s, {cpu_ms:.2f} CPU-ms per caption, loss {first:.3f} -> {last:.3f}; training epoch {epoch_train:.1f} s{' (extrapolated)' if steps < len(plan) else ''}", flush=True)
        val_seconds, val = 0.0, None
        if dev:
            t = peer.Timer()
            val = validate(model)
            val_seconds = t.seconds()
            print(f"{name}: {threads} thread(s): validation of {len(dev)} dev captions in {val_seconds:.1f} s, loss {val[0]:.3f}, accuracy {val[1]:.3f}", flush=True)
        return {"seconds": epoch_train + val_seconds, "trainSeconds": epoch_train, "validationSeconds": val_seconds, "steps": steps,
                "stepsPerEpoch": len(plan), "extrapolated": steps < len(plan), "cpuMsPerCaption": cpu_ms, "loss": last, "valLoss": val and val[0], "parameters": params}

    best = peer.best_of_threads(peer.parse_threads(args.threads), run, prefix=name)
    print(f"{name}: epoch time {best['seconds']:.1f} s ({best['trainSeconds']:.1f} s training{' extrapolated' if best['extrapolated'] else ''} + "
          f"{best['validationSeconds']:.1f} s validation), {best['threads']} thread(s); load average {peer.load_average()}")
    print("torch-result " + json.dumps({**best, "config": vars(args), "peer": info}))
    return best
