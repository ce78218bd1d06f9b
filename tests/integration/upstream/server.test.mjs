// Self-test of the scripted upstream: every endpoint and directive, straight against the server (no
// gateway). Runs with `node --test` whether or not a dualguard binary exists.
import { describe, it, before, after, beforeEach } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import os from 'node:os';
import { startUpstream, request, streamRequest, sleep } from '../lib/harness.mjs';
import { parseDirectives, splitInto, tokenize } from './server.mjs';

function chat(content, extra = {}) {
  return { model: 'test-model', messages: [{ role: 'user', content }], ...extra };
}

function assertOpenAIError(json, status) {
  assert.equal(typeof json?.error, 'object', `expected an OpenAI error body, got ${JSON.stringify(json)}`);
  assert.equal(typeof json.error.message, 'string');
  assert.equal(typeof json.error.type, 'string');
  assert.ok('param' in json.error && 'code' in json.error, 'error has param and code');
  if (status >= 500) assert.equal(json.error.type, 'server_error');
}

describe('directive parser', () => {
  it('strips directives and keeps the text', () => {
    const p = parseDirectives('[[slow:20]] hello [[logprobs]] world [[chunks:4]]');
    assert.equal(p.text, 'hello world');
    assert.equal(p.slowMs, 20);
    assert.equal(p.logprobs, true);
    assert.equal(p.chunks, 4);
    assert.deepEqual(p.errors, []);
  });

  it('say takes everything up to the first "]]", brackets and markdown included', () => {
    const p = parseDirectives('x [[say:![img](https://a.example/?q=1) [link]]] y');
    assert.equal(p.say, '![img](https://a.example/?q=1) [link');
  });

  it('tool_call arguments may contain "]]"', () => {
    const p = parseDirectives('[[tool_call:f:{"m":[[1,2]]}]]');
    assert.deepEqual(p.toolCall, { name: 'f', args: { m: [[1, 2]] } });
  });

  it('unknown [[words]] stay text; bad arguments are errors', () => {
    assert.equal(parseDirectives('see [[wiki]] page').text, 'see [[wiki]] page');
    assert.match(parseDirectives('[[slow:abc]]').errors[0], /non-negative integer/);
    assert.match(parseDirectives('[[fail:42]]').errors[0], /not an HTTP status/);
    assert.match(parseDirectives('[[tool_call:f:{nope]]').errors[0], /not JSON/);
  });

  it('script expands registered directives', () => {
    const p = parseDirectives('hi [[script:s1]]', new Map([['s1', '[[say:secret]][[chunks:2]]']]));
    assert.equal(p.say, 'secret');
    assert.equal(p.chunks, 2);
    assert.match(parseDirectives('[[script:nope]]').errors[0], /unknown script/);
  });

  it('splitInto and tokenize keep every character', () => {
    assert.equal(splitInto('abcdefghij', 3).join(''), 'abcdefghij');
    assert.equal(splitInto('abcdefghij', 3).length, 3);
    assert.equal(splitInto('ab', 10).length, 2);
    assert.equal(splitInto('héllo 👋 wörld', 5).join(''), 'héllo 👋 wörld');
    assert.deepEqual(tokenize('Echo: hi  there'), ['Echo:', ' hi', '  there']);
  });
});

