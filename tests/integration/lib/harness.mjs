// Helpers for the integration tests: start the test upstream and the real `dualguard serve`, make
// keys, talk HTTP with a timeout, run the audit commands. Every wait has a deadline, so no test can
// hang: a helper that times out throws an error that says what it waited for and shows the process's
// recent output.
import { spawn, execFile, execFileSync } from 'node:child_process';
import { once } from 'node:events';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import http from 'node:http';
import { fileURLToPath } from 'node:url';

export const HERE = path.dirname(fileURLToPath(import.meta.url));
export const INTEGRATION_DIR = path.resolve(HERE, '..');
export const REPO_ROOT = path.resolve(INTEGRATION_DIR, '..', '..');
export const UPSTREAM_SCRIPT = path.join(INTEGRATION_DIR, 'upstream', 'server.mjs');
export const DEFAULT_CONFIG = path.join(REPO_ROOT, 'config', 'dualguard.yaml');

export const TIMEOUTS = {
  upstreamStart: 10_000,
  // The first start may compile the signature databases (seconds); later starts load them from cache.
  gatewayStart: Number(process.env.DUALGUARD_START_TIMEOUT_MS ?? 60_000),
  gatewayStop: 10_000,
  request: 10_000,
  command: 30_000,
};

export const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

// Processes started here that are still running; killed if the test process exits without teardown
// (a crashed test file must not leave a gateway or an upstream behind).
const liveChildren = new Set();
process.once('exit', () => {
  for (const child of liveChildren) child.kill('SIGKILL');
});
for (const signal of ['SIGTERM', 'SIGINT']) {
  process.once(signal, () => process.exit(128 + (signal === 'SIGTERM' ? 15 : 2)));
}

/** Keeps the last `limit` characters of a stream, for failure messages. */
class Tail {
  constructor(limit = 64 * 1024) {
    this.limit = limit;
    this.text = '';
  }
  push(chunk) {
    this.text += chunk;
    if (this.text.length > this.limit) this.text = this.text.slice(-this.limit);
  }
  toString() {
    return this.text;
  }
}

/**
 * Polls `check` until it returns a truthy value (returned) or `timeoutMs` passes (throws, naming
 * `what`). `check` may be async; its exceptions are retried until the deadline, then rethrown.
 */
