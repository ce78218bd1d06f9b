// The live verdict feed (newest first, at most 200 rows) and the incident list.
import { h, clear, badge, fmtTime, fmtMs, fmtWhen, shortRoute } from './dom';
import type { Alert, IncidentStatus, IncidentSummary, Verdict } from './types';

export const FEED_MAX = 200;

export class FeedView {
  private rows: Verdict[] = [];
  private seen = new Set<string>();

  constructor(private body: HTMLElement, private count: HTMLElement, private open: (incidentId: string) => void) {}

  setAll(verdicts: Verdict[]): void {
    this.rows = [];
    this.seen.clear();
    clear(this.body);
    for (const v of verdicts.slice(0, FEED_MAX)) {
      if (this.seen.has(v.request_id)) continue;
      this.seen.add(v.request_id);
      this.rows.push(v);
      this.body.append(this.row(v));
    }
    this.updateCount();
  }

  prepend(v: Verdict): void {
    if (this.seen.has(v.request_id)) return;
    this.seen.add(v.request_id);
    this.rows.unshift(v);
    this.body.prepend(this.row(v, true));
    while (this.rows.length > FEED_MAX) {
      const old = this.rows.pop();
      if (old) this.seen.delete(old.request_id);
      this.body.lastElementChild?.remove();
    }
    this.updateCount();
  }

  private updateCount(): void {
    this.count.textContent = this.rows.length ? `${this.rows.length} latest` : '';
    if (this.rows.length === 0) {
      this.body.append(h('tr.empty', {}, h('td.muted', { colspan: 7 }, 'No verdicts yet: traffic appears here as it passes the gateway.')));
    } else {
      this.body.querySelector('tr.empty')?.remove();
    }
  }

  private row(v: Verdict, fresh = false): HTMLTableRowElement {
    const what = v.chain || (v.categories ?? []).join(', ') || '–';
    const tr = h('tr', {
      'data-testid': 'feed-row', 'data-request-id': v.request_id, 'data-class': v.class, 'data-action': v.action,
      class: `${fresh ? 'fresh ' : ''}${v.incident_id ? 'clickable' : ''}`,
      title: v.incident_id ? `open incident ${v.incident_id}` : v.request_id,
    },
    h('td.mono', {}, fmtTime(v.ts_ms)),
    h('td.mono.small', { title: v.route }, shortRoute(v.route)),
    h('td', {}, badge(v.action)),
    h('td', {}, badge(v.class)),
    h('td.small', { title: what }, h('span.ellipsis', {}, what)),
    h('td.num.mono', {}, fmtMs(v.latency_ms)),
    h('td.mono', {}, v.incident_id ?? ''));
    if (v.incident_id) {
      const id = v.incident_id;
      tr.addEventListener('click', () => this.open(id));
    }
    return tr;
  }
}

export class IncidentList {
  private items = new Map<string, IncidentSummary>();
  filter: IncidentStatus | 'all' = 'open';
  selected: string | null = null;

  constructor(private body: HTMLElement, private open: (id: string) => void) {}

  matches(s: IncidentSummary): boolean {
    return this.filter === 'all' || s.status === this.filter;
  }

  setAll(list: IncidentSummary[]): void {
    this.items.clear();
    for (const s of list) this.items.set(s.id, s);
    this.render();
  }

  upsert(s: IncidentSummary): void {
    if (this.matches(s)) this.items.set(s.id, s);
    else this.items.delete(s.id);
    this.render();
  }

  render(): void {
    clear(this.body);
    const list = [...this.items.values()].sort((a, b) => b.last_ms - a.last_ms);
    if (list.length === 0) {
      this.body.append(h('tr.empty', {}, h('td.muted', { colspan: 5 }, `No ${this.filter === 'all' ? '' : `${this.filter} `}incidents.`)));
      return;
    }
    for (const s of list) {
      this.body.append(h('tr.clickable', {
        'data-testid': 'incident-row', 'data-incident-id': s.id, 'data-class': s.class, 'data-kind': s.kind,
        'data-status': s.status, class: s.id === this.selected ? 'selected' : '',
        onclick: () => this.open(s.id),
      },
      h('td', {}, badge(s.severity)),
      h('td', {}, h('div.title', {}, h('span.mono.muted', {}, `${s.id} `), s.title),
        h('div.small.muted', {}, badge(s.class), `${s.kind.replace(/_/g, ' ')} · key ${s.key_id}${s.session ? ` · session ${s.session}` : ''}`)),
      h('td', {}, badge(s.status)),
      h('td.num', {}, String(s.verdicts)),
      h('td.small.mono', {}, fmtWhen(s.last_ms))));
    }
  }
}

export class AlertList {
  private alerts: Alert[] = [];

  constructor(private el: HTMLElement, private open: (id: string) => void) {}

  setAll(alerts: Alert[]): void {
    this.alerts = alerts.slice(0, 20);
    this.render();
  }

  prepend(a: Alert): void {
    if (this.alerts.some((x) => x.id === a.id)) return;
    this.alerts.unshift(a);
    this.alerts.length = Math.min(this.alerts.length, 20);
    this.render();
  }

  private render(): void {
    clear(this.el);
    if (this.alerts.length === 0) {
      this.el.append(h('li.muted', {}, 'No alerts.'));
      return;
    }
    for (const a of this.alerts) {
      const id = a.incident_id;
      this.el.append(h('li', { 'data-testid': 'alert', class: id ? 'clickable' : '', onclick: id ? () => this.open(id) : undefined },
        badge(a.severity), h('span.mono.small', {}, ` ${fmtTime(a.ts_ms)} `), h('code', {}, a.rule), ' ', a.summary));
    }
  }
}
