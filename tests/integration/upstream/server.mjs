#!/usr/bin/env node
// A scripted OpenAI-compatible (and Open Inference Protocol) model server for the integration tests.
// No npm dependencies: node:http only. Binds 127.0.0.1 only.
//
//   node server.mjs --port 0 [--verbose]
//   -> prints "upstream: listening on http://127.0.0.1:PORT" on stdout when ready.
//
// Behaviour is scripted by directives in the last user message (chat), the last prompt (legacy
// completions) or the BYTES inputs (OIP), so a test can script the model *through* the gateway:
//
//   (none)                   answer "Echo: <text without directives>"
//   [[say:TEXT]]             answer exactly TEXT (up to the first "]]")
//   [[fail:STATUS]]          answer HTTP STATUS with an OpenAI-style error JSON
//   [[hang]]                 never answer; the socket stays open (timeout tests)
//   [[slow:MS]]              wait MS before answering, and between streamed chunks
//   [[tool_call:NAME:JSON]]  answer with one tool call, finish_reason "tool_calls"
//   [[logprobs]]             include logprobs (also when the request asks with "logprobs")
//   [[chunks:N]]             stream the answer in N chunks (default: one chunk per token)
//   [[close]]                destroy the socket mid-response (upstream reset tests)
//   [[echo_request]]         answer with the JSON of the request body as received
//   [[script:NAME]]          replaced by directives registered with POST /__script; lets a test
//                            make the model say things (attacks, leaks) that must not appear in the
//                            prompt itself, where the gateway's request scan would see them
//
// Request header x-test-delay-ms: N delays the answer by N ms (added to [[slow]]).
//
// Test control (not counted): GET /__stats, POST /__reset, POST /__script {"name", "directives"}.
import http from 'node:http';
import crypto from 'node:crypto';
import { parseArgs } from 'node:util';
import { pathToFileURL } from 'node:url';

const MODELS = ['test-model', 'echo'];
const MAX_BODY_BYTES = 16 * 1024 * 1024;
const MAX_RECENT = 50;
const SYSTEM_FINGERPRINT = 'fp_dualguard_upstream';

// ---- directives ------------------------------------------------------------------------------------

const KNOWN = new Set([
  'say', 'fail', 'hang', 'slow', 'tool_call', 'logprobs', 'chunks', 'close', 'echo_request', 'script',
]);

function emptyPlan(text) {
  return {
    text, say: null, fail: null, hang: false, slowMs: 0, toolCall: null, logprobs: false,
    chunks: null, close: false, echoRequest: false, errors: [],
  };
}

/** Replaces [[script:NAME]] by the registered directives (one level; unknown names are errors). */
function expandScripts(input, scripts, errors) {
  return input.replace(/\[\[script:([^\]]*)\]\]/g, (_, name) => {
    if (!scripts.has(name)) {
      errors.push(`unknown script "${name}"`);
      return '';
    }
    return scripts.get(name);
  });
}

/** Parses the directives out of one text; returns the plan with `text` = the text without them. */
export function parseDirectives(input, scripts = new Map()) {
  const errors = [];
  const source = expandScripts(String(input ?? ''), scripts, errors);
  const plan = emptyPlan('');
  plan.errors = errors;
  let out = '';
  let i = 0;
  while (i < source.length) {
    const open = source.indexOf('[[', i);
    if (open < 0) {
      out += source.slice(i);
      break;
    }
    out += source.slice(i, open);
    const m = /^\[\[([a-z_]+)(\]\]|:)/.exec(source.slice(open));
    if (!m || !KNOWN.has(m[1])) {
      out += '[[';
      i = open + 2;
      continue;
    }
    const name = m[1];
    const argStart = open + m[0].length;
    if (m[2] === ']]') {
      applyDirective(plan, name, null, errors);
      i = argStart;
      continue;
    }
    if (name === 'tool_call') {
      // NAME:JSON where the JSON may itself contain "]]": take the first "]]" that ends valid JSON.
      const colon = source.indexOf(':', argStart);
      const close0 = source.indexOf(']]', argStart);
      if (colon < 0 || close0 < 0 || close0 < colon) {
        errors.push('tool_call needs [[tool_call:NAME:JSON]]');
        i = close0 < 0 ? source.length : close0 + 2;
        continue;
      }
      const toolName = source.slice(argStart, colon);
      let close = source.indexOf(']]', colon + 1);
      let args;
      let ok = false;
      while (close >= 0) {
        try {
          args = JSON.parse(source.slice(colon + 1, close));
          ok = true;
          break;
        } catch {
          close = source.indexOf(']]', close + 1);
        }
      }
      if (!ok) {
        errors.push(`tool_call arguments are not JSON: ${source.slice(colon + 1, colon + 81)}`);
        close = source.indexOf(']]', colon + 1);
        i = close < 0 ? source.length : close + 2;
        continue;
      }
      plan.toolCall = { name: toolName, args };
      i = close + 2;
      continue;
    }
    const close = source.indexOf(']]', argStart);
    if (close < 0) {
      errors.push(`unterminated [[${name}:`);
      i = source.length;
      continue;
    }
    applyDirective(plan, name, source.slice(argStart, close), errors);
    i = close + 2;
  }
  plan.text = out.replace(/\s+/g, ' ').trim();
  return plan;
}

