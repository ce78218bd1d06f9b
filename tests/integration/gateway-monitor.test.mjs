// `dualguard serve` monitors, from docs/monitors.md and docs/dashboard-api.md: incidents correlated
// across requests of one key and session (a hybrid chain with highlighted spans), their lifecycle
// (roles, audit trail), server-sent events, alert delivery to a webhook receiver (with a retried
// failure), drift detected when the traffic changes and silent when it does not, the monitor off,
// and the dashboard's static routes. Every wait is bounded.
import { it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { request, auditExport, waitFor, makeTempDir, removeDir } from './lib/harness.mjs';
import { INJECTION, BENIGN, EMAIL, userChat, assertErrorBody, gatewaySuite, startWorld } from './lib/fixtures.mjs';

const CHAT = '/v1/chat/completions';

/** A local webhook receiver on 127.0.0.1: answers `failFirst` requests with 500, then 200. */
async function startReceiver({ failFirst = 0 } = {}) {
  const received = [];
  let seen = 0;
  const server = http.createServer((req, res) => {
    const chunks = [];
    req.on('data', (d) => chunks.push(d));
    req.on('end', () => {
      seen += 1;
      const text = Buffer.concat(chunks).toString('utf8');
      if (seen <= failFirst) {
        res.writeHead(500).end('try again');
        return;
      }
      received.push({ headers: req.headers, body: JSON.parse(text) });
      res.writeHead(204).end();
    });
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${server.address().port}/alerts`,
    received,
    attempts: () => seen,
    stop: () => new Promise((resolve) => server.close(resolve)),
  };
}

/** Reads /api/events with fetch for at most `ms`, returning the parsed events. */
async function readEvents(gw, key, { ms, until }) {
  const ctrl = new AbortController();
  const timer = setTimeout(() => ctrl.abort(), ms);
  const events = [];
  try {
    const res = await fetch(new URL('/api/events', gw.url), { headers: { authorization: `Bearer ${key}` }, signal: ctrl.signal });
    assert.equal(res.status, 200);
    assert.match(res.headers.get('content-type'), /text\/event-stream/);
    const reader = res.body.getReader();
    const dec = new TextDecoder();
    let buf = '';
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      buf += dec.decode(value, { stream: true });
      let cut;
      while ((cut = buf.indexOf('\n\n')) >= 0) {
        const block = buf.slice(0, cut);
        buf = buf.slice(cut + 2);
        const ev = { event: 'message', data: '' };
        for (const line of block.split('\n')) {
          if (line.startsWith('event: ')) ev.event = line.slice(7);
          else if (line.startsWith('data: ')) ev.data += line.slice(6);
        }
        if (!ev.data) continue;
        ev.json = JSON.parse(ev.data);
        events.push(ev);
        if (until?.(events)) {
          ctrl.abort();
          return events;
        }
      }
    }
  } catch (err) {
    if (err.name !== 'AbortError') throw err;
  } finally {
    clearTimeout(timer);
  }
  return events;
}

const scan = (gw, key, body, session) =>
  request(gw.url, 'POST', '/v1/scan', { key, body, headers: session ? { 'x-session-id': session } : {} });

gatewaySuite('gateway monitors: incidents, events, alerts, drift', () => {
  let world;
  let receiver;
  let alertsFile;
  let tmp;
  before(async () => {
    tmp = makeTempDir('dualguard-monitor-');
    receiver = await startReceiver({ failFirst: 1 });
    alertsFile = path.join(tmp, 'alerts.yaml');
    fs.writeFileSync(alertsFile, [
      'rules:',
      '  - {name: hybrid_incident, kind: incident, class: [hybrid], severity: critical}',
      '  - {name: any_attack, domain: security, action: [block], count: 1, cooldown: 1s}',
      '  - {name: length_drift, kind: drift, statistic: [prompt_length], severity: medium, cooldown: 1h}',
      'sinks:',
      `  webhook: {url: "${receiver.url}", retries: 3, backoff: 50ms, timeout: 2s}`,
      '',
    ].join('\n'));
    world = await startWorld({
      set: {
        'gateway.monitor.alerts_file': alertsFile,
        'gateway.monitor.drift.baseline_ms': 1000,
        'gateway.monitor.drift.window_ms': 60000,
        'gateway.monitor.drift.min_samples': 40,
        'gateway.monitor.drift.every_ms': 200,
        'gateway.abuse.enabled': false,  // the drift traffic repeats itself on purpose
        'integrity.mode': 'off',  // the test's own alerts file is not signed (a refused one is tested below)
      },
    });
  });
  after(async () => {
    await world?.stop();
    await receiver?.stop();
    if (tmp) removeDir(tmp);
  });

  it('an injection then a leaked e-mail in one session is one hybrid incident with highlighted spans', async () => {
    const { gw, keys } = world;
    const eventsPromise = readEvents(gw, keys.client, {
      ms: 8000,
      until: (evs) => evs.some((e) => e.event === 'incident' && e.json.class === 'hybrid')
        && evs.filter((e) => e.event === 'verdict').length >= 2,
    });
    await new Promise((r) => setTimeout(r, 300));  // the subscription is open before the traffic
    const a = await scan(gw, keys.client, { prompt: INJECTION }, 'conv-1');
    assert.equal(a.status, 200);
    assert.equal(a.json.action, 'block');
    // The answer leaks an e-mail address; the prompt itself carries none (a scripted directive).
    const script = await request(world.up.url, 'POST', '/__script', {
      body: { name: 'leak', directives: `[[say:Of course. Write to ${EMAIL} for the refund.]]` },
    });
    assert.equal(script.status, 200, script.text);
    const b = await request(gw.url, 'POST', CHAT, {
      key: keys.client, headers: { 'x-session-id': 'conv-1' }, body: userChat('Where do I send my refund request? [[script:leak]]'),
    });
    assert.equal(b.status, 200, b.text);
    // Another session of the same key stays apart.
    assert.equal((await scan(gw, keys.client, { prompt: INJECTION }, 'conv-2')).status, 200);

    const events = await eventsPromise;
    const verdicts = events.filter((e) => e.event === 'verdict');
    assert.ok(verdicts.length >= 2, `verdict events: ${JSON.stringify(events).slice(0, 500)}`);
    assert.ok(events.some((e) => e.event === 'tick'), 'a tick arrives every 2 s');

    let list;
    await waitFor(async () => {
      list = await request(gw.url, 'GET', '/api/incidents?status=all', { key: keys.client });
      return list.json?.incidents?.length >= 2;
    }, { timeoutMs: 5000, what: 'two incidents' });
    const hybrid = list.json.incidents.find((i) => i.class === 'hybrid');
    assert.ok(hybrid, JSON.stringify(list.json));
    assert.equal(hybrid.kind, 'security_causing_safety');
    assert.equal(hybrid.severity, 'critical');
    assert.equal(hybrid.session, 'conv-1');
    assert.equal(hybrid.status, 'open');
    assert.match(hybrid.title, /\(request\).* -> pii_exposure \(response\)$/);
    const other = list.json.incidents.find((i) => i.id !== hybrid.id);
    assert.equal(other.session, 'conv-2');
    assert.equal(other.class, 'security');

    const detail = await request(gw.url, 'GET', `/api/incidents/${hybrid.id}`, { key: keys.client });
    assert.equal(detail.status, 200);
    assert.equal(detail.json.verdicts.length, 2);
    const [first, second] = detail.json.verdicts;
    assert.equal(first.action, 'block');
    assert.ok(first.rule, 'the deciding policy rule is named');
    assert.ok(first.explanation.length > 0);
    const marked = first.texts.prompt.filter((s) => s.findings.length > 0).map((s) => s.text).join('');
    assert.match(marked, /Ignore/);
    assert.equal(first.texts.prompt.map((s) => s.text).join(''), INJECTION);
    for (const s of first.texts.prompt) for (const i of s.findings) assert.ok(first.findings[i], `finding ${i} exists`);
    // The e-mail is stored redacted, and the redaction is the highlighted segment.
    const resp = second.texts.response;
    assert.ok(!resp.map((s) => s.text).join('').includes(EMAIL), 'the stored answer is redacted');
    const red = resp.find((s) => s.text === '[REDACTED:EMAIL]');
    assert.ok(red && red.findings.length > 0, JSON.stringify(resp));
    assert.equal(second.findings[red.findings[0]].category, 'pii_exposure');
    assert.deepEqual(detail.json.history.map((h) => h.action), ['opened', 'verdict_added']);
    assert.equal((await request(gw.url, 'GET', '/api/incidents/inc-9999', { key: keys.client })).status, 404);
  });

  it('the incident lifecycle needs the operator role and is audited', async () => {
    const { gw, keys } = world;
    const list = await request(gw.url, 'GET', '/api/incidents?status=open', { key: keys.client });
    const inc = list.json.incidents.find((i) => i.class === 'hybrid');
    const as = (key, body) => request(gw.url, 'POST', `/api/incidents/${inc.id}`, { key, body });
    assertErrorBody((await as(keys.client, { status: 'acknowledged' })).json, 'insufficient_role');
    assertErrorBody((await as(keys.operator, { status: 'closed' })).json, 'invalid_request');
    assertErrorBody((await as(keys.operator, '{nope')).json, 'invalid_json');
    assert.equal((await request(gw.url, 'POST', '/api/incidents/inc-9999', { key: keys.operator, body: { status: 'resolved' } })).status, 404);
    const ack = await as(keys.operator, { status: 'acknowledged', note: 'looking into it' });
    assert.equal(ack.status, 200, ack.text);
    assert.equal(ack.json.status, 'acknowledged');
    // A verdict of the same session joins the acknowledged incident and keeps its status.
    await scan(gw, keys.client, { prompt: INJECTION }, 'conv-1');
    await waitFor(async () => {
      const d = await request(gw.url, 'GET', `/api/incidents/${inc.id}`, { key: keys.client });
      return d.json.verdicts.length === 3;
    }, { timeoutMs: 5000, what: 'the third verdict' });
    const d = await request(gw.url, 'GET', `/api/incidents/${inc.id}`, { key: keys.client });
    assert.equal(d.json.incident.status, 'acknowledged');
    const res = await as(keys.operator, { status: 'resolved' });
    assert.equal(res.json.status, 'resolved');
    const h = (await request(gw.url, 'GET', `/api/incidents/${inc.id}`, { key: keys.client })).json.history;
    assert.deepEqual(h.map((x) => x.action), ['opened', 'verdict_added', 'acknowledged', 'verdict_added', 'resolved']);
    assert.equal(h[2].note, 'looking into it');
    assert.ok(h[2].key_id.length > 0);
    // After resolution the session's next attack opens a new incident.
    await scan(gw, keys.client, { prompt: INJECTION }, 'conv-1');
    await waitFor(async () => {
      const l = await request(gw.url, 'GET', '/api/incidents?status=open', { key: keys.client });
      return l.json.incidents.some((i) => i.session === 'conv-1' && i.id !== inc.id);
    }, { timeoutMs: 5000, what: 'a new incident for conv-1' });
    const { records } = await auditExport(gw.dataDir);
    const admin = records.filter((r) => r.event === 'admin' && r.route === '/api/incidents/{id}');
    assert.ok(admin.length >= 2, 'status changes are in the audit log');
    assert.ok(admin.some((r) => JSON.parse(r.detail_json).status === 'resolved'));
  });

  it('alerts reach the webhook, after a retried failure, and the API', async () => {
    const { gw, keys } = world;
    await waitFor(() => receiver.received.length >= 2, { timeoutMs: 8000, what: 'webhook deliveries' });
    const rules = receiver.received.map((r) => r.body.rule);
    assert.ok(rules.includes('hybrid_incident') || rules.includes('cross_domain_escalation'), rules.join());
    assert.ok(receiver.attempts() > receiver.received.length, 'the first attempt failed with 500 and was retried');
    assert.equal(receiver.received[0].headers['content-type'], 'application/json');
    const api = await request(gw.url, 'GET', '/api/alerts?limit=50', { key: keys.client });
    assert.equal(api.status, 200);
    assert.ok(api.json.alerts.length >= receiver.received.length);
    assertErrorBody((await request(gw.url, 'GET', '/api/alerts?limit=9999', { key: keys.client })).json, 'invalid_request');
    const metrics = await request(gw.url, 'GET', '/metrics');
    assert.match(metrics.text, /dualguard_monitor_events_total\{kind="webhook_delivered"\} [1-9]/);
    assert.match(metrics.text, /dualguard_monitor_events_total\{kind="webhook_retries"\} [1-9]/);
  });

  it('drift: silent while the traffic is like the baseline, named when prompts grow', async () => {
    const { gw, keys } = world;
    const short = (i) => `${BENIGN} (${i})`;
    for (let i = 0; i < 60; i++) assert.equal((await scan(gw, keys.client, { prompt: short(i) })).status, 200);
    await new Promise((r) => setTimeout(r, 1100));  // the baseline window (1 s) is over
    for (let i = 0; i < 60; i++) await scan(gw, keys.client, { prompt: short(i + 100) });
    let ov;
    await waitFor(async () => {
      ov = await request(gw.url, 'GET', '/api/overview?range=300', { key: keys.client });
      const s = ov.json.drift.find((d) => d.statistic === 'prompt_length');
      return s?.judged;
    }, { timeoutMs: 5000, what: 'prompt_length judged' });
    assert.equal(ov.json.drift.find((d) => d.statistic === 'prompt_length').drifted, false, JSON.stringify(ov.json.drift));
    const long = `${BENIGN} ${'Please also tell me about the parking options near the branch. '.repeat(30)}`;
    for (let i = 0; i < 150; i++) await scan(gw, keys.client, { prompt: `${long} (${i})` });
    await waitFor(async () => {
      ov = await request(gw.url, 'GET', '/api/overview?range=300', { key: keys.client });
      return ov.json.drift.find((d) => d.statistic === 'prompt_length')?.drifted;
    }, { timeoutMs: 5000, what: 'prompt_length drift' });
    const s = ov.json.drift.find((d) => d.statistic === 'prompt_length');
    assert.ok(s.psi >= 0.25, JSON.stringify(s));
    assert.match(s.detail, /^median \d+ bytes -> \d+ bytes$/);
    await waitFor(() => receiver.received.some((r) => r.body.rule === 'length_drift'), { timeoutMs: 5000, what: 'the drift alert' });
    // The overview's series count what was sent.
    const total = ov.json.requests.reduce((a, b) => a + b, 0);
    assert.ok(total >= 270, `requests in the overview: ${total}`);
    assert.ok(ov.json.columns.security.blocked.reduce((a, b) => a + b, 0) >= 3);
    assert.ok(ov.json.columns.security.top_categories.length > 0);
    assertErrorBody((await request(gw.url, 'GET', '/api/overview?range=5', { key: keys.client })).json, 'invalid_request');
  });

  it('api routes need a key, and the dashboard assets are public and confined to their folder', async () => {
    const { gw } = world;
    assertErrorBody((await request(gw.url, 'GET', '/api/info')).json, 'missing_api_key');
    const info = await request(gw.url, 'GET', '/api/info', { key: world.keys.operator });
    assert.equal(info.json.key.role, 'operator');
    assert.match(info.json.policy_sha256, /^[0-9a-f]{64}$/);
    assert.ok(info.json.models.every((m) => /^[0-9a-f]{64}$/.test(m.sha256)));
    const traversal = await request(gw.url, 'GET', '/assets/..%2F..%2Fconfig%2Fdualguard.yaml');
    assert.equal(traversal.status, 404);
    assertErrorBody(traversal.json, 'not_found');
  });
});

gatewaySuite('gateway monitors: an unsigned alerts file is refused', () => {
  it('serve exits 2 and names the file', async () => {
    const tmp = makeTempDir('dualguard-alerts-');
    try {
      const file = path.join(tmp, 'alerts.yaml');
      fs.writeFileSync(file, 'rules: []\n');
      await assert.rejects(startWorld({ upstream: false, set: { 'gateway.monitor.alerts_file': file } }), (err) => {
        assert.match(err.message, /code 2/);
        assert.ok(err.message.includes(file) && /signature_missing/.test(err.message), err.message);
        return true;
      });
    } finally {
      removeDir(tmp);
    }
  });
});

gatewaySuite('gateway monitors: off, and a dashboard that is not built', () => {
  let world;
  let empty;
  before(async () => {
    empty = makeTempDir('dualguard-nodash-');
    world = await startWorld({ upstream: false, set: { 'gateway.monitor.enabled': false, 'gateway.dashboard.dir': empty } });
  });
  after(async () => {
    await world?.stop();
    if (empty) removeDir(empty);
  });

  it('answers monitor_disabled and dashboard_not_built', async () => {
    const { gw, keys } = world;
    const api = await request(gw.url, 'GET', '/api/incidents', { key: keys.client });
    assert.equal(api.status, 503);
    assertErrorBody(api.json, 'monitor_disabled');
    const page = await request(gw.url, 'GET', '/');
    assert.equal(page.status, 404);
    assertErrorBody(page.json, 'dashboard_not_built');
    // Scanning still works without the monitors.
    assert.equal((await scan(gw, keys.client, { prompt: INJECTION })).json.action, 'block');
  });
});
