// SerialQueue: one job at a time, in arrival order; a failed job does not stop the ones behind it.
import { describe, expect, it } from 'vitest';
import { HttpError } from '../../src/serve/http-error.js';
import { SerialQueue } from '../../src/serve/queue.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('SerialQueue', () => {
  it('runs jobs one at a time in arrival order, whatever their durations', async () => {
    const queue = new SerialQueue(100);
    const events: string[] = [];
    let running = 0;
    const job = (name: string, ms: number) => async () => {
      running++;
      expect(running).toBe(1);
      events.push(`start ${name}`);
      await sleep(ms);
      events.push(`end ${name}`);
      running--;
      return name;
    };
    const results = await Promise.all([queue.run(job('a', 30)), queue.run(job('b', 1)), queue.run(job('c', 10))]);
    expect(results).toEqual(['a', 'b', 'c']);
    expect(events).toEqual(['start a', 'end a', 'start b', 'end b', 'start c', 'end c']);
    expect(queue.pending).toBe(0);
  });

  it('keeps going after a failed job and reports the failure only to its caller', async () => {
    const queue = new SerialQueue(100);
    const failing = queue.run(async () => {
      throw new Error('boom');
    });
    const next = queue.run(async () => 42);
    await expect(failing).rejects.toThrow('boom');
    await expect(next).resolves.toBe(42);
  });

  it('refuses jobs beyond its backlog with a 503, and accepts again once it drains', async () => {
    const queue = new SerialQueue(2);
    const first = queue.run(() => sleep(20));
    const second = queue.run(() => sleep(1));
    const refused = queue.run(async () => 'never');
    await expect(refused).rejects.toBeInstanceOf(HttpError);
    await expect(refused).rejects.toMatchObject({ statusCode: 503, code: 'BUSY' });
    await Promise.all([first, second]);
    await expect(queue.run(async () => 'ok')).resolves.toBe('ok');
  });
});
