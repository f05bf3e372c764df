// Each caption-file reader on fixtures written here, including the bad-input cases.
import { describe, expect, it } from 'vitest';
import { CapgenError } from '../../src/errors.js';
import { parseFlickr8kTokens, parseSplitList } from '../../src/prepare/readers/flickr8k.js';
import { parseFlickr30kCaptions } from '../../src/prepare/readers/flickr30k.js';
import { parseKaggleCaptions } from '../../src/prepare/readers/kaggle.js';
import { parseKarpathyJson } from '../../src/prepare/readers/karpathy.js';
import { checkMalformedShare } from '../../src/prepare/readers/types.js';
import { decodeUtf8, splitLines } from '../../src/prepare/text-file.js';

const pick = (p: { captions: { image: string; raw: string; id: string; line: number }[] }) =>
  p.captions.map(({ image, raw, id, line }) => ({ image, raw, id, line }));

describe('flickr8k token file', () => {
  it('reads IMAGE#N<TAB>caption with line numbers, skipping blank lines', () => {
    const text = 'a.jpg#0\tA dog runs .\na.jpg#1\tA dog , running .\n\nb.jpg#0\tTwo cats\n';
    const p = parseFlickr8kTokens(text, 'tok.txt');
    expect(pick(p)).toEqual([
      { image: 'a.jpg', raw: 'A dog runs .', id: 'a.jpg#0', line: 1 },
      { image: 'a.jpg', raw: 'A dog , running .', id: 'a.jpg#1', line: 2 },
      { image: 'b.jpg', raw: 'Two cats', id: 'b.jpg#0', line: 4 },
    ]);
    expect(p.records).toBe(3);
    expect(p.malformed).toEqual([]);
  });

  it('handles CRLF line ends the same as LF', () => {
    const lf = parseFlickr8kTokens('a.jpg#0\tA dog\nb.jpg#0\tA cat\n', 'f');
    const crlf = parseFlickr8kTokens('a.jpg#0\tA dog\r\nb.jpg#0\tA cat\r\n', 'f');
    expect(pick(crlf)).toEqual(pick(lf));
  });

  it('reports malformed lines as file:line and keeps the rest', () => {
    const p = parseFlickr8kTokens('a.jpg#0\tok\nno id here\nb.jpg#1\n', 'tok.txt');
    expect(p.captions.map((c) => c.id)).toEqual(['a.jpg#0']);
    expect(p.malformed.map((m) => `${m.file}:${m.line}`)).toEqual(['tok.txt:2', 'tok.txt:3']);
  });

  it('reads split lists, ignoring blank lines and CRLF', () => {
    expect(parseSplitList('a.jpg\r\n\r\nb.jpg\r\n')).toEqual(['a.jpg', 'b.jpg']);
  });
});

describe('kaggle captions.txt', () => {
  it('takes the first field as image and the rest of the line as caption, commas included', () => {
    const text =
      'image,caption\na.jpg,A dog , running , fast .\nb.jpg,"A cat, quoted"\nc.jpg,He said "hi" there\nd.jpg,A "big" dog , brown , wet\n';
    expect(pick(parseKaggleCaptions(text, 'c.txt'))).toEqual([
      { image: 'a.jpg', raw: 'A dog , running , fast .', id: 'a.jpg#0', line: 2 },
      { image: 'b.jpg', raw: 'A cat, quoted', id: 'b.jpg#0', line: 3 },
      { image: 'c.jpg', raw: 'He said "hi" there', id: 'c.jpg#0', line: 4 },
      { image: 'd.jpg', raw: 'A "big" dog , brown , wet', id: 'd.jpg#0', line: 5 },
    ]);
  });

  it('numbers captions per image in file order', () => {
    const p = parseKaggleCaptions('image,caption\na.jpg,one\nb.jpg,two\na.jpg,three\n', 'c.txt');
    expect(p.captions.map((c) => c.id)).toEqual(['a.jpg#0', 'b.jpg#0', 'a.jpg#1']);
  });

  it('a stray quote spoils only its own line', () => {
    const p = parseKaggleCaptions('image,caption\na.jpg,"unclosed quote\nb.jpg,fine\nc.jpg\n', 'c.txt');
    expect(p.captions.map((c) => c.image)).toEqual(['b.jpg']);
    expect(p.malformed.map((m) => m.line)).toEqual([2, 4]);
    expect(p.records).toBe(3);
  });

  it('rejects a file without the image,caption header, naming file and line', () => {
    expect(() => parseKaggleCaptions('\nfoo,bar\na.jpg,x\n', 'c.txt')).toThrowError(/image,caption/);
    // file:line is what oneLine() prints first: c.txt:2:
    expect(() => parseKaggleCaptions('\nfoo,bar\n', 'c.txt')).toThrow(
      expect.objectContaining({ code: 'BAD_INPUT', file: 'c.txt', line: 2 }),
    );
  });
});

