// The dashboard: a thin page over the controller's API (/api/v1). No framework, no build step.
// It collects a form, calls one endpoint and shows the stream. Every string from the API is
// put into the page as text (textContent), never as HTML.
'use strict';

const API = '/api/v1';
const TOKEN_KEY = 'deploy-infra.token';
const RECONNECT_TRIES = 30; // a dropped deployment stream is resumed this many times in a row
const POLL_MS = 1500; // servers being created are looked at again this often...
const POLL_LIMIT_MS = 120000; // ...for at most this long
const LOG_MAX_LINES = 5000;

const state = {
  token: sessionStorage.getItem(TOKEN_KEY) || '',
  version: '',
  expected: '', // the agent version the controller expects, from GET /version
  servers: null, // GET /infra/servers, loaded once per visit; filters work on this copy
  snapshots: null,
  sizes: null, // GET /infra/sizes, cheapest first
  setup: null,
  view: '',
  deploy: null, // the deploy running in the Deploy view: {abort, id}
  detail: null, // the deployment open in the Deployments view: {abort, id}
  bake: null, // the bake running in Snapshots: {abort}
  poll: null, // the watch over servers being created
  pending: new Set(), // ids of the servers it waits for
};

// ---------------------------------------------------------------- small helpers

const $ = (id) => document.getElementById(id);

function h(tag, props, ...kids) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(props || {})) {
    if (v === null || v === undefined || v === false) continue;
    if (k === 'text') e.textContent = v;
    else if (k === 'class') e.className = v;
    else if (k === 'on') for (const [name, fn] of Object.entries(v)) e.addEventListener(name, fn);
    else if (k === 'dataset') Object.assign(e.dataset, v);
    else if (typeof v === 'boolean') e[k] = v;
    else e.setAttribute(k, String(v));
  }
  for (const c of kids.flat()) if (c !== null && c !== undefined && c !== false) e.append(c);
  return e;
}

function sleep(ms, signal) {
  return new Promise((resolve) => {
    const t = setTimeout(resolve, ms);
    if (signal) signal.addEventListener('abort', () => { clearTimeout(t); resolve(); }, { once: true });
  });
}

// Versions compared as numbers, part by part ("0.10.0" > "0.9.1").
function cmpVersion(a, b) {
  const pa = String(a).split(/[^0-9]+/).filter(Boolean).map(Number);
  const pb = String(b).split(/[^0-9]+/).filter(Boolean).map(Number);
  for (let i = 0; i < Math.max(pa.length, pb.length); i++) {
    const d = (pa[i] || 0) - (pb[i] || 0);
    if (d) return d < 0 ? -1 : 1;
  }
  return 0;
}

function when(iso) {
  if (!iso) return '';
  const d = new Date(iso);
  return Number.isNaN(d.getTime()) ? iso : d.toLocaleString();
}

function bytes(n) {
  if (typeof n !== 'number' || !Number.isFinite(n)) return '';
  const u = ['B', 'KB', 'MB', 'GB', 'TB'];
  let i = 0;
  while (n >= 1024 && i < u.length - 1) { n /= 1024; i++; }
  return `${n >= 10 || i === 0 ? Math.round(n) : n.toFixed(1)} ${u[i]}`;
}

function showError(id, err) {
  const e = $(id);
  if (!e) return;
  if (!err) { e.textContent = ''; e.hidden = true; return; }
  e.textContent = typeof err === 'string' ? err : (err.detail || err.message || 'Something went wrong.');
  e.hidden = false;
}

function say(id, text) {
  const e = $(id);
  if (e) e.textContent = text || '';
}

function busy(button, on) {
  if (!button) return;
  button.disabled = on;
  if (on) button.setAttribute('aria-busy', 'true');
  else button.removeAttribute('aria-busy');
}

// ---------------------------------------------------------------- the API

class ApiError extends Error {
  constructor(status, code, detail) {
    super(detail);
    this.status = status;
    this.code = code;
    this.detail = detail;
  }
}

function authHeaders() {
  return state.token ? { Authorization: `Bearer ${state.token}` } : {};
}

// An error answer in words: the `detail` of {"error","detail"}, never the raw JSON.
async function errorOf(res) {
  let code = `http_${res.status}`;
  let detail = '';
  try {
    const j = JSON.parse(await res.text());
    if (j && typeof j === 'object') {
      code = j.error || code;
      detail = typeof j.detail === 'string' ? j.detail : '';
    }
  } catch (_) { /* not JSON: say what happened in words below */ }
  if (!detail) detail = `The controller answered ${res.status}${res.statusText ? ` ${res.statusText}` : ''}.`;
  const retry = res.headers.get('Retry-After');
  if (res.status === 429 && retry) detail += ` Try again in ${retry} s.`;
  return new ApiError(res.status, code, detail);
}

async function send(method, path, body, opts = {}) {
  const headers = { ...authHeaders(), ...(opts.headers || {}) };
  let payload;
  if (body instanceof FormData) payload = body;
  else if (body !== undefined) {
    headers['Content-Type'] = 'application/json';
    payload = JSON.stringify(body);
  }
  let res;
  try {
    res = await fetch(API + path, { method, headers, body: payload, signal: opts.signal, cache: 'no-store' });
  } catch (e) {
    if (e.name === 'AbortError') throw e;
    throw new ApiError(0, 'network', 'The controller could not be reached; check the connection and try again.');
  }
  if (res.status === 401 && path !== '/auth/login') {
    sessionExpired();
    throw new ApiError(401, 'unauthorized', 'Your session has ended; log in again.');
  }
  if (!res.ok) throw await errorOf(res);
  return res;
}

async function api(method, path, body, opts) {
  const res = await send(method, path, body, opts);
  const text = await res.text();
  if (!text) return {};
  try {
    return JSON.parse(text);
  } catch (_) {
    throw new ApiError(res.status, 'bad_answer', 'The controller sent an answer this page cannot read.');
  }
}

// ---------------------------------------------------------------- Server-Sent Events over fetch
// EventSource can neither POST nor send the Authorization header, so streams are read with
// fetch: `id:` and `data:` lines, a blank line between messages.

function sseBlock(block, onMessage) {
  let id = null;
  const data = [];
  for (const line of block.split('\n')) {
    if (!line || line[0] === ':') continue;
    const c = line.indexOf(':');
    const field = c < 0 ? line : line.slice(0, c);
    let value = c < 0 ? '' : line.slice(c + 1);
    if (value[0] === ' ') value = value.slice(1);
    if (field === 'id') id = value;
    else if (field === 'data') data.push(value);
  }
  if (!data.length) return;
  let ev;
  try {
    ev = JSON.parse(data.join('\n'));
  } catch (_) {
    return;
  }
  if (ev && typeof ev === 'object') onMessage(ev, id);
}

async function readSSE(res, onMessage, signal) {
  const reader = res.body.getReader();
  const dec = new TextDecoder();
  const stop = () => { reader.cancel().catch(() => {}); };
  let buf = '';
  if (signal) signal.addEventListener('abort', stop, { once: true });
  try {
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      buf = (buf + dec.decode(value, { stream: true })).replace(/\r\n/g, '\n');
      let i;
      while ((i = buf.indexOf('\n\n')) >= 0) {
        const block = buf.slice(0, i);
        buf = buf.slice(i + 2);
        sseBlock(block, onMessage);
      }
    }
  } finally {
    if (signal) signal.removeEventListener('abort', stop);
  }
}

