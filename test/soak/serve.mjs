// `npm run soak`: `capgen serve` under 10,000 mixed requests on loopback (good uploads, malformed
// forms, oversize bodies, wrong types, health checks, concurrent bursts), with the server's RSS read
// from /proc every 500 requests and printed as a table. Opt-in (not in `npm test`): it takes minutes.
// Options: `npm run soak -- --requests 2000 --every 250 --concurrency 8`.
// Exit code 1 when a request got an unexpected answer (a 5xx, no answer within 10 s, a wrong status),
// or when RSS still grows over the second half: more than MAX_GROWTH_MB between its lowest sample
// and the last.
import { spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const BIN = path.join(ROOT, 'bin', 'capgen.js');
const { values: args } = parseArgs({
  options: {
    requests: { type: 'string', default: '10000' },
    every: { type: 'string', default: '500' },
    concurrency: { type: 'string', default: '8' }, // the bursts: more than the 2 cores, fewer than the queue's 64
    keep: { type: 'boolean', default: false },
  },
});
const REQUESTS = Number(args.requests);
const SAMPLE_EVERY = Number(args.every);
const CONCURRENCY = Number(args.concurrency);
const MAX_UPLOAD_MB = 1;
// A server that has levelled off moves by a few MB (allocator and JIT); a leak of a few KB a request
// adds tens of MB over the second half of 10,000.
const MAX_GROWTH_MB = 24;
const REQUEST_TIMEOUT_MS = 10_000;
const env = { ...process.env, CAPGEN_BACKEND: process.env.CAPGEN_BACKEND ?? 'wasm' };

function cli(argv) {
  const r = spawnSync(process.execPath, [BIN, ...argv], { env, encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`capgen ${argv.join(' ')} failed (${r.status}):\n${r.stderr}`);
}

function rssMb(pid) {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) / 1024 : NaN;
}

/**
 * One HTTP request as raw bytes; resolves with the status (0 = no answer in time, or the connection
 * dropped). `hangUp` closes the sending side after the bytes, as a client that gives up mid-upload.
 */
function send(port, bytes, hangUp = false) {
  return new Promise((resolve) => {
    const socket = net.connect(port, '127.0.0.1');
    let head = '';
    let done = false;
    const finish = (status) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      socket.destroy();
      resolve(status);
    };
    const timer = setTimeout(() => finish(0), REQUEST_TIMEOUT_MS);
    socket.on('data', (chunk) => {
      head += chunk.toString('latin1');
      const m = /^HTTP\/1\.1 (\d{3})/.exec(head);
      // the status line is enough; the body is read by the server's side of the socket either way
      if (m && head.includes('\r\n\r\n')) finish(Number(m[1]));
    });
    socket.on('error', () => finish(head ? Number(/^HTTP\/1\.1 (\d{3})/.exec(head)?.[1] ?? 0) : 0));
    socket.on('close', () => finish(Number(/^HTTP\/1\.1 (\d{3})/.exec(head)?.[1] ?? 0)));
    socket.write(bytes);
    if (hangUp) socket.end();
  });
}

function post(pathAndQuery, contentType, body) {
  const head = `POST ${pathAndQuery} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n${contentType ? `Content-Type: ${contentType}\r\n` : ''}Content-Length: ${body.length}\r\n\r\n`;
  return Buffer.concat([Buffer.from(head, 'latin1'), body]);
}

const B = 'soakBoundary';
function form(parts, { close = true } = {}) {
  const chunks = parts.map(({ headers, body }) =>
    Buffer.concat([Buffer.from(`--${B}\r\n${headers.join('\r\n')}\r\n\r\n`, 'latin1'), body, Buffer.from('\r\n')]),
  );
  if (close) chunks.push(Buffer.from(`--${B}--\r\n`));
  return Buffer.concat(chunks);
}
const imagePart = (image, name = 'image') => ({
  headers: [`Content-Disposition: form-data; name="${name}"; filename="photo.png"`, 'Content-Type: image/png'],
  body: image,
});

