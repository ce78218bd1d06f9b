// A few DOM helpers: every text goes in through textContent (never innerHTML), so nothing the
// gateway stores (prompts, responses, evidence) can become markup.

type Attrs = Record<string, string | number | boolean | null | undefined | ((ev: Event) => void)>;
type Child = Node | string | number | null | undefined | false;

/** h('div.card', {'data-testid': 'x', onclick: fn}, 'text', child) */
export function h<K extends keyof HTMLElementTagNameMap>(
  tag: K | `${K}.${string}`,
  attrs: Attrs = {},
  ...children: (Child | Child[])[]
): HTMLElementTagNameMap[K] {
  const [name, ...classes] = tag.split('.');
  const el = document.createElement(name as K);
  if (classes.length) el.className = classes.join(' ');
  for (const [k, v] of Object.entries(attrs)) {
    if (v === null || v === undefined || v === false) continue;
    if (typeof v === 'function') el.addEventListener(k.replace(/^on/, ''), v);
    else if (k === 'class') el.className = [el.className, String(v)].filter(Boolean).join(' ');
    else if (v === true) el.setAttribute(k, '');
    else el.setAttribute(k, String(v));
  }
  append(el, children);
  return el;
}

export function append(el: Node, children: (Child | Child[])[]): void {
  for (const c of children.flat()) {
    if (c === null || c === undefined || c === false) continue;
    el.appendChild(typeof c === 'string' || typeof c === 'number' ? document.createTextNode(String(c)) : c);
  }
}

export function clear(el: Element): void {
  while (el.firstChild) el.removeChild(el.firstChild);
}

export function byId<T extends HTMLElement = HTMLElement>(id: string): T {
  const el = document.getElementById(id);
  if (!el) throw new Error(`#${id} is missing from index.html`);
  return el as T;
}

// ---- formatting -----------------------------------------------------------------------------

export function fmtTime(ms: number): string {
  const d = new Date(ms);
  return d.toLocaleTimeString(undefined, { hour12: false });
}

export function fmtDateTime(ms: number): string {
  const d = new Date(ms);
  return `${d.toLocaleDateString(undefined, { month: 'short', day: 'numeric' })} ${fmtTime(ms)}`;
}

/** The time alone within the last 20 hours, else with the date. */
export function fmtWhen(ms: number): string {
  return Date.now() - ms < 20 * 3600_000 ? fmtTime(ms) : fmtDateTime(ms);
}

/** A short name for a route in narrow tables (the full one goes in a tooltip). */
export function shortRoute(route: string): string {
  if (route === '/v1/chat/completions') return 'chat';
  if (route === '/v1/completions') return 'completions';
  if (route === '/v1/scan') return 'scan';
  const m = /^\/v2\/models\/([^/]+)\/infer$/.exec(route);
  return m ? `infer ${m[1]}` : route;
}

export function fmtMs(v: number | null | undefined): string {
  if (v === null || v === undefined || !Number.isFinite(v)) return '–';
  return v < 10 ? `${v.toFixed(2)} ms` : v < 100 ? `${v.toFixed(1)} ms` : `${Math.round(v)} ms`;
}

export function fmtPct(part: number, whole: number): string {
  if (!whole) return '–';
  const p = (100 * part) / whole;
  return p === 0 ? '0%' : p < 0.1 ? '<0.1%' : p < 10 ? `${p.toFixed(1)}%` : `${Math.round(p)}%`;
}

export function fmtNum(v: number | null | undefined, digits = 3): string {
  if (v === null || v === undefined || !Number.isFinite(v)) return '–';
  return v.toFixed(digits);
}

export function sum(xs: readonly (number | null)[]): number {
  let s = 0;
  for (const x of xs) s += x ?? 0;
  return s;
}

/** The last non-null value of a series. */
export function lastValue(xs: readonly (number | null)[]): number | null {
  for (let i = xs.length - 1; i >= 0; i--) if (xs[i] !== null && xs[i] !== undefined) return xs[i];
  return null;
}

/** A badge: <span class="badge b-VALUE">VALUE</span>. */
export function badge(value: string, kind = ''): HTMLSpanElement {
  return h('span.badge', { class: `b-${value}${kind ? ` ${kind}` : ''}` }, value.replace(/_/g, ' '));
}
