// The incident drill-down: the chain (Cytoscape), each verdict's rule and explanation, the stored
// (redacted) texts with the findings' spans marked, the findings table, the history, and the
// operator's acknowledge / resolve / reopen.
import type { Core, ElementDefinition } from 'cytoscape';
import { h, clear, badge, fmtDateTime, fmtMs, fmtNum } from './dom';
import type { Api } from './api';
import type { Finding, IncidentDetail, IncidentStatus, IncidentSummary, Segment, VerdictDetail } from './types';

const DOMAIN_COLORS: Record<string, string> = { security: '#c2410c', safety: '#1d4ed8' };

export class DetailView {
  current: string | null = null;
  private cy: Core | null = null;
  private resize: ResizeObserver | null = null;
  private seq = 0;

  constructor(
    private el: HTMLElement,
    private api: () => Api,
    private canOperate: () => boolean,
    private onChanged: (s: IncidentSummary) => void,
    private onClose: () => void,
  ) {
    document.addEventListener('keydown', (ev) => {
      if (ev.key === 'Escape' && this.current && !document.querySelector('dialog[open]')) this.close();
    });
  }

  async open(id: string): Promise<void> {
    this.current = id;
    this.el.hidden = false;
    this.el.dataset.incidentId = id;
    if (this.el.dataset.loadedId !== id) {
      clear(this.el);
      this.el.append(this.header(id, null), h('p.muted.pad', {}, 'Loading…'));
    }
    await this.refresh();
  }

  close(): void {
    this.current = null;
    this.el.hidden = true;
    delete this.el.dataset.incidentId;
    delete this.el.dataset.loadedId;
    this.destroyGraph();
    clear(this.el);
    this.onClose();
  }

  async refresh(): Promise<void> {
    const id = this.current;
    if (!id) return;
    const seq = ++this.seq;
    try {
      const d = await this.api().get<IncidentDetail>(`/api/incidents/${encodeURIComponent(id)}`);
      if (seq !== this.seq || this.current !== id) return; // a newer open/refresh won
      await this.render(d);
    } catch (err) {
      if (seq !== this.seq || this.current !== id) return;
      clear(this.el);
      this.el.append(this.header(id, null), h('p.error.pad', { 'data-testid': 'detail-error' }, (err as Error).message));
    }
  }

  private header(id: string, s: IncidentSummary | null): HTMLElement {
    return h('div.detail-head', {},
      h('div', {},
        h('div.small.muted.mono', {}, id),
        h('h2', { 'data-testid': 'detail-title' }, s ? s.title : 'Incident')),
      h('button.ghost', { type: 'button', 'data-testid': 'detail-close', title: 'close (Esc)', onclick: () => this.close() }, '✕'));
  }

  private async render(d: IncidentDetail): Promise<void> {
    const s = d.incident;
    const scrollTop = this.el.scrollTop;
    this.destroyGraph();
    clear(this.el);
    this.el.dataset.loadedId = s.id;
    this.el.dataset.status = s.status;
    this.el.dataset.class = s.class;
    const graph = h('div.graph', { 'data-testid': 'chain-graph' });
    this.el.append(
      this.header(s.id, s),
      h('div.meta', { 'data-testid': 'detail-meta' },
        badge(s.severity), badge(s.class), badge(s.status),
        h('span.chip', {}, s.kind.replace(/_/g, ' ')),
        h('span.chip.mono', {}, `key ${s.key_id}`),
        s.session ? h('span.chip.mono', {}, `session ${s.session}`) : null,
        h('span.chip', {}, `${s.verdicts} verdict${s.verdicts === 1 ? '' : 's'}`),
        h('span.chip', {}, `${fmtDateTime(s.first_ms)} → ${fmtDateTime(s.last_ms)}`)),
      this.actions(s) ?? '',
      h('h3', {}, 'Chain'),
      graph,
      h('h3', {}, 'Verdicts'),
      ...d.verdicts.map((v) => this.verdict(v)),
      h('h3', {}, 'History'),
      h('ul.history', { 'data-testid': 'history' }, d.history.map((e) => h('li', {},
        h('span.mono.small', {}, fmtDateTime(e.ts_ms)), ' ', h('b', {}, e.action.replace(/_/g, ' ')), ' ', badge(e.status),
        h('span.muted.small', {}, ` by ${e.key_id || 'gateway'}`), e.note ? h('span', {}, ` — ${e.note}`) : null))),
    );
    this.el.scrollTop = scrollTop;
    await this.drawChain(graph, s);
  }