// Reads a stream to its last event (`done` or `error`). A deployment's stream that ends early
// (a network drop) is resumed from GET /deployments/{id}/events with Last-Event-ID, so no event
// is lost or shown twice. first: the Response to read first (or null to start by resuming).
async function follow({ first, deploymentId, eventsPath, onEvent, onNote, signal }) {
  let res = first || null;
  let opened = !!res;
  let lastId = 0;
  let tries = 0;
  let depId = deploymentId || 0;
  const path = () => eventsPath || (depId ? `/deployments/${depId}/events` : '');
  for (;;) {
    if (!res && path()) {
      if (opened) {
        if (++tries > RECONNECT_TRIES) return { dropped: true, deploymentId: depId };
        if (onNote) onNote(`The connection dropped; reconnecting after event ${lastId}…`);
        await sleep(Math.min(500 * tries, 5000), signal);
        if (signal && signal.aborted) return { aborted: true };
      }
      opened = true;
      try {
        const headers = authHeaders();
        if (lastId > 0) headers['Last-Event-ID'] = String(lastId);
        const r = await fetch(`${API}${path()}`, { headers, signal, cache: 'no-store' });
        if (r.status === 401) { sessionExpired(); return { aborted: true }; }
        if (r.status === 404) return { error: await errorOf(r), deploymentId: depId };
        if (r.ok) res = r;
      } catch (_) { /* still down: try again */ }
      if (signal && signal.aborted) return { aborted: true };
      if (!res) continue;
    }
    if (!res) return { dropped: true, deploymentId: depId };
    let last = null;
    try {
      await readSSE(res, (ev, id) => {
        if (ev.type === 'heartbeat') return;
        if (id !== null && /^[0-9]+$/.test(id)) {
          const n = Number(id);
          if (n <= lastId) return; // already shown
          lastId = n;
        }
        tries = 0;
        if (ev.type === 'progress' && ev.step === 'started' && ev.deployment_id) depId = ev.deployment_id;
        if ((ev.type === 'done' || ev.type === 'error') && !ev.server) last = ev;
        onEvent(ev, lastId);
      }, signal);
    } catch (_) { /* dropped: resumed above */ }
    res = null;
    if (signal && signal.aborted) return { aborted: true };
    if (last) return { last, deploymentId: depId };
    if (!path()) return { dropped: true, deploymentId: 0 };
  }
}

// ---------------------------------------------------------------- a live run: rows and log

const STEP_ORDER = {
  started: 0,
  provisioning: 1,
  'waiting for agent': 2,
  cloning: 3,
  uploading: 3,
  building: 4,
  pulling: 5,
  'sending image': 5,
  starting: 6,
  running: 7,
};
const STEP_MAX = 7;

class Run {
  constructor(prefix) {
    this.rows = $(`${prefix}-rows`);
    this.log = $(`${prefix}-log`);
    this.status = $(`${prefix}-status`);
    this.resultsBox = $(`${prefix}-results`);
    this.resultsBody = $(`${prefix}-results-body`);
    this.reset();
  }

  reset() {
    this.rowMap = new Map();
    this.layerLines = new Map();
    this.count = 0;
    this.port = 0;
    this.deploymentId = 0;
    this.rows.replaceChildren();
    this.log.replaceChildren();
    this.log.dataset.events = '0';
    this.log.dataset.lastEventId = '0';
    if (this.status) this.status.textContent = '';
    if (this.resultsBox) this.resultsBox.hidden = true;
    if (this.resultsBody) this.resultsBody.replaceChildren();
  }

  row(key, label) {
    let r = this.rowMap.get(key);
    if (r) return r;
    const step = h('span', { class: 'step', text: 'waiting' });
    const bar = h('progress', { max: STEP_MAX, value: 0, 'aria-label': `Progress of ${label}` });
    const detail = h('div', { class: 'detail' });
    const li = h('li', { dataset: { server: key } },
      h('div', { class: 'who' }, h('span', { text: label }), step), bar, detail);
    this.rows.append(li);
    r = { li, step, bar, detail };
    this.rowMap.set(key, r);
    return r;
  }

  setStep(key, label, step) {
    const r = this.row(key, label);
    r.step.textContent = step;
    r.li.dataset.step = step;
    r.li.classList.toggle('failed', step === 'failed');
    r.li.classList.toggle('running', step === 'running');
    if (step in STEP_ORDER) r.bar.value = STEP_ORDER[step];
    else if (step === 'created') r.bar.value = STEP_MAX;
    r.bar.setAttribute('aria-valuetext', step);
    if (step !== 'failed') r.detail.textContent = '';
  }

  line(text, cls, server) {
    const stick = this.log.scrollHeight - this.log.scrollTop - this.log.clientHeight < 40;
    const p = h('p', { class: `line ${cls || ''}` });
    if (server) p.append(h('span', { class: 'srv', text: `[${server}] ` }));
    p.append(text);
    this.log.append(p);
    while (this.log.childElementCount > LOG_MAX_LINES) this.log.firstElementChild.remove();
    if (stick) this.log.scrollTop = this.log.scrollHeight;
    return p;
  }

  note(text) {
    this.line(text, 'note');
  }

  event(ev, id) {
    this.count++;
    this.log.dataset.events = String(this.count);
    if (id) this.log.dataset.lastEventId = String(id);
    const srv = typeof ev.server === 'string' ? ev.server : '';
    switch (ev.type) {
      case 'log':
        this.line(String(ev.message ?? ''), ev.stream === 'stderr' ? 'err' : '', srv);
        if (srv && /^failed/.test(String(ev.message))) this.row(srv, srv).detail.textContent = String(ev.message);
        break;
      case 'progress':
        this.progress(ev, srv);
        break;
      case 'done':
        this.done(ev);
        break;
      case 'error':
        this.line(`error: ${ev.detail || ev.error || 'the operation failed'}`, 'done-bad');
        if (this.status) this.status.textContent = `Failed: ${ev.detail || ev.error}`;
        break;
      default:
        this.line(`${ev.type || 'unknown'} event`, 'progress', srv);
    }
  }

  progress(ev, srv) {
    if (ev.step === 'started') {
      this.deploymentId = ev.deployment_id || 0;
      const what = `deployment ${ev.deployment_id}: ${ev.app || ''} version ${ev.version ?? ''}`;
      this.line(`started ${what}`, 'progress');
      if (this.status) this.status.textContent = `Running ${what}`;
      return;
    }
    if (ev.step) {
      if (!srv && ev.step === 'provisioning') {
        this.setStep('new', 'New servers', 'provisioning');
      } else if (srv) {
        const n = this.rowMap.get('new');
        if (n && n.li.dataset.step === 'provisioning') this.setStep('new', 'New servers', 'created');
        this.setStep(srv, srv, ev.step);
      }
      this.line(`step: ${ev.step}`, 'progress', srv);
      return;
    }
    // Relayed from an agent: Docker's status with byte counts, or git's phase.
    let text = '';
    if (ev.status) text = `${ev.id ? `${ev.id}: ` : ''}${ev.status}`;
    else if (ev.phase) text = `git ${ev.phase}`;
    else text = 'working';
    if (typeof ev.current === 'number' && typeof ev.total === 'number' && ev.total > 0) {
      text += ` ${ev.phase ? `${ev.current}/${ev.total}` : `${bytes(ev.current)} / ${bytes(ev.total)}`}`;
    }
    if (srv) this.row(srv, srv).detail.textContent = text;
    // A layer's byte counts update one line in place instead of adding hundreds.
    const key = `${srv}|${ev.id || ''}|${ev.status || ev.phase || ''}`;
    const prev = this.layerLines.get(key);
    if (prev && typeof ev.current === 'number') {
      prev.lastChild.textContent = text;
    } else {
      const p = this.line(text, 'progress', srv);
      if (typeof ev.current === 'number') this.layerLines.set(key, p);
    }
  }

