// The dashboard of `dualguard serve`: sign-in, the live overview, the verdict feed, incidents and
// their drill-down, the operator's kill switch and safe mode, and what is loaded (docs/dashboard-api.md).
import './style.css';
import { Api, ApiError } from './api';
import { h, byId, clear, badge } from './dom';
import { OverviewView } from './overview';
import { AlertList, FeedView, IncidentList } from './feed';
import { DetailView } from './detail';
import type { SseEvent } from './sse';
import type { Alert, ControlState, IncidentSummary, Info, KillSwitch, Overview, Verdict } from './types';

const KEY_STORAGE = 'dualguard.key';
const RANGE_STORAGE = 'dualguard.range';
const NOTICE_STORAGE = 'dualguard.notice';
const RANGES = [300, 3600, 21600, 86400];
const FALLBACK_POLL_MS = 10_000;

let api: Api;
let info: Info;
let range = Number(sessionStorage.getItem(RANGE_STORAGE)) || 3600;
if (!RANGES.includes(range)) range = 3600;
let control: ControlState = { killswitch: { engaged: false, all: false, routes: [] }, safe_mode: false };
let live = false;
const stop = new AbortController();

const canOperate = () => info?.key.role === 'operator' || info?.key.role === 'admin';

// ---- sign-in ----------------------------------------------------------------------------------

function showSignIn(message = ''): void {
  byId('app').hidden = true;
  byId('signin').hidden = false;
  byId('signin-error').textContent = message;
  byId<HTMLInputElement>('signin-key').focus();
}

function signOut(notice = ''): void {
  stop.abort();
  sessionStorage.removeItem(KEY_STORAGE);
  if (notice) sessionStorage.setItem(NOTICE_STORAGE, notice);
  location.reload();
}

async function signIn(key: string): Promise<boolean> {
  const candidate = new Api(key);
  try {
    info = await candidate.get<Info>('/api/info');
  } catch (err) {
    const e = err as ApiError;
    showSignIn(e.status === 401 ? `The gateway rejected this key (${e.code}).` : `Cannot sign in: ${e.message}`);
    return false;
  }
  api = candidate;
  sessionStorage.setItem(KEY_STORAGE, key);
  start();
  return true;
}

byId<HTMLFormElement>('signin-form').addEventListener('submit', (ev) => {
  ev.preventDefault();
  const input = byId<HTMLInputElement>('signin-key');
  const key = input.value.trim();
  if (!key) return;
  const btn = byId<HTMLButtonElement>('signin-form').querySelector('button') as HTMLButtonElement;
  btn.disabled = true;
  void signIn(key).finally(() => {
    btn.disabled = false;
    input.value = '';
  });
});

byId('signout').addEventListener('click', () => signOut());

/** Any 401 after sign-in (a revoked key) ends the session. */
function handleError(err: unknown, where: string): void {
  if (err instanceof ApiError && err.status === 401) {
    signOut(`Signed out: the gateway no longer accepts this key (${err.code}).`);
    return;
  }
  showError(`${where}: ${(err as Error).message}`);
}

function showError(message: string): void {
  const el = byId('error-banner');
  el.textContent = message;
  el.hidden = !message;
}

// ---- views --------------------------------------------------------------------------------------

let overview: OverviewView;
let feed: FeedView;
let incidents: IncidentList;
let alerts: AlertList;
let detail: DetailView;

function openIncident(id: string): void {
  incidents.selected = id;
  incidents.render();
  void detail.open(id);
}