  private actions(s: IncidentSummary): HTMLElement | null {
    if (!this.canOperate()) return null;
    const note = h('input', { type: 'text', placeholder: 'note (optional)', 'data-testid': 'incident-note', maxlength: 500 });
    const set = (status: IncidentStatus) => async (ev: Event) => {
      const btn = ev.currentTarget as HTMLButtonElement;
      btn.disabled = true;
      try {
        const body: { status: IncidentStatus; note?: string } = { status };
        if (note.value.trim()) body.note = note.value.trim();
        const updated = await this.api().post<IncidentSummary>(`/api/incidents/${encodeURIComponent(s.id)}`, body);
        this.onChanged(updated);
        await this.refresh();
      } catch (err) {
        btn.disabled = false;
        btn.title = (err as Error).message;
        note.setCustomValidity((err as Error).message);
        note.reportValidity();
      }
    };
    const btn = (label: string, status: IncidentStatus, testid: string, cls = '') =>
      h('button', { type: 'button', 'data-testid': testid, class: cls, onclick: set(status) }, label);
    return h('div.actions', { 'data-testid': 'incident-actions' }, note,
      s.status === 'open' ? btn('Acknowledge', 'acknowledged', 'incident-ack', 'primary') : null,
      s.status !== 'resolved' ? btn('Resolve', 'resolved', 'incident-resolve') : null,
      s.status !== 'open' ? btn('Reopen', 'open', 'incident-reopen') : null);
  }

  private verdict(v: VerdictDetail): HTMLElement {
    const section = h('section.verdict', { 'data-testid': 'detail-verdict', 'data-request-id': v.request_id });
    const pick = h('div.pick.small', { 'data-testid': 'finding-pick', hidden: true });
    const rows = v.findings.map((f, i) => this.findingRow(f, i));
    const highlight = (idx: number[], on: boolean, sticky = false) => {
      for (const r of rows) {
        const hit = idx.includes(Number(r.dataset.index));
        if (sticky) r.classList.toggle('picked', hit && on);
        else r.classList.toggle('hl', hit && on);
      }
    };
    const onPick = (idx: number[], mark: HTMLElement) => {
      section.querySelectorAll('mark.picked').forEach((m) => m.classList.remove('picked'));
      mark.classList.add('picked');
      highlight(idx, true, true);
      clear(pick);
      pick.hidden = false;
      for (const i of idx) {
        const f = v.findings[i];
        if (!f) continue;
        pick.append(h('div', { 'data-testid': 'finding-pick-item' },
          h('b', {}, `#${i} ${f.category}`), ` · ${f.detector} · ${f.domain} · ${f.severity} · score ${fmtNum(f.score, 2)} — `,
          h('span.mono', {}, f.evidence),
          f.explanation && f.explanation !== f.evidence ? h('span.muted', {}, ` — ${f.explanation}`) : null));
      }
    };
    const texts = Object.entries(v.texts ?? {}).filter(([, segs]) => segs && segs.length);
    section.append(
      h('div.verdict-head', {},
        h('span.mono.small', {}, fmtDateTime(v.ts_ms)), ' ', h('span.mono.small', {}, v.route), ' ',
        badge(v.action), badge(v.class), v.chain ? h('span.chip', {}, v.chain) : null,
        h('span.muted.small.mono', {}, ` ${v.request_id} · ${fmtMs(v.latency_ms)}`)),
      h('p.rule', { 'data-testid': 'verdict-rule' }, 'Decided by policy rule ', h('code', {}, v.rule ?? '(default action)')),
      h('p.explanation', { 'data-testid': 'verdict-explanation' }, v.explanation),
      ...texts.map(([role, segs]) => h('div.text-block', {},
        h('div.text-role', {}, role, h('span.muted', {}, ' (as stored: redacted)')),
        this.text(role, segs, v.findings, onPick, (idx, on) => highlight(idx, on)))),
      pick,
      v.findings.length
        ? h('table.table.findings', { 'data-testid': 'findings-table' },
          h('thead', {}, h('tr', {}, ['#', 'detector', 'category', 'domain', 'role', 'score', 'severity', 'evidence', 'explanation']
            .map((c) => h('th', { class: c === 'score' ? 'num' : '' }, c)))),
          h('tbody', {}, rows))
        : h('p.muted', {}, 'No findings.'),
    );
    return section;
  }

  private findingRow(f: Finding, i: number): HTMLTableRowElement {
    return h('tr', { 'data-testid': 'finding-row', 'data-index': i, 'data-category': f.category, 'data-domain': f.domain },
      h('td.mono', {}, String(i)), h('td.mono.small', {}, f.detector), h('td', {}, f.category),
      h('td', {}, badge(f.domain)), h('td.small', {}, f.role), h('td.num.mono', {}, fmtNum(f.score, 2)),
      h('td', {}, badge(f.severity)), h('td.mono.small.wrap', {}, f.evidence), h('td.small.wrap', {}, f.explanation));
  }

