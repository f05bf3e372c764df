#!/usr/bin/env python3
"""coco-caption's corpus BLEU (pycocoevalcap bleu/bleu_scorer.py, option 'closest'), restated here from
its published algorithm so the pinned values in test/fixtures/metrics/coco-bleu.json can be regenerated
without the (unpublished on PyPI) package:

  /usr/bin/python3 test/reference/coco_bleu.py test/fixtures/metrics/caption-sets.json test/fixtures/metrics/coco-bleu.json

The algorithm: words = caption.split(); for each image, n-gram counts of orders 1..4; 'correct' adds
min(count, max count in any one reference); 'guess' adds max(0, len - n + 1); the effective reference
length is the closest reference length (ties: the shorter); over the corpus,
BLEU-n = prod_{k<=n} ((correct_k + 1e-15) / (guess_k + 1e-9)) ** (1/n), times exp(1 - 1/ratio) when
ratio = (hyp_len + 1e-15) / (ref_len + 1e-9) < 1.
"""
import json
import math
import sys
from collections import Counter

TINY, SMALL = 1e-15, 1e-9


def ngrams(words, n):
    return Counter(tuple(words[i:i + n]) for i in range(len(words) - n + 1))


def coco_bleu(refs_per_image, hyps, n=4):
    correct, guess = [0] * n, [0] * n
    hyp_len = ref_len = 0
    for refs, hyp in zip(refs_per_image, hyps):
        h = hyp.split()
        rs = [r.split() for r in refs]
        for k in range(1, n + 1):
            best = Counter()
            for r in rs:
                for g, c in ngrams(r, k).items():
                    best[g] = max(best[g], c)
            correct[k - 1] += sum(min(c, best[g]) for g, c in ngrams(h, k).items())
            guess[k - 1] += max(0, len(h) - k + 1)
        hyp_len += len(h)
        ref_len += min((abs(len(r) - len(h)), len(r)) for r in rs)[1]
    ratio = (hyp_len + TINY) / (ref_len + SMALL)
    scores = []
    for nn in range(1, n + 1):
        p = 1.0
        for k in range(nn):
            p *= (correct[k] + TINY) / (guess[k] + SMALL)
        s = p ** (1.0 / nn)
        if ratio < 1:
            s *= math.exp(1 - 1 / ratio)
        scores.append(s)
    return {"bleu": scores, "correct": correct, "guess": guess, "hypothesisLength": hyp_len, "referenceLength": ref_len}


def main():
    sets = json.load(open(sys.argv[1]))["sets"]
    refs = [s["references"] for s in sets]
    hyps = [s["hypothesis"] for s in sets]
    cases = {
        "caption-sets": coco_bleu(refs, hyps),
        # Short captions: coco adds 0 n-grams for orders longer than the caption, NLTK at least 1.
        "short": coco_bleu([["a dog runs on the grass", "a brown dog"], ["two men talk"]], ["a dog", "men"]),
        # No 4-gram matches at all: tiny but not 0 under coco's epsilons.
        "no-4gram": coco_bleu([["a dog runs on the grass"]], ["a dog runs fast on grass"]),
        # Longer than every reference: no brevity penalty; a tie between two closest lengths takes the shorter.
        "long-and-tie": coco_bleu([["a cat", "a cat sits on a mat"], ["one two three four"]], ["a cat sits on", "one two three four five six"]),
    }
    inputs = {
        "short": ([["a dog runs on the grass", "a brown dog"], ["two men talk"]], ["a dog", "men"]),
        "no-4gram": ([["a dog runs on the grass"]], ["a dog runs fast on grass"]),
        "long-and-tie": ([["a cat", "a cat sits on a mat"], ["one two three four"]], ["a cat sits on", "one two three four five six"]),
    }
    out = {
        "source": "test/reference/coco_bleu.py: pycocoevalcap bleu_scorer.py's algorithm (option 'closest'), on space-joined tokens",
        "cases": {k: {**v, **({"references": inputs[k][0], "hypotheses": inputs[k][1]} if k in inputs else {"input": "caption-sets.json"})} for k, v in cases.items()},
    }
    json.dump(out, open(sys.argv[2], "w"), indent=1)


if __name__ == "__main__":
    main()