/** The kinds of request, each with the statuses it may get. */
function requestKinds(images) {
  const pick = (i) => images[i % images.length];
  const multipart = `multipart/form-data; boundary=${B}`;
  return [
    { name: 'good multipart', weight: 20, ok: [200], make: (i) => post('/api/caption', multipart, form([imagePart(pick(i))])) },
    {
      name: 'good multipart, beam 3',
      weight: 6,
      ok: [200],
      make: (i) => post('/api/caption?beam=3', multipart, form([imagePart(pick(i))])),
    },
    { name: 'good raw body', weight: 10, ok: [200], make: (i) => post('/api/caption', 'image/png', pick(i)) },
    {
      name: 'health',
      weight: 8,
      ok: [200],
      make: () => Buffer.from('GET /api/health HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n'),
    },
    { name: 'page', weight: 3, ok: [200], make: () => Buffer.from('GET / HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n') },
    {
      name: 'not found',
      weight: 3,
      ok: [404],
      make: (i) => Buffer.from(`GET /nothing/${i} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n`),
    },
    {
      name: 'oversize raw',
      weight: 4,
      ok: [413],
      make: () => post('/api/caption', 'image/png', randomBytes(MAX_UPLOAD_MB * 2 ** 20 + 4096)),
    },
    {
      name: 'oversize multipart',
      weight: 4,
      ok: [413],
      make: () => post('/api/caption', multipart, form([imagePart(randomBytes(MAX_UPLOAD_MB * 2 ** 20 + 4096))])),
    },
    {
      name: 'text, not an image',
      weight: 5,
      ok: [415],
      make: () => post('/api/caption', multipart, form([imagePart(Buffer.from('just text\n'))])),
    },
    { name: 'bad beam', weight: 3, ok: [400], make: (i) => post('/api/caption?beam=99', 'image/png', pick(i)) },
    {
      name: 'no closing boundary',
      weight: 5,
      ok: [400],
      make: (i) => post('/api/caption', multipart, form([imagePart(pick(i))], { close: false })),
    },
    { name: 'no boundary=', weight: 4, ok: [400], make: (i) => post('/api/caption', 'multipart/form-data', form([imagePart(pick(i))])) },
    {
      name: 'part without Content-Disposition',
      weight: 5,
      ok: [400],
      make: (i) =>
        post('/api/caption', multipart, form([{ headers: ['Content-Type: image/png'], body: randomBytes(1000 + (i % 50) * 4000) }])),
    },
    {
      name: 'part with 300 header lines',
      weight: 4,
      ok: [400],
      make: (i) =>
        post(
          '/api/caption',
          multipart,
          form([
            { headers: [...imagePart(pick(i)).headers, ...Array.from({ length: 298 }, (_, k) => `X-Filler-${k}: ${k}`)], body: pick(i) },
          ]),
        ),
    },
    {
      name: 'form without image field',
      weight: 4,
      ok: [400],
      make: (i) => post('/api/caption', multipart, form([imagePart(pick(i), 'photo')])),
    },
    {
      name: 'client gone mid-upload',
      weight: 3,
      ok: [400, 0],
      hangUp: true,
      make: (i) => post('/api/caption', 'image/png', pick(i)).subarray(0, 200),
    },
    { name: 'wrong content type', weight: 3, ok: [415], make: () => post('/api/caption', 'text/plain', Buffer.from('hello')) },
  ];
}