export async function waitFor(check, { timeoutMs = 5000, intervalMs = 50, what = 'a condition' } = {}) {
  const deadline = Date.now() + timeoutMs;
  let lastError;
  for (;;) {
    try {
      const value = await check();
      if (value) return value;
    } catch (err) {
      lastError = err;
    }
    if (Date.now() >= deadline) {
      const why = lastError ? ` (last error: ${lastError.message ?? lastError})` : '';
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${why}`);
    }
    await sleep(intervalMs);
  }
}

/** Runs a command with a deadline; resolves {code, signal, stdout, stderr} (never rejects on exit code). */
export function run(file, args, { timeoutMs = TIMEOUTS.command, env, input } = {}) {
  return new Promise((resolve, reject) => {
    const child = execFile(file, args, {
      timeout: timeoutMs, killSignal: 'SIGKILL', maxBuffer: 64 * 1024 * 1024,
      env: { ...process.env, ...env },
    }, (err, stdout, stderr) => {
      if (err && err.killed) {
        reject(new Error(`${path.basename(file)} ${args.join(' ')}: killed after ${timeoutMs} ms\n${stderr}`));
        return;
      }
      if (err && typeof err.code !== 'number') {
        reject(err);
        return;
      }
      resolve({ code: err ? err.code : 0, signal: err?.signal ?? null, stdout, stderr });
    });
    if (input !== undefined) child.stdin.end(input);
  });
}

/**
 * Spawns a long-running process and waits (bounded) for a line on stdout matching `readyRegex`.
 * Returns {child, match, output()} where output() is the recent stdout+stderr for failure messages.
 */
async function spawnUntilReady(file, args, { readyRegex, timeoutMs, name, env }) {
  const child = spawn(file, args, {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, ...env },
  });
  liveChildren.add(child);
  child.once('exit', () => liveChildren.delete(child));
  // A process a failed test forgot to stop must not keep the test file alive (the runner would wait
  // for it until the global timeout): unref it; the 'exit' handler above kills it.
  child.unref();
  child.stdout.unref?.();
  child.stderr.unref?.();
  const stdout = new Tail();
  const stderr = new Tail();
  child.stdout.setEncoding('utf8');
  child.stderr.setEncoding('utf8');
  child.stderr.on('data', (d) => stderr.push(d));
  const output = () => `--- ${name} stdout ---\n${stdout}\n--- ${name} stderr ---\n${stderr}`;

  const match = await new Promise((resolve, reject) => {
    let buffered = '';
    let done = false;
    const finish = (fn, value) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      fn(value);
    };
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      finish(reject, new Error(`${name} did not print its ready line within ${timeoutMs} ms\n${output()}`));
    }, timeoutMs);
    child.stdout.on('data', (d) => {
      stdout.push(d);
      if (done) return;
      buffered += d;
      const m = readyRegex.exec(buffered);
      if (m) finish(resolve, m);
    });
    child.once('error', (err) => finish(reject, new Error(`${name} could not start: ${err.message}`)));
    child.once('exit', (code, signal) => finish(reject,
      new Error(`${name} exited before it was ready (code ${code}, signal ${signal})\n${output()}`)));
  });
  return { child, match, output, stdout, stderr };
}

/** Sends `signal`, then SIGKILL after `graceMs`; resolves {code, signal} once the process is gone. */
export async function stopProcess(child, { signal = 'SIGTERM', graceMs = TIMEOUTS.gatewayStop } = {}) {
  if (child.exitCode !== null || child.signalCode !== null) {
    return { code: child.exitCode, signal: child.signalCode };
  }
  const exited = once(child, 'exit');
  child.kill(signal);
  // Timers are cleared once the race is decided: a pending one would keep the test process alive.
  let handle;
  const timer = new Promise((resolve) => { handle = setTimeout(() => resolve('timeout'), graceMs); });
  const outcome = await Promise.race([exited, timer]);
  clearTimeout(handle);
  if (outcome === 'timeout') {
    child.kill('SIGKILL');
    let killHandle;
    await Promise.race([exited, new Promise((resolve) => { killHandle = setTimeout(resolve, 5000); })]);
    clearTimeout(killHandle);
    return { code: child.exitCode, signal: child.signalCode, forced: true };
  }
  return { code: child.exitCode, signal: child.signalCode, forced: false };
}

// ---- the test upstream -------------------------------------------------------------------------------

/**
 * Starts upstream/server.mjs (on port 0 unless `port` is given, e.g. to bring a stopped upstream back
 * on the same address). Returns a handle with stats, count, last, reset, script and stop.
 */
export async function startUpstream({ verbose = false, port = 0 } = {}) {
  const args = [UPSTREAM_SCRIPT, '--port', String(port)];
  if (verbose || process.env.UPSTREAM_VERBOSE) args.push('--verbose');
  const proc = await spawnUntilReady(process.execPath, args, {
    readyRegex: /^upstream: listening on (http:\/\/127\.0\.0\.1:(\d+))$/m,
    timeoutMs: TIMEOUTS.upstreamStart,
    name: 'upstream',
  });
  const url = proc.match[1];
  const control = async (method, p, body) => {
    const res = await fetch(url + p, {
      method,
      body: body === undefined ? undefined : JSON.stringify(body),
      headers: body === undefined ? {} : { 'content-type': 'application/json' },
      signal: AbortSignal.timeout(TIMEOUTS.request),
    });
    if (!res.ok) throw new Error(`upstream ${method} ${p}: HTTP ${res.status} ${await res.text()}`);
    return res.json();
  };
  return {
    url,
    port: Number(proc.match[2]),
    child: proc.child,
    output: proc.output,
    /** {total, active, paths: {path: n}, routes: {"METHOD path": n}, recent: [{method, path, headers, body}]} */
    stats: () => control('GET', '/__stats'),
    /** Requests the upstream received on `p` (e.g. "/v1/chat/completions") since the last reset. */
    count: async (p) => (await control('GET', '/__stats')).paths[p] ?? 0,
    /** The last request the upstream received (with headers and parsed body), or undefined. */
    last: async () => (await control('GET', '/__stats')).recent.at(-1),
    reset: () => control('POST', '/__reset', {}),
    /** Registers `directives` under `name`, used as [[script:name]] in a prompt. */
    script: (name, directives) => control('POST', '/__script', { name, directives }),
    stop: () => stopProcess(proc.child, { graceMs: 3000 }),
  };
}

// ---- the gateway ----------------------------------------------------------------------------------

const BIN = process.env.DUALGUARD_BIN ? path.resolve(process.env.DUALGUARD_BIN) : '';

let skipReasonCache;
/**
 * Why the gateway tests cannot run (a string), or false when they can: DUALGUARD_BIN must name an
 * executable whose top-level help lists a `serve` subcommand.
 */
export function gatewaySkipReason() {
  if (skipReasonCache !== undefined) return skipReasonCache;
  skipReasonCache = (() => {
    if (!BIN) return 'DUALGUARD_BIN is not set (point it at the dualguard binary, e.g. build/dualguard)';
    try {
      fs.accessSync(BIN, fs.constants.X_OK);
    } catch {
      return `DUALGUARD_BIN=${BIN} is not an executable file`;
    }
    let help = '';
    try {
      help = execFileSync(BIN, ['--help'], { encoding: 'utf8', timeout: 10_000, stdio: ['ignore', 'pipe', 'pipe'] });
    } catch (err) {
      help = `${err.stdout ?? ''}`;
    }
    if (!/^\s+serve\b/m.test(help)) return `${BIN} has no \`serve\` subcommand yet (not listed in --help)`;
    return false;
  })();
  return skipReasonCache;
}