  private text(role: string, segs: Segment[], findings: Finding[],
    onPick: (idx: number[], mark: HTMLElement) => void, onHover: (idx: number[], on: boolean) => void): HTMLElement {
    const box = h('div.text', { 'data-testid': `text-${role}`, 'data-role': role });
    for (const seg of segs) {
      if (!seg.findings || seg.findings.length === 0) {
        box.append(document.createTextNode(seg.text));
        continue;
      }
      const fs = seg.findings.map((i) => findings[i]).filter((f): f is Finding => Boolean(f));
      const domains = new Set(fs.map((f) => f.domain));
      const cls = domains.size > 1 ? 'm-both' : `m-${[...domains][0] ?? 'security'}`;
      const title = seg.findings.map((i) => {
        const f = findings[i];
        return f ? `#${i} ${f.category} (${f.domain}, ${f.severity}, ${f.detector}, score ${fmtNum(f.score, 2)})` : `#${i}`;
      }).join('\n');
      const idx = seg.findings;
      const mark = h('mark', {
        'data-testid': 'span-mark', 'data-findings': idx.join(','), 'data-role': role, class: cls, title, tabindex: 0,
      }, seg.text);
      mark.addEventListener('click', () => onPick(idx, mark));
      mark.addEventListener('keydown', (ev) => {
        if ((ev as KeyboardEvent).key === 'Enter') onPick(idx, mark);
      });
      mark.addEventListener('mouseenter', () => onHover(idx, true));
      mark.addEventListener('mouseleave', () => onHover(idx, false));
      box.append(mark);
    }
    return box;
  }

  private async drawChain(el: HTMLElement, s: IncidentSummary): Promise<void> {
    const { default: cytoscape } = await import('cytoscape');
    if (!el.isConnected) return;
    const elements: ElementDefinition[] = [
      { data: { id: 'actor', label: `key ${s.key_id}${s.session ? `\nsession ${s.session}` : ''}`, kind: 'actor', w: 150 }, position: { x: 0, y: 0 } },
    ];
    let prev = 'actor';
    s.chain.forEach((c, i) => {
      const id = `c${i}`;
      elements.push({
        data: {
          id, label: `${c.category}\n${c.domain} · ${c.role}`, kind: c.domain, color: DOMAIN_COLORS[c.domain] ?? '#475569',
          w: Math.max(150, 7.4 * Math.max(c.category.length, `${c.domain} · ${c.role}`.length) + 28),
        },
        position: { x: 0, y: 0 },
      });
      elements.push({ data: { id: `e${i}`, source: prev, target: id, label: i === 0 ? 'sent' : 'led to' } });
      prev = id;
    });
    // Left to right, each node placed after the previous one's width.
    let x = 0;
    let prevW = 150;
    for (const e of elements) {
      if (e.data.source !== undefined) continue;
      const w = Number(e.data.w ?? 150);
      if (e.data.id !== 'actor') x += prevW / 2 + 60 + w / 2;
      e.position = { x, y: 0 };
      prevW = w;
    }
    this.cy = cytoscape({
      container: el,
      elements,
      layout: { name: 'preset', fit: true, padding: 24 },
      userZoomingEnabled: false,
      userPanningEnabled: false,
      boxSelectionEnabled: false,
      autoungrabify: true,
      style: [
        {
          selector: 'node',
          style: {
            shape: 'round-rectangle', width: 'data(w)', height: 48, 'background-color': 'data(color)', label: 'data(label)',
            color: '#fff', 'font-size': 12, 'text-wrap': 'wrap', 'text-valign': 'center', 'text-halign': 'center',
            'font-family': 'system-ui, sans-serif',
          },
        },
        { selector: 'node[kind = "actor"]', style: { 'background-color': '#e5e7eb', color: '#111827', shape: 'ellipse', width: 150 } },
        {
          selector: 'edge',
          style: {
            width: 2, 'line-color': '#94a3b8', 'target-arrow-color': '#94a3b8', 'target-arrow-shape': 'triangle',
            'curve-style': 'bezier', label: 'data(label)', 'font-size': 11, color: '#475569', 'text-margin-y': -10,
            'font-family': 'system-ui, sans-serif',
          },
        },
      ],
    });
    el.dataset.nodes = String(s.chain.length);
    const fit = () => {
      this.cy?.resize();
      this.cy?.fit(undefined, 24);
      if ((this.cy?.zoom() ?? 1) > 1.2) {
        this.cy?.zoom(1.2);
        this.cy?.center();
      }
    };
    fit();
    el.dataset.ready = 'true';
    this.resize = new ResizeObserver(fit);
    this.resize.observe(el);
  }

  private destroyGraph(): void {
    this.resize?.disconnect();
    this.resize = null;
    this.cy?.destroy();
    this.cy = null;
  }
}