function start(): void {
  byId('signin').hidden = true;
  byId('app').hidden = false;
  document.body.dataset.role = info.key.role;
  byId('version').textContent = `v${info.version}`;
  byId('who').textContent = info.key.name || info.key.id;
  byId('who').title = `key ${info.key.id}`;
  const role = byId('role');
  role.textContent = info.key.role;
  role.className = `badge role-${info.key.role}`;

  overview = new OverviewView(byId('kpis'), byId('columns'), byId('latency-chart'), byId('drift'));
  feed = new FeedView(byId('feed-body'), byId('feed-count'), openIncident);
  incidents = new IncidentList(byId('incident-body'), openIncident);
  alerts = new AlertList(byId('alerts'), openIncident);
  detail = new DetailView(byId('detail'), () => api, canOperate, (s) => incidents.upsert(s), () => {
    incidents.selected = null;
    incidents.render();
  });

  setupRange();
  setupControls();
  renderInfo();
  applyControl({ killswitch: info.killswitch, safe_mode: info.safe_mode });

  const filter = byId<HTMLSelectElement>('incident-filter');
  filter.addEventListener('change', () => {
    incidents.filter = filter.value as IncidentList['filter'];
    void loadIncidents();
  });

  void loadAll();
  void eventLoop();
  void import('cytoscape'); // fetched ahead of the first drill-down, which then draws at once
  setInterval(() => {
    if (!live) void loadAll();
  }, FALLBACK_POLL_MS);
}

async function loadAll(): Promise<void> {
  await Promise.all([
    refreshOverview(),
    api.get<{ verdicts: Verdict[] }>('/api/feed?limit=200').then((r) => feed.setAll(r.verdicts), (e) => handleError(e, 'feed')),
    loadIncidents(),
    api.get<{ alerts: Alert[] }>('/api/alerts?limit=20').then((r) => alerts.setAll(r.alerts), (e) => handleError(e, 'alerts')),
  ]);
}

async function loadIncidents(): Promise<void> {
  try {
    const r = await api.get<{ incidents: IncidentSummary[] }>(`/api/incidents?status=${incidents.filter}&limit=100`);
    incidents.setAll(r.incidents);
  } catch (err) {
    handleError(err, 'incidents');
  }
}

// One overview request at a time; a refresh asked for meanwhile runs once after it.
let overviewBusy = false;
let overviewAgain = false;
async function refreshOverview(): Promise<void> {
  if (overviewBusy) {
    overviewAgain = true;
    return;
  }
  overviewBusy = true;
  try {
    do {
      overviewAgain = false;
      const ov = await api.get<Overview>(`/api/overview?range=${range}`);
      overview.update(ov);
      byId('columns').dataset.range = String(ov.range_s);
      showError('');
    } while (overviewAgain);
  } catch (err) {
    handleError(err, 'overview');
  } finally {
    overviewBusy = false;
  }
}

let overviewTimer: number | undefined;
/** At most one overview refresh per second, however many verdicts arrive. */
function soonOverview(): void {
  if (overviewTimer !== undefined) return;
  overviewTimer = window.setTimeout(() => {
    overviewTimer = undefined;
    void refreshOverview();
  }, 1000);
}

let detailTimer: number | undefined;
function soonDetail(): void {
  window.clearTimeout(detailTimer);
  detailTimer = window.setTimeout(() => void detail.refresh(), 300);
}

function setupRange(): void {
  const buttons = byId('app').querySelectorAll<HTMLButtonElement>('.range button');
  const mark = () => buttons.forEach((b) => {
    const on = Number(b.dataset.range) === range;
    b.classList.toggle('active', on);
    b.setAttribute('aria-pressed', String(on));
  });
  buttons.forEach((b) => b.addEventListener('click', () => {
    range = Number(b.dataset.range);
    sessionStorage.setItem(RANGE_STORAGE, String(range));
    mark();
    void refreshOverview();
  }));
  mark();
}

// ---- live events -------------------------------------------------------------------------------

function setLive(on: boolean, text?: string): void {
  live = on;
  const el = byId('live');
  el.dataset.live = String(on);
  el.textContent = text ?? (on ? 'live' : 'reconnecting…');
}