  done(ev) {
    const servers = Array.isArray(ev.servers) ? ev.servers : [];
    const good = servers.filter((s) => s.success).length;
    const n = this.rowMap.get('new');
    if (n && n.li.dataset.step === 'provisioning') this.setStep('new', 'New servers', ev.success ? 'created' : 'failed');
    for (const s of servers) {
      if (!s.ip) continue;
      this.setStep(s.ip, s.ip, s.success ? 'running' : 'failed');
      if (!s.success && s.error) this.row(s.ip, s.ip).detail.textContent = s.error;
    }
    const summary = ev.success
      ? `succeeded on ${good} of ${servers.length} server${servers.length === 1 ? '' : 's'}`
      : `failed${ev.error ? `: ${ev.error}` : ''} (${good} of ${servers.length} servers succeeded)`;
    this.line(`done: ${summary}`, ev.success ? 'done-ok' : 'done-bad');
    if (this.status) {
      this.status.textContent = `Deploy ${summary}${ev.image ? `; image ${ev.image}` : ''}.`;
    }
    this.results(servers, ev.success);
  }

  results(servers) {
    if (!this.resultsBody) return;
    this.resultsBody.replaceChildren(...servers.map((s) => {
      const url = s.success && s.ip && this.port > 0 ? `http://${s.ip}:${this.port}/` : '';
      return h('tr', { dataset: { server: s.ip || '' } },
        h('td', { 'data-label': 'Server', text: s.ip || (s.droplet_id ? `droplet ${s.droplet_id}` : '?') }),
        h('td', { 'data-label': 'Result', class: s.success ? 'ok' : 'bad', text: s.success ? 'succeeded' : `failed: ${s.error || 'no reason given'}` }),
        h('td', { 'data-label': 'Container', text: s.container_id ? String(s.container_id).slice(0, 12) : '' }),
        h('td', { 'data-label': 'App' }, url ? h('a', { href: url, target: '_blank', rel: 'noopener', text: url }) : ''));
    }));
    this.resultsBox.hidden = servers.length === 0;
  }
}

// ---------------------------------------------------------------- login, logout, navigation

const VIEWS = ['servers', 'deploy', 'deployments', 'snapshots', 'settings'];

function sessionExpired() {
  state.token = '';
  sessionStorage.removeItem(TOKEN_KEY);
  stopAll();
  showLogin('Your session has ended; log in again.');
}

function stopAll() {
  for (const k of ['deploy', 'detail', 'bake']) {
    if (state[k] && state[k].abort) state[k].abort.abort();
    state[k] = null;
  }
  if (state.poll) state.poll.abort();
  state.poll = null;
  state.pending.clear();
  state.servers = null;
  state.snapshots = null;
  state.setup = null;
}

function showLogin(message) {
  for (const v of VIEWS) $(`view-${v}`).hidden = true;
  $('nav').hidden = true;
  $('view-login').hidden = false;
  state.view = 'login';
  showError('login-error', message || null);
  $('login-password').value = '';
  $('login-username').focus();
}

async function loadVersion() {
  try {
    const v = await api('GET', '/version');
    state.version = v.version || '';
    state.expected = v.expected_agent_version || '';
    $('versions').textContent = `Controller ${state.version} · agents should run ${state.expected}`;
  } catch (e) {
    $('versions').textContent = `Version unknown: ${e.detail || e.message}`;
  }
}

function route() {
  if (!state.token) { showLogin(); return; }
  const [name, arg] = (location.hash || '#servers').slice(1).split('/');
  const view = VIEWS.includes(name) ? name : 'servers';
  $('view-login').hidden = true;
  $('nav').hidden = false;
  for (const v of VIEWS) $(`view-${v}`).hidden = v !== view;
  for (const a of document.querySelectorAll('nav a')) {
    if (a.dataset.view === view) a.setAttribute('aria-current', 'page');
    else a.removeAttribute('aria-current');
  }
  const entering = state.view !== view;
  state.view = view;
  showError('global-error', null);
  if (view === 'servers' && entering) loadServers();
  if (view === 'deploy' && entering) prepareDeploy();
  if (view === 'deployments') {
    if (entering) loadDeployments();
    if (arg && /^[0-9]+$/.test(arg) && (!state.detail || String(state.detail.id) !== arg)) openDeployment(Number(arg));
  }
  if (view === 'snapshots' && entering) loadSnapshotsView();
  if (view === 'settings' && entering) loadSettings();
}

async function login(ev) {
  ev.preventDefault();
  const username = $('login-username').value.trim();
  const password = $('login-password').value;
  if (!username || !password) {
    showError('login-error', 'Enter a username and a password.');
    return;
  }
  const b = $('login-submit');
  busy(b, true);
  showError('login-error', null);
  try {
    const ans = await api('POST', '/auth/login', { username, password });
    state.token = ans.token;
    sessionStorage.setItem(TOKEN_KEY, ans.token);
    $('login-password').value = '';
    state.view = '';
    if (!state.expected) await loadVersion();
    if (!location.hash || location.hash === '#login') location.hash = '#servers';
    else route();
  } catch (e) {
    showError('login-error', e);
  } finally {
    busy(b, false);
  }
}

async function logout() {
  try {
    await api('POST', '/auth/logout');
  } catch (_) { /* the token goes either way */ }
  state.token = '';
  sessionStorage.removeItem(TOKEN_KEY);
  stopAll();
  showLogin();
}

// ---------------------------------------------------------------- snapshots and plan selects

async function ensureSnapshots(force) {
  if (!state.snapshots || force) {
    const [list, setup, sizes] = await Promise.all([
      api('GET', '/infra/snapshots'),
      api('GET', '/infra/setup/status').catch(() => null),
      state.sizes ? null : api('GET', '/infra/sizes').catch(() => null),
    ]);
    state.snapshots = Array.isArray(list.snapshots) ? list.snapshots : [];
    state.setup = setup;
    if (sizes && Array.isArray(sizes.sizes)) state.sizes = sizes.sizes;
  }
  return state.snapshots;
}

// The newest snapshot whose agent is current (the list is newest first), else the base one.
function preferredSnapshot() {
  const snaps = state.snapshots || [];
  const current = snaps.find((s) => s.agent_version && state.expected && cmpVersion(s.agent_version, state.expected) >= 0);
  if (current) return current;
  const base = state.setup && state.setup.base_snapshot;
  return (base && snaps.find((s) => s.id === base.id)) || snaps[0] || null;
}

// Fills Snapshot, Region and Size: the newest current snapshot, its first region, and the
// smallest size that holds it there (the sizes come cheapest first; the controller would pick
// the same one for a plan without a size).
function fillPlan(prefix) {
  const snapSel = $(`${prefix}-snapshot`);
  const snaps = state.snapshots || [];
  const keep = snapSel.value;
  const pick = preferredSnapshot();
  snapSel.replaceChildren(...snaps.map((s) => h('option', {
    value: String(s.id),
    text: `${s.name}${s.agent_version ? '' : ' (no agent version)'}`,
  })));
  if (!snaps.length) snapSel.append(h('option', { value: '', text: 'No snapshot yet (see Snapshots)' }));
  if (keep && snaps.some((s) => String(s.id) === keep)) snapSel.value = keep;
  else if (pick) snapSel.value = String(pick.id);
  fillRegions(prefix);
}

function chosenSnapshot(prefix) {
  const id = $(`${prefix}-snapshot`).value;
  return (state.snapshots || []).find((s) => String(s.id) === id) || null;
}

function fillRegions(prefix) {
  const regionSel = $(`${prefix}-region`);
  const snap = chosenSnapshot(prefix);
  const regions = snap && Array.isArray(snap.regions) ? snap.regions : [];
  const keep = regionSel.value;
  regionSel.replaceChildren(...regions.map((r) => h('option', { value: r, text: r })));
  if (!regions.length) regionSel.append(h('option', { value: '', text: 'The snapshot’s first region' }));
  if (regions.includes(keep)) regionSel.value = keep;
  fillSizes(prefix);
}

