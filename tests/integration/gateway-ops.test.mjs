// `dualguard serve` operations, from docs/gateway.md: the daily token budget per key, config hot
// reload (SIGHUP and POST /admin/reload, a refused invalid config), streamed legacy completions (and
// their cut-off on a block), the upstream's own key (gateway.upstream_api_key_env), the circuit
// breaker's half-open probe, and the detector failure policy (gateway.fail_mode / route_fail_mode).
// Skipped (with the reason) when DUALGUARD_BIN is unset or has no `serve` subcommand.
import { it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import {
  startUpstream, startGateway, createKeyFor, request, streamRequest, auditExport, run, waitFor, sleep,
  makeTempDir, removeDir, dualguardBin, DEFAULT_CONFIG,
} from './lib/harness.mjs';
import {
  MODEL, BENIGN, INJECTION, LONG_BENIGN, EXFIL_HOST, EXFIL_MARKDOWN, userChat, openaiClient,
  assertOpenAIError, assertErrorBody, assertAPIError, assertVerdict, collectOpenAIStream, gatewaySuite, startWorld,
} from './lib/fixtures.mjs';

const CHAT = '/v1/chat/completions';
const LEGACY = '/v1/completions';

// ---- helpers ----------------------------------------------------------------------------------------

/** GET /metrics (with `key` when given); asserts 200 and returns the text. */
async function metricsText(gw, key) {
  const res = await request(gw.url, 'GET', '/metrics', { key });
  assert.equal(res.status, 200, `GET /metrics: ${res.status} ${res.text.slice(0, 300)}`);
  return res.text;
}

/** Parses `a="x",b="y"` (Prometheus label values, with \" \\ \n escapes). */
function parseLabels(body) {
  const labels = {};
  const re = /([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g;
  let m;
  while ((m = re.exec(body)) !== null) labels[m[1]] = m[2].replace(/\\(.)/g, (_, c) => (c === 'n' ? '\n' : c));
  return labels;
}

/** The samples of metric `name` as [{labels, value}]. */
function samples(text, name) {
  const out = [];
  for (const line of text.split('\n')) {
    if (!line.startsWith(name)) continue;
    const rest = line.slice(name.length);
    let labels = {};
    let valueText;
    if (rest.startsWith('{')) {
      const close = rest.lastIndexOf('}');
      labels = parseLabels(rest.slice(1, close));
      valueText = rest.slice(close + 1).trim();
    } else if (rest.startsWith(' ')) {
      valueText = rest.trim();
    } else {
      continue; // another metric whose name starts with `name`
    }
    out.push({ labels, value: Number(valueText.split(' ')[0]) });
  }
  return out;
}

/** The value of the one sample of `name` whose labels include `labels`, or undefined when absent. */
function metricValue(text, name, labels = {}) {
  const hits = samples(text, name).filter((s) => Object.entries(labels).every(([k, v]) => s.labels[k] === v));
  assert.ok(hits.length <= 1, `at most one ${name} sample with ${JSON.stringify(labels)}: ${JSON.stringify(hits)}`);
  return hits[0]?.value;
}

/** A counter's value; an absent series counts 0 (Prometheus counters appear with their first increment). */
const counter = (text, name, labels) => metricValue(text, name, labels) ?? 0;

/** The audit record (from `audit export`) of the request with this x-request-id. */
async function auditRecordOf(gw, requestId) {
  assert.ok(requestId, 'the answer has an x-request-id');
  const { records } = await auditExport(gw.dataDir);
  const record = records.find((r) => r.request_id === requestId);
  assert.ok(record, `an audit record for ${requestId} (records: ${records.length})`);
  return record;
}

/** Asserts the audit record of `res` has the route, HTTP status and error code. */
async function assertAudited(gw, res, { route, status, code }) {
  const record = await auditRecordOf(gw, res.headers.get('x-request-id'));
  assert.equal(record.route, route, `audit route: ${JSON.stringify(record)}`);
  assert.equal(record.http_status, status, `audit http_status: ${JSON.stringify(record)}`);
  assert.equal(record.error_code, code, `audit error_code: ${JSON.stringify(record)}`);
  return record;
}

const sha256 = (text) => crypto.createHash('sha256').update(text).digest('hex');

/**
 * config/dualguard.yaml with its relative paths (taxonomy, policy, rule folders, models) made absolute,
 * so that a copy in another folder loads the same files. Returns the text.
 */
function portableConfigText() {
  const dir = path.dirname(DEFAULT_CONFIG);
  let text = fs.readFileSync(DEFAULT_CONFIG, 'utf8');
  let replaced = 0;
  text = text.replace(/^(\s*(?:taxonomy|policy|model|alerts_file|dir):[ \t]*)([^\s#]+)/gm, (_, head, p) => {
    replaced++;
    return head + (path.isAbsolute(p) ? p : path.resolve(dir, p));
  });
  text = text.replace(/^(\s*rules:[ \t]*)\[([^\]]*)\]/m, (_, head, list) => {
    replaced++;
    const items = list.split(',').map((s) => s.trim()).filter(Boolean);
    return `${head}[${items.map((p) => JSON.stringify(path.isAbsolute(p) ? p : path.resolve(dir, p))).join(', ')}]`;
  });
  assert.ok(replaced >= 3, `rewrote the config's relative paths (${replaced} replacements)`);
  // The copy is edited by the tests and so cannot carry the shipped config's signature: its artifact
  // checks are off (the shipped config enforces them; docs/integrity.md).
  const before = text;
  text = text.replace(/^(integrity:\n(?:[ \t#].*\n)*?[ \t]+mode:[ \t]*)enforce\b/m, '$1off');
  assert.notEqual(text, before, 'turned the copy\'s integrity.mode off');
  return text;
}

/** Replaces exactly one occurrence of `from` (a RegExp or string) in `text`; fails when there is none. */
function editOnce(text, from, to) {
  const matches = text.match(new RegExp(from instanceof RegExp ? from.source : from.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'), 'gm'));
  assert.equal(matches?.length, 1, `exactly one "${from}" in the config`);
  return text.replace(from instanceof RegExp ? new RegExp(from.source, 'm') : from, to);
}

const alive = (gw) => gw.child.exitCode === null && gw.child.signalCode === null;

// ---- tokens per day --------------------------------------------------------------------------------

gatewaySuite('tokens per day (keys create --tokens-per-day)', () => {
  let world;
  before(async () => {
    world = await startWorld();
  });
  after(async () => world?.stop());

  it('a key whose daily budget is spent gets 429 token_budget_exceeded with Retry-After; other keys are unaffected', async () => {
    const { gw, up, keys } = world;
    const BUDGET = 500;
    // The answer alone is longer than the budget (the body of the request stays small).
    const longAnswer = Array(6).fill(LONG_BENIGN).join(' ');
    await up.script('tokens-long', `[[say:${longAnswer}]]`);
    const spender = await createKeyFor(gw, { role: 'client', name: 'budget-spender', extra: ['--tokens-per-day', String(BUDGET)] });
    const other = await createKeyFor(gw, { role: 'client', name: 'budget-other', extra: ['--tokens-per-day', String(BUDGET)] });
    const metricsBefore = await metricsText(gw);

    const first = await request(gw.url, 'POST', CHAT, { key: spender.key, body: userChat('Tell me about branches [[script:tokens-long]]') });
    assert.equal(first.status, 200, `the first request is within the budget: ${first.text.slice(0, 300)}`);
    assert.equal(first.json.choices[0].message.content, longAnswer);
    assert.ok(first.json.usage.total_tokens > BUDGET,
      `precondition: the answer used more than the budget (${first.json.usage.total_tokens} > ${BUDGET} tokens)`);

    const forwardedBefore = await up.count(CHAT);
    const refused = await request(gw.url, 'POST', CHAT, { key: spender.key, body: userChat(BENIGN) });
    assertOpenAIError(refused, 429, 'token_budget_exceeded');
    const retryAfter = refused.headers.get('retry-after');
    assert.match(retryAfter ?? '', /^\d+$/, `Retry-After in whole seconds, got ${retryAfter}`);
    // Rolling 24 h window: the tokens just used free up about a day from now (hour steps at most).
    assert.ok(Number(retryAfter) >= 22 * 3600 && Number(retryAfter) <= 24 * 3600,
      `Retry-After until the rolling day frees the tokens, got ${retryAfter} s`);
    assert.equal((await up.count(CHAT)) - forwardedBefore, 0, 'a refused request is not forwarded');
    await assert.rejects(openaiClient(gw, spender.key).chat.completions.create(userChat(BENIGN)),
      (err) => assertAPIError(err, { status: 429, code: 'token_budget_exceeded' }));

    // Per key: a key with the same budget, and a key without one, still pass.
    const fresh = await request(gw.url, 'POST', CHAT, { key: other.key, body: userChat(BENIGN) });
    assert.equal(fresh.status, 200, fresh.text);
    const unlimited = await request(gw.url, 'POST', CHAT, { key: keys.client, body: userChat('[[script:tokens-long]] again please') });
    assert.equal(unlimited.status, 200, unlimited.text);

    const metricsAfter = await metricsText(gw);
    const rejected = (t) => counter(t, 'dualguard_gateway_limiter_rejections_total', { code: 'token_budget_exceeded' });
    assert.equal(rejected(metricsAfter) - rejected(metricsBefore), 2, 'two token_budget_exceeded rejections counted');
    const answered = (t) => counter(t, 'dualguard_gateway_requests_total', { route: CHAT, code: 'token_budget_exceeded' });
    assert.equal(answered(metricsAfter) - answered(metricsBefore), 2);

    await assertAudited(gw, refused, { route: CHAT, status: 429, code: 'token_budget_exceeded' });
  });
});

// ---- config hot reload -----------------------------------------------------------------------------

gatewaySuite('config hot reload (SIGHUP, POST /admin/reload)', () => {
  let up;
  let gw;
  let dir;
  let configPath;
  const keys = {};
  /** The labels of dualguard_policy_info ({sha256, config_sha256}). */
  const configInfo = async (key) => samples(await metricsText(gw, key), 'dualguard_policy_info')[0]?.labels ?? {};

  /** Writes `text` as the gateway's config file; returns its SHA-256 (what config_sha256 should say). */
  function writeConfig(text) {
    fs.writeFileSync(configPath, text);
    return sha256(text);
  }

  before(async () => {
    dir = makeTempDir('dualguard-it-reload-');
    configPath = path.join(dir, 'dualguard.yaml');
    const original = portableConfigText();
    writeConfig(original);
    const check = await run(dualguardBin(), ['config', 'validate', configPath]);
    assert.equal(check.code, 0, `the portable copy of the config validates: ${check.stdout}\n${check.stderr}`);
    up = await startUpstream();
    gw = await startGateway({ upstream: up.url, config: configPath });
    for (const role of ['client', 'operator', 'admin']) keys[role] = (await createKeyFor(gw, { role, name: `reload-${role}` })).key;
  });
  after(async () => {
    const died = gw && !alive(gw);
    const output = gw?.output();
    await gw?.stop();
    await up?.stop();
    removeDir(dir);
    if (died) throw new Error(`the gateway exited during the reload tests\n${output}`);
  });

  /** n requests with a fresh key (no own limits: the config's defaults apply); returns the answers. */
  async function burst(n, name) {
    const { key } = await createKeyFor(gw, { role: 'client', name });
    const answers = [];
    for (let i = 0; i < n; i++) answers.push(await request(gw.url, 'POST', CHAT, { key, body: userChat(`${BENIGN} (${name} ${i})`) }));
    return answers;
  }

  it('SIGHUP, then POST /admin/reload, apply an edited config without a restart; an invalid one is refused and the old one keeps serving', async () => {
    const pid = gw.child.pid;
    const v1 = sha256(fs.readFileSync(configPath, 'utf8'));
    assert.equal((await configInfo()).config_sha256, v1, 'dualguard_policy_info names the loaded config');
    for (const res of await burst(4, 'before-reload')) assert.equal(res.status, 200, res.text);

    // 1. SIGHUP: requests_per_minute 600 -> 2.
    let text = editOnce(fs.readFileSync(configPath, 'utf8'), /^(\s*)requests_per_minute: 600\b/, '$1requests_per_minute: 2');
    const v2 = writeConfig(text);
    gw.child.kill('SIGHUP');
    await waitFor(async () => (await configInfo()).config_sha256 === v2,
      { timeoutMs: 20_000, intervalMs: 100, what: 'config_sha256 to change after SIGHUP' });
    const limited = await burst(3, 'after-sighup');
    assert.equal(limited[0].status, 200, limited[0].text);
    assert.equal(limited[1].status, 200, limited[1].text);
    assertOpenAIError(limited[2], 429, 'rate_limited', 'the 3rd request under the reloaded requests_per_minute=2');

    // 2. POST /admin/reload: only the admin role may; metrics_public true -> false.
    text = editOnce(text, /^(\s*)metrics_public: true\b/, '$1metrics_public: false');
    const v3 = writeConfig(text);
    assertOpenAIError(await request(gw.url, 'POST', '/admin/reload', { key: keys.client }), 403, 'insufficient_role');
    assert.equal((await request(gw.url, 'GET', '/metrics')).status, 200, 'a refused reload changed nothing');
    const reload = await request(gw.url, 'POST', '/admin/reload', { key: keys.admin, timeoutMs: 30_000 });
    assert.equal(reload.status, 200, reload.text);
    assertOpenAIError(await request(gw.url, 'GET', '/metrics'), 401, 'missing_api_key');
    assert.equal((await configInfo(keys.operator)).config_sha256, v3);

    // 3. An invalid config (unknown key under gateway:): POST /admin/reload refuses it.
    const invalid = editOnce(text, /^gateway:[ \t]*(#.*)?$/, 'gateway:\n  no_such_option: 1');
    writeConfig(invalid);
    const refused = await request(gw.url, 'POST', '/admin/reload', { key: keys.admin, timeoutMs: 30_000 });
    // docs/gateway.md: a refused reload answers 400 with the first load error's code.
    assert.equal(refused.status, 400, `a refused reload is a client error: ${refused.status} ${refused.text}`);
    assertErrorBody(refused.json, 'config_unknown_key');
    assert.match(refused.json.error.message, /no_such_option/, 'the message names the unknown key');

    // 4. SIGHUP with the same invalid file: refused too; the process keeps running.
    gw.child.kill('SIGHUP');
    await sleep(1000); // the reload is refused in the background; nothing observable changes
    assert.ok(alive(gw), `the gateway still runs after a refused SIGHUP reload\n${gw.output()}`);
    assert.equal(gw.child.pid, pid, 'never restarted');

    // The old (v3) config still serves: private metrics, its sha, its limits, the policy.
    assertOpenAIError(await request(gw.url, 'GET', '/metrics'), 401, 'missing_api_key');
    assert.equal((await configInfo(keys.operator)).config_sha256, v3, 'config_sha256 unchanged by refused reloads');
    const still = await burst(3, 'after-refused');
    assert.equal(still[0].status, 200, still[0].text);
    assertOpenAIError(still[2], 429, 'rate_limited');
    assertOpenAIError(await request(gw.url, 'POST', CHAT, { key: keys.admin, body: userChat(INJECTION) }), 403, 'blocked_by_policy');
    assert.equal((await request(gw.url, 'GET', '/readyz')).status, 200);

    // Admin actions are audited: the refused client call, the reload, the refused reload.
    const { records } = await auditExport(gw.dataDir);
    const reloads = records.filter((r) => r.route === '/admin/reload');
    assert.ok(reloads.some((r) => r.http_status === 403 && r.error_code === 'insufficient_role'), `audited 403: ${JSON.stringify(reloads)}`);
    assert.ok(reloads.some((r) => r.http_status === 200 && r.error_code === ''), `audited reload: ${JSON.stringify(reloads)}`);
    assert.ok(reloads.some((r) => r.http_status === 400 && r.error_code === refused.json.error.code),
      `audited refused reload: ${JSON.stringify(reloads)}`);
  });
});

// ---- legacy completions, streamed --------------------------------------------------------------------

gatewaySuite('POST /v1/completions with stream: true', () => {
  let world;
  before(async () => {
    world = await startWorld();
  });
  after(async () => world?.stop());

  it('raw SSE: text_completion chunks arrive one by one and assemble into the answer, then [DONE]', async () => {
    const { gw, up, keys } = world;
    const before = await up.count(LEGACY);
    const s = await streamRequest(gw.url, LEGACY, {
      key: keys.client, body: { model: MODEL, prompt: '[[chunks:6]][[slow:20]] Tell me about the weather in Paris today', stream: true },
    });
    assert.equal(s.status, 200, s.raw);
    assert.match(s.headers.get('content-type') ?? '', /^text\/event-stream/);
    assert.ok(s.headers.get('x-request-id'), 'x-request-id');
    assert.equal(s.errorEvent, undefined, s.raw);
    assert.equal(s.done, true, 'ends with [DONE]');
    const chunks = s.events.filter((e) => e !== '[DONE]');
    assert.ok(chunks.every((c) => c.object === 'text_completion'), `every event is a text_completion: ${s.raw.slice(0, 300)}`);
    assert.ok(chunks.filter((c) => c.choices?.[0]?.text).length >= 2, `the text came in several chunks: ${s.raw}`);
    assert.equal(s.content, 'Echo: Tell me about the weather in Paris today');
    assert.equal(chunks.at(-1).choices[0].finish_reason, 'stop');
    assert.equal((await up.count(LEGACY)) - before, 1);
  });

  it('a streamed legacy answer that turns into exfiltration ends with an error event, never the flagged text', async () => {
    const { gw, up, keys } = world;
    await up.script('legacy-exfil', `[[chunks:10]][[say:${LONG_BENIGN} ${EXFIL_MARKDOWN} Thank you for banking with us.]]`);
    const s = await streamRequest(gw.url, LEGACY, {
      key: keys.client, body: { model: MODEL, prompt: 'Write a short note for me [[script:legacy-exfil]]', stream: true },
    });
    assert.equal(s.status, 200, 'the stream had started (benign text came first)');
    assert.ok(s.errorEvent, `an error event ends the stream; got: ${s.raw.slice(-500)}`);
    assertErrorBody(s.errorEvent, 'blocked_by_policy');
    assertVerdict(s.errorEvent.verdict, { action: 'block', categories: ['data_exfiltration'], role: 'response' });
    assert.equal(s.errorEvent.error.param, 'choices[0].text', 'the legacy field, not the chat one');
    assert.equal(s.done, false, 'no [DONE] after a block');
    assert.equal(s.events.at(-1), s.errorEvent, 'the error event is the last event');
    assert.ok(!s.content.includes(EXFIL_HOST), `flagged text in the content: ${s.content.slice(-200)}`);
    assert.ok(!s.content.includes('Thank you for banking'), 'nothing after the flagged text either');
    assert.ok(LONG_BENIGN.startsWith(s.content), `only a prefix of the benign text was released: ${s.content.slice(-200)}`);
    await assertAudited(gw, s, { route: LEGACY, status: 200, code: 'blocked_by_policy' });

    // The openai client sees the same cut as an APIError while iterating.
    await up.script('legacy-exfil-client', `[[chunks:10]][[say:${LONG_BENIGN} ${EXFIL_MARKDOWN} Thank you for banking with us.]]`);
    const r = await collectOpenAIStream(() => openaiClient(gw, keys.client).completions.create({
      model: MODEL, prompt: 'Write a short note for me [[script:legacy-exfil-client]]', stream: true,
    }), { field: 'text' });
    assertAPIError(r.error, { code: 'blocked_by_policy' });
    assert.ok(!r.text.includes(EXFIL_HOST), `flagged text reached the client: ${r.text.slice(-200)}`);
  });
});

// ---- the upstream's own key ------------------------------------------------------------------------

gatewaySuite('gateway.upstream_api_key_env: the upstream gets its own key, never the client\'s', () => {
  const ENV_NAME = 'DG_IT_UPSTREAM_API_KEY';
  const upstreamKey = `sk-upstream-${crypto.randomBytes(12).toString('hex')}`;
  let up;
  let gw;
  let clientKey;
  before(async () => {
    up = await startUpstream();
    gw = await startGateway({
      upstream: up.url, set: { 'gateway.upstream_api_key_env': ENV_NAME }, env: { [ENV_NAME]: upstreamKey },
    });
    clientKey = (await createKeyFor(gw, { role: 'client', name: 'upstream-key' })).key;
  });
  after(async () => {
    await gw?.stop();
    await up?.stop();
  });

  it('every forwarded route sends Authorization: Bearer <the variable\'s value> upstream', async () => {
    const calls = [
      ['chat', () => request(gw.url, 'POST', CHAT, { key: clientKey, body: userChat(BENIGN) })],
      ['chat stream', () => streamRequest(gw.url, CHAT, { key: clientKey, body: userChat('[[chunks:3]] Tell me a short greeting', { stream: true }) })],
      ['legacy', () => request(gw.url, 'POST', LEGACY, { key: clientKey, body: { model: MODEL, prompt: BENIGN } })],
      ['models', () => request(gw.url, 'GET', '/v1/models', { key: clientKey })],
      ['oip infer', () => request(gw.url, 'POST', '/v2/models/echo/infer', {
        key: clientKey, body: { inputs: [{ name: 'text', shape: [1], datatype: 'BYTES', data: [BENIGN] }] },
      })],
      ['oip health', () => request(gw.url, 'GET', '/v2/health/ready', { key: clientKey })],
    ];
    const secret = clientKey.slice('dg_'.length + 12 + 1); // dg_<12 hex id>_<secret>
    for (const [what, call] of calls) {
      await up.reset();
      const res = await call();
      assert.equal(res.status, 200, `${what}: ${res.text ?? res.raw}`);
      const { recent } = await up.stats();
      assert.equal(recent.length, 1, `${what}: one upstream request`);
      const { headers } = recent[0];
      assert.equal(headers.authorization, `Bearer ${upstreamKey}`, `${what}: the upstream's key in Authorization`);
      const all = JSON.stringify(headers);
      assert.ok(!all.includes(clientKey) && !all.includes(secret), `${what}: the client's gateway key is not forwarded: ${all}`);
    }
  });

});

// ---- circuit breaker: half-open probe ------------------------------------------------------------

gatewaySuite('circuit breaker: open, half-open probe, close (breaker_failures=3, breaker_open_ms=1000)', () => {
  const OPEN_MS = 1000;
  let up;
  let gw;
  let key;
  before(async () => {
    up = await startUpstream();
    gw = await startGateway({
      upstream: up.url,
      set: {
        'gateway.breaker_failures': 3,
        'gateway.breaker_open_ms': OPEN_MS,
        'gateway.limits.requests_per_minute': 100000, // only the breaker may refuse here
      },
    });
    key = (await createKeyFor(gw, { role: 'client', name: 'breaker' })).key;
  });
  after(async () => {
    await gw?.stop();
    await up?.stop();
  });

  const chat = (text) => request(gw.url, 'POST', CHAT, { key, body: userChat(text) });
  const breakerState = async () => metricValue(await metricsText(gw), 'dualguard_gateway_breaker_state', { upstream: up.url });
  const assertUnavailable = (res, context) => {
    assertOpenAIError(res, 503, 'upstream_unavailable', context);
    const retryAfter = res.headers.get('retry-after');
    if (retryAfter !== null) {
      assert.match(retryAfter, /^\d+$/, `Retry-After in whole seconds, got ${retryAfter}`);
      assert.ok(Number(retryAfter) <= 2 * OPEN_MS / 1000 + 1, `Retry-After within the cool-down, got ${retryAfter}`);
    }
  };

  it('5xx answers open it; after breaker_open_ms one probe passes: a failed probe reopens it (doubled), a good one closes it', async () => {
    assert.ok([undefined, 0].includes(await breakerState()), 'closed (0) or not reported before any failure');
    const metricsBefore = await metricsText(gw);

    // Three consecutive 5xx answers (passed through unchanged) open the breaker.
    for (let i = 1; i <= 3; i++) {
      const res = await chat(`[[fail:500]] f${i}`);
      assert.equal(res.status, 500, res.text);
      assert.equal(res.json?.error?.code, 'upstream_test_failure', 'the upstream\'s answer, passed through');
    }
    let forwarded = await up.count(CHAT);
    const open = await chat('hello one');
    assertUnavailable(open, 'open after 3 failures');
    assert.equal(await up.count(CHAT), forwarded, 'an open breaker does not call the upstream');
    assert.equal(await breakerState(), 1, 'dualguard_gateway_breaker_state 1 (open)');
    await assertAudited(gw, open, { route: CHAT, status: 503, code: 'upstream_unavailable' });
    const opened = await metricsText(gw);
    assert.ok(counter(opened, 'dualguard_gateway_upstream_errors_total', { kind: 'status_5xx' })
      - counter(metricsBefore, 'dualguard_gateway_upstream_errors_total', { kind: 'status_5xx' }) >= 3, 'status_5xx counted');
    assert.ok(counter(opened, 'dualguard_gateway_upstream_errors_total', { kind: 'breaker_open' })
      - counter(metricsBefore, 'dualguard_gateway_upstream_errors_total', { kind: 'breaker_open' }) >= 1, 'breaker_open counted');

    // After the cool-down: half-open; the probe fails -> open again, for twice as long.
    await waitFor(async () => (await breakerState()) === 2, { timeoutMs: OPEN_MS + 4000, what: 'the breaker to turn half-open (2)' });
    forwarded = await up.count(CHAT);
    const failedProbe = await chat('[[fail:502]] probe one');
    assert.equal(failedProbe.status, 502, `the probe reached the upstream: ${failedProbe.text}`);
    assert.equal(failedProbe.json?.error?.code, 'upstream_test_failure');
    assert.equal(await up.count(CHAT), forwarded + 1, 'exactly one probe forwarded');
    assertUnavailable(await chat('hello two'), 'open again after a failed probe');
    assert.equal(await breakerState(), 1);
    await sleep(OPEN_MS + 300);
    assertUnavailable(await chat('hello three'), `still open ${OPEN_MS + 300} ms after a failed probe (cool-down doubled)`);
    assert.equal(await up.count(CHAT), forwarded + 1, 'nothing forwarded while open');

    // Half-open again: a slow, healthy probe; while it is out, other requests are still refused.
    await waitFor(async () => (await breakerState()) === 2, { timeoutMs: 2 * OPEN_MS + 4000, what: 'half-open after the doubled cool-down' });
    const probe = chat('[[slow:800]] probe two');
    await waitFor(async () => (await up.stats()).active >= 1, { timeoutMs: 5000, what: 'the probe to reach the upstream' });
    assertUnavailable(await chat('hello four'), 'a second request while the probe is out');
    const probed = await probe;
    assert.equal(probed.status, 200, probed.text);
    assert.equal(probed.json.choices[0].message.content, 'Echo: probe two');

    // Closed: requests pass again.
    for (const text of ['hello five', 'hello six', 'hello seven']) {
      const res = await chat(text);
      assert.equal(res.status, 200, res.text);
      assert.equal(res.json.choices[0].message.content, `Echo: ${text}`);
    }
    assert.equal(await breakerState(), 0, 'dualguard_gateway_breaker_state 0 (closed)');
    assert.equal(await up.count(CHAT), forwarded + 5, 'the two probes and the three requests after closing');
  });

  // Regression: the audit record of a request that was scanned and then failed at the upstream
  // (502 upstream_error, 503 upstream_unavailable) was committed before the request's verdict was
  // recorded, so it had no action, class or prompt SHA-256 (docs/gateway.md "Audit log" lists them).
  it('the audit record of a request refused at the upstream stage keeps its verdict and prompt hash', async () => {
    const reset = await chat('[[close]] cut me off'); // headers then a reset mid-body: 502, not a breaker failure
    assertOpenAIError(reset, 502, 'upstream_error');
    for (let i = 1; i <= 3; i++) assert.equal((await chat(`[[fail:503]] g${i}`)).status, 503);
    const refused = await chat('hello eight');
    assertUnavailable(refused, 'open');
    for (const [res, status, code] of [[reset, 502, 'upstream_error'], [refused, 503, 'upstream_unavailable']]) {
      assert.equal(res.json.verdict?.action, 'allow', 'the answer carries the request verdict');
      const record = await assertAudited(gw, res, { route: CHAT, status, code });
      assert.equal(record.action, 'allow', `audit action of a ${status}: ${JSON.stringify(record)}`);
      assert.equal(record.verdict_class, 'clean', `audit class of a ${status}`);
      assert.match(record.prompt_sha256, /^[0-9a-f]{64}$/, `audit prompt_sha256 of a ${status}`);
    }
  });
});

// ---- detector failure policy ----------------------------------------------------------------------
// The external way to make the engine report an error at request time: an input longer than
// scan.max_input_bytes is scanned only up to that size and the verdict lists the error
// ("engine: input_too_large"), which the fail mode decides like a detector failure (docs/policy.md,
// fail_mode: "when a detector fails (or an input exceeds scan.max_input_bytes)").

gatewaySuite('detector failure policy: gateway.fail_mode closed, route_fail_mode open for /v1/scan and /v1/completions', () => {
  const MAX_INPUT = 1024;
  const OVERSIZED = [LONG_BENIGN, LONG_BENIGN, LONG_BENIGN].join(' ');
  let world;
  before(async () => {
    assert.ok(Buffer.byteLength(OVERSIZED) > MAX_INPUT + 100, 'the oversized text is over scan.max_input_bytes');
    world = await startWorld({
      set: {
        'scan.max_input_bytes': MAX_INPUT,
        'gateway.route_fail_mode': '{"/v1/scan": open, "/v1/completions": open}',
      },
    });
  });
  after(async () => world?.stop());

  const failOpen = async (gw) => counter(await metricsText(gw), 'dualguard_gateway_fail_open_total');

  it('fail-closed route: 500 detector_error (not forwarded) unless a finding asked for a block', async () => {
    const { gw, up, keys } = world;
    const openBefore = await failOpen(gw);
    const forwarded = await up.count(CHAT);
    const res = await request(gw.url, 'POST', CHAT, { key: keys.client, body: userChat(OVERSIZED) });
    assertOpenAIError(res, 500, 'detector_error');
    assert.ok(Array.isArray(res.json.verdict?.errors) && res.json.verdict.errors.length > 0,
      `the verdict lists the error: ${JSON.stringify(res.json.verdict)}`);
    assert.equal(await up.count(CHAT), forwarded, 'not forwarded');
    await assertAudited(gw, res, { route: CHAT, status: 500, code: 'detector_error' });

    // A finding that asks for a block still decides: 403 blocked_by_policy, not 500.
    const attack = await request(gw.url, 'POST', CHAT, { key: keys.client, body: userChat(`${INJECTION}. ${OVERSIZED}`) });
    assertOpenAIError(attack, 403, 'blocked_by_policy');
    // Inputs within the limit are unaffected.
    assert.equal((await request(gw.url, 'POST', CHAT, { key: keys.client, body: userChat(BENIGN) })).status, 200);
    assert.equal(await failOpen(gw), openBefore, 'a fail-closed route does not count fail-open');
  });

  it('fail-open routes decide on the other findings, list the error and count dualguard_gateway_fail_open_total', async () => {
    const { gw, up, keys } = world;
    const openBefore = await failOpen(gw);

    const scanned = await request(gw.url, 'POST', '/v1/scan', { key: keys.client, body: { prompt: OVERSIZED } });
    assert.equal(scanned.status, 200, scanned.text);
    assert.equal(scanned.json.action, 'allow', `fail-open: no finding, so allow; reason: ${scanned.json.reason}`);
    assert.ok(Array.isArray(scanned.json.errors) && scanned.json.errors.length > 0, `the verdict lists the error: ${scanned.text}`);

    const attack = await request(gw.url, 'POST', '/v1/scan', { key: keys.client, body: { prompt: `${INJECTION}. ${OVERSIZED}` } });
    assert.equal(attack.status, 200, attack.text);
    assertVerdict(attack.json, { action: 'block', categories: ['system_prompt_extraction'], role: 'prompt' });
    assert.equal(await failOpen(gw), openBefore + 2, 'one fail-open decision per scan');

    // A proxied fail-open route forwards (the answer, an echo, is oversized too: fail-open again).
    const forwarded = await up.count(LEGACY);
    const legacy = await request(gw.url, 'POST', LEGACY, { key: keys.client, body: { model: MODEL, prompt: OVERSIZED } });
    assert.equal(legacy.status, 200, legacy.text.slice(0, 500));
    assert.equal(legacy.json.choices[0].text, `Echo: ${OVERSIZED}`);
    assert.equal(await up.count(LEGACY), forwarded + 1);
    assert.ok((await failOpen(gw)) >= openBefore + 3, 'the proxied fail-open decision is counted');
  });
});
