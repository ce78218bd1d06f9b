// The shapes of the dashboard API (docs/dashboard-api.md). Times are ms since the epoch unless named _s.

export type Role = 'client' | 'operator' | 'admin';
export type VerdictClass = 'clean' | 'safety' | 'security' | 'hybrid';
export type Action = 'allow' | 'redact' | 'review' | 'safe_mode' | 'block';
export type IncidentStatus = 'open' | 'acknowledged' | 'resolved';
export type Domain = 'safety' | 'security';

export interface KillSwitch {
  engaged: boolean;
  all: boolean;
  routes: string[];
}

export interface Info {
  version: string;
  key: { id: string; name: string; role: Role };
  policy_sha256: string;
  config_sha256: string;
  models: { name: string; path: string; sha256: string }[];
  detectors: string[];
  killswitch: KillSwitch;
  safe_mode: boolean;
}

export interface CategoryCount {
  category: string;
  count: number;
}

export interface ColumnSeries {
  flagged: number[];
  blocked: number[];
  review: number[];
  top_categories: CategoryCount[];
}

export type ColumnName = 'safety' | 'security' | 'hybrid';

export interface Drift {
  statistic: string;
  psi: number | null;
  ks: number | null;
  drifted: boolean;
  threshold_psi: number | null;
  detail: string;
  judged?: boolean; // false: too few samples in the baseline or the current window to judge
  baseline_n?: number;
  current_n?: number;
}

export interface Overview {
  now_ms: number;
  range_s: number;
  bucket_s: number;
  t: number[];
  requests: number[];
  latency_ms: { p50: (number | null)[]; p99: (number | null)[] };
  columns: Record<ColumnName, ColumnSeries>;
  drift: Drift[];
  incidents_open: number;
}

export interface Verdict {
  request_id: string;
  ts_ms: number;
  route: string;
  key_id: string;
  session: string;
  action: Action;
  class: VerdictClass;
  chain: string | null;
  categories: string[];
  latency_ms: number | null;
  incident_id: string | null;
}

export interface Finding {
  detector: string;
  category: string;
  domain: Domain;
  role: string;
  score: number;
  severity: string;
  evidence: string;
  explanation: string;
}

export interface Segment {
  text: string;
  findings: number[];
}

export interface VerdictDetail extends Verdict {
  rule: string | null;
  explanation: string;
  findings: Finding[];
  texts: Record<string, Segment[]>;
}

export interface ChainLink {
  category: string;
  domain: Domain;
  role: string;
  request_id: string;
}

export interface IncidentSummary {
  id: string;
  class: VerdictClass;
  kind: string;
  status: IncidentStatus;
  severity: string;
  title: string;
  chain: ChainLink[];
  key_id: string;
  session: string;
  first_ms: number;
  last_ms: number;
  verdicts: number;
}

export interface HistoryEntry {
  ts_ms: number;
  key_id: string;
  action: string;
  status: IncidentStatus;
  note: string;
}

export interface IncidentDetail {
  incident: IncidentSummary;
  verdicts: VerdictDetail[];
  history: HistoryEntry[];
}

export interface Alert {
  id: string;
  rule: string;
  severity: string;
  ts_ms: number;
  summary: string;
  key_id: string;
  incident_id: string | null;
}

export interface ControlState {
  killswitch: KillSwitch;
  safe_mode: boolean;
}