export function dualguardBin() {
  return BIN;
}

export function makeTempDir(prefix = 'dualguard-it-') {
  return fs.mkdtempSync(path.join(os.tmpdir(), prefix));
}

export function removeDir(dir) {
  if (!dir || process.env.DUALGUARD_KEEP_TMP) return;
  fs.rmSync(dir, { recursive: true, force: true });
}

/**
 * Starts `dualguard serve` on 127.0.0.1:0.
 *   upstream: URL string, or null for no --upstream
 *   set:      {key: value} passed as --set key=value
 *   dataDir:  defaults to a new temporary folder (removed by stop() unless keepDataDir)
 * Returns {url, child, dataDir, output(), stop(), kill()}.
 */
export async function startGateway({ upstream = null, set = {}, dataDir, config = DEFAULT_CONFIG, extraArgs = [], env } = {}) {
  const reason = gatewaySkipReason();
  if (reason) throw new Error(`cannot start the gateway: ${reason}`);
  const ownDataDir = !dataDir;
  const dir = dataDir ?? makeTempDir();
  // --config and --set are the program's global options (CLI11, as for `dualguard scan`): they go
  // before the subcommand, which works whether or not `serve` also accepts them after it.
  const args = ['--config', config];
  for (const [k, v] of Object.entries(set)) args.push('--set', `${k}=${v}`);
  args.push('serve', '--listen', '127.0.0.1:0', '--data-dir', dir);
  if (upstream) args.push('--upstream', upstream);
  args.push(...extraArgs);
  const proc = await spawnUntilReady(BIN, args, {
    readyRegex: /^dualguard: listening on (http:\/\/(\S+):(\d+))\s*$/m,
    timeoutMs: TIMEOUTS.gatewayStart,
    name: 'dualguard serve',
    env,
  });
  const url = proc.match[1];
  let stopped = false;
  const gw = {
    url,
    child: proc.child,
    dataDir: dir,
    args,
    output: proc.output,
    /** SIGTERM, then SIGKILL after the deadline. Removes a temporary data dir unless keepDataDir. */
    async stop({ keepDataDir = false } = {}) {
      if (stopped) return { code: proc.child.exitCode, signal: proc.child.signalCode };
      stopped = true;
      const result = await stopProcess(proc.child, { graceMs: TIMEOUTS.gatewayStop });
      if (ownDataDir && !keepDataDir) removeDir(dir);
      return result;
    },
    /** SIGKILL now (no cleanup by the gateway); the data dir is kept. */
    async kill() {
      stopped = true;
      return stopProcess(proc.child, { signal: 'SIGKILL', graceMs: 5000 });
    },
  };
  return gw;
}