function applyDirective(plan, name, arg, errors) {
  const int = (what) => {
    const n = Number(arg);
    if (!Number.isInteger(n) || n < 0) {
      errors.push(`[[${what}:${arg}]] needs a non-negative integer`);
      return null;
    }
    return n;
  };
  switch (name) {
    case 'say': plan.say = arg ?? ''; break;
    case 'fail': {
      const status = int('fail');
      if (status !== null && (status < 100 || status > 599)) errors.push(`[[fail:${arg}]]: not an HTTP status`);
      else if (status !== null) plan.fail = status;
      break;
    }
    case 'hang': plan.hang = true; break;
    case 'slow': { const ms = int('slow'); if (ms !== null) plan.slowMs = ms; break; }
    case 'logprobs': plan.logprobs = true; break;
    case 'chunks': { const n = int('chunks'); if (n !== null) plan.chunks = Math.max(1, n); break; }
    case 'close': plan.close = true; break;
    case 'echo_request': plan.echoRequest = true; break;
    default: errors.push(`[[${name}]] is not understood here`);
  }
}

// ---- text helpers ----------------------------------------------------------------------------------

/** OpenAI-like tokens: a word with its leading whitespace. */
export function tokenize(text) {
  return String(text).match(/\s*\S+|\s+$/g) ?? [];
}

/** Splits text into n nearly equal pieces (by code point; never empty pieces). */
export function splitInto(text, n) {
  const chars = Array.from(text);
  const pieces = [];
  const count = Math.max(1, Math.min(n, chars.length));
  for (let k = 0; k < count; k++) {
    const from = Math.floor((k * chars.length) / count);
    const to = Math.floor(((k + 1) * chars.length) / count);
    pieces.push(chars.slice(from, to).join(''));
  }
  return pieces.filter((p) => p.length > 0);
}

function messageText(content) {
  if (typeof content === 'string') return content;
  if (Array.isArray(content)) {
    return content
      .filter((part) => part && (part.type === 'text' || part.type === 'input_text'))
      .map((part) => String(part.text ?? ''))
      .join('\n');
  }
  return '';
}

function countPromptTokens(messages) {
  return messages.reduce((n, m) => n + tokenize(messageText(m?.content)).length, 0);
}

function logprobFor(index, alt = 0) {
  return -Number((0.05 + (index % 7) * 0.11 + alt * 1.3).toFixed(4));
}

function bytesOf(token) {
  return Array.from(Buffer.from(token, 'utf8'));
}

/** Chat-completions logprobs for the tokens of `text`, the first token numbered `offset`. */
function chatLogprobs(text, topN, offset = 0) {
  return {
    content: tokenize(text).map((token, k) => {
      const i = offset + k;
      const top = [{ token, logprob: logprobFor(i), bytes: bytesOf(token) }];
      for (let alt = 1; alt < topN; alt++) {
        const other = `${token.trimEnd()}_alt${alt}`;
        top.push({ token: other, logprob: logprobFor(i, alt), bytes: bytesOf(other) });
      }
      return { token, logprob: logprobFor(i), bytes: bytesOf(token), top_logprobs: top.slice(0, topN) };
    }),
    refusal: null,
  };
}