function sizeText(z) {
  const gb = (mb) => (mb >= 1024 ? `${mb / 1024} GB` : `${mb} MB`);
  const parts = [z.slug];
  if (typeof z.vcpus === 'number') parts.push(`${z.vcpus} vCPU`);
  if (typeof z.memory === 'number') parts.push(gb(z.memory));
  if (typeof z.disk === 'number') parts.push(`${z.disk} GB disk`);
  if (typeof z.price_monthly === 'number') parts.push(`$${z.price_monthly}/mo`);
  return parts.join(' · ');
}

// The sizes offered in the chosen region whose disk holds the snapshot, cheapest first; the
// first is preselected unless the user picked another that still fits.
function fillSizes(prefix) {
  const sizeSel = $(`${prefix}-size`);
  const snap = chosenSnapshot(prefix);
  const region = $(`${prefix}-region`).value || (snap && snap.regions && snap.regions[0]) || '';
  const minDisk = (snap && Number(snap.min_disk_size)) || 0;
  const fits = (state.sizes || []).filter((z) => (!region || (z.regions || []).includes(region)) && (Number(z.disk) || 0) >= minDisk);
  const keep = sizeSel.value;
  sizeSel.replaceChildren(...fits.map((z) => h('option', { value: z.slug, text: sizeText(z) })));
  if (!fits.length) {
    sizeSel.append(h('option', { value: '', text: state.sizes ? `No size in ${region || 'this region'} holds the snapshot` : 'Smallest that fits' }));
  }
  if (sizeSel.dataset.chosen === 'yes' && fits.some((z) => z.slug === keep)) sizeSel.value = keep;
}

function planOf(prefix) {
  const plan = {};
  const snap = $(`${prefix}-snapshot`).value;
  const region = $(`${prefix}-region`).value;
  const size = $(`${prefix}-size`).value;
  if (snap) plan.snapshot_id = snap;
  if (region) plan.region = region;
  if (size) plan.size = size;
  return plan;
}

function setupBanner() {
  const b = $('setup-banner');
  const s = state.setup;
  if (!s) { b.hidden = true; return; }
  if (!s.base_snapshot) {
    b.textContent = 'There is no base snapshot yet: create one under Snapshots before provisioning servers.';
    b.hidden = false;
  } else if (!s.current) {
    b.textContent = `The base snapshot carries agent ${s.base_snapshot.agent_version || '(unknown)'}, older than ${state.expected}: create a new one under Snapshots.`;
    b.hidden = false;
  } else {
    b.hidden = true;
  }
}

// ---------------------------------------------------------------- Servers

async function loadServers(opts = {}) {
  const b = $('servers-refresh');
  busy(b, true);
  showError('servers-error', null);
  try {
    const [ans] = await Promise.all([
      api('GET', '/infra/servers'),
      opts.serversOnly ? null : ensureSnapshots(true).catch((e) => showError('provision-error', e)),
    ]);
    state.servers = Array.isArray(ans.servers) ? ans.servers : [];
    if (!opts.serversOnly) {
      fillPlan('provision');
      setupBanner();
    }
    renderServers();
  } catch (e) {
    showError('servers-error', e);
  } finally {
    busy(b, false);
  }
}

function fillFilter(sel, values, allText) {
  const keep = sel.value;
  sel.replaceChildren(h('option', { value: '', text: allText }), ...values.map((v) => h('option', { value: v, text: v })));
  if (values.includes(keep)) sel.value = keep;
}

// Filters apply to the list already loaded: no request.
function renderServers() {
  const servers = state.servers || [];
  const snapName = (s) => (s.image && s.image.name) || '';
  fillFilter($('filter-snapshot'), [...new Set(servers.map(snapName).filter(Boolean))].sort(), 'All snapshots');
  fillFilter($('filter-region'), [...new Set(servers.map((s) => s.region).filter(Boolean))].sort(), 'All regions');
  const fs = $('filter-snapshot').value;
  const fr = $('filter-region').value;
  const shown = servers.filter((s) => (!fs || snapName(s) === fs) && (!fr || s.region === fr));
  say('servers-count', servers.length
    ? `${shown.length} of ${servers.length} server${servers.length === 1 ? '' : 's'} shown.`
    : 'No servers yet: provision some above, or ask for new servers in a deploy.');
  $('servers-body').replaceChildren(...shown.map(serverRow));
}

function serverRow(s) {
  const name = s.name || `droplet ${s.id}`;
  const agent = h('td', { 'data-label': 'Agent' });
  if (s.agent_version) {
    agent.append(s.agent_version);
    if (state.expected && s.agent_version !== state.expected) {
      agent.append(' ', h('span', { class: 'warn', role: 'note', text: `⚠ differs from the expected ${state.expected}` }));
    }
  } else {
    agent.append(h('span', { class: 'msg', text: 'unknown' }));
  }
  const actions = h('div', { class: 'actions' });
  const tr = h('tr', { dataset: { id: String(s.id), ip: s.ip || '', region: s.region || '' } },
    h('td', { 'data-label': 'Name', text: name }),
    h('td', { 'data-label': 'Address', text: s.ip || '(none yet)' }),
    h('td', { 'data-label': 'Region', text: s.region || '' }),
    h('td', { 'data-label': 'Size', text: s.size || '' }),
    h('td', { 'data-label': 'Status', text: s.status || '' }),
    h('td', { 'data-label': 'Snapshot', text: (s.image && s.image.name) || '' }),
    agent,
    h('td', { 'data-label': 'Actions' }, actions));
  const healthBtn = h('button', {
    type: 'button', class: 'secondary small', text: 'Health', 'aria-label': `Health of ${name}`,
    disabled: !s.ip,
  });
  const delBtn = h('button', { type: 'button', class: 'danger small', text: 'Delete', 'aria-label': `Delete ${name}` });
  healthBtn.addEventListener('click', () => serverHealth(s, tr, healthBtn));
  delBtn.addEventListener('click', () => deleteServer(s, delBtn));
  actions.append(healthBtn, delBtn);
  return tr;
}

async function serverHealth(s, tr, btn) {
  let detail = tr.nextElementSibling;
  if (!detail || !detail.classList.contains('detail')) {
    detail = h('tr', { class: 'detail' }, h('td', { colspan: 8, class: 'full' }));
    tr.after(detail);
  }
  const cell = detail.firstElementChild;
  cell.replaceChildren(h('span', { role: 'status', text: `Asking ${s.ip}’s agent…` }));
  busy(btn, true);
  try {
    const hl = await api('GET', `/infra/agent/health?server_ip=${encodeURIComponent(s.ip)}`);
    const parts = [];
    parts.push(`${s.name || s.ip}: ${hl.status || 'unknown'}`);
    if (hl.version) parts.push(`agent ${hl.version}`);
    if (hl.docker) parts.push(hl.docker.ok ? `Docker ${hl.docker.version || 'ok'}` : `Docker not answering${hl.docker.error ? `: ${hl.docker.error}` : ''}`);
    if (hl.disk && typeof hl.disk.free_bytes === 'number') parts.push(`disk ${bytes(hl.disk.free_bytes)} free of ${bytes(hl.disk.total_bytes)}`);
    if (hl.memory && typeof hl.memory.available_bytes === 'number') parts.push(`memory ${bytes(hl.memory.available_bytes)} available of ${bytes(hl.memory.total_bytes)}`);
    if (Array.isArray(hl.load)) parts.push(`load ${hl.load.map((x) => Number(x).toFixed(2)).join(' ')}`);
    if (hl.containers && typeof hl.containers.running === 'number') parts.push(`${hl.containers.running} container${hl.containers.running === 1 ? '' : 's'} running`);
    if (typeof hl.uptime_s === 'number') parts.push(`up ${Math.round(hl.uptime_s / 60)} min`);
    const out = h('p', { role: 'status', class: hl.status === 'healthy' ? 'ok' : 'bad', text: parts.join(' · ') });
    cell.replaceChildren(out);
    if (hl.version && state.expected && hl.version !== state.expected) {
      cell.append(h('p', { class: 'warning', text: `This agent runs ${hl.version}; the controller expects ${state.expected}.` }));
    }
  } catch (e) {
    cell.replaceChildren(h('p', { class: 'error', role: 'alert', text: `${s.ip}: ${e.detail || e.message}` }));
  } finally {
    busy(btn, false);
  }
}