/** Fails with the gateway's recent output appended, so a failing assertion shows what the server said. */
export function withOutput(gw, message) {
  return `${message}\n${gw.output()}`;
}

// ---- keys and audit (the CLI) -----------------------------------------------------------------------

/**
 * `dualguard keys create --role ROLE --name NAME --data-dir DIR [extra]`; returns {key, id, stdout}.
 * The key is the last stdout line; its id is the 12 hex digits inside it (dg_<id>_<secret>).
 */
export async function createKey(dataDir, { role = 'client', name, extra = [] } = {}) {
  const keyName = name ?? `${role}-${Math.random().toString(16).slice(2, 10)}`;
  const r = await run(BIN, ['keys', 'create', '--role', role, '--name', keyName, '--data-dir', dataDir, ...extra]);
  if (r.code !== 0) throw new Error(`keys create exited ${r.code}\n${r.stdout}\n${r.stderr}`);
  const lines = r.stdout.trim().split('\n');
  const key = lines.at(-1).trim();
  const m = /^dg_([0-9a-f]{12})_[A-Za-z0-9_-]{43}$/.exec(key);
  if (!m) throw new Error(`keys create: last stdout line is not a key of the form dg_<12 hex>_<43 base64url>: ${JSON.stringify(key)}`);
  return { key, id: m[1], stdout: r.stdout };
}

/**
 * Waits until a running gateway knows `key` (the gateway reloads keys.db on its own, within about a
 * second). The probe is GET /admin/killswitch: 401 while the key is unknown, 403 (client) or 200
 * (operator, admin) once known; an admin route is not proxied and does not use the key's limits.
 */
export async function waitForKey(gw, key, { timeoutMs = 5000 } = {}) {
  await waitFor(async () => (await request(gw.url, 'GET', '/admin/killswitch', { key })).status !== 401,
    { timeoutMs, intervalMs: 50, what: `the gateway to accept the new key ${key.slice(0, 15)}...` });
}

/** createKey() for a running gateway: creates the key in its data dir and waits until it is accepted. */
export async function createKeyFor(gw, options) {
  const created = await createKey(gw.dataDir, options);
  await waitForKey(gw, created.key);
  return created;
}

export async function revokeKey(dataDir, id) {
  const r = await run(BIN, ['keys', 'revoke', id, '--data-dir', dataDir]);
  if (r.code !== 0) throw new Error(`keys revoke exited ${r.code}\n${r.stdout}\n${r.stderr}`);
  return r;
}

/** `dualguard audit verify --data-dir DIR`: {code, stdout, stderr}. */
export function auditVerify(dataDir) {
  return run(BIN, ['audit', 'verify', '--data-dir', dataDir]);
}

/** `dualguard audit export --data-dir DIR`: the JSONL lines as {lines: [raw], records: [parsed]}. */
export async function auditExport(dataDir) {
  const r = await run(BIN, ['audit', 'export', '--data-dir', dataDir]);
  if (r.code !== 0) throw new Error(`audit export exited ${r.code}\n${r.stdout}\n${r.stderr}`);
  const lines = r.stdout.split('\n').filter((l) => l.trim().length > 0);
  const records = lines.map((l, i) => {
    try {
      return JSON.parse(l);
    } catch {
      throw new Error(`audit export line ${i + 1} is not JSON: ${l.slice(0, 200)}`);
    }
  });
  return { lines, records };
}

// ---- HTTP -----------------------------------------------------------------------------------------

/**
 * One HTTP request with a deadline, on a fresh connection (node:http, no keep-alive pool, so a
 * connection the server closed earlier can never fail a later request). `body` objects are sent as
 * JSON, strings/Buffers as they are. Returns {status, headers (Headers), text, json (or undefined)}.
 * Rejects on a connection error or when `timeoutMs` passes (err.name "AbortError").
 */