/** Legacy completions logprobs. */
function legacyLogprobs(text, topN, offset = 0, textOffset = 0) {
  const tokens = tokenize(text);
  const result = { tokens: [], token_logprobs: [], top_logprobs: [], text_offset: [] };
  let pos = textOffset;
  tokens.forEach((token, k) => {
    const i = offset + k;
    result.tokens.push(token);
    result.token_logprobs.push(logprobFor(i));
    const top = { [token]: logprobFor(i) };
    for (let alt = 1; alt < topN; alt++) top[`${token.trimEnd()}_alt${alt}`] = logprobFor(i, alt);
    result.top_logprobs.push(top);
    result.text_offset.push(pos);
    pos += token.length;
  });
  return result;
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

function newId(prefix) {
  return `${prefix}${crypto.randomBytes(12).toString('hex')}`;
}

function nowSeconds() {
  return Math.floor(Date.now() / 1000);
}

// ---- errors ----------------------------------------------------------------------------------------

const ERROR_TYPES = {
  400: 'invalid_request_error', 401: 'authentication_error', 403: 'permission_error',
  404: 'not_found_error', 409: 'conflict_error', 413: 'invalid_request_error',
  422: 'invalid_request_error', 429: 'rate_limit_error',
};

export function openaiError(status, message, code = null, param = null) {
  return {
    error: {
      message,
      type: ERROR_TYPES[status] ?? (status >= 500 ? 'server_error' : 'invalid_request_error'),
      param,
      code,
    },
  };
}

// ---- the server ------------------------------------------------------------------------------------

export class Upstream {
  constructor({ verbose = false } = {}) {
    this.verbose = verbose;
    this.scripts = new Map();
    this.reset();
    this.server = http.createServer((req, res) => {
      this.handle(req, res).catch((err) => {
        this.log(`handler error: ${err?.stack ?? err}`);
        if (!res.headersSent) this.json(res, 500, openaiError(500, `upstream test server bug: ${err}`));
        else res.destroy();
      });
    });
    // Hanging requests must not keep a test's teardown waiting.
    this.server.keepAliveTimeout = 5000;
    this.server.requestTimeout = 0;
  }

  /** Clears the counts; `active` (requests in flight now) is a live gauge and survives a reset. */
  reset() {
    this.stats = { total: 0, active: this.stats?.active ?? 0, paths: {}, routes: {}, recent: [] };
  }

  log(line) {
    if (this.verbose) process.stderr.write(`upstream: ${line}\n`);
  }

  listen(port = 0) {
    return new Promise((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(port, '127.0.0.1', () => {
        this.server.off('error', reject);
        resolve(this.server.address().port);
      });
    });
  }

  close() {
    return new Promise((resolve) => {
      this.server.close(() => resolve());
      this.server.closeAllConnections();
    });
  }

  json(res, status, body, headers = {}) {
    const text = JSON.stringify(body);
    res.writeHead(status, {
      'content-type': 'application/json',
      'content-length': Buffer.byteLength(text),
      ...headers,
    });
    res.end(text);
  }

  async readBody(req) {
    const parts = [];
    let size = 0;
    for await (const chunk of req) {
      size += chunk.length;
      if (size > MAX_BODY_BYTES) throw new Error('request body too large for the test upstream');
      parts.push(chunk);
    }
    return Buffer.concat(parts).toString('utf8');
  }

  async handle(req, res) {
    const url = new URL(req.url, 'http://127.0.0.1');
    const path = url.pathname;

    // Test control: not counted.
    if (path === '/__stats' && req.method === 'GET') return this.json(res, 200, this.stats);
    if (path === '/__reset' && req.method === 'POST') {
      await this.readBody(req);
      this.reset();
      this.scripts.clear();
      return this.json(res, 200, { ok: true });
    }
    if (path === '/__script' && req.method === 'POST') {
      let body;
      try {
        body = JSON.parse(await this.readBody(req));
      } catch {
        return this.json(res, 400, openaiError(400, 'body is not JSON'));
      }
      if (typeof body?.name !== 'string' || typeof body?.directives !== 'string') {
        return this.json(res, 400, openaiError(400, 'expected {"name": string, "directives": string}'));
      }
      this.scripts.set(body.name, body.directives);
      return this.json(res, 200, { ok: true });
    }

    // Counted at arrival, so a test can see a request that is still in flight.
    this.stats.total++;
    this.stats.active++;
    this.stats.paths[path] = (this.stats.paths[path] ?? 0) + 1;
    const route = `${req.method} ${path}`;
    this.stats.routes[route] = (this.stats.routes[route] ?? 0) + 1;
    res.once('close', () => { this.stats.active--; });

    const raw = await this.readBody(req);
    let body = null;
    let bodyIsJson = false;
    if (raw.length > 0) {
      try {
        body = JSON.parse(raw);
        bodyIsJson = true;
      } catch {
        body = null;
      }
    }
    this.stats.recent.push({
      method: req.method, path, query: url.search, headers: req.headers,
      body: bodyIsJson ? body : raw, time: new Date().toISOString(),
    });
    if (this.stats.recent.length > MAX_RECENT) this.stats.recent.shift();
    this.log(`${route} ${raw.length} bytes`);

    const headerDelay = Number(req.headers['x-test-delay-ms'] ?? 0);
    const ctx = { req, res, path, raw, body, bodyIsJson, headerDelay: Number.isFinite(headerDelay) ? headerDelay : 0 };

    if (path === '/v1/chat/completions' && req.method === 'POST') return this.chat(ctx);
    if (path === '/v1/completions' && req.method === 'POST') return this.completions(ctx);
    if (path === '/v1/models' && req.method === 'GET') return this.models(ctx);
    const model = /^\/v1\/models\/([^/]+)$/.exec(path);
    if (model && req.method === 'GET') return this.model(ctx, decodeURIComponent(model[1]));
    if ((path === '/v2/health/ready' || path === '/v2/health/live') && req.method === 'GET') {
      return this.json(res, 200, { [path.endsWith('ready') ? 'ready' : 'live']: true });
    }
    if (path === '/v2' && req.method === 'GET') {
      return this.json(res, 200, { name: 'dualguard-test-upstream', version: '1', extensions: [] });
    }
    const oipInfer = /^\/v2\/models\/([^/]+)(?:\/versions\/([^/]+))?\/infer$/.exec(path);
    if (oipInfer && req.method === 'POST') return this.oipInfer(ctx, decodeURIComponent(oipInfer[1]));
    const oipModel = /^\/v2\/models\/([^/]+)(?:\/versions\/([^/]+))?(\/ready)?$/.exec(path);
    if (oipModel && req.method === 'GET') return this.oipModel(ctx, decodeURIComponent(oipModel[1]), !!oipModel[3]);
    return this.json(res, 404, openaiError(404, `no route ${route} on the test upstream`, 'not_found'));
  }

  /** Common behaviour of the scripted directives; returns true when the request was answered. */
  async applyBehaviour(ctx, plan, oip = false) {
    const { res } = ctx;
    if (plan.errors.length > 0) {
      const message = `bad test directive: ${plan.errors.join('; ')}`;
      this.json(res, 400, oip ? { error: message } : openaiError(400, message, 'bad_directive'));
      return true;
    }
    if (plan.hang) {
      this.log('hanging');
      return true; // never answer; closed by the client or at shutdown
    }
    const delay = plan.slowMs + ctx.headerDelay;
    if (delay > 0) await sleep(delay);
    if (plan.fail !== null) {
      const message = `upstream failure ${plan.fail} requested by [[fail:${plan.fail}]]`;
      this.json(res, plan.fail, oip ? { error: message } : openaiError(plan.fail, message, 'upstream_test_failure'));
      return true;
    }
    return false;
  }

  /** Sends a complete JSON body, or (with [[close]]) half of it and then resets the socket. */
  send(ctx, plan, body) {
    if (!plan.close) return this.json(ctx.res, 200, body);
    const text = JSON.stringify(body);
    const bytes = Buffer.from(text);
    ctx.res.writeHead(200, { 'content-type': 'application/json', 'content-length': bytes.length });
    ctx.res.write(bytes.subarray(0, Math.floor(bytes.length / 2)), () => ctx.res.socket?.destroy());
  }

  validationError(ctx, message, param) {
    this.json(ctx.res, 400, openaiError(400, message, 'invalid_request', param));
  }

  // ---- POST /v1/chat/completions ----

  async chat(ctx) {
    const { body } = ctx;
    if (!ctx.bodyIsJson || body === null || typeof body !== 'object' || Array.isArray(body)) {
      return this.validationError(ctx, 'We could not parse the JSON body of your request.', null);
    }
    if (!Array.isArray(body.messages) || body.messages.length === 0) {
      return this.validationError(ctx, "'messages' must be a non-empty array", 'messages');
    }
    const lastUser = [...body.messages].reverse().find((m) => m?.role === 'user');
    const plan = parseDirectives(messageText(lastUser?.content), this.scripts);
    if (await this.applyBehaviour(ctx, plan)) return;

    const model = typeof body.model === 'string' ? body.model : MODELS[0];
    const created = nowSeconds();
    const id = newId('chatcmpl-');
    const wantLogprobs = plan.logprobs || body.logprobs === true;
    const topN = Number.isInteger(body.top_logprobs) ? body.top_logprobs : 2;
    const promptTokens = countPromptTokens(body.messages);

    let content = null;
    let toolCalls = null;
    let finish = 'stop';
    if (plan.toolCall) {
      toolCalls = [{
        id: newId('call_').slice(0, 29), type: 'function',
        function: { name: plan.toolCall.name, arguments: JSON.stringify(plan.toolCall.args) },
      }];
      finish = 'tool_calls';
    } else {
      content = plan.echoRequest ? JSON.stringify(body) : plan.say ?? `Echo: ${plan.text}`;
      const limit = body.max_completion_tokens ?? body.max_tokens;
      const tokens = tokenize(content);
      if (Number.isInteger(limit) && limit >= 0 && tokens.length > limit) {
        content = tokens.slice(0, limit).join('');
        finish = 'length';
      }
    }
    const completionTokens = tokenize(content ?? toolCalls[0].function.arguments).length;
    const usage = {
      prompt_tokens: promptTokens, completion_tokens: completionTokens,
      total_tokens: promptTokens + completionTokens,
    };

    if (body.stream === true) {
      return this.chatStream(ctx, plan, { id, model, created, content, toolCalls, finish, usage, wantLogprobs, topN });
    }
    const message = { role: 'assistant', content, refusal: null };
    if (toolCalls) message.tool_calls = toolCalls;
    return this.send(ctx, plan, {
      id, object: 'chat.completion', created, model, system_fingerprint: SYSTEM_FINGERPRINT,
      choices: [{
        index: 0, message,
        logprobs: wantLogprobs && content !== null ? chatLogprobs(content, topN) : null,
        finish_reason: finish,
      }],
      usage,
    });
  }

  async chatStream(ctx, plan, a) {
    const includeUsage = ctx.body.stream_options?.include_usage === true;
    const chunk = (delta, finish = null, logprobs = null) => ({
      id: a.id, object: 'chat.completion.chunk', created: a.created, model: a.model,
      system_fingerprint: SYSTEM_FINGERPRINT,
      choices: [{ index: 0, delta, logprobs, finish_reason: finish }],
      ...(includeUsage ? { usage: null } : {}),
    });
    const events = [];
    if (a.toolCalls) {
      const call = a.toolCalls[0];
      events.push(chunk({
        role: 'assistant', content: null,
        tool_calls: [{ index: 0, id: call.id, type: 'function', function: { name: call.function.name, arguments: '' } }],
      }));
      for (const piece of splitInto(call.function.arguments, plan.chunks ?? 3)) {
        events.push(chunk({ tool_calls: [{ index: 0, function: { arguments: piece } }] }));
      }
    } else {
      events.push(chunk({ role: 'assistant', content: '', refusal: null }));
      const pieces = plan.chunks ? splitInto(a.content, plan.chunks) : tokenize(a.content);
      let tokenOffset = 0;
      for (const piece of pieces) {
        const lp = a.wantLogprobs ? chatLogprobs(piece, a.topN, tokenOffset) : null;
        tokenOffset += tokenize(piece).length;
        events.push(chunk({ content: piece }, null, lp));
      }
    }
    events.push(chunk({}, a.finish));
    if (includeUsage) {
      events.push({
        id: a.id, object: 'chat.completion.chunk', created: a.created, model: a.model,
        system_fingerprint: SYSTEM_FINGERPRINT, choices: [], usage: a.usage,
      });
    }
    return this.writeSSE(ctx, plan, events);
  }

  /** Writes SSE events (pausing [[slow]] ms between them), then [DONE]; [[close]] resets halfway. */
  async writeSSE(ctx, plan, events) {
    const { res } = ctx;
    res.writeHead(200, {
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-cache',
      connection: 'keep-alive',
    });
    res.flushHeaders();
    const closeAt = plan.close ? Math.max(1, Math.floor(events.length / 2)) : -1;
    for (let k = 0; k < events.length; k++) {
      if (res.destroyed) return;
      if (k === closeAt) {
        res.socket?.destroy();
        return;
      }
      if (k > 0 && plan.slowMs > 0) await sleep(plan.slowMs);
      const data = `data: ${JSON.stringify(events[k])}\n\n`;
      // Before a [[close]], make sure what was sent reached the socket, so the reset is mid-stream.
      if (plan.close) await new Promise((resolve) => res.write(data, resolve));
      else res.write(data);
    }
    if (plan.slowMs > 0) await sleep(plan.slowMs);
    res.end('data: [DONE]\n\n');
  }

  // ---- POST /v1/completions (legacy) ----

  async completions(ctx) {
    const { body } = ctx;
    if (!ctx.bodyIsJson || body === null || typeof body !== 'object' || Array.isArray(body)) {
      return this.validationError(ctx, 'We could not parse the JSON body of your request.', null);
    }
    let prompts;
    if (typeof body.prompt === 'string') prompts = [body.prompt];
    else if (Array.isArray(body.prompt) && body.prompt.length > 0) {
      prompts = body.prompt.map((p) => (typeof p === 'string' ? p : JSON.stringify(p)));
    } else {
      return this.validationError(ctx, "'prompt' must be a string or a non-empty list of strings", 'prompt');
    }
    // Behaviour (fail, hang, slow, close, chunks) comes from the last prompt; each prompt gets its answer.
    const plans = prompts.map((p) => parseDirectives(p, this.scripts));
    const plan = plans[plans.length - 1];
    if (await this.applyBehaviour(ctx, plan)) return;

    const model = typeof body.model === 'string' ? body.model : MODELS[0];
    const created = nowSeconds();
    const id = newId('cmpl-');
    const topN = Number.isInteger(body.logprobs) ? Math.max(1, body.logprobs) : 2;
    const wantLogprobs = plan.logprobs || Number.isInteger(body.logprobs);
    const limit = body.max_tokens;
    const answers = plans.map((p) => {
      let text = p.echoRequest ? JSON.stringify(body) : p.say ?? `Echo: ${p.text}`;
      let finish = 'stop';
      const tokens = tokenize(text);
      if (Number.isInteger(limit) && limit >= 0 && tokens.length > limit) {
        text = tokens.slice(0, limit).join('');
        finish = 'length';
      }
      return { text, finish };
    });
    const promptTokens = prompts.reduce((n, p) => n + tokenize(p).length, 0);
    const completionTokens = answers.reduce((n, a) => n + tokenize(a.text).length, 0);
    const usage = {
      prompt_tokens: promptTokens, completion_tokens: completionTokens,
      total_tokens: promptTokens + completionTokens,
    };

    if (body.stream === true) {
      const includeUsage = body.stream_options?.include_usage === true;
      const events = [];
      answers.forEach((answer, index) => {
        const pieces = plan.chunks ? splitInto(answer.text, plan.chunks) : tokenize(answer.text);
        let tokenOffset = 0;
        let textOffset = 0;
        for (const piece of pieces) {
          events.push({
            id, object: 'text_completion', created, model, system_fingerprint: SYSTEM_FINGERPRINT,
            choices: [{
              text: piece, index,
              logprobs: wantLogprobs ? legacyLogprobs(piece, topN, tokenOffset, textOffset) : null,
              finish_reason: null,
            }],
          });
          tokenOffset += tokenize(piece).length;
          textOffset += piece.length;
        }
        events.push({
          id, object: 'text_completion', created, model, system_fingerprint: SYSTEM_FINGERPRINT,
          choices: [{ text: '', index, logprobs: null, finish_reason: answer.finish }],
        });
      });
      if (includeUsage) {
        events.push({ id, object: 'text_completion', created, model, choices: [], usage });
      }
      return this.writeSSE(ctx, plan, events);
    }
    return this.send(ctx, plan, {
      id, object: 'text_completion', created, model, system_fingerprint: SYSTEM_FINGERPRINT,
      choices: answers.map((answer, index) => ({
        text: answer.text, index,
        logprobs: wantLogprobs ? legacyLogprobs(answer.text, topN) : null,
        finish_reason: answer.finish,
      })),
      usage,
    });
  }

  // ---- GET /v1/models ----

  modelObject(name) {
    return { id: name, object: 'model', created: 1700000000, owned_by: 'dualguard-tests' };
  }

  models(ctx) {
    return this.json(ctx.res, 200, { object: 'list', data: MODELS.map((m) => this.modelObject(m)) });
  }

  model(ctx, name) {
    if (!MODELS.includes(name)) {
      return this.json(ctx.res, 404, openaiError(404, `The model '${name}' does not exist`, 'model_not_found', 'model'));
    }
    return this.json(ctx.res, 200, this.modelObject(name));
  }

  // ---- Open Inference Protocol ----

  oipModel(ctx, name, readyOnly) {
    if (!MODELS.includes(name)) return this.json(ctx.res, 404, { error: `model '${name}' not found` });
    if (readyOnly) return this.json(ctx.res, 200, { name, ready: true });
    return this.json(ctx.res, 200, {
      name, versions: ['1'], platform: 'dualguard-test',
      inputs: [{ name: 'text', datatype: 'BYTES', shape: [-1] }],
      outputs: [{ name: 'echo_text', datatype: 'BYTES', shape: [-1] }],
    });
  }

  async oipInfer(ctx, name) {
    const { body } = ctx;
    if (!MODELS.includes(name)) return this.json(ctx.res, 404, { error: `model '${name}' not found` });
    if (!ctx.bodyIsJson || !body || !Array.isArray(body.inputs)) {
      return this.json(ctx.res, 400, { error: "expected a JSON object with an 'inputs' list" });
    }
    const strings = [];
    for (const input of body.inputs) {
      if (input?.datatype === 'BYTES') strings.push(...[input.data].flat(Infinity).map(String));
    }
    const plan = parseDirectives(strings.filter((s) => s.includes('[[')).pop() ?? '', this.scripts);
    if (await this.applyBehaviour(ctx, plan, true)) return;

    const outputs = [];
    for (const input of body.inputs) {
      if (typeof input?.name !== 'string' || !Array.isArray(input?.shape) || input.data === undefined) {
        return this.json(ctx.res, 400, { error: 'each input needs name, shape, datatype and data' });
      }
      const flat = [input.data].flat(Infinity);
      if (input.datatype === 'BYTES') {
        // Echo; an element with [[say:TEXT]] is replaced by TEXT, so a test can script the output.
        const data = flat.map((s) => {
          const p = parseDirectives(String(s), this.scripts);
          if (p.say !== null) return p.say;
          return p.echoRequest ? JSON.stringify(body) : String(s);
        });
        outputs.push({ name: `echo_${input.name}`, datatype: 'BYTES', shape: [data.length], data });
      } else {
        const sum = flat.reduce((acc, v) => acc + Number(v), 0);
        outputs.push({ name: `sum_${input.name}`, datatype: 'FP64', shape: [1], data: [sum] });
      }
    }
    const answer = { model_name: name, model_version: '1', outputs };
    if (body.id !== undefined) answer.id = body.id;
    return this.send(ctx, plan, answer);
  }
}

// ---- CLI -------------------------------------------------------------------------------------------

async function main() {
  const { values } = parseArgs({
    options: {
      port: { type: 'string', default: '0' },
      verbose: { type: 'boolean', default: false },
      help: { type: 'boolean', default: false },
    },
  });
  if (values.help) {
    process.stdout.write('usage: node server.mjs [--port N] [--verbose]\n');
    return;
  }
  const port = Number(values.port);
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    process.stderr.write(`upstream: --port must be 0..65535, got "${values.port}"\n`);
    process.exit(2);
  }
  const upstream = new Upstream({ verbose: values.verbose });
  const bound = await upstream.listen(port);
  process.stdout.write(`upstream: listening on http://127.0.0.1:${bound}\n`);
  const stop = async () => {
    await upstream.close();
    process.exit(0);
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  main().catch((err) => {
    process.stderr.write(`upstream: ${err?.stack ?? err}\n`);
    process.exit(1);
  });
}