async function deleteServer(s, btn) {
  const name = s.name || `droplet ${s.id}`;
  if (!window.confirm(`Delete server ${name}${s.ip ? ` (${s.ip})` : ''}? The server and the apps on it are gone for good.`)) return;
  busy(btn, true);
  showError('servers-error', null);
  try {
    await api('DELETE', `/infra/servers/${encodeURIComponent(s.id)}`);
    state.servers = (state.servers || []).filter((x) => x.id !== s.id);
    renderServers();
    say('provision-msg', `Deleted ${name}.`);
  } catch (e) {
    showError('servers-error', e);
    busy(btn, false);
  }
}

async function provision(ev) {
  ev.preventDefault();
  const count = Number($('provision-count').value);
  if (!Number.isInteger(count) || count < 1 || count > 100) {
    showError('provision-error', 'Count is a whole number from 1 to 100.');
    return;
  }
  const b = $('provision-submit');
  busy(b, true);
  showError('provision-error', null);
  say('provision-msg', '');
  try {
    const ans = await api('POST', '/infra/servers/provision', { count, ...planOf('provision') });
    const plan = ans.plan || {};
    const ids = (ans.servers || []).map((d) => d.id);
    say('provision-msg', `Creating ${ids.length || count} server${count === 1 ? '' : 's'}${plan.region ? ` in ${plan.region}` : ''}${plan.size ? ` (${plan.size})` : ''}${plan.snapshot ? ` from ${plan.snapshot}` : ''}…`);
    await loadServers({ serversOnly: true });
    watchNewServers(ids);
  } catch (e) {
    showError('provision-error', e);
  } finally {
    busy(b, false);
  }
}

// New servers come up by themselves: look again until every server asked for is active with
// an address (a second provision while the first is coming up joins the same watch).
async function watchNewServers(ids) {
  for (const id of ids) state.pending.add(id);
  if (state.poll) return;
  const ctl = new AbortController();
  state.poll = ctl;
  const until = Date.now() + POLL_LIMIT_MS;
  const ready = () => [...state.pending].every((id) => (state.servers || []).some((s) => s.id === id && s.status === 'active' && s.ip));
  while (!ready() && Date.now() < until && !ctl.signal.aborted) {
    await sleep(POLL_MS, ctl.signal);
    if (ctl.signal.aborted || !state.token) break;
    try {
      const ans = await api('GET', '/infra/servers', undefined, { signal: ctl.signal });
      state.servers = Array.isArray(ans.servers) ? ans.servers : [];
      if (state.view === 'servers') renderServers();
      if (state.view === 'deploy') fillTargets();
    } catch (e) {
      if (e.name === 'AbortError') break;
    }
  }
  if (state.poll === ctl) state.poll = null;
  if (ctl.signal.aborted) return;
  const n = state.pending.size;
  say('provision-msg', ready()
    ? `${n === 1 ? 'The new server is' : `All ${n} new servers are`} up.`
    : 'The new servers are not active yet; refresh the list in a while.');
  state.pending.clear();
}

// ---------------------------------------------------------------- Deploy

// Snapshot, Region and Size shape new servers only: off while New servers is 0.
function planForNew() {
  const n = Number($('deploy-new-count').value.trim() || '0');
  for (const f of ['snapshot', 'region', 'size']) $(`deploy-${f}`).disabled = !(n > 0);
}

function chooseSource() {
  const v = $('deploy-source').value;
  for (const s of ['image', 'git', 'code']) $(`source-${s}`).hidden = s !== v;
}

function fillTargets() {
  const sel = $('deploy-servers');
  const keep = new Set([...sel.selectedOptions].map((o) => o.value));
  const usable = (state.servers || []).filter((s) => s.ip);
  sel.replaceChildren(...usable.map((s) => h('option', {
    value: s.ip,
    text: `${s.ip} · ${s.name || ''} · ${s.region || ''}${s.status && s.status !== 'active' ? ` (${s.status})` : ''}`,
    selected: keep.has(s.ip),
  })));
  sel.size = Math.min(Math.max(usable.length, 2), 8);
}

async function refreshTargets() {
  try {
    const ans = await api('GET', '/infra/servers');
    state.servers = Array.isArray(ans.servers) ? ans.servers : [];
    fillTargets();
  } catch (_) { /* the list stays as it was */ }
}

async function prepareDeploy() {
  showError('deploy-error', null);
  try {
    const [ans, settings] = await Promise.all([api('GET', '/infra/servers'),
      api('GET', '/settings').catch(() => null), ensureSnapshots(true)]);
    state.servers = Array.isArray(ans.servers) ? ans.servers : [];
    fillTargets();
    fillPlan('deploy');
    offerExampleImage(settings && settings.example_image);
  } catch (e) {
    showError('deploy-error', e);
  }
}

// The controller's example image (--example-image: the demo in the run command's registry)
// goes into an empty Image field, so a first deploy needs only a name and a target.
function offerExampleImage(image) {
  const field = $('deploy-image');
  if (!image || typeof image !== 'string') return;
  if (!field.value) field.value = image;
  say('deploy-image-hint', `${image} is this controller’s example image.`);
}

// "KEY=value" lines into an object; blank lines and # comments skipped.
function parseEnv(text) {
  const env = {};
  const lines = text.split(/\r?\n/);
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i].trim();
    if (!line || line.startsWith('#')) continue;
    const eq = line.indexOf('=');
    const key = eq < 0 ? line : line.slice(0, eq).trim();
    if (eq < 0 || !/^[A-Za-z_][A-Za-z0-9_.-]*$/.test(key)) {
      throw new Error(`Environment variables, line ${i + 1}: write KEY=value, with a name of letters, digits and _ (not starting with a digit).`);
    }
    env[key] = line.slice(eq + 1);
  }
  return env;
}

