// Progress without a TTY (CI logs, pipes): a plain line every 30 s with the bar's own numbers.
import { afterEach, describe, expect, it, vi } from 'vitest';
import { Writable } from 'node:stream';
import { progressBar, renderProgressLine, setLogLevel, terminalProgress } from '../../src/log.js';

describe('progress lines without a TTY', () => {
  afterEach(() => {
    vi.useRealTimers();
    vi.restoreAllMocks();
  });

  it('render the format without the bar, tokens filled, unknown tokens kept', () => {
    const tokens = { value: 10, total: 100, eta_formatted: '18.0 s', rate: '5.0' };
    expect(renderProgressLine('features [{bar}] {value}/{total} images | {rate} img/s | ETA {eta_formatted}', tokens)).toBe(
      'features 10/100 images | 5.0 img/s | ETA 18.0 s',
    );
    expect(renderProgressLine('decoding |{bar}| {value}/{total} images | {eta_formatted} left', tokens)).toBe(
      'decoding 10/100 images | 18.0 s left',
    );
    expect(renderProgressLine('epoch 2/20 [{bar}] {value}/{total} | loss {loss}', tokens)).toBe('epoch 2/20 10/100 | loss {loss}');
  });

  // On a terminal the bar draws itself; this checks the log mode (vitest workers have no TTY).
  it.skipIf(process.stderr.isTTY)('print one line per 30 s with a rate-based ETA, and nothing at the end', () => {
    setLogLevel({ quiet: false });
    vi.useFakeTimers({ toFake: ['performance'] });
    const lines: string[] = [];
    vi.spyOn(process.stderr, 'write').mockImplementation((chunk: string | Uint8Array) => {
      lines.push(String(chunk));
      return true;
    });
    const bar = progressBar(100, 'work [{bar}] {value}/{total} | {speed} items/s | ETA {eta_formatted}');
    bar.update(0, { speed: '-' });
    vi.advanceTimersByTime(10_000);
    bar.update(10, { speed: '1.0' }); // 10 s in: too soon for a line
    expect(lines).toEqual([]);
    vi.advanceTimersByTime(20_001);
    bar.update(30, { speed: '1.0' }); // 30 s, 30 done: 1 item/s, 70 left
    expect(lines).toEqual(['work 30/100 | 1.0 items/s | ETA 1 min 10 s\n']);
    vi.advanceTimersByTime(40_000);
    bar.update(100, { speed: '1.4' }); // finished: the caller prints its own summary
    bar.stop();
    expect(lines).toHaveLength(1);
  });
});

describe('the progress bar on a terminal', () => {
  it("draws its first frame without raw {tokens} or cli-progress' 'NFs' for an unknown ETA", () => {
    let drawn = '';
    const tty = Object.assign(
      new Writable({
        write(chunk, _encoding, done) {
          drawn += String(chunk);
          done();
        },
      }),
      { isTTY: true, columns: 200 },
    );
    const bar = terminalProgress(50, 'epoch 1/3 [{bar}] {value}/{total} | loss {loss} | ETA {eta_formatted}', tty);
    bar.stop();
    // eslint-disable-next-line no-control-regex -- the escape codes of cursor moves and clears
    const frame = drawn.replace(/\x1b\[[0-9;?]*[A-Za-z]/g, '');
    expect(frame).toContain('0/50 | loss - | ETA -');
    expect(frame).not.toMatch(/\{loss\}|NFs/);
  });
});