async function main() {
  const work = mkdtempSync(path.join(os.tmpdir(), 'capgen-soak-'));
  const run = path.join(work, 'run');
  process.stderr.write(`soak: preparing and training a small synthetic model in ${run}\n`);
  cli(['prepare', '--dataset', 'synthetic', '--count', '40', '--seed', '1', '--out', run]);
  cli(['train', '--run', run, '--epochs', '1', '--embedding-size', '16', '--hidden-size', '32', '--batch-size', '8']);
  const images = ['scene_00001.png', 'scene_00002.png', 'scene_00003.png', 'scene_00004.png'].map((f) =>
    readFileSync(path.join(run, 'dataset', 'Images', f)),
  );

  const server = spawn(
    process.execPath,
    [BIN, 'serve', '--run', run, '--port', '0', '--host', '127.0.0.1', '--max-upload-mb', String(MAX_UPLOAD_MB)],
    {
      env,
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  let serverLog = '';
  const port = await new Promise((resolve, reject) => {
    server.stderr.on('data', (d) => {
      serverLog += d;
      const m = /open http:\/\/localhost:(\d+)\//.exec(serverLog);
      if (m) resolve(Number(m[1]));
    });
    server.on('exit', (code) => reject(new Error(`serve exited (${code}):\n${serverLog}`)));
  });
  serverLog = '';
  server.stdout.resume();

  const kinds = requestKinds(images);
  const schedule = kinds.flatMap((k) => Array(k.weight).fill(k));
  const counts = new Map(kinds.map((k) => [k.name, { sent: 0, unexpected: 0, statuses: new Map() }]));
  const samples = [{ requests: 0, rssMb: rssMb(server.pid), ms: 0 }];
  const started = performance.now();
  let sent = 0;
  let unexpected = 0;
  process.stdout.write('requests   RSS MB   elapsed s\n');
  process.stdout.write(`${'0'.padStart(8)} ${samples[0].rssMb.toFixed(1).padStart(8)} ${'0'.padStart(11)}\n`);
  // Bounded loop: bursts of CONCURRENCY requests at once, alternating with sequential stretches.
  let nextSample = Math.min(SAMPLE_EVERY, REQUESTS);
  while (sent < REQUESTS) {
    const burst = Math.min(Math.floor(sent / SAMPLE_EVERY) % 2 === 0 ? CONCURRENCY : 1, nextSample - sent);
    const batch = [];
    for (let j = 0; j < burst; j++, sent++) {
      const kind = schedule[(sent * 7919) % schedule.length];
      const i = sent;
      batch.push(
        send(port, kind.make(i), kind.hangUp).then((status) => {
          const c = counts.get(kind.name);
          c.sent++;
          c.statuses.set(status, (c.statuses.get(status) ?? 0) + 1);
          if (!kind.ok.includes(status)) {
            c.unexpected++;
            unexpected++;
          }
        }),
      );
    }
    await Promise.all(batch);
    if (sent === nextSample) {
      nextSample = Math.min(nextSample + SAMPLE_EVERY, REQUESTS);
      const s = { requests: sent, rssMb: rssMb(server.pid), ms: performance.now() - started };
      samples.push(s);
      process.stdout.write(
        `${String(s.requests).padStart(8)} ${s.rssMb.toFixed(1).padStart(8)} ${(s.ms / 1000).toFixed(0).padStart(11)}\n`,
      );
    }
  }
  server.kill('SIGINT');
  await new Promise((resolve) => server.on('exit', resolve));

  process.stdout.write('\nrequest kind                          sent  unexpected  statuses\n');
  for (const [name, c] of counts)
    process.stdout.write(
      `${name.padEnd(36)} ${String(c.sent).padStart(5)} ${String(c.unexpected).padStart(11)}  ${[...c.statuses].map(([s, n]) => `${s || 'none'}:${n}`).join(' ')}\n`,
    );
  const half = samples.filter((s) => s.requests >= REQUESTS / 2);
  const lowest = Math.min(...half.map((s) => s.rssMb));
  const growth = samples.at(-1).rssMb - lowest;
  const stackTraces = (serverLog.match(/^\s+at /gm) ?? []).length;
  process.stdout.write(
    `\nRSS: ${samples[0].rssMb.toFixed(1)} MB at start, ${Math.max(...samples.map((s) => s.rssMb)).toFixed(1)} MB peak, ${samples.at(-1).rssMb.toFixed(1)} MB at the end; ` +
      `over the second half +${growth.toFixed(1)} MB from its lowest sample (limit ${MAX_GROWTH_MB}); ${unexpected} unexpected answers; ${stackTraces} stack-trace lines in the server log\n`,
  );
  if (!args.keep) rmSync(work, { recursive: true, force: true });
  if (unexpected || growth > MAX_GROWTH_MB || stackTraces) process.exitCode = 1;
}

await main();