describe('flickr30k results.csv', () => {
  it('reads padded pipe-separated lines, keeping quotes and pipes inside captions', () => {
    const text =
      'image_name| comment_number| comment\n1000092795.jpg| 0| Two young guys with "shaggy" hair .\n1000092795.jpg| 1| A | B\n\n';
    expect(pick(parseFlickr30kCaptions(text, 'r.csv'))).toEqual([
      { image: '1000092795.jpg', raw: 'Two young guys with "shaggy" hair .', id: '1000092795.jpg#0', line: 2 },
      { image: '1000092795.jpg', raw: 'A | B', id: '1000092795.jpg#1', line: 3 },
    ]);
  });

  it('counts the known missing-delimiter line as malformed', () => {
    const p = parseFlickr30kCaptions('image_name| comment_number| comment\n2199200615.jpg| 4 A dog runs .\nx.jpg| 0| ok\n', 'r.csv');
    expect(p.captions).toHaveLength(1);
    expect(p.malformed).toEqual([{ file: 'r.csv', line: 2, message: expect.any(String) }]);
  });

  it('rejects a wrong header', () => {
    expect(() => parseFlickr30kCaptions('image,caption\n', 'r.csv')).toThrowError(CapgenError);
  });
});

describe('karpathy json', () => {
  const doc = {
    images: [
      {
        filename: 'a.jpg',
        split: 'train',
        sentences: [
          { raw: 'A dog .', sentid: 7 },
          { tokens: ['a', 'cat'], sentid: 8 },
        ],
      },
      { filename: 'b.jpg', filepath: 'val2014', split: 'restval', sentences: [{ raw: 'x' }] },
      { filename: 'c.jpg', split: 'val', sentences: [{ raw: 'y' }] },
      { filename: 'd.jpg', split: 'test', sentences: [{ raw: 'z' }] },
      { filename: 'e.jpg', split: 'weird', sentences: [] },
    ],
  };

  it('maps restval to train and val to dev, and joins tokens when raw is absent', () => {
    const p = parseKarpathyJson(JSON.stringify(doc), 'd.json');
    expect(p.captions.map((c) => [c.image, c.raw, c.id, c.split])).toEqual([
      ['a.jpg', 'A dog .', 'a.jpg#7', 'train'],
      ['a.jpg', 'a cat', 'a.jpg#8', 'train'],
      ['val2014/b.jpg', 'x', 'val2014/b.jpg#0', 'train'],
      ['c.jpg', 'y', 'c.jpg#0', 'dev'],
      ['d.jpg', 'z', 'd.jpg#0', 'test'],
    ]);
    expect(p.malformed.map((m) => m.line)).toEqual([5]);
  });

  it('rejects invalid JSON and JSON without images, naming the file', () => {
    expect(() => parseKarpathyJson('{oops', 'd.json')).toThrowError(/not valid JSON/);
    expect(() => parseKarpathyJson('{"annotations": []}', 'd.json')).toThrowError(/no 'images' array/);
  });
});

describe('text decoding and the 1% rule', () => {
  it('drops a UTF-8 BOM', () => {
    const bytes = new Uint8Array([0xef, 0xbb, 0xbf, ...new TextEncoder().encode('a.jpg#0\tcafé')]);
    const text = decodeUtf8(bytes, 'tok.txt');
    expect(parseFlickr8kTokens(text, 'tok.txt').captions[0]).toMatchObject({ image: 'a.jpg', raw: 'café' });
  });

  it('a file that is not UTF-8 is an error naming the file', () => {
    const latin1 = new Uint8Array([0x61, 0x2e, 0x6a, 0x70, 0x67, 0x23, 0x30, 0x09, 0x63, 0x61, 0x66, 0xe9, 0x0a]); // "a.jpg#0\tcaf\xe9\n"
    expect(() => decodeUtf8(latin1, 'tok.txt')).toThrowError(CapgenError);
    expect(() => decodeUtf8(latin1, 'tok.txt')).toThrow(
      expect.objectContaining({ code: 'BAD_INPUT', file: 'tok.txt', line: undefined, message: expect.stringMatching(/^not valid UTF-8/) }),
    );
  });

  it('splits lines on LF, CRLF and lone CR', () => {
    expect(splitLines('a\r\nb\rc\nd')).toEqual(['a', 'b', 'c', 'd']);
  });

  it('up to 1% malformed records pass; more is BAD_INPUT naming the first bad line', () => {
    const good = (n: number) => Array.from({ length: n }, (_, i) => `i${i}.jpg#0\tcaption ${i}`);
    const onePercent = parseFlickr8kTokens([...good(198), 'bad', 'bad'].join('\n'), 'tok.txt'); // 2 of 200
    expect(() => checkMalformedShare(onePercent, 'flickr8k')).not.toThrow();
    const over = parseFlickr8kTokens([...good(197), 'bad1', 'bad2', 'bad3'].join('\n'), 'tok.txt'); // 3 of 200
    expect(() => checkMalformedShare(over, 'flickr8k')).toThrowError(/3 of 200 records \(1\.5%\).*line 198/);
  });
});
