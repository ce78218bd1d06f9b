// The dashboard's HTTP client: every request carries `Authorization: Bearer KEY`; errors are the
// gateway's OpenAI error shape {"error": {"message", "type", "code", "param"}}.
import { SseParser, type SseEvent } from './sse';

export class ApiError extends Error {
  constructor(readonly status: number, readonly code: string, message: string) {
    super(message);
  }
}

const REQUEST_TIMEOUT_MS = 15_000;

export class Api {
  constructor(readonly key: string) {}

  private headers(json: boolean): HeadersInit {
    const h: Record<string, string> = { authorization: `Bearer ${this.key}`, accept: 'application/json' };
    if (json) h['content-type'] = 'application/json';
    return h;
  }

  async get<T>(path: string): Promise<T> {
    return this.send<T>('GET', path);
  }

  async post<T>(path: string, body: unknown): Promise<T> {
    return this.send<T>('POST', path, body);
  }

  private async send<T>(method: string, path: string, body?: unknown): Promise<T> {
    let res: Response;
    try {
      res = await fetch(path, {
        method,
        headers: this.headers(body !== undefined),
        body: body === undefined ? undefined : JSON.stringify(body),
        signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS),
        cache: 'no-store',
      });
    } catch (err) {
      throw new ApiError(0, 'network_error', `${method} ${path}: ${(err as Error).message}`);
    }
    const text = await res.text();
    let json: unknown;
    try {
      json = text ? JSON.parse(text) : undefined;
    } catch {
      json = undefined;
    }
    if (!res.ok) {
      const e = (json as { error?: { code?: string; message?: string } } | undefined)?.error;
      throw new ApiError(res.status, e?.code ?? `http_${res.status}`, e?.message ?? `${method} ${path}: HTTP ${res.status}`);
    }
    if (json === undefined) throw new ApiError(res.status, 'invalid_json', `${method} ${path}: the answer is not JSON`);
    return json as T;
  }

  /**
   * Reads GET /api/events until the stream ends, `signal` aborts or a read fails; calls `onOpen`
   * once the answer's header arrived and `onEvent` per event. Rejects with ApiError on an HTTP error.
   */
  async events(signal: AbortSignal, onOpen: () => void, onEvent: (ev: SseEvent) => void): Promise<void> {
    const res = await fetch('/api/events', {
      headers: { authorization: `Bearer ${this.key}`, accept: 'text/event-stream' },
      signal,
      cache: 'no-store',
    });
    if (!res.ok || !res.body) {
      let code = `http_${res.status}`;
      try {
        code = (await res.json())?.error?.code ?? code;
      } catch {
        /* not JSON */
      }
      throw new ApiError(res.status, code, `GET /api/events: HTTP ${res.status}`);
    }
    onOpen();
    const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
    const parser = new SseParser();
    try {
      for (;;) {
        const { value, done } = await reader.read();
        if (done) return;
        for (const ev of parser.push(value)) onEvent(ev);
      }
    } finally {
      reader.cancel().catch(() => {});
    }
  }
}
