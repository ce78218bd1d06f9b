// The overview: key numbers, the Safety | Security | Cross-domain columns (uPlot: flagged, blocked and
// review per bucket; top categories), the latency chart and the drift table.
import uPlot from 'uplot';
import 'uplot/dist/uPlot.min.css';
import { h, clear, fmtMs, fmtNum, fmtPct, lastValue, sum } from './dom';
import type { ColumnName, Overview } from './types';

const COLUMNS: { name: ColumnName; title: string; note: string }[] = [
  { name: 'safety', title: 'Safety', note: 'unintended harm: PII, toxicity, harmful output, leaks of the model’s own' },
  { name: 'security', title: 'Security', note: 'attacks on the AI system: injection, jailbreaks, exfiltration' },
  { name: 'hybrid', title: 'Cross-domain', note: 'an attack that caused a safety failure (hybrid chains)' },
];

const COLORS = { flagged: '#5b6b82', blocked: '#d64545', review: '#d99a1e', p50: '#2f7dd1', p99: '#8a4fd1' };
const CHART_HEIGHT = 130;

/** Keeps a uPlot chart as wide as its container. */
function autosize(chart: uPlot, el: HTMLElement, height: number): void {
  const fit = () => {
    const w = Math.max(200, Math.floor(el.clientWidth));
    if (w !== chart.width) chart.setSize({ width: w, height });
  };
  new ResizeObserver(fit).observe(el);
  fit();
}

function countAxis(): uPlot.Axis {
  return { stroke: '#5d6675', grid: { stroke: '#eef0f3' }, ticks: { stroke: '#e1e4e8' }, size: 36, incrs: [1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000, 10000] };
}

const pad2 = (n: number) => String(n).padStart(2, '0');

/** Tick labels in 24-hour local time, with seconds when the ticks are less than a minute apart. */
function timeValues(_u: uPlot, ticks: number[]): string[] {
  const step = ticks.length > 1 ? ticks[1] - ticks[0] : 60;
  return ticks.map((t) => {
    const d = new Date(t * 1000);
    const hm = `${pad2(d.getHours())}:${pad2(d.getMinutes())}`;
    return step < 60 ? `${hm}:${pad2(d.getSeconds())}` : hm;
  });
}

function timeAxis(): uPlot.Axis {
  return { stroke: '#5d6675', grid: { stroke: '#eef0f3' }, ticks: { stroke: '#e1e4e8' }, size: 28, values: timeValues, space: 72 };  // room for "hh:mm:ss" labels
}

type Data = uPlot.AlignedData;

class Column {
  readonly el: HTMLElement;
  private chart: uPlot;
  private stats: HTMLElement;
  private cats: HTMLElement;

  constructor(private readonly spec: (typeof COLUMNS)[number]) {
    const chartEl = h('div.chart', { 'data-testid': `chart-${spec.name}` });
    this.stats = h('div.stats', { 'data-testid': `stats-${spec.name}` });
    this.cats = h('ol.cats', { 'data-testid': `categories-${spec.name}` });
    this.el = h('div.card.column', { class: `col-${spec.name}`, 'data-testid': `column-${spec.name}` },
      h('h2', {}, spec.title, h('span.muted.small', {}, ` ${spec.name}`)),
      h('p.note.muted.small', {}, spec.note),
      this.stats, chartEl, h('h3', {}, 'Top categories'), this.cats);
    this.chart = new uPlot({
      width: 300,
      height: CHART_HEIGHT,
      legend: { show: true, live: false },
      cursor: { drag: { x: false, y: false } },
      scales: { x: { time: true }, y: { range: (_u, _min, max) => [0, Math.max(4, Math.ceil((max ?? 0) * 1.15))] } },
      axes: [timeAxis(), countAxis()],
      series: [
        {},
        { label: 'flagged', stroke: COLORS.flagged, width: 1.5, fill: 'rgba(91,107,130,0.08)', points: { show: false } },
        { label: 'blocked', stroke: COLORS.blocked, width: 1.5, points: { show: false } },
        { label: 'review', stroke: COLORS.review, width: 1.5, dash: [4, 3], points: { show: false } },
      ],
    }, [[], [], [], []], chartEl);
    autosize(this.chart, chartEl, CHART_HEIGHT);
  }

  update(ov: Overview): void {
    const c = ov.columns[this.spec.name];
    if (!c) return;
    this.chart.setData([ov.t, c.flagged, c.blocked, c.review] as Data);
    const total = sum(ov.requests);
    const flagged = sum(c.flagged);
    const blocked = sum(c.blocked);
    const review = sum(c.review);
    clear(this.stats);
    const stat = (label: string, value: number, pct: string, testid: string) =>
      h('div.stat', { 'data-testid': testid }, h('b', {}, String(value)), h('span', {}, label), h('small.muted', {}, pct));
    this.stats.append(
      stat('flagged', flagged, fmtPct(flagged, total), `${this.spec.name}-flagged`),
      stat('blocked', blocked, fmtPct(blocked, total), `${this.spec.name}-blocked`),
      stat('review', review, fmtPct(review, total), `${this.spec.name}-review`),
    );
    clear(this.cats);
    const top = c.top_categories ?? [];
    const max = Math.max(1, ...top.map((x) => x.count));
    if (top.length === 0) this.cats.append(h('li.empty.muted', {}, 'nothing flagged in this range'));
    for (const x of top.slice(0, 6)) {
      const bar = h('i');
      bar.style.width = `${Math.round((100 * x.count) / max)}%`; // CSSOM, not a style attribute: CSP-safe
      this.cats.append(h('li', { 'data-category': x.category, title: `${x.category}: ${x.count}` },
        h('span.cat', {}, x.category), h('span.bar', {}, bar), h('span.count', {}, String(x.count))));
    }
  }
}

