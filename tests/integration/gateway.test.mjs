// `dualguard serve` end to end, written from docs/gateway.md: the real binary on 127.0.0.1:0 in front
// of the scripted upstream (upstream/server.mjs), driven with fetch and the official openai client.
// This file: probes and metrics, the scan API, the proxied routes (chat, streaming, legacy
// completions, models, Open Inference Protocol), authentication and roles, the operator switches,
// request errors and the audit trail of this traffic. Limits: gateway-limits.test.mjs; upstream
// failures, drain, durability and tampering: gateway-resilience.test.mjs.
//
// Skipped (with the reason) when DUALGUARD_BIN is unset or has no `serve` subcommand.
import { it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import {
  request, streamRequest, createKey, revokeKey, auditVerify, auditExport, run, waitFor,
  dualguardBin, DEFAULT_CONFIG,
} from './lib/harness.mjs';
import {
  MODEL, INJECTION, BENIGN, REVIEW_PROMPT, SYSTEM_PROMPT, LEAK_ANSWER, EXFIL_HOST, EXFIL_MARKDOWN,
  LONG_BENIGN, INDIRECT_INJECTION, EMAIL, CARD, userChat, systemChat, openaiClient,
  assertOpenAIError, assertErrorBody, assertAPIError, assertVerdict, collectOpenAIStream,
  gatewaySuite, startWorld,
} from './lib/fixtures.mjs';

const CHAT = '/v1/chat/completions';

let world;
let gw;
let up;
let keys;
let client; // openai client with the client key

async function setUp() {
  world = await startWorld();
  ({ gw, up, keys } = world);
  client = openaiClient(gw, keys.client);
}

async function tearDown() {
  await world?.stop();
}

/** Calls fn and returns how many requests the upstream received on `path` meanwhile. */
async function upstreamDelta(path, fn) {
  const before = await up.count(path);
  const result = await fn();
  return { result, delta: (await up.count(path)) - before };
}

// ---- probes and metrics ----------------------------------------------------------------------------

gatewaySuite('probes and metrics', () => {
  before(setUp);
  after(tearDown);

  it('GET /healthz answers 200 without a key', async () => {
    assert.equal((await request(gw.url, 'GET', '/healthz')).status, 200);
  });

  it('GET /readyz answers 200 without a key once the engine is loaded', async () => {
    assert.equal((await request(gw.url, 'GET', '/readyz')).status, 200);
  });

  it('GET /metrics is Prometheus text with dualguard_ metrics and dualguard_policy_info{sha256=...}', async () => {
    const res = await request(gw.url, 'GET', '/metrics');
    assert.equal(res.status, 200);
    assert.match(res.headers.get('content-type') ?? '', /^text\/plain/);
    assert.match(res.text, /^dualguard_policy_info\{[^}]*sha256="[0-9a-f]{64}"[^}]*\} 1(\.0)?$/m,
      'dualguard_policy_info{sha256="<64 hex>"} 1');
    assert.match(res.text, /^# TYPE dualguard_\w+ (counter|gauge|histogram|summary|untyped)$/m);
    const sample = /^[a-zA-Z_:][a-zA-Z0-9_:]*(\{(\s*[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\\n]|\\.)*"\s*,?)*\})? (?:[-+]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][-+]?\d+)?|NaN|[+-]Inf)(?: -?\d+)?$/;
    for (const line of res.text.split('\n')) {
      if (line === '') continue;
      if (line.startsWith('#')) {
        assert.match(line, /^# (HELP [a-zA-Z_:][a-zA-Z0-9_:]*( .*)?|TYPE [a-zA-Z_:][a-zA-Z0-9_:]* (counter|gauge|histogram|summary|untyped))$/, `comment line: ${line}`);
      } else {
        assert.match(line, sample, `sample line: ${line}`);
      }
    }
  });

  it('counters move with traffic (the sum of dualguard_*_total grows after a request)', async () => {
    const total = async () => {
      const text = (await request(gw.url, 'GET', '/metrics')).text;
      return text.split('\n')
        .filter((l) => /^dualguard_\w+_total(\{| )/.test(l))
        .reduce((sum, l) => sum + Number(l.slice(l.lastIndexOf(' ') + 1)), 0);
    };
    const before = await total();
    const res = await request(gw.url, 'POST', CHAT, { key: keys.client, body: userChat(BENIGN) });
    assert.equal(res.status, 200, res.text);
    assert.ok((await total()) > before, 'some dualguard_*_total counter increased');
  });

  it('the documented latency histograms count every proxied request (request, engine, upstream, audit commit)', async () => {
    const counts = async () => {
      const text = (await request(gw.url, 'GET', '/metrics')).text;
      const out = {};
      for (const name of ['request_duration_seconds', 'engine_duration_seconds', 'upstream_duration_seconds',
        'audit_commit_duration_seconds']) {
        const lines = text.split('\n').filter((l) => l.startsWith(`dualguard_gateway_${name}_count`));
        assert.ok(lines.length > 0, `dualguard_gateway_${name}_count is exported`);
        out[name] = lines.reduce((sum, l) => sum + Number(l.slice(l.lastIndexOf(' ') + 1)), 0);
      }
      return out;
    };
    const before = await counts();
    const res = await request(gw.url, 'POST', CHAT, { key: keys.client, body: userChat(BENIGN) });
    assert.equal(res.status, 200, res.text);
    const after = await counts();
    for (const [name, n] of Object.entries(after)) assert.ok(n > before[name], `${name} counted the request`);
  });
});

// ---- POST /v1/scan ---------------------------------------------------------------------------------

gatewaySuite('POST /v1/scan (guard as a service)', () => {
  before(setUp);
  after(tearDown);

  async function scan(body) {
    const res = await request(gw.url, 'POST', '/v1/scan', { key: keys.client, body });
    assert.equal(res.status, 200, `scan answers 200 with the verdict; got ${res.status} ${res.text}`);
    assert.equal(res.headers.get('x-dualguard-action'), res.json.action, 'x-dualguard-action = verdict action');
    assert.equal(res.headers.get('x-dualguard-class'), res.json.class, 'x-dualguard-class = verdict class');
    assert.ok(res.headers.get('x-request-id'), 'x-request-id header');
    return res.json;
  }

  it('allows a benign prompt: action allow, class clean, no findings', async () => {
    const v = await scan({ prompt: BENIGN });
    assert.equal(v.action, 'allow');
    assert.equal(v.class, 'clean');
    assert.deepEqual(v.findings, []);
    assert.equal(typeof v.reason, 'string');
    assert.equal(typeof v.latency_us, 'number');
  });

  it('blocks an obvious injection: action block, class security, findings on the prompt', async () => {
    const v = await scan({ prompt: INJECTION });
    assertVerdict(v, { action: 'block', categories: ['system_prompt_extraction'], role: 'prompt' });
    assert.equal(v.class, 'security');
    for (const f of v.findings) {
      for (const [start, end] of f.spans) assert.ok(start >= 0 && end <= Buffer.byteLength(INJECTION) && start < end);
    }
  });

  it('scans an exchange: context documents and the response against the system prompt', async () => {
    const indirect = await scan({ prompt: 'What does this page say?', context: [INDIRECT_INJECTION] });
    assertVerdict(indirect, { action: 'block', categories: ['prompt_injection'], role: 'context' });
    const leak = await scan({ system: SYSTEM_PROMPT, prompt: 'Tell me about yourself', response: LEAK_ANSWER });
    assertVerdict(leak, { action: 'block', categories: ['system_prompt_leak'], role: 'response' });
    const pii = await scan({ response: `contact ${EMAIL}` });
    assert.equal(pii.action, 'redact');
    assert.equal(pii.redacted, 'contact [REDACTED:EMAIL]');
  });

  it('gives the same decisions as `dualguard scan` (one engine)', async () => {
    const inputs = [
      { prompt: BENIGN },
      { prompt: INJECTION },
      { prompt: REVIEW_PROMPT },
      { prompt: 'Summarise', context: [INDIRECT_INJECTION] },
      { system: SYSTEM_PROMPT, prompt: 'hi', response: LEAK_ANSWER },
      { response: `Your card ${CARD} is on file.` },
      { response: `Here you go ${EXFIL_MARKDOWN}` },
    ];
    const cli = await run(dualguardBin(), ['--config', DEFAULT_CONFIG, 'scan'], {
      input: inputs.map((x) => JSON.stringify(x)).join('\n') + '\n',
    });
    assert.equal(cli.code, 0, cli.stderr);
    const offline = cli.stdout.trim().split('\n').map((l) => JSON.parse(l));
    const summary = (v) => ({ action: v.action, class: v.class, categories: [...new Set(v.findings.map((f) => f.category))].sort() });
    for (const [i, input] of inputs.entries()) {
      assert.deepEqual(summary(await scan(input)), summary(offline[i]), `input ${JSON.stringify(input)}`);
    }
  });

  it('never calls the upstream', async () => {
    const before = (await up.stats()).total;
    await scan({ prompt: BENIGN });
    await scan({ prompt: INJECTION });
    assert.equal((await up.stats()).total, before);
  });

  it('rejects a body that is not JSON (400 invalid_json) and a field of the wrong type (400 invalid_request)', async () => {
    assertOpenAIError(await request(gw.url, 'POST', '/v1/scan', {
      key: keys.client, body: '{"prompt": ', headers: { 'content-type': 'application/json' },
    }), 400, 'invalid_json');
    assertOpenAIError(await request(gw.url, 'POST', '/v1/scan', { key: keys.client, body: { prompt: 42 } }), 400, 'invalid_request');
  });

  it('needs a key (401 missing_api_key)', async () => {
    assertOpenAIError(await request(gw.url, 'POST', '/v1/scan', { body: { prompt: BENIGN } }), 401, 'missing_api_key');
  });
});

// ---- POST /v1/chat/completions ------------------------------------------------------------------------

gatewaySuite('POST /v1/chat/completions', () => {
  before(setUp);
  after(tearDown);

  it('forwards an allowed request (openai client) and returns the upstream answer', async () => {
    const { result, delta } = await upstreamDelta(CHAT, () => client.chat.completions
      .create(systemChat(SYSTEM_PROMPT, BENIGN, { temperature: 0.2 })).withResponse());
    const { data, response } = result;
    assert.equal(delta, 1, 'the upstream saw the request once');
    assert.equal(data.object, 'chat.completion');
    assert.equal(data.choices[0].message.content, `Echo: ${BENIGN}`);
    assert.equal(data.choices[0].finish_reason, 'stop');
    assert.equal(response.headers.get('x-dualguard-action'), 'allow');
    assert.equal(response.headers.get('x-dualguard-class'), 'clean');
    assert.ok(response.headers.get('x-request-id'));
    const last = await up.last();
    const forwarded = last.body;
    assert.deepEqual(forwarded.messages, systemChat(SYSTEM_PROMPT, BENIGN).messages, 'messages forwarded as sent');
    assert.equal(forwarded.model, MODEL);
    assert.equal(forwarded.temperature, 0.2);
    assert.ok(!JSON.stringify(last.headers).includes(keys.client), 'the client\'s dualguard key is not sent upstream');
  });

  it('passes the upstream body through: ids, usage, logprobs, tool calls', async () => {
    const lp = await client.chat.completions.create(userChat('[[logprobs]] hi there', { logprobs: true, top_logprobs: 2 }));
    assert.match(lp.id, /^chatcmpl-/);
    assert.ok(lp.usage.total_tokens > 0);
    assert.equal(lp.choices[0].logprobs.content.map((t) => t.token).join(''), 'Echo: hi there');
    assert.equal(lp.choices[0].logprobs.content[0].top_logprobs.length, 2);

    const tool = await client.chat.completions.create(userChat('weather in Paris? [[tool_call:get_weather:{"city":"Paris"}]]', {
      tools: [{ type: 'function', function: { name: 'get_weather', parameters: { type: 'object', properties: { city: { type: 'string' } } } } }],
    }));
    assert.equal(tool.choices[0].finish_reason, 'tool_calls');
    assert.equal(tool.choices[0].message.tool_calls[0].function.name, 'get_weather');
    assert.deepEqual(JSON.parse(tool.choices[0].message.tool_calls[0].function.arguments), { city: 'Paris' });
  });

  it('blocks an injected prompt (openai client): 403 blocked_by_policy, the upstream never sees it', async () => {
    const { delta } = await upstreamDelta(CHAT, () => assert.rejects(
      client.chat.completions.create(systemChat(SYSTEM_PROMPT, INJECTION)),
      (err) => assertAPIError(err, { status: 403, code: 'blocked_by_policy' }),
    ));
    assert.equal(delta, 0, 'a blocked request is not forwarded');
  });

  it('the block answer names the message and carries the verdict', async () => {
    const res = await request(gw.url, 'POST', CHAT, { key: keys.client, body: systemChat(SYSTEM_PROMPT, INJECTION) });
    assertOpenAIError(res, 403, 'blocked_by_policy');
    assert.equal(res.json.error.param, 'messages[1]');
    assertVerdict(res.json.verdict, { action: 'block', categories: ['system_prompt_extraction'], role: 'prompt' });
    assert.equal(res.headers.get('x-dualguard-action'), 'block');
    assert.equal(res.headers.get('x-dualguard-class'), 'security');
    assert.ok(res.headers.get('x-request-id'));
  });

  it('blocks an indirect injection in a tool result (role "tool" is context)', async () => {
    const body = {
      model: MODEL,
      messages: [
        { role: 'system', content: SYSTEM_PROMPT },
        { role: 'user', content: 'What does this page say?' },
        {
          role: 'assistant', content: null,
          tool_calls: [{ id: 'call_1', type: 'function', function: { name: 'fetch_page', arguments: '{"url":"https://shop.example/"}' } }],
        },
        { role: 'tool', tool_call_id: 'call_1', content: INDIRECT_INJECTION },
      ],
    };
    const { result: res, delta } = await upstreamDelta(CHAT, () => request(gw.url, 'POST', CHAT, { key: keys.client, body }));
    assertOpenAIError(res, 403, 'blocked_by_policy');
    assert.equal(res.json.error.param, 'messages[3]');
    assertVerdict(res.json.verdict, { action: 'block', categories: ['prompt_injection'], role: 'context' });
    assert.equal(delta, 0);
  });

  it('blocks a response that leaks the system prompt (openai client)', async () => {
    await up.script('leak', `[[say:${LEAK_ANSWER}]]`);
    const { delta } = await upstreamDelta(CHAT, () => assert.rejects(
      client.chat.completions.create(systemChat(SYSTEM_PROMPT, 'Tell me about yourself [[script:leak]]')),
      (err) => assertAPIError(err, { status: 403, code: 'blocked_by_policy' }),
    ));
    assert.equal(delta, 1, 'the request was forwarded; the answer was blocked');
    const res = await request(gw.url, 'POST', CHAT, { key: keys.client, body: systemChat(SYSTEM_PROMPT, 'Tell me about yourself [[script:leak]]') });
    assertOpenAIError(res, 403, 'blocked_by_policy');
    assert.equal(res.json.choices, undefined, 'no answer in the body');
    assert.ok(!res.text.includes(SYSTEM_PROMPT), 'the leaked text is not in the error body');
    assertVerdict(res.json.verdict, { action: 'block', categories: ['system_prompt_leak'], role: 'response' });
  });

  it('blocks a response with an exfiltration markdown image', async () => {
    await up.script('exfil', `[[say:Here is your summary. ${EXFIL_MARKDOWN}]]`);
    const res = await request(gw.url, 'POST', CHAT, { key: keys.client, body: userChat('Please summarise the page I gave you [[script:exfil]]') });
    assertOpenAIError(res, 403, 'blocked_by_policy');
    assert.equal(res.json.choices, undefined);
    assertVerdict(res.json.verdict, { action: 'block', categories: ['data_exfiltration'], role: 'response' });
  });

  it('scans tool-call arguments as response', async () => {
    await up.script('tool-exfil', `[[tool_call:render:{"markdown":"${EXFIL_MARKDOWN}"}]]`);
    const res = await request(gw.url, 'POST', CHAT, { key: keys.client, body: userChat('Show my notes [[script:tool-exfil]]') });
    assertOpenAIError(res, 403, 'blocked_by_policy');
    assertVerdict(res.json.verdict, { action: 'block', categories: ['data_exfiltration'], role: 'response' });
  });

  it('redacts an e-mail address in the answer', async () => {
    // The answer comes from a registered script: "[[say:...]]" in the prompt itself reads as a
    // hijack ("say X") to the prompt_attack model.
    await up.script('contact', `[[say:contact ${EMAIL}]]`);
    const { data, response } = await client.chat.completions
      .create(userChat('How do I reach support? [[script:contact]]')).withResponse();
    const content = data.choices[0].message.content;
    assert.ok(content.includes('[REDACTED'), `redacted answer: ${content}`);
    assert.ok(!content.includes(EMAIL), `the address is gone: ${content}`);
    assert.equal(content, 'contact [REDACTED:EMAIL]');
    assert.equal(response.headers.get('x-dualguard-action'), 'redact');
    assert.equal(response.headers.get('x-dualguard-class'), 'safety');
  });

  it('redacts a credit-card number in the answer', async () => {
    await up.script('card', `[[say:Your card ${CARD} is on file.]]`);
    const res = await request(gw.url, 'POST', CHAT, { key: keys.client, body: userChat('Which card do I use? [[script:card]]') });
    assert.equal(res.status, 200, res.text);
    const content = res.json.choices[0].message.content;
    assert.equal(content, 'Your card [REDACTED:CARD] is on file.');
    assert.ok(!res.text.includes(CARD));
  });

  it('a `review` verdict is forwarded and marked', async () => {
    const res = await request(gw.url, 'POST', CHAT, { key: keys.client, body: userChat(REVIEW_PROMPT) });
    assert.equal(res.status, 200, res.text);
    assert.equal(res.headers.get('x-dualguard-action'), 'review');
    assert.equal(res.json.choices[0].message.content, `Echo: ${REVIEW_PROMPT}`);
  });

  it('rejects a body that is not JSON: 400 invalid_json, nothing forwarded', async () => {
    const { result: res, delta } = await upstreamDelta(CHAT, () => request(gw.url, 'POST', CHAT, {
      key: keys.client, body: '{"model": "test-model", "messages": [', headers: { 'content-type': 'application/json' },
    }));
    assertOpenAIError(res, 400, 'invalid_json');
    assert.equal(delta, 0);
  });

  it('rejects missing or mistyped messages: 400 invalid_request', async () => {
    for (const body of [{ model: MODEL }, { model: MODEL, messages: 'hello' }, { model: MODEL, messages: [{ role: 'user', content: 42 }] }]) {
      const res = await request(gw.url, 'POST', CHAT, { key: keys.client, body });
      assertOpenAIError(res, 400, 'invalid_request', JSON.stringify(body));
    }
  });

  it('passes upstream HTTP errors through unchanged (status and body)', async () => {
    for (const status of [400, 500]) {
      const res = await request(gw.url, 'POST', CHAT, { key: keys.client, body: userChat(`[[fail:${status}]] hello`) });
      assert.equal(res.status, status, res.text);
      assert.deepEqual(res.json, {
        error: {
          message: `upstream failure ${status} requested by [[fail:${status}]]`,
          type: status >= 500 ? 'server_error' : 'invalid_request_error',
          param: null,
          code: 'upstream_test_failure',
        },
      });
    }
  });
});

// ---- streaming ------------------------------------------------------------------------------------

gatewaySuite('streaming chat completions (SSE)', () => {
  before(setUp);
  after(tearDown);

  it('streams an allowed answer to the openai client', async () => {
    const prompt = '[[chunks:5]] Tell me a short story about a friendly robot';
    const { result, delta } = await upstreamDelta(CHAT, () => collectOpenAIStream(
      () => client.chat.completions.create(userChat(prompt, { stream: true }))));
    assert.equal(result.error, undefined, `no stream error: ${result.error?.message}`);
    assert.equal(result.text, 'Echo: Tell me a short story about a friendly robot');
    assert.equal(delta, 1);
  });

  it('raw SSE: event-stream, chunk objects, [DONE] at the end, x-request-id', async () => {
    const s = await streamRequest(gw.url, CHAT, {
      key: keys.client, body: userChat('[[chunks:8]][[slow:20]] Tell me about the weather in Paris today', { stream: true }),
    });
    assert.equal(s.status, 200, s.raw);
    assert.match(s.headers.get('content-type'), /^text\/event-stream/);
    assert.ok(s.headers.get('x-request-id'));
    assert.equal(s.errorEvent, undefined, s.raw);
    assert.equal(s.done, true, 'ends with [DONE]');
    assert.equal(s.content, 'Echo: Tell me about the weather in Paris today');
    const chunks = s.events.filter((e) => e !== '[DONE]');
    assert.ok(chunks.every((c) => c.object === 'chat.completion.chunk'));
    assert.equal(chunks.at(-1).choices[0].finish_reason, 'stop');
  });

  it('a long allowed answer arrives complete (many scan windows)', async () => {
    const long = `${LONG_BENIGN} ${LONG_BENIGN} ${LONG_BENIGN}`;
    await up.script('long', `[[chunks:40]][[say:${long}]]`);
    const r = await collectOpenAIStream(() => client.chat.completions.create(userChat('Tell me about branches [[script:long]]', { stream: true })));
    assert.equal(r.error, undefined, r.error?.message);
    assert.equal(r.text, long);
  });

  it('streams tool calls', async () => {
    const s = await streamRequest(gw.url, CHAT, { key: keys.client, body: userChat('[[tool_call:lookup:{"q":"branches"}]]', { stream: true }) });
    assert.equal(s.status, 200, s.raw);
    const args = s.events.filter((e) => e !== '[DONE]')
      .map((c) => c.choices?.[0]?.delta?.tool_calls?.[0]?.function?.arguments ?? '').join('');
    assert.deepEqual(JSON.parse(args), { q: 'branches' });
    assert.equal(s.done, true);
  });

  it('blocks an injected prompt before streaming (openai client sees 403)', async () => {
    const { result, delta } = await upstreamDelta(CHAT, () => collectOpenAIStream(
      () => client.chat.completions.create(userChat(INJECTION, { stream: true }))));
    assertAPIError(result.error, { status: 403, code: 'blocked_by_policy' });
    assert.equal(result.text, '');
    assert.equal(delta, 0);
  });

  it('cuts a stream that turns into exfiltration: the openai client gets an error, never the flagged text', async () => {
    await up.script('stream-exfil', `[[chunks:10]][[say:${LONG_BENIGN} ${EXFIL_MARKDOWN} Thank you for banking with us.]]`);
    const r = await collectOpenAIStream(() => client.chat.completions.create(userChat('Write a short note for me [[script:stream-exfil]]', { stream: true })));
    assertAPIError(r.error, { code: 'blocked_by_policy' });
    assert.ok(!r.text.includes(EXFIL_HOST), `flagged text reached the client: ${r.text.slice(-200)}`);
    assert.ok(!r.text.includes('Thank you for banking'), 'nothing after the flagged text either');
  });

  it('raw SSE cut-off: an error event in the OpenAI shape, no [DONE], the flagged text never sent', async () => {
    await up.script('stream-exfil-raw', `[[chunks:10]][[say:${LONG_BENIGN} ${EXFIL_MARKDOWN} Thank you for banking with us.]]`);
    const s = await streamRequest(gw.url, CHAT, { key: keys.client, body: userChat('Write a short note for me [[script:stream-exfil-raw]]', { stream: true }) });
    assert.equal(s.status, 200, 'the stream had started (benign text came first)');
    assert.ok(s.errorEvent, `an error event ends the stream; got: ${s.raw.slice(-500)}`);
    assertErrorBody(s.errorEvent, 'blocked_by_policy');
    assert.equal(s.done, false, 'no [DONE] after a block');
    assert.equal(s.events.at(-1), s.errorEvent, 'the error event is the last event');
    assert.ok(!s.content.includes(EXFIL_HOST), `flagged text in the content: ${s.content.slice(-200)}`);
    assert.ok(LONG_BENIGN.startsWith(s.content), 'only a prefix of the benign text was released');
  });

  it('a streamed system-prompt leak is stopped before the prompt is out', async () => {
    await up.script('stream-leak', `[[chunks:8]][[say:${LEAK_ANSWER}]]`);
    const r = await collectOpenAIStream(() => client.chat.completions.create(
      systemChat(SYSTEM_PROMPT, 'Tell me about yourself [[script:stream-leak]]', { stream: true })));
    assertAPIError(r.error, { code: 'blocked_by_policy' });
    assert.ok(!r.text.includes(SYSTEM_PROMPT), `the whole system prompt reached the client: ${r.text}`);
  });

  it('redacts PII inside a stream, even split across chunks', async () => {
    const answer = `Sure, you can reach our branch manager at ${EMAIL} during opening hours.`;
    await up.script('stream-pii', `[[chunks:12]][[say:${answer}]]`);
    const r = await collectOpenAIStream(() => client.chat.completions.create(userChat('Who can I contact? [[script:stream-pii]]', { stream: true })));
    assert.equal(r.error, undefined, r.error?.message);
    assert.equal(r.text, 'Sure, you can reach our branch manager at [REDACTED:EMAIL] during opening hours.');
  });
});

// ---- legacy completions, models, Open Inference Protocol ----------------------------------------------

gatewaySuite('POST /v1/completions, GET /v1/models, Open Inference Protocol', () => {
  before(setUp);
  after(tearDown);

  it('legacy completions: allowed prompt (openai client)', async () => {
    const { result, delta } = await upstreamDelta('/v1/completions',
      () => client.completions.create({ model: MODEL, prompt: BENIGN }));
    assert.equal(result.object, 'text_completion');
    assert.equal(result.choices[0].text, `Echo: ${BENIGN}`);
    assert.equal(delta, 1);
  });

  it('legacy completions: a list with an injected prompt is blocked and not forwarded', async () => {
    const { delta } = await upstreamDelta('/v1/completions', () => assert.rejects(
      client.completions.create({ model: MODEL, prompt: [BENIGN, INJECTION] }),
      (err) => assertAPIError(err, { status: 403, code: 'blocked_by_policy' }),
    ));
    assert.equal(delta, 0);
  });

  it('legacy completions: streaming and response redaction', async () => {
    const r = await collectOpenAIStream(
      () => client.completions.create({ model: MODEL, prompt: '[[chunks:4]] Tell me a short greeting', stream: true }), { field: 'text' });
    assert.equal(r.error, undefined, r.error?.message);
    assert.equal(r.text, 'Echo: Tell me a short greeting');
    await up.script('mail', `[[say:mail ${EMAIL}]]`);
    const red = await client.completions.create({ model: MODEL, prompt: 'What is the support address? [[script:mail]]' });
    assert.equal(red.choices[0].text, 'mail [REDACTED:EMAIL]');
  });

  it('legacy completions: missing prompt is 400 invalid_request', async () => {
    assertOpenAIError(await request(gw.url, 'POST', '/v1/completions', { key: keys.client, body: { model: MODEL } }), 400, 'invalid_request');
  });

  it('GET /v1/models passes the upstream list through (openai client)', async () => {
    const { result, delta } = await upstreamDelta('/v1/models', async () => {
      const ids = [];
      for await (const m of client.models.list()) ids.push(m.id);
      return ids;
    });
    assert.deepEqual(result, ['test-model', 'echo']);
    assert.equal(delta, 1);
  });

  it('OIP infer: BYTES inputs are forwarded and the outputs come back', async () => {
    const body = {
      id: 'oip-1',
      inputs: [
        { name: 'text', shape: [1], datatype: 'BYTES', data: [BENIGN] },
        { name: 'x', shape: [3], datatype: 'FP32', data: [1, 2, 3.5] },
      ],
    };
    const { result: res, delta } = await upstreamDelta('/v2/models/echo/infer',
      () => request(gw.url, 'POST', '/v2/models/echo/infer', { key: keys.client, body }));
    assert.equal(res.status, 200, res.text);
    assert.equal(delta, 1);
    assert.equal(res.json.model_name, 'echo');
    assert.equal(res.json.id, 'oip-1');
    assert.deepEqual(res.json.outputs, [
      { name: 'echo_text', datatype: 'BYTES', shape: [1], data: [BENIGN] },
      { name: 'sum_x', datatype: 'FP64', shape: [1], data: [6.5] },
    ]);
    assert.ok(res.headers.get('x-request-id'));
    assert.equal(res.headers.get('x-dualguard-action'), 'allow');
  });

  it('OIP infer: an injected BYTES input is blocked and not forwarded', async () => {
    const body = { inputs: [{ name: 'text', shape: [1], datatype: 'BYTES', data: [INJECTION] }] };
    const { result: res, delta } = await upstreamDelta('/v2/models/echo/infer',
      () => request(gw.url, 'POST', '/v2/models/echo/infer', { key: keys.client, body }));
    assertOpenAIError(res, 403, 'blocked_by_policy');
    assert.equal(delta, 0);
  });

  it('OIP health and model metadata are passed through (with a key)', async () => {
    const ready = await request(gw.url, 'GET', '/v2/health/ready', { key: keys.client });
    assert.equal(ready.status, 200, ready.text);
    assert.deepEqual(ready.json, { ready: true });
    const meta = await request(gw.url, 'GET', '/v2/models/test-model', { key: keys.client });
    assert.equal(meta.status, 200, meta.text);
    assert.equal(meta.json.name, 'test-model');
    assertOpenAIError(await request(gw.url, 'GET', '/v2/health/ready'), 401, 'missing_api_key');
  });
});

// ---- authentication and roles -------------------------------------------------------------------

gatewaySuite('authentication and roles', () => {
  before(setUp);
  after(tearDown);

  it('no Authorization header: 401 missing_api_key on every client route, nothing forwarded', async () => {
    const before = (await up.stats()).total;
    assertOpenAIError(await request(gw.url, 'POST', CHAT, { body: userChat(BENIGN) }), 401, 'missing_api_key');
    assertOpenAIError(await request(gw.url, 'POST', '/v1/completions', { body: { model: MODEL, prompt: 'x' } }), 401, 'missing_api_key');
    assertOpenAIError(await request(gw.url, 'GET', '/v1/models'), 401, 'missing_api_key');
    assertOpenAIError(await request(gw.url, 'POST', '/v2/models/echo/infer', { body: { inputs: [] } }), 401, 'missing_api_key');
    assert.equal((await up.stats()).total, before);
  });

  it('unknown keys: 401 invalid_api_key (openai client too)', async () => {
    const wellFormed = `dg_0123456789ab_${'A'.repeat(43)}`;
    for (const key of [wellFormed, 'not-a-key', `${keys.client}x`]) {
      assertOpenAIError(await request(gw.url, 'POST', CHAT, { key, body: userChat(BENIGN) }), 401, 'invalid_api_key', key);
    }
    await assert.rejects(openaiClient(gw, wellFormed).chat.completions.create(userChat(BENIGN)),
      (err) => assertAPIError(err, { status: 401, code: 'invalid_api_key' }));
  });

  it('a key created while the gateway runs is accepted without a restart; once revoked it is 401 invalid_api_key', async () => {
    const { key, id } = await createKey(gw.dataDir, { role: 'client', name: 'to-revoke' });
    await waitFor(async () => (await request(gw.url, 'GET', '/v1/models', { key })).status === 200,
      { timeoutMs: 3000, what: 'the new key to be accepted' });
    await revokeKey(gw.dataDir, id);
    await waitFor(async () => (await request(gw.url, 'GET', '/v1/models', { key })).status === 401,
      { timeoutMs: 3000, what: 'the revoked key to be refused' });
    assertOpenAIError(await request(gw.url, 'POST', CHAT, { key, body: userChat(BENIGN) }), 401, 'invalid_api_key');
  });

  it('a client key may not use the admin routes: 403 insufficient_role', async () => {
    assertOpenAIError(await request(gw.url, 'GET', '/admin/killswitch', { key: keys.client }), 403, 'insufficient_role');
    assertOpenAIError(await request(gw.url, 'POST', '/admin/killswitch', { key: keys.client, body: { engaged: true } }), 403, 'insufficient_role');
    assertOpenAIError(await request(gw.url, 'POST', '/admin/safemode', { key: keys.client, body: { enabled: true } }), 403, 'insufficient_role');
    assertOpenAIError(await request(gw.url, 'POST', '/admin/reload', { key: keys.client }), 403, 'insufficient_role');
    // The refused switch did not engage.
    assert.equal((await request(gw.url, 'POST', CHAT, { key: keys.client, body: userChat(BENIGN) })).status, 200);
  });

  it('admin routes without a key: 401 missing_api_key', async () => {
    assertOpenAIError(await request(gw.url, 'GET', '/admin/killswitch'), 401, 'missing_api_key');
  });

  it('roles are ordered: operator may not reload (403), admin may; admin and operator may use client routes', async () => {
    assertOpenAIError(await request(gw.url, 'POST', '/admin/reload', { key: keys.operator }), 403, 'insufficient_role');
    const reload = await request(gw.url, 'POST', '/admin/reload', { key: keys.admin, timeoutMs: 30_000 });
    assert.equal(reload.status, 200, reload.text);
    assert.equal((await request(gw.url, 'GET', '/admin/killswitch', { key: keys.admin })).status, 200);
    for (const key of [keys.operator, keys.admin]) {
      assert.equal((await request(gw.url, 'POST', CHAT, { key, body: userChat(BENIGN) })).status, 200);
    }
    // Still enforcing after the reload.
    assertOpenAIError(await request(gw.url, 'POST', CHAT, { key: keys.client, body: userChat(INJECTION) }), 403, 'blocked_by_policy');
  });

  it('unknown route: 404 not_found; wrong method: 405 method_not_allowed', async () => {
    assertOpenAIError(await request(gw.url, 'GET', '/v1/no-such-route', { key: keys.client }), 404, 'not_found');
    assertOpenAIError(await request(gw.url, 'POST', '/nothing/here', { key: keys.client, body: {} }), 404, 'not_found');
    assertOpenAIError(await request(gw.url, 'GET', CHAT, { key: keys.client }), 405, 'method_not_allowed');
  });
});

// ---- operator switches ------------------------------------------------------------------------------

gatewaySuite('kill switch and safe mode', () => {
  before(setUp);
  after(tearDown);

  const killswitch = (body) => request(gw.url, 'POST', '/admin/killswitch', { key: keys.operator, body });
  const safemode = (body) => request(gw.url, 'POST', '/admin/safemode', { key: keys.operator, body });

  it('kill switch: engaged -> 503 kill_switch_engaged on proxied and scan routes; disengaged -> works again', async () => {
    try {
      const on = await killswitch({ engaged: true });
      assert.equal(on.status, 200, on.text);
      const state = await request(gw.url, 'GET', '/admin/killswitch', { key: keys.operator });
      assert.equal(state.status, 200);
      assert.equal(state.json.engaged, true);

      const { result: res, delta } = await upstreamDelta(CHAT,
        () => request(gw.url, 'POST', CHAT, { key: keys.client, body: userChat(BENIGN) }));
      assertOpenAIError(res, 503, 'kill_switch_engaged');
      assert.equal(delta, 0);
      await assert.rejects(client.chat.completions.create(userChat(BENIGN)),
        (err) => assertAPIError(err, { status: 503, code: 'kill_switch_engaged' }));
      assertOpenAIError(await request(gw.url, 'POST', '/v1/scan', { key: keys.client, body: { prompt: BENIGN } }), 503, 'kill_switch_engaged');
      assertOpenAIError(await request(gw.url, 'POST', '/v2/models/echo/infer', {
        key: keys.client, body: { inputs: [{ name: 't', shape: [1], datatype: 'BYTES', data: ['hi'] }] },
      }), 503, 'kill_switch_engaged');
      assert.equal((await request(gw.url, 'GET', '/healthz')).status, 200, 'the process is still up');
    } finally {
      assert.equal((await killswitch({ engaged: false })).status, 200);
    }
    assert.equal((await request(gw.url, 'GET', '/admin/killswitch', { key: keys.operator })).json.engaged, false);
    const answer = await client.chat.completions.create(userChat(BENIGN));
    assert.equal(answer.choices[0].message.content, `Echo: ${BENIGN}`);
  });

  it('kill switch for listed routes only', async () => {
    try {
      assert.equal((await killswitch({ engaged: true, routes: [CHAT] })).status, 200);
      assertOpenAIError(await request(gw.url, 'POST', CHAT, { key: keys.client, body: userChat(BENIGN) }), 503, 'kill_switch_engaged');
      assert.equal((await request(gw.url, 'POST', '/v1/scan', { key: keys.client, body: { prompt: BENIGN } })).status, 200);
      assert.equal((await request(gw.url, 'POST', '/v1/completions', { key: keys.client, body: { model: MODEL, prompt: 'x' } })).status, 200);
    } finally {
      assert.equal((await killswitch({ engaged: false })).status, 200);
    }
    assert.equal((await request(gw.url, 'POST', CHAT, { key: keys.client, body: userChat(BENIGN) })).status, 200);
  });

  it('the kill switch actions are in the audit log, with the operator key', async () => {
    const operatorId = /^dg_([0-9a-f]{12})_/.exec(keys.operator)[1];
    const { lines } = await auditExport(gw.dataDir);
    // Two engage/disengage pairs above; GETs and refused calls may be audited too, so count those
    // naming both the route and the operator's key id.
    const actions = lines.filter((l) => l.includes('/admin/killswitch') && l.includes(operatorId));
    assert.ok(actions.length >= 4, `four kill switch actions audited with the operator key id, found ${actions.length}`);
  });

  it('safe mode: review becomes block until disabled', async () => {
    const reviewed = await request(gw.url, 'POST', CHAT, { key: keys.client, body: userChat(REVIEW_PROMPT) });
    assert.equal(reviewed.status, 200, reviewed.text);
    assert.equal(reviewed.headers.get('x-dualguard-action'), 'review');
    try {
      assert.equal((await safemode({ enabled: true })).status, 200);
      assert.equal((await request(gw.url, 'GET', '/admin/safemode', { key: keys.operator })).json.enabled, true);
      const { result: res, delta } = await upstreamDelta(CHAT,
        () => request(gw.url, 'POST', CHAT, { key: keys.client, body: userChat(REVIEW_PROMPT) }));
      assertOpenAIError(res, 403, 'blocked_by_policy');
      assert.equal(delta, 0);
      assert.equal((await request(gw.url, 'POST', CHAT, { key: keys.client, body: userChat(BENIGN) })).status, 200,
        'clean requests still pass in safe mode');
    } finally {
      assert.equal((await safemode({ enabled: false })).status, 200);
    }
    assert.equal((await request(gw.url, 'GET', '/admin/safemode', { key: keys.operator })).json.enabled, false);
    assert.equal((await request(gw.url, 'POST', CHAT, { key: keys.client, body: userChat(REVIEW_PROMPT) })).status, 200);
    const { lines } = await auditExport(gw.dataDir);
    assert.ok(lines.filter((l) => l.includes('/admin/safemode')).length >= 2, 'safe mode actions audited');
  });
});

// ---- the audit trail of live traffic ------------------------------------------------------------------

gatewaySuite('audit log of live traffic', () => {
  before(setUp);
  after(tearDown);

  it('every answered request has a record with its x-request-id; a block records its code', async () => {
    const ok = await request(gw.url, 'POST', CHAT, { key: keys.client, body: userChat(BENIGN) });
    const blocked = await request(gw.url, 'POST', CHAT, { key: keys.client, body: userChat(INJECTION) });
    const denied = await request(gw.url, 'POST', CHAT, { body: userChat(BENIGN) });
    const ids = [ok, blocked, denied].map((r) => r.headers.get('x-request-id'));
    assert.ok(ids[0] && ids[1], 'x-request-id on proxied answers');
    const { lines } = await auditExport(gw.dataDir);
    const find = (id) => lines.find((l) => l.includes(id));
    assert.ok(find(ids[0]), `record for ${ids[0]}`);
    assert.ok(find(ids[1])?.includes('blocked_by_policy'), `record for ${ids[1]} with its code`);
    if (ids[2]) assert.ok(find(ids[2])?.includes('missing_api_key'), 'a refused request is audited too');
  });

  it('does not store raw PII by default (redacted text and hashes only)', async () => {
    const marker = `audit.${Date.now().toString(16)}@example.com`;
    const res = await request(gw.url, 'POST', CHAT, { key: keys.client, body: userChat(`My email is ${marker}, what are your opening hours?`) });
    assert.equal(res.status, 200, res.text);
    const { lines } = await auditExport(gw.dataDir);
    assert.ok(lines.some((l) => l.includes(res.headers.get('x-request-id'))), 'the request was audited');
    assert.ok(!lines.some((l) => l.includes(marker)), 'the e-mail address is not in the audit log');
  });

  it('`audit verify` exits 0 after traffic (gateway still running)', async () => {
    for (const body of [userChat(BENIGN), userChat(INJECTION), userChat(`[[say:contact ${EMAIL}]]`)]) {
      await request(gw.url, 'POST', CHAT, { key: keys.client, body });
    }
    const r = await auditVerify(gw.dataDir);
    assert.equal(r.code, 0, `audit verify: ${r.stdout}\n${r.stderr}`);
  });
});