async function eventLoop(): Promise<void> {
  let backoff = 500;
  while (!stop.signal.aborted) {
    let opened = false;
    // The stream ends when the gateway restarts or a proxy cuts it: reconnect, backing off while it fails.
    try {
      await api.events(stop.signal, () => {
        opened = true;
        backoff = 500;
        setLive(true);
      }, onEvent);
      setLive(false);
    } catch (err) {
      if (stop.signal.aborted) return;
      if (err instanceof ApiError && err.status === 401) {
        handleError(err, 'events');
        return;
      }
      setLive(false, err instanceof ApiError && err.status > 0 ? `offline (${err.code})` : undefined);
    }
    await new Promise((r) => setTimeout(r, opened ? 500 : backoff));
    if (!opened) backoff = Math.min(backoff * 2, 10_000);
    // Catch up on what happened while the stream was down.
    void loadAll();
  }
}

function parse<T>(ev: SseEvent): T | null {
  try {
    return JSON.parse(ev.data) as T;
  } catch {
    return null;
  }
}

function onEvent(ev: SseEvent): void {
  switch (ev.event) {
    case 'verdict': {
      const v = parse<Verdict>(ev);
      if (!v) return;
      feed.prepend(v);
      soonOverview();
      if (v.incident_id && v.incident_id === detail.current) soonDetail();
      return;
    }
    case 'incident': {
      const s = parse<IncidentSummary>(ev);
      if (!s) return;
      incidents.upsert(s);
      if (s.id === detail.current) soonDetail();
      return;
    }
    case 'alert': {
      const a = parse<Alert>(ev);
      if (a) alerts.prepend(a);
      return;
    }
    case 'control': {
      const c = parse<ControlState>(ev);
      if (c) applyControl(c);
      return;
    }
    case 'tick':
      void refreshOverview();
      return;
    default:
  }
}

// ---- kill switch and safe mode ------------------------------------------------------------------

function confirmDialog(title: string, text: string, okLabel: string): Promise<boolean> {
  const dialog = byId<HTMLDialogElement>('confirm');
  byId('confirm-title').textContent = title;
  byId('confirm-text').textContent = text;
  byId('confirm-ok').textContent = okLabel;
  dialog.returnValue = '';
  dialog.showModal();
  return new Promise((resolve) => {
    dialog.addEventListener('close', () => resolve(dialog.returnValue === 'ok'), { once: true });
  });
}

function killLabel(k: KillSwitch): string {
  if (!k.engaged) return 'off';
  return k.all ? 'ENGAGED' : `ENGAGED (${k.routes.length} route${k.routes.length === 1 ? '' : 's'})`;
}

function applyControl(c: ControlState): void {
  control = c;
  const kill = byId<HTMLButtonElement>('kill-toggle');
  kill.dataset.engaged = String(c.killswitch.engaged);
  kill.classList.toggle('on', c.killswitch.engaged);
  clear(kill);
  kill.append('Kill switch ', h('b', {}, killLabel(c.killswitch)));
  const safe = byId<HTMLButtonElement>('safe-toggle');
  safe.dataset.engaged = String(c.safe_mode);
  safe.classList.toggle('on', c.safe_mode);
  clear(safe);
  safe.append('Safe mode ', h('b', {}, c.safe_mode ? 'ON' : 'off'));

  const banner = byId('kill-banner');
  banner.hidden = !c.killswitch.engaged;
  banner.textContent = c.killswitch.all
    ? 'Kill switch engaged: every proxied and scan route refuses requests (503 kill_switch_engaged).'
    : `Kill switch engaged for ${c.killswitch.routes.join(', ')}: these routes refuse requests (503 kill_switch_engaged).`;
  byId('safe-banner').hidden = !c.safe_mode;
}