function deployRequest() {
  const name = $('deploy-name').value.trim();
  if (!/^[a-z0-9][a-z0-9-]{0,62}$/.test(name)) {
    throw new Error('Name: 1 to 63 lowercase letters, digits or -, starting with a letter or digit.');
  }
  const portText = $('deploy-port').value.trim();
  const port = portText === '' ? 0 : Number(portText);
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new Error('Port is a number from 0 to 65535.');
  const env = parseEnv($('deploy-env').value);
  const source = $('deploy-source').value;
  const ips = [...$('deploy-servers').selectedOptions].map((o) => o.value);
  const countText = $('deploy-new-count').value.trim();
  const newCount = countText === '' ? 0 : Number(countText);
  if (!Number.isInteger(newCount) || newCount < 0 || newCount > 100) throw new Error('New servers is a number from 0 to 100.');
  if (!ips.length && !newCount) throw new Error('Choose target servers, or a number of new servers, or both.');
  const req = { name, source_type: source };
  if (port) req.port = port;
  if (Object.keys(env).length) req.env_vars = env;
  if (ips.length) req.server_ips = ips;
  if (newCount) Object.assign(req, { new_server_count: newCount }, planOf('deploy'));
  if (source === 'image') {
    req.image = $('deploy-image').value.trim();
    if (!req.image) throw new Error('Image: name the image to deploy, e.g. registry.example.com/team/app:1.');
    const u = $('deploy-registry-user').value.trim();
    const p = $('deploy-registry-password').value;
    if (u) req.registry_username = u;
    if (p) req.registry_password = p;
    return { json: req, port };
  }
  if (source === 'git') {
    req.git_url = $('deploy-git-url').value.trim();
    if (!req.git_url) throw new Error('Git URL: give the repository’s address.');
    const br = $('deploy-git-branch').value.trim();
    const tok = $('deploy-git-token').value;
    const df = $('deploy-git-dockerfile').value.trim();
    if (br) req.git_branch = br;
    if (tok) req.git_token = tok;
    if (df) req.dockerfile = df;
    return { json: req, port };
  }
  // Code: a form with the zip as the file part `code` (streamed, never base64 in JSON).
  const file = $('deploy-code').files[0];
  if (!file) throw new Error('Code: choose a zip of the app.');
  const form = new FormData();
  for (const [k, v] of Object.entries(req)) {
    if (k === 'server_ips') for (const ip of v) form.append('server_ips', ip);
    else if (k === 'env_vars') form.append('env_vars', JSON.stringify(v));
    else form.append(k, String(v));
  }
  const df = $('deploy-code-dockerfile').value.trim();
  if (df) form.append('dockerfile', df);
  form.append('code', file, file.name);
  return { form, port };
}

const deployRun = () => state.deployRunView || (state.deployRunView = new Run('deploy'));

async function startDeploy(ev) {
  ev.preventDefault();
  if (state.deploy) return;
  showError('deploy-error', null);
  let req;
  try {
    req = deployRequest();
  } catch (e) {
    showError('deploy-error', e.message);
    return;
  }
  const run = deployRun();
  const submit = $('deploy-submit');
  const cancel = $('deploy-cancel');
  const abort = new AbortController();
  state.deploy = { abort, id: 0 };
  busy(submit, true);
  let res;
  try {
    res = await send('POST', '/infra/deploy', req.form || req.json, { signal: abort.signal });
  } catch (e) {
    state.deploy = null;
    busy(submit, false);
    if (e.name !== 'AbortError') showError('deploy-error', e);
    return;
  }
  run.reset();
  run.port = req.port;
  $('deploy-run').hidden = false;
  $('deploy-run-title').textContent = `Deploying ${req.json ? req.json.name : req.form.get('name')}`;
  run.status.textContent = 'Starting…';
  const result = await follow({
    first: res,
    signal: abort.signal,
    onEvent: (e, id) => {
      run.event(e, id);
      if (e.type === 'progress' && e.step === 'started' && e.deployment_id) {
        state.deploy.id = e.deployment_id;
        cancel.disabled = false;
      }
    },
    onNote: (t) => run.note(t),
  });
  if (result.dropped) {
    run.status.textContent = result.deploymentId
      ? `The connection was lost; the deploy goes on in the controller: see deployment ${result.deploymentId} under Deployments.`
      : 'The connection was lost before the deploy started; look under Deployments.';
  } else if (result.error) {
    run.status.textContent = result.error.detail;
  }
  if (state.deploy && state.deploy.abort === abort) state.deploy = null;
  refreshTargets(); // servers a deploy created can be targets of the next one
  busy(cancel, false);
  cancel.disabled = true;
  busy(submit, false);
}

async function cancelDeploy(id, button, statusId) {
  if (!id) return;
  busy(button, true);
  try {
    await api('POST', `/deployments/${id}/cancel`);
    say(statusId, `Canceling deployment ${id}…`);
  } catch (e) {
    say(statusId, `Cancel: ${e.detail || e.message}`);
    busy(button, false);
  }
}

// ---------------------------------------------------------------- Deployments

async function loadDeployments() {
  const b = $('deployments-refresh');
  busy(b, true);
  showError('deployments-error', null);
  try {
    const ans = await api('GET', '/deployments?limit=100');
    const list = Array.isArray(ans.deployments) ? ans.deployments : [];
    say('deployments-msg', list.length ? '' : 'No deployments yet: deploy something under Deploy.');
    $('deployments-body').replaceChildren(...list.map(deploymentRow));
  } catch (e) {
    showError('deployments-error', e);
  } finally {
    busy(b, false);
  }
}

function deploymentRow(d) {
  const label = `deployment ${d.id} (${d.app} v${d.version})`;
  const btn = (text, cls, fn) => {
    const b = h('button', { type: 'button', class: `${cls} small`, text, 'aria-label': `${text} ${label}` });
    b.addEventListener('click', () => fn(d, b));
    return b;
  };
  return h('tr', { dataset: { id: String(d.id), status: d.status || '' } },
    h('td', { 'data-label': 'ID', class: 'num', text: String(d.id) }),
    h('td', { 'data-label': 'App', text: d.app || '' }),
    h('td', { 'data-label': 'Version', class: 'num', text: String(d.version ?? '') }),
    h('td', { 'data-label': 'Source', text: d.source || '' }),
    h('td', { 'data-label': 'Status', class: d.status === 'succeeded' ? 'ok' : (d.status === 'running' ? '' : 'bad'), text: d.status || '' }),
    h('td', { 'data-label': 'Started', text: when(d.created_at) }),
    h('td', { 'data-label': 'By', text: d.user || '' }),
    h('td', { 'data-label': 'Actions' }, h('div', { class: 'actions' },
      btn('Open log', 'secondary', (x) => { location.hash = `#deployments/${x.id}`; openDeployment(x.id); }),
      btn('Stop', 'secondary', (x, b) => appAction(x, 'stop', b)),
      btn('Start', 'secondary', (x, b) => appAction(x, 'start', b)),
      btn('Restart', 'secondary', (x, b) => appAction(x, 'restart', b)),
      btn('Delete', 'danger', (x, b) => deleteDeployment(x, b)))));
}

function actionSummary(ans, verb) {
  const servers = Array.isArray(ans.servers) ? ans.servers : [];
  const ok = servers.filter((s) => s.success);
  const bad = servers.filter((s) => !s.success).map((s) => `${s.ip}: ${s.error || 'failed'}`);
  let text = `${verb} ${ans.app || ''}: ${ok.length} of ${servers.length} server${servers.length === 1 ? '' : 's'} ok`;
  const states = [...new Set(ok.map((s) => s.state).filter(Boolean))];
  if (states.length) text += ` (${states.join(', ')})`;
  if (bad.length) text += `; ${bad.join('; ')}`;
  return `${text}.`;
}

async function appAction(d, action, b) {
  busy(b, true);
  showError('deployments-error', null);
  try {
    const ans = await api('POST', `/deployments/${d.id}/${action}`);
    say('deployments-msg', actionSummary(ans, action[0].toUpperCase() + action.slice(1)));
  } catch (e) {
    showError('deployments-error', e);
  } finally {
    busy(b, false);
  }
}

async function deleteDeployment(d, b) {
  if (!window.confirm(`Delete deployment ${d.id} of ${d.app}? Its containers are removed from every server, then its record and log.`)) return;
  busy(b, true);
  showError('deployments-error', null);
  try {
    const ans = await api('DELETE', `/deployments/${d.id}`);
    say('deployments-msg', ans.servers ? actionSummary(ans, 'Delete') : `Deleted deployment ${d.id}.`);
    if (state.detail && state.detail.id === d.id) closeDeployment();
    await loadDeployments();
  } catch (e) {
    showError('deployments-error', e);
    busy(b, false);
  }
}

const detailRun = () => state.detailRunView || (state.detailRunView = new Run('deployment'));

function closeDeployment() {
  if (state.detail) state.detail.abort.abort();
  state.detail = null;
  $('deployment-detail').hidden = true;
  if (location.hash.startsWith('#deployments/')) history.replaceState(null, '', '#deployments');
}