export class OverviewView {
  private columns: Column[];
  private latency: uPlot;

  constructor(private kpis: HTMLElement, columnsEl: HTMLElement, latencyEl: HTMLElement, private driftEl: HTMLElement) {
    this.columns = COLUMNS.map((spec) => new Column(spec));
    columnsEl.append(...this.columns.map((c) => c.el));
    this.latency = new uPlot({
      width: 400,
      height: 150,
      legend: { show: true, live: false },
      cursor: { drag: { x: false, y: false } },
      scales: { x: { time: true }, y: { range: (_u, _min, max) => [0, Math.max(1, (max ?? 0) * 1.15)] } },
      axes: [timeAxis(), {
        ...countAxis(), size: 62, incrs: [0.01, 0.02, 0.05, 0.1, 0.2, 0.25, 0.5, 1, 2, 2.5, 5, 10, 20, 25, 50, 100, 200, 500, 1000, 2000, 5000],
        values: (_u, ticks) => ticks.map((t) => `${+t.toFixed(2)} ms`),
      }],
      series: [
        {},
        // uPlot's default points stay on: a bucket between two empty ones is a point, not a line.
        { label: 'p50', stroke: COLORS.p50, width: 1.5, spanGaps: false },
        { label: 'p99', stroke: COLORS.p99, width: 1.5, spanGaps: false },
      ],
    }, [[], [], []], latencyEl);
    autosize(this.latency, latencyEl, 150);
  }

  update(raw: Overview): void {
    // Tolerate a partial answer (an older gateway): missing series draw as empty.
    const empty = raw.t?.map(() => null) ?? [];
    const ov: Overview = {
      ...raw,
      t: raw.t ?? [],
      requests: raw.requests ?? [],
      latency_ms: { p50: raw.latency_ms?.p50 ?? empty, p99: raw.latency_ms?.p99 ?? empty },
      columns: raw.columns ?? ({} as Overview['columns']),
      drift: raw.drift ?? [],
      incidents_open: raw.incidents_open ?? 0,
    };
    for (const c of this.columns) c.update(ov);
    this.latency.setData([ov.t, ov.latency_ms.p50, ov.latency_ms.p99] as Data);
    this.renderKpis(ov);
    this.renderDrift(ov);
  }

  private renderKpis(ov: Overview): void {
    const total = sum(ov.requests);
    const blocked = (['safety', 'security', 'hybrid'] as const).reduce((n, c) => n + sum(ov.columns[c]?.blocked ?? []), 0);
    const review = (['safety', 'security', 'hybrid'] as const).reduce((n, c) => n + sum(ov.columns[c]?.review ?? []), 0);
    const perMin = total / Math.max(1, ov.range_s / 60);
    const kpi = (label: string, value: string, testid: string, extra = '') =>
      h('div.kpi', { 'data-testid': testid, class: extra }, h('b', {}, value), h('span', {}, label));
    clear(this.kpis);
    this.kpis.append(
      kpi('requests / min', perMin >= 10 ? perMin.toFixed(0) : perMin.toFixed(2), 'kpi-rate'),
      kpi('requests in range', String(total), 'kpi-requests'),
      kpi('block rate', fmtPct(blocked, total), 'kpi-block-rate', blocked ? 'bad' : ''),
      kpi('review rate', fmtPct(review, total), 'kpi-review-rate', review ? 'warn' : ''),
      kpi('latency p50', fmtMs(lastValue(ov.latency_ms.p50)), 'kpi-p50'),
      kpi('latency p99', fmtMs(lastValue(ov.latency_ms.p99)), 'kpi-p99'),
      kpi('open incidents', String(ov.incidents_open), 'kpi-incidents', ov.incidents_open ? 'bad' : ''),
      kpi('drifted', `${ov.drift.filter((d) => d.drifted).length} / ${ov.drift.length}`, 'kpi-drift',
        ov.drift.some((d) => d.drifted) ? 'warn' : ''),
    );
  }

  private renderDrift(ov: Overview): void {
    clear(this.driftEl);
    if (ov.drift.length === 0) {
      this.driftEl.append(h('p.muted', {}, 'No drift statistics yet: by default the first hour of traffic becomes the baseline, then the last 15 minutes are compared with it every few seconds.'));
      return;
    }
    this.driftEl.append(h('table.table', {},
      h('thead', {}, h('tr', {}, h('th', {}, 'statistic'), h('th.num', {}, 'PSI'), h('th.num', {}, 'KS'),
        h('th.num', {}, 'PSI limit'), h('th', {}, 'state'), h('th', {}, 'detail'))),
      h('tbody', {}, ov.drift.map((d) => h('tr', { 'data-testid': 'drift-row', 'data-drifted': String(d.drifted) },
        h('td', {}, h('code', {}, d.statistic)), h('td.num', {}, fmtNum(d.psi)), h('td.num', {}, fmtNum(d.ks)),
        h('td.num', {}, fmtNum(d.threshold_psi, 2)),
        h('td', {}, d.drifted ? h('span.badge.b-block', {}, 'drifted')
          : d.judged === false ? h('span.badge', { title: 'too few samples to judge yet' }, 'not judged')
            : h('span.badge.b-allow', {}, 'stable')),
        h('td.muted.small', {}, d.detail || (d.baseline_n !== undefined
          ? `baseline ${d.baseline_n}, current ${d.current_n ?? 0} samples` : '')))))));
  }
}