function setupControls(): void {
  const kill = byId<HTMLButtonElement>('kill-toggle');
  const safe = byId<HTMLButtonElement>('safe-toggle');
  const allowed = canOperate();
  for (const b of [kill, safe]) {
    b.disabled = !allowed;
    b.dataset.enabled = String(allowed);
    if (!allowed) b.title = `needs the operator role (signed in as ${info.key.role})`;
  }
  if (!allowed) return;
  kill.title = 'engage or release the kill switch';
  safe.title = 'turn safe mode on or off';
  kill.addEventListener('click', async () => {
    const engage = !control.killswitch.engaged;
    const ok = await confirmDialog(
      engage ? 'Engage the kill switch?' : 'Release the kill switch?',
      engage
        ? 'Every proxied and scan route (/v1/chat/completions, /v1/completions, /v1/scan, /v2/…) will refuse requests with 503 kill_switch_engaged until the switch is released. The change is audited.'
        : 'Requests will be forwarded and scanned again. The change is audited.',
      engage ? 'Engage kill switch' : 'Release kill switch');
    if (!ok) return;
    await toggle(kill, async () => {
      const k = await api.post<KillSwitch>('/admin/killswitch', { engaged: engage });
      applyControl({ ...control, killswitch: k });
    });
  });
  safe.addEventListener('click', async () => {
    const enable = !control.safe_mode;
    const ok = await confirmDialog(
      enable ? 'Turn safe mode on?' : 'Turn safe mode off?',
      enable
        ? 'Verdicts that the policy sends to review will be blocked instead, until safe mode is turned off. The change is audited.'
        : 'Review verdicts will be let through for review again. The change is audited.',
      enable ? 'Turn safe mode on' : 'Turn safe mode off');
    if (!ok) return;
    await toggle(safe, async () => {
      const s = await api.post<{ enabled: boolean }>('/admin/safemode', { enabled: enable });
      applyControl({ ...control, safe_mode: s.enabled });
    });
  });
}

async function toggle(btn: HTMLButtonElement, action: () => Promise<void>): Promise<void> {
  btn.disabled = true;
  btn.classList.add('busy');
  try {
    await action();
  } catch (err) {
    handleError(err, btn.id === 'kill-toggle' ? 'kill switch' : 'safe mode');
  } finally {
    btn.disabled = false;
    btn.classList.remove('busy');
  }
}

// ---- what is loaded -----------------------------------------------------------------------------

function renderInfo(): void {
  const el = byId('info');
  clear(el);
  const row = (label: string, value: Node | string, testid?: string) =>
    h('div.kv', {}, h('span.k', {}, label), h('span.v', { 'data-testid': testid }, value));
  el.append(
    h('div.kvs', {},
      row('version', info.version, 'info-version'),
      row('signed in as', h('span', {}, `${info.key.name} `, h('span.mono.muted', {}, info.key.id), ' ', badge(info.key.role))),
      row('policy sha256', h('code.hash', {}, info.policy_sha256), 'policy-sha256'),
      row('config sha256', h('code.hash', {}, info.config_sha256), 'config-sha256'),
      row('detectors', h('span', {}, info.detectors.map((d) => h('span.chip.mono', {}, d))), 'detectors')),
    h('table.table.models', { 'data-testid': 'models' },
      h('thead', {}, h('tr', {}, h('th', {}, 'model'), h('th', {}, 'path'), h('th', {}, 'sha256'))),
      h('tbody', {}, info.models.length
        ? info.models.map((m) => h('tr', { 'data-testid': 'model-row', 'data-model': m.name },
          h('td', {}, m.name), h('td.mono.small', {}, m.path), h('td', {}, h('code.hash', {}, m.sha256))))
        : h('tr', {}, h('td.muted', { colspan: 3 }, 'No learned models loaded.')))),
  );
}

// ---- boot ---------------------------------------------------------------------------------------

const notice = sessionStorage.getItem(NOTICE_STORAGE) ?? '';
sessionStorage.removeItem(NOTICE_STORAGE);
const saved = sessionStorage.getItem(KEY_STORAGE);
if (saved) void signIn(saved);
else showSignIn(notice);