// Replays a deployment's whole log, then follows it live while it runs.
async function openDeployment(id) {
  if (state.detail) state.detail.abort.abort();
  const abort = new AbortController();
  state.detail = { abort, id };
  const run = detailRun();
  run.reset();
  $('deployment-detail').hidden = false;
  $('deployment-title').textContent = `Deployment ${id}`;
  say('deployment-summary', '');
  run.status.textContent = 'Loading…';
  const cancel = $('deployment-cancel');
  cancel.hidden = true;
  try {
    const d = await api('GET', `/deployments/${id}`, undefined, { signal: abort.signal });
    const s = d.summary || {};
    run.port = Number(s.port) || 0;
    $('deployment-title').textContent = `Deployment ${id}: ${d.app} version ${d.version}`;
    const what = s.image ? `image ${s.image}` : (s.git_url ? `git ${s.git_url}${s.git_branch ? ` (${s.git_branch})` : ''}` : (d.source || ''));
    say('deployment-summary', `${what}${s.port ? ` · port ${s.port}` : ''}${Array.isArray(s.env) && s.env.length ? ` · env ${s.env.join(' ')}` : ''} · ${d.status}${d.user ? ` · by ${d.user}` : ''} · ${when(d.created_at)}`);
    cancel.hidden = d.status !== 'running';
    busy(cancel, false);
    run.status.textContent = d.status === 'running' ? 'Running: following the log live.' : 'Replaying the log.';
  } catch (e) {
    if (e.name === 'AbortError') return;
    run.status.textContent = e.detail || e.message;
    return;
  }
  const result = await follow({
    first: null,
    deploymentId: id,
    signal: abort.signal,
    onEvent: (e, n) => run.event(e, n),
    onNote: (t) => run.note(t),
  });
  if (result.aborted) return;
  cancel.hidden = true;
  if (result.last && result.last.type === 'error') run.status.textContent = `Ended: ${result.last.detail || result.last.error}`;
  else if (result.dropped) run.status.textContent = 'The connection was lost; open the log again to resume.';
  else if (result.error) run.status.textContent = result.error.detail;
  if (state.detail && state.detail.abort === abort) state.detail.finished = true;
  if (state.view === 'deployments') loadDeployments();
}

// ---------------------------------------------------------------- Snapshots and setup

async function loadSnapshotsView() {
  const b = $('snapshots-refresh');
  busy(b, true);
  showError('snapshots-error', null);
  try {
    await ensureSnapshots(true);
    renderSetup();
    renderSnapshots();
    attachBake();
  } catch (e) {
    showError('snapshots-error', e);
    say('setup-status', '');
  } finally {
    busy(b, false);
  }
}

function renderSetup() {
  const s = state.setup;
  let text;
  if (!s) text = 'The base snapshot’s state is unknown (no DigitalOcean token?).';
  else if (!s.base_snapshot) text = 'No base snapshot yet. Creating one makes a server, installs Docker and the agent, and snapshots it (minutes on DigitalOcean).';
  else {
    const b = s.base_snapshot;
    text = `Base snapshot ${b.name} (agent ${b.agent_version || 'unknown'}) in ${(b.regions || []).join(', ') || 'no region'}: ${s.current ? 'current.' : `older than this controller’s agent ${s.expected_agent_version || state.expected}; create a new one.`}`;
  }
  say('setup-status', text);
}

function renderSnapshots() {
  const snaps = state.snapshots || [];
  say('snapshots-msg', snaps.length ? '' : 'No snapshots yet.');
  $('snapshots-body').replaceChildren(...snaps.map((s) => {
    const label = `snapshot ${s.name}`;
    const transfer = h('button', { type: 'button', class: 'secondary small', text: 'Transfer to all regions', 'aria-label': `Transfer to all regions: ${label}` });
    const del = h('button', { type: 'button', class: 'danger small', text: 'Delete', 'aria-label': `Delete ${label}` });
    transfer.addEventListener('click', () => transferSnapshot(s, transfer));
    del.addEventListener('click', () => deleteSnapshot(s, del));
    const agent = h('td', { 'data-label': 'Agent', text: s.agent_version || '' });
    if (s.agent_version && state.expected && cmpVersion(s.agent_version, state.expected) < 0) {
      agent.append(' ', h('span', { class: 'warn', text: '⚠ older than expected' }));
    }
    return h('tr', { dataset: { id: String(s.id) } },
      h('td', { 'data-label': 'Name', text: s.name || '' }),
      h('td', { 'data-label': 'ID', class: 'num', text: String(s.id) }),
      h('td', { 'data-label': 'Regions', text: (s.regions || []).join(', ') }),
      agent,
      h('td', { 'data-label': 'Created', text: when(s.created_at) }),
      h('td', { 'data-label': 'Actions' }, h('div', { class: 'actions' }, transfer, del)));
  }));
}

async function transferSnapshot(s, b) {
  busy(b, true);
  showError('snapshots-error', null);
  try {
    const ans = await api('POST', `/infra/snapshots/${s.id}/transfer-all`);
    const to = (ans.transfers || []).map((t) => t.region);
    say('snapshots-msg', to.length
      ? `Copying ${s.name} to ${to.join(', ')}; it appears there when DigitalOcean is done (refresh to see).`
      : `${s.name} is in every region already.`);
  } catch (e) {
    showError('snapshots-error', e);
  } finally {
    busy(b, false);
  }
}

async function deleteSnapshot(s, b) {
  if (!window.confirm(`Delete snapshot ${s.name} (${s.id})? New servers can no longer be made from it.`)) return;
  busy(b, true);
  showError('snapshots-error', null);
  try {
    await api('DELETE', `/infra/snapshots/${s.id}`);
    say('snapshots-msg', `Deleted ${s.name}.`);
    await loadSnapshotsView();
  } catch (e) {
    showError('snapshots-error', e);
    busy(b, false);
  }
}

async function startBake(ev) {
  ev.preventDefault();
  if (state.bake) return;
  showError('setup-error', null);
  const regions = $('setup-regions').value.split(/[\s,]+/).map((r) => r.trim()).filter(Boolean);
  const region = $('setup-region').value.trim();
  const bad = [...regions, region].filter((r) => r && !/^[a-z0-9]{1,16}$/.test(r));
  if (bad.length) {
    showError('setup-error', `Regions are slugs such as nyc3 or sfo3 (not ${bad.join(', ')}).`);
    return;
  }
  const body = { regions };
  if (region) body.region = region;
  const abort = new AbortController();
  state.bake = { abort, id: 0 };
  busy($('setup-submit'), true);
  let res;
  try {
    res = await send('POST', '/infra/setup/init/stream', body, { signal: abort.signal });
  } catch (e) {
    state.bake = null;
    busy($('setup-submit'), false);
    if (e.name !== 'AbortError') showError('setup-error', e);
    return;
  }
  await watchBake(res, Number(res.headers.get('X-Bake-Id')) || 0, abort);
}