export function request(base, method, p, { key, body, headers = {}, timeoutMs = TIMEOUTS.request } = {}) {
  const h = { ...headers };
  if (key) h.authorization = `Bearer ${key}`;
  let payload;
  if (body !== undefined) {
    if (typeof body === 'string' || Buffer.isBuffer(body)) payload = Buffer.from(body);
    else {
      payload = Buffer.from(JSON.stringify(body));
      if (!Object.keys(h).some((k) => k.toLowerCase() === 'content-type')) h['content-type'] = 'application/json';
    }
    h['content-length'] = String(payload.length);
  }
  return new Promise((resolve, reject) => {
    const req = http.request(new URL(p, base), {
      method, headers: h, agent: false, signal: AbortSignal.timeout(timeoutMs),
    }, (res) => {
      const chunks = [];
      res.on('data', (d) => chunks.push(d));
      res.on('error', reject);
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        let json;
        try {
          json = JSON.parse(text);
        } catch {
          json = undefined;
        }
        const responseHeaders = new Headers();
        for (const [name, value] of Object.entries(res.headers)) {
          for (const v of [value].flat()) responseHeaders.append(name, v);
        }
        resolve({ status: res.statusCode, headers: responseHeaders, text, json });
      });
    });
    req.on('error', reject);
    req.end(payload);
  });
}

/**
 * Streams a chat completion with fetch and parses the SSE events (bounded by timeoutMs).
 * Returns {status, headers, events: [parsed JSON or "[DONE]"], content (joined delta text), done,
 * errorEvent (the first {"error"} event or undefined), raw, transportError (a stream that was cut)}.
 */
export async function streamRequest(base, p, { key, body, timeoutMs = TIMEOUTS.request } = {}) {
  const headers = { 'content-type': 'application/json', accept: 'text/event-stream' };
  if (key) headers.authorization = `Bearer ${key}`;
  const res = await fetch(base + p, {
    method: 'POST', headers, body: JSON.stringify(body), signal: AbortSignal.timeout(timeoutMs),
  });
  const out = { status: res.status, headers: res.headers, events: [], content: '', done: false, errorEvent: undefined, raw: '' };
  if (!(res.headers.get('content-type') ?? '').startsWith('text/event-stream')) {
    out.raw = await res.text();
    try {
      out.json = JSON.parse(out.raw);
    } catch {
      out.json = undefined;
    }
    return out;
  }
  const decoder = new TextDecoder();
  try {
    for await (const chunk of res.body) out.raw += decoder.decode(chunk, { stream: true });
  } catch (err) {
    out.transportError = err;
  }
  for (const block of out.raw.split(/\r?\n\r?\n/)) {
    const data = block.split(/\r?\n/).filter((l) => l.startsWith('data:')).map((l) => l.slice(5).trimStart()).join('\n');
    if (!data) continue;
    if (data === '[DONE]') {
      out.done = true;
      out.events.push('[DONE]');
      continue;
    }
    let event;
    try {
      event = JSON.parse(data);
    } catch {
      continue; // a partial event at a cut
    }
    out.events.push(event);
    if (event.error && !out.errorEvent) out.errorEvent = event;
    for (const choice of event.choices ?? []) out.content += choice.delta?.content ?? choice.text ?? '';
  }
  return out;
}

/**
 * Sends a body with Transfer-Encoding: chunked (no Content-Length), `pieces` written one by one.
 * Resolves {status, text, json} or {error} when the server cut the connection.
 */
export function chunkedRequest(base, p, { key, pieces, timeoutMs = TIMEOUTS.request }) {
  return new Promise((resolve) => {
    const url = new URL(p, base);
    const req = http.request(url, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        'transfer-encoding': 'chunked',
        ...(key ? { authorization: `Bearer ${key}` } : {}),
      },
      signal: AbortSignal.timeout(timeoutMs),
    }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (d) => { text += d; });
      res.on('end', () => {
        let json;
        try {
          json = JSON.parse(text);
        } catch {
          json = undefined;
        }
        resolve({ status: res.statusCode, text, json });
      });
      res.on('error', (error) => resolve({ error }));
    });
    req.on('error', (error) => resolve({ error }));
    (async () => {
      for (const piece of pieces) {
        if (req.destroyed) return;
        if (!req.write(piece)) await Promise.race([once(req, 'drain'), sleep(1000)]);
      }
      req.end();
    })();
  });
}