describe('test upstream server', () => {
  let up;
  before(async () => {
    up = await startUpstream();
  });
  after(async () => {
    await up?.stop();
  });
  beforeEach(async () => {
    await up.reset();
  });

  it('prints its ready line and binds 127.0.0.1', () => {
    assert.match(up.url, /^http:\/\/127\.0\.0\.1:\d+$/);
    assert.ok(up.port > 0);
  });

  it('chat: default answer echoes the last user message, OpenAI shape', async () => {
    const r = await request(up.url, 'POST', '/v1/chat/completions', {
      body: {
        model: 'm1',
        messages: [
          { role: 'system', content: 'be nice' },
          { role: 'user', content: 'first' },
          { role: 'assistant', content: 'ok' },
          { role: 'user', content: [{ type: 'text', text: 'What are your opening hours?' }] },
        ],
      },
    });
    assert.equal(r.status, 200);
    assert.match(r.headers.get('content-type'), /^application\/json/);
    const j = r.json;
    assert.match(j.id, /^chatcmpl-/);
    assert.equal(j.object, 'chat.completion');
    assert.equal(j.model, 'm1');
    assert.ok(Number.isInteger(j.created));
    assert.equal(j.choices.length, 1);
    assert.deepEqual(j.choices[0].message, { role: 'assistant', content: 'Echo: What are your opening hours?', refusal: null });
    assert.equal(j.choices[0].finish_reason, 'stop');
    assert.equal(j.choices[0].logprobs, null);
    assert.equal(j.usage.total_tokens, j.usage.prompt_tokens + j.usage.completion_tokens);
    assert.equal(j.usage.completion_tokens, 6, 'Echo: What are your opening hours? is 6 tokens');
  });

  it('chat: [[say:TEXT]] answers exactly TEXT', async () => {
    const r = await request(up.url, 'POST', '/v1/chat/completions', { body: chat('[[say:contact john.doe@example.com]]') });
    assert.equal(r.json.choices[0].message.content, 'contact john.doe@example.com');
  });

  it('chat: max_tokens truncates with finish_reason "length"', async () => {
    const r = await request(up.url, 'POST', '/v1/chat/completions', { body: chat('[[say:one two three four]]', { max_tokens: 2 }) });
    assert.equal(r.json.choices[0].message.content, 'one two');
    assert.equal(r.json.choices[0].finish_reason, 'length');
  });

  for (const status of [400, 429, 500, 503]) {
    it(`chat: [[fail:${status}]] answers HTTP ${status} with an OpenAI error`, async () => {
      const r = await request(up.url, 'POST', '/v1/chat/completions', { body: chat(`[[fail:${status}]]`) });
      assert.equal(r.status, status);
      assertOpenAIError(r.json, status);
      assert.equal(r.json.error.code, 'upstream_test_failure');
    });
  }

  it('chat: [[hang]] never answers (the client times out) and the request stays in flight', async () => {
    const started = Date.now();
    await assert.rejects(
      request(up.url, 'POST', '/v1/chat/completions', { body: chat('[[hang]]'), timeoutMs: 400 }),
      (err) => err.name === 'TimeoutError' || err.name === 'AbortError',
    );
    assert.ok(Date.now() - started >= 350);
    assert.equal(await up.count('/v1/chat/completions'), 1);
  });

  it('chat: [[slow:MS]] and x-test-delay-ms delay the answer', async () => {
    let t = Date.now();
    await request(up.url, 'POST', '/v1/chat/completions', { body: chat('[[slow:300]] hi') });
    assert.ok(Date.now() - t >= 280, 'slow directive');
    t = Date.now();
    await request(up.url, 'POST', '/v1/chat/completions', { body: chat('hi'), headers: { 'x-test-delay-ms': '300' } });
    assert.ok(Date.now() - t >= 280, 'delay header');
  });

  it('chat: [[slow:MS]] is visible as an active request while it waits', async () => {
    const pending = request(up.url, 'POST', '/v1/chat/completions', { body: chat('[[slow:600]] hi') });
    await sleep(200);
    const s = await up.stats();
    assert.equal(s.active, 1);
    assert.equal((await pending).status, 200);
  });

  it('chat: [[tool_call:NAME:JSON]] answers a tool call', async () => {
    const r = await request(up.url, 'POST', '/v1/chat/completions', { body: chat('[[tool_call:get_weather:{"city":"Paris"}]]') });
    const choice = r.json.choices[0];
    assert.equal(choice.finish_reason, 'tool_calls');
    assert.equal(choice.message.content, null);
    assert.equal(choice.message.tool_calls.length, 1);
    const call = choice.message.tool_calls[0];
    assert.match(call.id, /^call_/);
    assert.equal(call.type, 'function');
    assert.equal(call.function.name, 'get_weather');
    assert.deepEqual(JSON.parse(call.function.arguments), { city: 'Paris' });
  });

  it('chat: [[logprobs]] includes logprobs.content with top_logprobs', async () => {
    const r = await request(up.url, 'POST', '/v1/chat/completions', { body: chat('[[logprobs]] a b') });
    const lp = r.json.choices[0].logprobs;
    assert.equal(lp.content.map((t) => t.token).join(''), 'Echo: a b');
    for (const t of lp.content) {
      assert.equal(typeof t.logprob, 'number');
      assert.ok(t.logprob <= 0);
      assert.ok(Array.isArray(t.bytes));
      assert.equal(t.top_logprobs.length, 2);
      assert.equal(t.top_logprobs[0].token, t.token);
    }
    const asked = await request(up.url, 'POST', '/v1/chat/completions', { body: chat('x', { logprobs: true, top_logprobs: 3 }) });
    assert.equal(asked.json.choices[0].logprobs.content[0].top_logprobs.length, 3);
  });

  it('chat: [[echo_request]] answers with the request body it received', async () => {
    const body = chat('[[echo_request]] hi', { temperature: 0.25, user: 'u-1' });
    const r = await request(up.url, 'POST', '/v1/chat/completions', { body });
    assert.deepEqual(JSON.parse(r.json.choices[0].message.content), body);
  });

  it('chat: [[script:NAME]] plays registered directives', async () => {
    await up.script('leak', '[[say:the hidden text]]');
    const r = await request(up.url, 'POST', '/v1/chat/completions', { body: chat('please [[script:leak]]') });
    assert.equal(r.json.choices[0].message.content, 'the hidden text');
    const bad = await request(up.url, 'POST', '/v1/chat/completions', { body: chat('[[script:unknown]]') });
    assert.equal(bad.status, 400);
    assertOpenAIError(bad.json, 400);
  });

  it('chat: [[close]] resets the connection mid-response', async () => {
    await assert.rejects(request(up.url, 'POST', '/v1/chat/completions', { body: chat('[[close]]') }));
    const s = await streamRequest(up.url, '/v1/chat/completions', { body: chat('[[close]][[chunks:6]] one two three four five six', { stream: true }) });
    assert.equal(s.done, false, 'no [DONE] after a reset');
    assert.ok(s.events.length >= 1 && s.events.length < 9, `some events before the reset, got ${s.events.length}`);
  });

  it('chat stream: SSE chunks, role first, finish_reason last, then [DONE]', async () => {
    const s = await streamRequest(up.url, '/v1/chat/completions', { body: chat('tell me a story', { stream: true }) });
    assert.equal(s.status, 200);
    assert.match(s.headers.get('content-type'), /^text\/event-stream/);
    assert.ok(s.raw.endsWith('data: [DONE]\n\n'));
    assert.match(s.raw, /^data: \{/);
    assert.equal(s.content, 'Echo: tell me a story');
    const chunks = s.events.filter((e) => e !== '[DONE]');
    assert.equal(chunks[0].choices[0].delta.role, 'assistant');
    for (const c of chunks) {
      assert.equal(c.object, 'chat.completion.chunk');
      assert.match(c.id, /^chatcmpl-/);
      assert.equal(c.id, chunks[0].id);
      assert.equal(c.model, 'test-model');
    }
    assert.equal(chunks.at(-1).choices[0].finish_reason, 'stop');
    assert.deepEqual(chunks.at(-1).choices[0].delta, {});
    assert.equal(chunks.length, 2 + 5, 'role chunk + one chunk per token + final chunk');
  });

  it('chat stream: [[chunks:N]] splits the answer into N chunks; include_usage adds a usage chunk', async () => {
    const s = await streamRequest(up.url, '/v1/chat/completions', {
      body: chat('[[chunks:10]][[say:abcdefghijklmnopqrstuvwxyz0123456789]]', { stream: true, stream_options: { include_usage: true } }),
    });
    const contentChunks = s.events.filter((e) => e !== '[DONE]' && e.choices?.[0]?.delta?.content);
    assert.equal(contentChunks.length, 10);
    assert.equal(s.content, 'abcdefghijklmnopqrstuvwxyz0123456789');
    const usage = s.events.filter((e) => e !== '[DONE]').at(-1);
    assert.deepEqual(usage.choices, []);
    assert.equal(usage.usage.completion_tokens, 1);
  });

  it('chat stream: [[slow:MS]] waits between chunks', async () => {
    const t = Date.now();
    const s = await streamRequest(up.url, '/v1/chat/completions', { body: chat('[[slow:60]][[chunks:4]][[say:abcdefgh]]', { stream: true }) });
    assert.equal(s.content, 'abcdefgh');
    assert.ok(Date.now() - t >= 6 * 60 - 20, 'initial wait + between 6 events + before [DONE]');
  });

  it('chat stream: tool call deltas and logprobs', async () => {
    const s = await streamRequest(up.url, '/v1/chat/completions', { body: chat('[[tool_call:lookup:{"q":"x"}]]', { stream: true }) });
    const chunks = s.events.filter((e) => e !== '[DONE]');
    const args = chunks.map((c) => c.choices[0].delta.tool_calls?.[0]?.function?.arguments ?? '').join('');
    assert.deepEqual(JSON.parse(args), { q: 'x' });
    assert.equal(chunks[0].choices[0].delta.tool_calls[0].function.name, 'lookup');
    assert.equal(chunks.at(-1).choices[0].finish_reason, 'tool_calls');

    const l = await streamRequest(up.url, '/v1/chat/completions', { body: chat('[[logprobs]] a b c', { stream: true }) });
    const tokens = l.events.filter((e) => e !== '[DONE]').flatMap((c) => c.choices[0].logprobs?.content ?? []);
    assert.equal(tokens.map((t) => t.token).join(''), 'Echo: a b c');
  });

  it('chat: invalid JSON and missing messages are 400 OpenAI errors', async () => {
    const bad = await request(up.url, 'POST', '/v1/chat/completions', { body: '{nope', headers: { 'content-type': 'application/json' } });
    assert.equal(bad.status, 400);
    assertOpenAIError(bad.json, 400);
    const missing = await request(up.url, 'POST', '/v1/chat/completions', { body: { model: 'm' } });
    assert.equal(missing.status, 400);
    assert.equal(missing.json.error.param, 'messages');
  });

  it('completions (legacy): text answer, list prompts, stream, logprobs', async () => {
    const r = await request(up.url, 'POST', '/v1/completions', { body: { model: 'test-model', prompt: 'Say hi' } });
    assert.equal(r.status, 200);
    assert.match(r.json.id, /^cmpl-/);
    assert.equal(r.json.object, 'text_completion');
    assert.equal(r.json.choices[0].text, 'Echo: Say hi');
    assert.equal(r.json.choices[0].finish_reason, 'stop');
    assert.ok(r.json.usage.total_tokens > 0);

    const list = await request(up.url, 'POST', '/v1/completions', { body: { model: 'test-model', prompt: ['a', '[[say:B]]'] } });
    assert.deepEqual(list.json.choices.map((c) => [c.index, c.text]), [[0, 'Echo: a'], [1, 'B']]);

    const s = await streamRequest(up.url, '/v1/completions', { body: { model: 'test-model', prompt: '[[chunks:3]] streamed words here', stream: true } });
    assert.equal(s.content, 'Echo: streamed words here');
    assert.equal(s.done, true);
    assert.ok(s.events.filter((e) => e !== '[DONE]').every((e) => e.object === 'text_completion'));

    const lp = await request(up.url, 'POST', '/v1/completions', { body: { model: 'test-model', prompt: '[[logprobs]] x' } });
    assert.deepEqual(lp.json.choices[0].logprobs.tokens, ['Echo:', ' x']);
    assert.equal(lp.json.choices[0].logprobs.token_logprobs.length, 2);

    const fail = await request(up.url, 'POST', '/v1/completions', { body: { model: 'test-model', prompt: '[[fail:502]]' } });
    assert.equal(fail.status, 502);
    assertOpenAIError(fail.json, 502);
    const missing = await request(up.url, 'POST', '/v1/completions', { body: { model: 'test-model' } });
    assert.equal(missing.status, 400);
  });

  it('GET /v1/models lists the models', async () => {
    const r = await request(up.url, 'GET', '/v1/models');
    assert.equal(r.status, 200);
    assert.equal(r.json.object, 'list');
    assert.deepEqual(r.json.data.map((m) => m.id), ['test-model', 'echo']);
    assert.equal(r.json.data[0].object, 'model');
    assert.equal((await request(up.url, 'GET', '/v1/models/echo')).json.id, 'echo');
    assert.equal((await request(up.url, 'GET', '/v1/models/nope')).status, 404);
  });

  it('OIP: infer echoes BYTES inputs and sums numeric ones', async () => {
    const r = await request(up.url, 'POST', '/v2/models/echo/infer', {
      body: {
        id: 'req-1',
        inputs: [
          { name: 'text', shape: [2], datatype: 'BYTES', data: ['hello', '[[say:scripted]]'] },
          { name: 'nums', shape: [2, 2], datatype: 'FP32', data: [[1, 2], [3, 4.5]] },
        ],
      },
    });
    assert.equal(r.status, 200);
    assert.equal(r.json.model_name, 'echo');
    assert.equal(r.json.id, 'req-1');
    assert.deepEqual(r.json.outputs, [
      { name: 'echo_text', datatype: 'BYTES', shape: [2], data: ['hello', 'scripted'] },
      { name: 'sum_nums', datatype: 'FP64', shape: [1], data: [10.5] },
    ]);
    const fail = await request(up.url, 'POST', '/v2/models/echo/infer', {
      body: { inputs: [{ name: 't', shape: [1], datatype: 'BYTES', data: ['[[fail:503]]'] }] },
    });
    assert.equal(fail.status, 503);
    assert.equal(typeof fail.json.error, 'string', 'OIP errors are {"error": "message"}');
    assert.equal((await request(up.url, 'POST', '/v2/models/nope/infer', { body: { inputs: [] } })).status, 404);
    assert.equal((await request(up.url, 'POST', '/v2/models/echo/infer', { body: { nothing: 1 } })).status, 400);
  });

  it('OIP: health and model metadata', async () => {
    const ready = await request(up.url, 'GET', '/v2/health/ready');
    assert.equal(ready.status, 200);
    assert.deepEqual(ready.json, { ready: true });
    const meta = await request(up.url, 'GET', '/v2/models/test-model');
    assert.equal(meta.status, 200);
    assert.equal(meta.json.name, 'test-model');
    assert.equal(meta.json.inputs[0].datatype, 'BYTES');
    assert.equal((await request(up.url, 'GET', '/v2/models/missing')).status, 404);
  });

  it('unknown routes are 404 OpenAI errors', async () => {
    const r = await request(up.url, 'GET', '/v1/nothing');
    assert.equal(r.status, 404);
    assertOpenAIError(r.json, 404);
  });

  it('/__stats counts requests per path; /__reset clears; control routes are not counted', async () => {
    await request(up.url, 'POST', '/v1/chat/completions', { body: chat('a'), headers: { 'x-custom': 'v1' } });
    await request(up.url, 'POST', '/v1/chat/completions', { body: chat('b') });
    await request(up.url, 'GET', '/v1/models');
    const s = await up.stats();
    assert.equal(s.total, 3);
    assert.equal(s.paths['/v1/chat/completions'], 2);
    assert.equal(s.routes['GET /v1/models'], 1);
    assert.equal(s.recent[0].headers['x-custom'], 'v1');
    assert.equal(s.recent[1].body.messages[0].content, 'b');
    await up.reset();
    assert.equal((await up.stats()).total, 0);
  });

  it('binds 127.0.0.1 only: another local address of this machine refuses the connection', async (t) => {
    const other = Object.values(os.networkInterfaces()).flat()
      .find((a) => a && a.family === 'IPv4' && !a.internal);
    if (!other) {
      t.skip('this machine has no non-loopback IPv4 address to try');
      return;
    }
    const outcome = await new Promise((resolve) => {
      const socket = net.connect(up.port, other.address, () => {
        socket.destroy();
        resolve('connected');
      });
      socket.setTimeout(2000, () => {
        socket.destroy();
        resolve('timeout');
      });
      socket.on('error', (err) => resolve(err.code));
    });
    assert.notEqual(outcome, 'connected', `connected to ${other.address}:${up.port}`);
  });
});

// The official client parses what the upstream sends: the shapes are the real ones.
let OpenAI;
try {
  ({ default: OpenAI } = await import('openai'));
} catch {
  OpenAI = undefined;
}

describe('the official openai client against the test upstream', { skip: OpenAI ? false : 'the openai package is not installed (run npm ci)' }, () => {
  let up;
  let client;
  before(async () => {
    up = await startUpstream();
    client = new OpenAI({ apiKey: 'unused', baseURL: `${up.url}/v1`, maxRetries: 0, timeout: 10_000 });
  });
  after(async () => {
    await up?.stop();
  });

  it('chat, streamed chat, tool calls, legacy completions and models', async () => {
    const chat = await client.chat.completions.create(chat0('hello'));
    assert.equal(chat.choices[0].message.content, 'Echo: hello');

    let text = '';
    const stream = await client.chat.completions.create(chat0('[[chunks:3]] streamed', { stream: true }));
    for await (const chunk of stream) text += chunk.choices[0]?.delta?.content ?? '';
    assert.equal(text, 'Echo: streamed');

    const runner = client.chat.completions.stream(chat0('[[tool_call:f:{"a":1}]]'));
    const final = await runner.finalChatCompletion();
    assert.deepEqual(JSON.parse(final.choices[0].message.tool_calls[0].function.arguments), { a: 1 });

    const legacy = await client.completions.create({ model: 'test-model', prompt: 'hi' });
    assert.equal(legacy.choices[0].text, 'Echo: hi');

    const ids = [];
    for await (const m of client.models.list()) ids.push(m.id);
    assert.deepEqual(ids, ['test-model', 'echo']);
  });

  it('an upstream error is an APIError with status and code; [[close]] is a connection error', async () => {
    await assert.rejects(client.chat.completions.create(chat0('[[fail:500]]')), (err) => {
      assert.ok(err instanceof OpenAI.APIError);
      assert.equal(err.status, 500);
      assert.equal(err.code, 'upstream_test_failure');
      return true;
    });
    await assert.rejects(client.chat.completions.create(chat0('[[close]]')));
  });
});

function chat0(content, extra = {}) {
  return { model: 'test-model', messages: [{ role: 'user', content }], ...extra };
}