// A bake runs on the controller whether or not a page watches it: leaving, a reload or a
// dropped network only stops the watching (it resumes with Last-Event-ID); Cancel stops it.
async function watchBake(res, id, abort) {
  state.bake = { abort, id };
  const submit = $('setup-submit');
  const cancel = $('setup-cancel');
  busy(submit, true);
  cancel.hidden = false;
  cancel.disabled = false;
  $('setup-run').hidden = false;
  const log = $('setup-log');
  log.replaceChildren();
  const line = (text, cls) => {
    log.append(h('p', { class: `line ${cls || ''}`, text }));
    log.scrollTop = log.scrollHeight;
  };
  say('setup-step', `Bake ${id || ''} running…`);
  const result = await follow({
    first: res,
    eventsPath: id ? `/infra/bake/events?id=${id}` : '',
    signal: abort.signal,
    onNote: (t) => line(t, 'note'),
    onEvent: (e) => {
      if (e.type === 'log') line(String(e.message ?? ''));
      else if (e.type === 'progress') {
        const t = `${e.step || e.status || 'working'}${typeof e.elapsed_s === 'number' ? ` (${e.elapsed_s} s)` : ''}${e.waiting_for ? `: waiting for ${e.waiting_for}` : ''}`;
        say('setup-step', t);
        line(`step: ${t}`, 'progress');
      } else if (e.type === 'done') {
        const snap = e.snapshot || {};
        const t = `done: made ${snap.name || 'the snapshot'} (${snap.id || '?'}) in ${(snap.regions || []).join(', ')}${typeof e.elapsed_s === 'number' ? ` in ${e.elapsed_s} s` : ''}`;
        line(t, 'done-ok');
        say('setup-step', t);
      } else if (e.type === 'error') {
        const t = e.error === 'canceled'
          ? `canceled${e.step ? ` at ${e.step}` : ''}: the bake stopped and deleted its droplet`
          : `failed${e.step ? ` at ${e.step}` : ''}: ${e.detail || e.error}`;
        line(t, 'done-bad');
        say('setup-step', t);
      }
    },
  });
  if (result.aborted) return; // the page stopped watching (log out); the bake runs on
  if (result.error) line(`The bake's log is gone: ${result.error.message || result.error}`, 'note');
  else if (result.dropped) line('The connection was lost; the bake goes on. Open Snapshots again to follow it.', 'note');
  if (state.bake && state.bake.abort === abort) state.bake = null;
  cancel.hidden = true;
  busy(submit, false);
  if (state.view === 'snapshots') loadSnapshotsView();
}

async function cancelBake() {
  const b = state.bake;
  if (!b) return;
  const cancel = $('setup-cancel');
  cancel.disabled = true;
  showError('setup-error', null);
  try {
    await api('POST', '/infra/bake/cancel', b.id ? { id: b.id } : {});
    say('setup-step', 'Canceling: the bake stops and deletes its droplet…');
  } catch (e) {
    showError('setup-error', e);
    cancel.disabled = false;
  }
}

// A bake started elsewhere (another tab, before a reload, with curl) shows here while it runs.
async function attachBake() {
  if (state.bake) return;
  let st;
  try {
    st = await api('GET', '/infra/bake');
  } catch (_) {
    return; // none since the controller started
  }
  if (!st || st.state !== 'running' || state.bake) return;
  const abort = new AbortController();
  state.bake = { abort, id: st.id };
  let res = null;
  try {
    const r = await fetch(`${API}/infra/bake/events?id=${st.id}`, { headers: authHeaders(), signal: abort.signal, cache: 'no-store' });
    if (r.ok) res = r;
  } catch (_) { /* gone already */ }
  if (!res) {
    state.bake = null;
    return;
  }
  watchBake(res, st.id, abort);
}

// ---------------------------------------------------------------- Settings

async function loadSettings() {
  showError('token-error', null);
  try {
    const s = await api('GET', '/settings');
    const src = {
      environment: 'from the DO_TOKEN environment variable (it wins over a saved one)',
      settings: 'saved in the settings',
    }[s.do_token_source] || '';
    say('token-state', s.do_token_set
      ? `A DigitalOcean token is set, ${src}. It is never shown; type a new one to replace it.`
      : 'No DigitalOcean token yet: save one to provision servers.');
    const facts = [['DigitalOcean API', s.do_api_url || '(none)'], ['Public URL', s.public_url || ''],
      ['Agents admit', (s.agent_allow || []).join(', ')]];
    $('settings-facts').replaceChildren(...facts.flatMap(([k, v]) => [h('dt', { text: k }), h('dd', { text: v })]));
  } catch (e) {
    showError('token-error', e);
  }
}

async function saveToken(ev) {
  ev.preventDefault();
  const input = $('do-token');
  const tok = input.value.trim();
  showError('token-error', null);
  say('token-msg', '');
  if (!tok || /\s/.test(tok)) {
    showError('token-error', 'Paste the token: one word, no spaces.');
    return;
  }
  const b = $('token-save');
  busy(b, true);
  try {
    const ans = await api('PUT', '/settings', { do_token: tok });
    input.value = '';
    say('token-msg', ans.detail || 'Saved.');
    await loadSettings();
  } catch (e) {
    showError('token-error', e);
  } finally {
    busy(b, false);
  }
}

async function showCredentials() {
  const b = $('creds-show');
  busy(b, true);
  showError('creds-error', null);
  try {
    const c = await api('GET', '/me/credentials');
    $('creds-key').value = c.agent_key || '';
    $('creds-curl').value = c.curl || '';
    $('creds-curl-exe').value = c.curl_exe || '';
    say('creds-note', c.note || (c.server_ip ? `These lines ask ${c.server_ip}’s agent for its health, with its certificate pinned.` : ''));
    say('creds-msg', '');
    $('creds').hidden = false;
  } catch (e) {
    showError('creds-error', e);
  } finally {
    busy(b, false);
  }
}

async function copyFrom(id, what) {
  const field = $(id);
  let ok = false;
  try {
    if (navigator.clipboard && window.isSecureContext) {
      await navigator.clipboard.writeText(field.value);
      ok = true;
    }
  } catch (_) { /* fall back below */ }
  if (!ok) {
    field.focus();
    field.select();
    try {
      ok = document.execCommand('copy');
    } catch (_) {
      ok = false;
    }
  }
  say('creds-msg', ok ? `Copied the ${what} line.` : `Select the ${what} line and copy it (Ctrl+C).`);
}

// ---------------------------------------------------------------- wiring

function wire() {
  $('login-form').addEventListener('submit', login);
  $('logout').addEventListener('click', logout);
  window.addEventListener('hashchange', route);

  $('servers-refresh').addEventListener('click', () => loadServers());
  $('filter-snapshot').addEventListener('change', renderServers);
  $('filter-region').addEventListener('change', renderServers);
  $('provision-form').addEventListener('submit', provision);
  $('provision-snapshot').addEventListener('change', () => fillRegions('provision'));
  $('provision-region').addEventListener('change', () => fillSizes('provision'));
  for (const p of ['provision', 'deploy']) $(`${p}-size`).addEventListener('change', (e) => { e.target.dataset.chosen = 'yes'; });

  $('deploy-source').addEventListener('change', chooseSource);
  $('deploy-snapshot').addEventListener('change', () => fillRegions('deploy'));
  $('deploy-region').addEventListener('change', () => fillSizes('deploy'));
  $('deploy-form').addEventListener('submit', startDeploy);
  $('deploy-new-count').addEventListener('input', planForNew);
  $('deploy-cancel').addEventListener('click', () => cancelDeploy(state.deploy && state.deploy.id, $('deploy-cancel'), 'deploy-status'));

  $('deployments-refresh').addEventListener('click', loadDeployments);
  $('deployment-close').addEventListener('click', closeDeployment);
  $('deployment-cancel').addEventListener('click', () => cancelDeploy(state.detail && state.detail.id, $('deployment-cancel'), 'deployment-status'));

  $('snapshots-refresh').addEventListener('click', loadSnapshotsView);
  $('setup-form').addEventListener('submit', startBake);
  $('setup-cancel').addEventListener('click', cancelBake);

  $('token-form').addEventListener('submit', saveToken);
  $('creds-show').addEventListener('click', showCredentials);
  $('creds-copy-curl').addEventListener('click', () => copyFrom('creds-curl', 'curl'));
  $('creds-copy-curl-exe').addEventListener('click', () => copyFrom('creds-curl-exe', 'curl.exe'));
  chooseSource();
  planForNew();
}

wire();
loadVersion().finally(route);
