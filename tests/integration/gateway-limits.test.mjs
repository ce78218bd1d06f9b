// `dualguard serve` limits, from docs/gateway.md: requests per minute (config and per key), body size
// (config and per key, with and without Content-Length) and concurrent requests per key.
// Skipped (with the reason) when DUALGUARD_BIN is unset or has no `serve` subcommand.
import { it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { request, createKeyFor, chunkedRequest, waitFor } from './lib/harness.mjs';
import {
  BENIGN, userChat, openaiClient, assertOpenAIError, assertAPIError, gatewaySuite, startWorld,
} from './lib/fixtures.mjs';

const CHAT = '/v1/chat/completions';

/** A chat body of exactly `bytes` bytes when serialised. */
function chatBodyOfSize(bytes) {
  const base = JSON.stringify(userChat(''));
  const text = 'a'.repeat(bytes - Buffer.byteLength(base));
  const body = JSON.stringify(userChat(text));
  assert.equal(Buffer.byteLength(body), bytes);
  return body;
}

function assertRetryAfter(res) {
  const value = res.headers.get('retry-after');
  assert.match(value ?? '', /^\d+$/, `Retry-After in whole seconds, got ${value}`);
  assert.ok(Number(value) >= 1 && Number(value) <= 60, `Retry-After within the minute window, got ${value}`);
}

gatewaySuite('requests per minute: gateway.limits.requests_per_minute=3', () => {
  let world;
  before(async () => {
    world = await startWorld({ set: { 'gateway.limits.requests_per_minute': 3 } });
  });
  after(async () => world?.stop());

  it('the 4th request in a minute is 429 rate_limited with Retry-After, and is not forwarded', async () => {
    const { gw, up } = world;
    const { key } = await createKeyFor(gw, { role: 'client', name: 'rpm' });
    const before = await up.count(CHAT);
    for (let i = 1; i <= 3; i++) {
      const res = await request(gw.url, 'POST', CHAT, { key, body: userChat(`${BENIGN} ${i}`) });
      assert.equal(res.status, 200, `request ${i}: ${res.text}`);
    }
    const fourth = await request(gw.url, 'POST', CHAT, { key, body: userChat(BENIGN) });
    assertOpenAIError(fourth, 429, 'rate_limited');
    assertRetryAfter(fourth);
    assert.equal((await up.count(CHAT)) - before, 3);
  });

  it('the openai client sees the 429 as an APIError', async () => {
    const { gw } = world;
    const { key } = await createKeyFor(gw, { role: 'client', name: 'rpm-openai' });
    const client = openaiClient(gw, key);
    for (let i = 0; i < 3; i++) await client.chat.completions.create(userChat(BENIGN));
    await assert.rejects(client.chat.completions.create(userChat(BENIGN)),
      (err) => assertAPIError(err, { status: 429, code: 'rate_limited' }));
  });

  it('the limit is per key: another key is not affected', async () => {
    const { gw } = world;
    const a = await createKeyFor(gw, { role: 'client', name: 'rpm-a' });
    const b = await createKeyFor(gw, { role: 'client', name: 'rpm-b' });
    for (let i = 0; i < 3; i++) await request(gw.url, 'POST', CHAT, { key: a.key, body: userChat(BENIGN) });
    assertOpenAIError(await request(gw.url, 'POST', CHAT, { key: a.key, body: userChat(BENIGN) }), 429, 'rate_limited');
    assert.equal((await request(gw.url, 'POST', CHAT, { key: b.key, body: userChat(BENIGN) })).status, 200);
  });
});

gatewaySuite('body size: gateway.max_body_bytes=1024', () => {
  let world;
  before(async () => {
    world = await startWorld({ set: { 'gateway.max_body_bytes': 1024 } });
  });
  after(async () => world?.stop());

  const send = (body, p = CHAT) => request(world.gw.url, 'POST', p, {
    key: world.keys.client, body, headers: { 'content-type': 'application/json' },
  });

  it('a body over the limit is 413 request_too_large and is not forwarded', async () => {
    const before = await world.up.count(CHAT);
    assertOpenAIError(await send(chatBodyOfSize(2048)), 413, 'request_too_large');
    assertOpenAIError(await send(chatBodyOfSize(1025)), 413, 'request_too_large');
    assert.equal((await world.up.count(CHAT)) - before, 0);
  });

  it('a body at the limit passes', async () => {
    const res = await send(chatBodyOfSize(1024));
    assert.equal(res.status, 200, res.text);
  });

  it('the scan route has the same limit', async () => {
    const prompt = 'b'.repeat(2000);
    assertOpenAIError(await send(JSON.stringify({ prompt }), '/v1/scan'), 413, 'request_too_large');
  });

  it('a chunked body (no Content-Length) over the limit is refused too', async () => {
    const before = await world.up.count(CHAT);
    const body = chatBodyOfSize(4096);
    const pieces = body.match(/[\s\S]{1,256}/g);
    const res = await chunkedRequest(world.gw.url, CHAT, { key: world.keys.client, pieces });
    if (res.error) {
      // The gateway may answer and close before the client finished sending; then the client sees a reset.
      assert.match(res.error.code ?? '', /ECONNRESET|EPIPE/, `unexpected error ${res.error.message}`);
    } else {
      assert.equal(res.status, 413, res.text);
      assert.equal(res.json?.error?.code, 'request_too_large', res.text);
    }
    assert.equal((await world.up.count(CHAT)) - before, 0, 'not forwarded');
  });
});

gatewaySuite('per-key limits (keys create --requests-per-minute, --max-body-bytes, --concurrent)', () => {
  let world;
  before(async () => {
    world = await startWorld();
  });
  after(async () => world?.stop());

  it('--requests-per-minute 2: the 3rd request is 429 rate_limited with Retry-After', async () => {
    const { gw } = world;
    const { key } = await createKeyFor(gw, { role: 'client', name: 'rpm2', extra: ['--requests-per-minute', '2'] });
    for (let i = 0; i < 2; i++) {
      assert.equal((await request(gw.url, 'POST', CHAT, { key, body: userChat(BENIGN) })).status, 200);
    }
    const third = await request(gw.url, 'POST', CHAT, { key, body: userChat(BENIGN) });
    assertOpenAIError(third, 429, 'rate_limited');
    assertRetryAfter(third);
  });

  it('--max-body-bytes 512: a larger body is 413 request_too_large; the gateway default still applies to others', async () => {
    const { gw, keys } = world;
    const { key } = await createKeyFor(gw, { role: 'client', name: 'small-body', extra: ['--max-body-bytes', '512'] });
    const big = chatBodyOfSize(800);
    const headers = { 'content-type': 'application/json' };
    assertOpenAIError(await request(gw.url, 'POST', CHAT, { key, body: big, headers }), 413, 'request_too_large');
    assert.equal((await request(gw.url, 'POST', CHAT, { key, body: chatBodyOfSize(400), headers })).status, 200);
    assert.equal((await request(gw.url, 'POST', CHAT, { key: keys.client, body: big, headers })).status, 200);
  });

  it('--concurrent 1: a second request while one is in flight is 429 too_many_concurrent_requests', async () => {
    const { gw, up } = world;
    const { key } = await createKeyFor(gw, { role: 'client', name: 'one-at-a-time', extra: ['--concurrent', '1'] });
    await up.reset();
    const slow = request(gw.url, 'POST', CHAT, { key, body: userChat('[[slow:2000]] take your time') });
    // The first request is in flight once the upstream holds it.
    await waitFor(async () => (await up.stats()).active >= 1, { timeoutMs: 5000, what: 'the slow request to reach the upstream' });
    const second = await request(gw.url, 'POST', CHAT, { key, body: userChat(BENIGN) });
    assertOpenAIError(second, 429, 'too_many_concurrent_requests');
    const first = await slow;
    assert.equal(first.status, 200, first.text);
    assert.equal(first.json.choices[0].message.content, 'Echo: take your time');
    assert.equal((await request(gw.url, 'POST', CHAT, { key, body: userChat(BENIGN) })).status, 200,
      'the slot is free again once the first request finished');
    assert.equal(await up.count(CHAT), 2, 'the refused request was not forwarded');
  });

  it('--concurrent 2: two slow requests run side by side, the third is refused', async () => {
    const { gw, up } = world;
    const { key } = await createKeyFor(gw, { role: 'client', name: 'two-at-a-time', extra: ['--concurrent', '2'] });
    await up.reset();
    const slow = [1, 2].map((i) => request(gw.url, 'POST', CHAT, { key, body: userChat(`[[slow:2000]] slow ${i}`) }));
    await waitFor(async () => (await up.stats()).active >= 2, { timeoutMs: 5000, what: 'two slow requests at the upstream' });
    assertOpenAIError(await request(gw.url, 'POST', CHAT, { key, body: userChat(BENIGN) }), 429, 'too_many_concurrent_requests');
    for (const res of await Promise.all(slow)) assert.equal(res.status, 200, res.text);
  });
});
