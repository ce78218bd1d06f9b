// `dualguard serve` when things go wrong, from docs/gateway.md: upstream errors, timeouts, resets,
// a dead upstream and the circuit breaker; no upstream at all; private metrics; graceful drain on
// SIGTERM; the audit log surviving SIGKILL; `audit verify` catching an edited or deleted record.
// Skipped (with the reason) when DUALGUARD_BIN is unset or has no `serve` subcommand.
import { it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import {
  startUpstream, startGateway, createKeyFor, request, streamRequest, auditVerify, auditExport,
  run, waitFor, makeTempDir, removeDir,
} from './lib/harness.mjs';
import {
  MODEL, BENIGN, INJECTION, LONG_BENIGN, userChat, openaiClient, assertOpenAIError, assertErrorBody,
  assertAPIError, gatewaySuite, startWorld,
} from './lib/fixtures.mjs';

const CHAT = '/v1/chat/completions';

/** Starts a gateway (with a client key) for one test, runs fn({gw, key}), stops it. */
async function withGateway(options, fn) {
  const gw = await startGateway(options);
  try {
    const { key } = await createKeyFor(gw, { role: 'client', name: 'it' });
    return await fn({ gw, key });
  } finally {
    await gw.stop();
  }
}

// ---- upstream failures ----------------------------------------------------------------------------
// One gateway per test, so that one failure cannot open the circuit breaker for the next test.

gatewaySuite('upstream failures', () => {
  let up;
  before(async () => {
    up = await startUpstream();
  });
  after(async () => up?.stop());

  it('an upstream that does not answer: 504 upstream_timeout (gateway.upstream_timeout_ms=500)', async () => {
    await withGateway({ upstream: up.url, set: { 'gateway.upstream_timeout_ms': 500 } }, async ({ gw, key }) => {
      const res = await request(gw.url, 'POST', CHAT, { key, body: userChat('[[hang]] hello'), timeoutMs: 8000 });
      assertOpenAIError(res, 504, 'upstream_timeout');
      await assert.rejects(openaiClient(gw, key).chat.completions.create(userChat('[[hang]] again')),
        (err) => assertAPIError(err, { status: 504, code: 'upstream_timeout' }));
      const s = await streamRequest(gw.url, CHAT, { key, body: userChat('[[hang]] stream', { stream: true }), timeoutMs: 8000 });
      if (s.status === 200) {
        assertErrorBody(s.errorEvent, 'upstream_timeout');
        assert.equal(s.done, false);
      } else {
        assert.equal(s.status, 504, s.raw);
        assertErrorBody(s.json, 'upstream_timeout');
      }
    });
  });

  it('an upstream that resets the connection: 502 upstream_error', async () => {
    await withGateway({ upstream: up.url }, async ({ gw, key }) => {
      assertOpenAIError(await request(gw.url, 'POST', CHAT, { key, body: userChat('[[close]] hello') }), 502, 'upstream_error');
    });
  });

  it('an upstream that resets a stream midway: the client never sees a normal end of stream', async () => {
    await up.script('reset-stream', `[[close]][[chunks:20]][[slow:10]][[say:${LONG_BENIGN}]]`);
    await withGateway({ upstream: up.url }, async ({ gw, key }) => {
      const s = await streamRequest(gw.url, CHAT, { key, body: userChat('Tell me about branches [[script:reset-stream]]', { stream: true }) });
      assert.equal(s.done, false, 'no [DONE] after an upstream reset');
      if (s.status === 200) {
        assert.ok(s.errorEvent || s.transportError, `an error event or a cut connection; got ${s.raw.slice(-300)}`);
        if (s.errorEvent) assertErrorBody(s.errorEvent, 'upstream_error');
      } else {
        assert.equal(s.status, 502, s.raw);
        assertErrorBody(s.json, 'upstream_error');
      }
    });
  });

  it('upstream 5xx answers are passed through, not turned into gateway errors', async () => {
    await withGateway({ upstream: up.url }, async ({ gw, key }) => {
      const res = await request(gw.url, 'POST', CHAT, { key, body: userChat('[[fail:503]] hello') });
      assert.equal(res.status, 503);
      assert.equal(res.json.error.code, 'upstream_test_failure', 'the upstream body, unchanged');
    });
  });

  it('a stopped upstream process: 502 upstream_error', async () => {
    const doomed = await startUpstream();
    await withGateway({ upstream: doomed.url }, async ({ gw, key }) => {
      assert.equal((await request(gw.url, 'POST', CHAT, { key, body: userChat(BENIGN) })).status, 200);
      await doomed.stop();
      assertOpenAIError(await request(gw.url, 'POST', CHAT, { key, body: userChat(BENIGN) }), 502, 'upstream_error');
      assertOpenAIError(await request(gw.url, 'GET', '/v1/models', { key }), 502, 'upstream_error');
    }).finally(() => doomed.stop());
  });

  it('repeated failures open the circuit breaker: 503 upstream_unavailable without calling the upstream', async () => {
    // Connection refused is the failure every breaker counts. Once the breaker is open, an upstream
    // brought back on the same address must not be called until the breaker lets a probe through.
    const first = await startUpstream();
    let revived;
    // A high rate limit, so only the breaker can stop these requests.
    await withGateway({ upstream: first.url, set: { 'gateway.limits.requests_per_minute': 100000 } }, async ({ gw, key }) => {
      await first.stop();
      const MAX_ATTEMPTS = 30;
      let opened = 0;
      for (let attempt = 1; attempt <= MAX_ATTEMPTS && !opened; attempt++) {
        const res = await request(gw.url, 'POST', CHAT, { key, body: userChat(`ping ${attempt}`) });
        if (res.status === 503) {
          assertOpenAIError(res, 503, 'upstream_unavailable', `attempt ${attempt}`);
          opened = attempt;
        } else {
          assertOpenAIError(res, 502, 'upstream_error', `attempt ${attempt}`);
        }
      }
      assert.ok(opened > 1, `the breaker opened within ${MAX_ATTEMPTS} consecutive connection failures`);
      revived = await startUpstream({ port: first.port });
      assertOpenAIError(await request(gw.url, 'POST', CHAT, { key, body: userChat(BENIGN) }), 503, 'upstream_unavailable');
      assert.equal((await revived.stats()).total, 0, 'an open breaker does not call the upstream');
      assert.equal((await request(gw.url, 'POST', '/v1/scan', { key, body: { prompt: BENIGN } })).status, 200,
        'the scan API does not depend on the upstream');
    }).finally(async () => {
      await first.stop();
      await revived?.stop();
    });
  });
});

// ---- no upstream ----------------------------------------------------------------------------------

gatewaySuite('no upstream configured', () => {
  let world;
  before(async () => {
    world = await startWorld({ upstream: false });
  });
  after(async () => world?.stop());

  it('/v1/scan works without an upstream', async () => {
    const { gw, keys } = world;
    const ok = await request(gw.url, 'POST', '/v1/scan', { key: keys.client, body: { prompt: BENIGN } });
    assert.equal(ok.status, 200, ok.text);
    assert.equal(ok.json.action, 'allow');
    const bad = await request(gw.url, 'POST', '/v1/scan', { key: keys.client, body: { prompt: INJECTION } });
    assert.equal(bad.status, 200, bad.text);
    assert.equal(bad.json.action, 'block');
    assert.equal((await request(gw.url, 'GET', '/readyz')).status, 200);
  });

  it('proxy routes answer 503 no_upstream', async () => {
    const { gw, keys } = world;
    const key = keys.client;
    assertOpenAIError(await request(gw.url, 'POST', CHAT, { key, body: userChat(BENIGN) }), 503, 'no_upstream');
    assertOpenAIError(await request(gw.url, 'POST', '/v1/completions', { key, body: { model: MODEL, prompt: 'x' } }), 503, 'no_upstream');
    assertOpenAIError(await request(gw.url, 'GET', '/v1/models', { key }), 503, 'no_upstream');
    assertOpenAIError(await request(gw.url, 'POST', '/v2/models/echo/infer', {
      key, body: { inputs: [{ name: 't', shape: [1], datatype: 'BYTES', data: ['hi'] }] },
    }), 503, 'no_upstream');
  });
});

// ---- private metrics ------------------------------------------------------------------------------

gatewaySuite('gateway.metrics_public=false', () => {
  let world;
  before(async () => {
    world = await startWorld({ upstream: false, set: { 'gateway.metrics_public': false } });
  });
  after(async () => world?.stop());

  it('/metrics needs an operator key', async () => {
    const { gw, keys } = world;
    assertOpenAIError(await request(gw.url, 'GET', '/metrics'), 401, 'missing_api_key');
    assertOpenAIError(await request(gw.url, 'GET', '/metrics', { key: keys.client }), 403, 'insufficient_role');
    const res = await request(gw.url, 'GET', '/metrics', { key: keys.operator });
    assert.equal(res.status, 200);
    assert.match(res.text, /^dualguard_policy_info\{/m);
    assert.equal((await request(gw.url, 'GET', '/healthz')).status, 200, 'probes stay public');
  });
});

// ---- graceful drain -----------------------------------------------------------------------------

gatewaySuite('SIGTERM: graceful drain', () => {
  let world;
  before(async () => {
    world = await startWorld();
  });
  after(async () => world?.stop());

  it('finishes the request in flight, refuses new work, then exits 0', async () => {
    const { gw, up, keys } = world;
    const inFlight = request(gw.url, 'POST', CHAT, { key: keys.client, body: userChat('[[slow:1500]] finish me'), timeoutMs: 15_000 });
    await waitFor(async () => (await up.stats()).active >= 1, { timeoutMs: 5000, what: 'the slow request at the upstream' });

    gw.expectedExit = true;
    const stopping = gw.stop();
    // Not ready while draining: /readyz 503, or the listener is already closed.
    await waitFor(async () => {
      try {
        return (await request(gw.url, 'GET', '/readyz', { timeoutMs: 500 })).status === 503;
      } catch {
        return true;
      }
    }, { timeoutMs: 1000, what: '/readyz to stop answering 200 after SIGTERM' });
    try {
      const late = await request(gw.url, 'POST', CHAT, { key: keys.client, body: userChat(BENIGN), timeoutMs: 1000 });
      assertOpenAIError(late, 503, 'draining');
    } catch (err) {
      if (err.code === 'ERR_ASSERTION') throw err; // a refused connection is fine, a wrong answer is not
    }

    const res = await inFlight;
    assert.equal(res.status, 200, res.text);
    assert.equal(res.json.choices[0].message.content, 'Echo: finish me');
    const exit = await stopping;
    assert.equal(exit.forced, false, 'exited by itself within the drain deadline');
    assert.equal(exit.code, 0, `exit code after SIGTERM\n${gw.output()}`);
  });
});

// ---- audit log durability and integrity -----------------------------------------------------------

gatewaySuite('audit log: SIGKILL durability', () => {
  let up;
  let dataDir;
  before(async () => {
    up = await startUpstream();
    dataDir = makeTempDir();
  });
  after(async () => {
    await up?.stop();
    removeDir(dataDir);
  });

  it('a request answered just before SIGKILL is in `audit export`, and the chain verifies', async () => {
    const gw = await startGateway({ upstream: up.url, dataDir });
    let requestId;
    try {
      const { key } = await createKeyFor(gw, { role: 'client', name: 'durable' });
      const res = await request(gw.url, 'POST', CHAT, { key, body: userChat(BENIGN) });
      assert.equal(res.status, 200, res.text);
      requestId = res.headers.get('x-request-id');
      assert.ok(requestId, 'x-request-id header');
    } finally {
      await gw.kill(); // immediately, no chance to flush anything at exit
    }
    const { lines } = await auditExport(dataDir);
    assert.ok(lines.some((l) => l.includes(requestId)), `the record of ${requestId} survived SIGKILL`);
    const verify = await auditVerify(dataDir);
    assert.equal(verify.code, 0, `audit verify after SIGKILL: ${verify.stdout}\n${verify.stderr}`);
  });
});

/** Runs sqlite3 on `db`; with json, parses `-json` output. */
async function sqlite(db, sql, { json = false } = {}) {
  const r = await run('sqlite3', json ? ['-json', db, sql] : [db, sql]);
  if (r.code !== 0) throw new Error(`sqlite3 ${db} "${sql}" exited ${r.code}: ${r.stderr}`);
  if (!json) return r.stdout;
  return r.stdout.trim() ? JSON.parse(r.stdout) : [];
}

/**
 * Finds the audit table in audit.db without knowing the schema: the table with the most rows among
 * those with a hash-like column, preferring audit-like names and avoiding key tables.
 */
async function findAuditTable(db) {
  const tables = await sqlite(db, "SELECT name FROM sqlite_master WHERE type='table' AND name NOT LIKE 'sqlite_%'", { json: true });
  let best;
  for (const { name } of tables) {
    const columns = await sqlite(db, `PRAGMA table_info("${name}")`, { json: true });
    const [{ n }] = await sqlite(db, `SELECT count(*) AS n FROM "${name}"`, { json: true });
    const score = (columns.some((c) => /hash|prev|digest|chain/i.test(c.name)) ? 4 : 0)
      + (/audit|record|event|log/i.test(name) ? 2 : 0) - (/key/i.test(name) ? 8 : 0);
    if (n >= 3 && (!best || score > best.score || (score === best.score && n > best.n))) best = { name, columns, n, score };
  }
  assert.ok(best, `an audit table with at least 3 rows in ${db}; tables: ${tables.map((t) => t.name).join(', ')}`);
  return best;
}

const sqlLiteral = (v) => (typeof v === 'number' ? String(v) : `'${String(v).replace(/'/g, "''")}'`);
const PREFERRED_FIELDS = ['route', 'status', 'http_status', 'code', 'error_code', 'action', 'class', 'key_id', 'latency_us'];

/** Edits one field of the second record; returns a description and the row's identifying values. */
async function editSecondRecord(db, table) {
  const [row] = await sqlite(db, `SELECT rowid AS "__rowid", * FROM "${table.name}" ORDER BY rowid LIMIT 1 OFFSET 1`, { json: true });
  const changed = (v) => (typeof v === 'number' ? v + 1 : 'tampered');
  const columns = table.columns.map((c) => c.name);
  let sql;
  const scalar = PREFERRED_FIELDS.find((f) => columns.includes(f) && row[f] !== null && typeof row[f] !== 'object');
  if (scalar) {
    sql = `UPDATE "${table.name}" SET "${scalar}" = ${sqlLiteral(changed(row[scalar]))} WHERE rowid = ${row.__rowid}`;
  } else {
    // Records kept as a JSON document: change a field inside it.
    const jsonColumn = columns.find((c) => typeof row[c] === 'string' && row[c].trim().startsWith('{'));
    assert.ok(jsonColumn, `a field to edit in ${table.name}: columns ${columns.join(', ')}`);
    const doc = JSON.parse(row[jsonColumn]);
    const field = PREFERRED_FIELDS.find((f) => f in doc) ?? Object.keys(doc).find((k) => !/hash|prev/i.test(k));
    sql = `UPDATE "${table.name}" SET "${jsonColumn}" = json_set("${jsonColumn}", '$."${field}"', `
      + `${sqlLiteral(changed(doc[field]))}) WHERE rowid = ${row.__rowid}`;
  }
  await sqlite(db, sql);
  return { sql, row };
}

async function dropTriggers(db) {
  // An attacker with the file can drop append-only triggers first; verify must still catch the edit.
  const triggers = await sqlite(db, "SELECT name FROM sqlite_master WHERE type='trigger'", { json: true });
  for (const { name } of triggers) await sqlite(db, `DROP TRIGGER "${name}"`);
}

/** True when the sqlite3 command-line tool is not installed. */
function sqliteMissing() {
  return run('sqlite3', ['-version']).then((r) => r.code !== 0, () => true);
}

gatewaySuite('audit log: tampering is detected', () => {
  let up;
  let dataDir;
  const copies = [];
  before(async () => {
    up = await startUpstream();
    dataDir = makeTempDir();
    const gw = await startGateway({ upstream: up.url, dataDir });
    try {
      const { key } = await createKeyFor(gw, { role: 'client', name: 'tamper' });
      for (const body of [userChat(BENIGN), userChat(INJECTION), userChat('[[say:fine]] ok'), userChat('last one')]) {
        await request(gw.url, 'POST', CHAT, { key, body });
      }
    } finally {
      const exit = await gw.stop({ keepDataDir: true });
      assert.equal(exit.forced, false, 'the gateway stopped on SIGTERM');
    }
  });
  after(async () => {
    await up?.stop();
    removeDir(dataDir);
    for (const dir of copies) removeDir(dir);
  });

  /** A copy of the data dir to tamper with (audit.db, -wal, -shm and the rest). */
  function copyOfData() {
    const dir = makeTempDir('dualguard-it-tamper-');
    copies.push(dir);
    fs.cpSync(dataDir, dir, { recursive: true });
    return dir;
  }

  it('`audit verify` exits 0 on the untouched log', async () => {
    const r = await auditVerify(dataDir);
    assert.equal(r.code, 0, `${r.stdout}\n${r.stderr}`);
  });

  it('editing one field of one record (sqlite3 UPDATE): verify exits 1 and names the record', async (t) => {
    if (await sqliteMissing()) {
      t.skip('the sqlite3 command-line tool is not installed');
      return;
    }
    const dir = copyOfData();
    const db = path.join(dir, 'audit.db');
    await dropTriggers(db);
    const table = await findAuditTable(db);
    const { sql, row } = await editSecondRecord(db, table);
    const r = await auditVerify(dir);
    assert.equal(r.code, 1, `audit verify after "${sql}": ${r.stdout}\n${r.stderr}`);
    const said = `${r.stdout}\n${r.stderr}`;
    const requestIdColumn = Object.keys(row).find((c) => /^req(uest)?_?id$/i.test(c));
    if (requestIdColumn && row[requestIdColumn]) {
      const pk = table.columns.find((c) => c.pk)?.name ?? '__rowid';
      assert.ok(said.includes(String(row[requestIdColumn])) || new RegExp(`\\b${row[pk]}\\b`).test(said),
        `the output names the edited record (${requestIdColumn} ${row[requestIdColumn]} or ${pk} ${row[pk]}): ${said}`);
    }
  });

  it('deleting one record: verify exits 1', async (t) => {
    if (await sqliteMissing()) {
      t.skip('the sqlite3 command-line tool is not installed');
      return;
    }
    const dir = copyOfData();
    const db = path.join(dir, 'audit.db');
    await dropTriggers(db);
    const table = await findAuditTable(db);
    await sqlite(db, `DELETE FROM "${table.name}" WHERE rowid = (SELECT rowid FROM "${table.name}" ORDER BY rowid LIMIT 1 OFFSET 1)`);
    const r = await auditVerify(dir);
    assert.equal(r.code, 1, `audit verify after a deletion: ${r.stdout}\n${r.stderr}`);
  });
});
