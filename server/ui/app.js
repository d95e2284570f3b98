// aioctl's web console: pages over /api/v1 (the JSON aioctl --output json
// prints). Every string from the fleet goes into the page as text, never
// as markup; the token stays in this tab's sessionStorage.
'use strict';

const TOKEN_KEY = 'aioctl.token';
let session = null; // {name, role, may}
let timer = null;   // a page's refresh

// ---------------------------------------------------------------- helpers

function el(tag, attrs, ...kids) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === null || v === undefined || v === false) continue;
    if (k === 'class') e.className = v;
    else if (k.startsWith('on')) e.addEventListener(k.slice(2), v);
    else e.setAttribute(k, v === true ? '' : v);
  }
  for (const k of kids.flat()) {
    if (k === null || k === undefined || k === false) continue;
    e.append(k instanceof Node ? k : document.createTextNode(String(k)));
  }
  return e;
}

const main = () => document.getElementById('main');
function show(...kids) {
  main().replaceChildren(...kids.flat(3).filter((k) => k !== null && k !== undefined && k !== false));
}
function status(text) { document.getElementById('status').textContent = text; }

class ApiError extends Error {
  constructor(code, message) { super(message); this.code = code; }
}

async function api(path, opts = {}) {
  const token = sessionStorage.getItem(TOKEN_KEY);
  const headers = { Authorization: 'Bearer ' + token };
  if (opts.body !== undefined) headers['Content-Type'] = 'application/json';
  const res = await fetch('/api/v1' + path, {
    method: opts.method || 'GET', headers, cache: 'no-store',
    body: opts.body === undefined ? undefined : JSON.stringify(opts.body),
  });
  let doc = null;
  try { doc = await res.json(); } catch (e) { doc = null; }
  if (!res.ok) {
    const msg = doc && doc.error ? doc.error.message : res.status + ' ' + res.statusText;
    throw new ApiError(res.status, msg);
  }
  return doc;
}

// Markup for big tables, which the DOM builds much faster from a string:
// every value passes through esc() on its way in.
const ESC = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };
const esc = (v) => String(v).replace(/[&<>"']/g, (c) => ESC[c]);
const numbers = new Intl.NumberFormat('en-US');
const WINDOW_ROWS = 2000; // tables longer than this show the rows in sight
const ROW_PX = 25;       // table.windowed tr's height (app.css)

const fmt = {
  int: (n) => (n === null || n === undefined ? '-' : numbers.format(n)),
  pct: (x) => (x === null || x === undefined ? '-' : (100 * x).toFixed(1) + '%'),
  time: (t) => (t ? t.replace('T', ' ').replace(/\.\d+/, '').replace('Z', ' UTC') : '-'),
  ago(t) {
    if (!t) return 'never';
    const s = Math.max(0, (Date.now() - Date.parse(t)) / 1000);
    if (s < 90) return Math.round(s) + 's ago';
    if (s < 5400) return Math.round(s / 60) + 'm ago';
    if (s < 172800) return Math.round(s / 3600) + 'h ago';
    return Math.round(s / 86400) + 'd ago';
  },
  labels: (o) => Object.entries(o || {}).map(([k, v]) => k + '=' + v).join(','),
};

function failure(err) {
  if (err instanceof ApiError && err.code === 401) {
    sessionStorage.removeItem(TOKEN_KEY);
    session = null;
    return login('That token was not accepted: ' + err.message);
  }
  main().prepend(el('div', { class: 'error', role: 'alert' }, err.message));
}

// A table whose columns sort by a click: cols [{key, label, num, get,
// cell}], cell giving a text or {text, cls, href}.
function sortableTable(cols, rows, state, redraw) {
  const head = el('tr', {}, cols.map((c) => {
    const th = el('th', {
      class: [c.num ? 'num' : '', c.get ? 'sortable' : '',
        state.sort === c.key ? 'sorted' : '', state.sort === c.key && state.rev ? 'rev' : '']
        .join(' ').trim() || null,
      'data-key': c.key,
    }, c.label);
    if (c.get) th.addEventListener('click', () => {
      state.rev = state.sort === c.key ? !state.rev : false;
      state.sort = c.key;
      redraw();
    });
    return th;
  }));
  const col = cols.find((c) => c.key === state.sort);
  if (col && col.get) {
    const dir = state.rev ? -1 : 1;
    const keyed = rows.map((r) => [col.get(r), r]);
    keyed.sort(([x], [y]) => {
      if (x === y) return 0;
      if (x === null || x === undefined) return 1;
      if (y === null || y === undefined) return -1;
      return (x < y ? -1 : 1) * dir;
    });
    rows = keyed.map((k) => k[1]);
  }
  const rowHtml = (r) => {
    const html = ['<tr>'];
    for (const c of cols) {
      const v = c.cell(r);
      const o = v !== null && typeof v === 'object' ? v : { text: v };
      const cls = [c.num ? 'num' : '', o.cls || ''].join(' ').trim();
      html.push(cls ? `<td class="${cls}">` : '<td>');
      html.push(o.href ? `<a href="${esc(o.href)}">${esc(o.text)}</a>` : esc(o.text));
      html.push('</td>');
    }
    html.push('</tr>');
    return html.join('');
  };
  const body = el('tbody');
  const table = el('table', { class: rows.length > WINDOW_ROWS ? 'big windowed' : 'big' }, el('thead', {}, head), body);
  if (rows.length <= WINDOW_ROWS) {
    body.innerHTML = rows.map(rowHtml).join('');
    return table;
  }
  // Past a few thousand rows the browser spends seconds laying out a
  // table: only the rows in sight (and a margin) are in the page, between
  // two spacers as tall as the rest; printing puts them all in.
  let shown = null;
  // heights set through the CSSOM: the policy allows no inline style
  const spacer = (n) => (n > 0 ? `<tr class="spacer" data-rows="${n}"></tr>` : '');
  const sized = () => {
    for (const tr of body.querySelectorAll('tr.spacer')) tr.style.height = tr.dataset.rows * ROW_PX + 'px';
  };
  const fill = (all) => {
    const top = table.getBoundingClientRect().top;
    const first = all ? 0 : Math.max(0, Math.floor(-top / ROW_PX) - 40);
    const last = all ? rows.length : Math.min(rows.length, first + Math.ceil(innerHeight / ROW_PX) + 80);
    if (shown && shown[0] === first && shown[1] === last) return;
    shown = [first, last];
    body.innerHTML = spacer(first) + rows.slice(first, last).map(rowHtml).join('') + spacer(rows.length - last);
    sized();
  };
  windowed = (all) => { if (all) shown = null; if (table.isConnected) fill(all); };
  body.innerHTML = rows.slice(0, 60).map(rowHtml).join('') + spacer(rows.length - 60);
  sized();
  shown = [0, 60];
  requestAnimationFrame(() => windowed(false));
  return table;
}

// A line chart in SVG: series [{points: [[t, v]], class}], y from 0.
function chart(series, opts = {}) {
  const W = 900, H = 220, L = 70, R = 10, T = 10, B = 24;
  const NS = 'http://www.w3.org/2000/svg';
  const svg = document.createElementNS(NS, 'svg');
  svg.setAttribute('class', 'chart');
  svg.setAttribute('viewBox', `0 0 ${W} ${H}`);
  svg.setAttribute('role', 'img');
  svg.setAttribute('aria-label', opts.label || 'chart');
  const all = series.flatMap((s) => s.points);
  if (!all.length) {
    const t = document.createElementNS(NS, 'text');
    t.setAttribute('x', L); t.setAttribute('y', H / 2); t.textContent = 'no samples yet';
    svg.append(t);
    return svg;
  }
  const t0 = Math.min(...all.map((p) => p[0])), t1 = Math.max(...all.map((p) => p[0]));
  const vmax = Math.max(opts.ymax || 0, ...all.map((p) => p[1])) || 1;
  const x = (t) => L + (t1 === t0 ? 0 : ((t - t0) / (t1 - t0)) * (W - L - R));
  const y = (v) => H - B - (v / vmax) * (H - T - B);
  for (const s of series) {
    const path = document.createElementNS(NS, 'polyline');
    path.setAttribute('class', s.class || 'line');
    path.setAttribute('points', s.points.map((p) => x(p[0]).toFixed(1) + ',' + y(p[1]).toFixed(1)).join(' '));
    svg.append(path);
  }
  const label = (tx, ty, text, anchor) => {
    const t = document.createElementNS(NS, 'text');
    t.setAttribute('x', tx); t.setAttribute('y', ty);
    if (anchor) t.setAttribute('text-anchor', anchor);
    t.textContent = text;
    svg.append(t);
  };
  const yf = opts.yfmt || fmt.int;
  label(L - 6, y(vmax) + 4, yf(vmax), 'end');
  label(L - 6, y(0), yf(0), 'end');
  label(L, H - 6, fmt.time(new Date(t0).toISOString()));
  label(W - R, H - 6, fmt.time(new Date(t1).toISOString()), 'end');
  return svg;
}

function pointsOf(list, key) {
  return list.filter((p) => p[key] !== null && p[key] !== undefined)
    .map((p) => [Date.parse(p.time), p[key]]);
}

function kv(pairs) {
  return el('dl', { class: 'kv' }, pairs.flatMap(([k, v]) => [el('dt', {}, k), el('dd', {}, v)]));
}

// ---------------------------------------------------------------- pages

function login(message) {
  document.getElementById('nav').hidden = true;
  document.getElementById('logout').hidden = true;
  document.getElementById('who').textContent = '';
  const input = el('input', { type: 'password', id: 'token', autocomplete: 'off', size: 48, required: true });
  const form = el('form', {
    class: 'login', id: 'login',
    onsubmit: async (ev) => {
      ev.preventDefault();
      sessionStorage.setItem(TOKEN_KEY, input.value.trim());
      try {
        await start();
      } catch (err) {
        failure(err);
      }
    },
  },
  el('h1', {}, 'Log in to aio-server'),
  message ? el('div', { class: 'error', role: 'alert' }, message) : null,
  el('p', {}, 'Paste an aioctl token (aioctl token create NAME --role viewer). It stays in this tab only.'),
  el('p', {}, input, ' ', el('button', { class: 'primary', type: 'submit' }, 'Log in')));
  show(form);
  input.focus();
}

async function start() {
  session = await api('/session');
  document.getElementById('nav').hidden = false;
  document.getElementById('logout').hidden = false;
  document.getElementById('who').textContent = session.name + ' (' + session.role + ')';
  if (!location.hash || location.hash === '#/' || location.hash === '#') location.hash = '#/fleet';
  else route();
}

const fleetState = { sort: 'room', rev: false, text: '', state: 'all', errors: false, util: 0, room: -1 };

async function fleetPage() {
  const doc = await api('/hosts');
  const hosts = doc.hosts;
  const draw = () => {
    const t = fleetState.text.toLowerCase();
    const rows = hosts.filter((h) =>
      (!t || h.host.toLowerCase().includes(t) || fmt.labels(h.labels).toLowerCase().includes(t)) &&
      (fleetState.state === 'all' || (fleetState.state === 'online') === h.online) &&
      (!fleetState.errors || h.errors_24h > 0) &&
      (!fleetState.util || (h.utilization || 0) >= fleetState.util) &&
      (fleetState.room < 0 || (h.room !== null && h.room <= fleetState.room)));
    const cols = [
      { key: 'name', label: 'Host', get: (h) => h.host,
        cell: (h) => ({ text: h.host, href: '#/host/' + encodeURIComponent(h.host) }) },
      { key: 'nr', label: 'aio-nr', num: true, get: (h) => h.aio_nr, cell: (h) => fmt.int(h.aio_nr) },
      { key: 'max', label: 'aio-max-nr', num: true, get: (h) => h.aio_max_nr, cell: (h) => fmt.int(h.aio_max_nr) },
      { key: 'room', label: 'Room', num: true, get: (h) => h.room,
        cell: (h) => ({ text: fmt.int(h.room), cls: h.room === 0 ? 'bad' : '' }) },
      { key: 'util', label: 'Util', num: true, get: (h) => h.utilization,
        cell: (h) => ({ text: fmt.pct(h.utilization), cls: h.utilization >= 0.9 ? 'bad' : h.utilization >= 0.75 ? 'warn' : '' }) },
      { key: 'reboot', label: 'After reboot', num: true,
        get: (h) => (h.persisted ? h.persisted.after_reboot : null),
        cell: (h) => (h.persisted ? { text: h.persisted_differs ? fmt.int(h.persisted.after_reboot) : 'same',
          cls: h.persisted_differs ? 'warn' : '' } : '?') },
      { key: 'errors', label: 'Errors 24h', num: true, get: (h) => h.errors_24h,
        cell: (h) => ({ text: fmt.int(h.errors_24h), cls: h.errors_24h ? 'bad' : '' }) },
      { key: 'seen', label: 'Last seen', get: (h) => h.last_seen, cell: (h) => fmt.ago(h.last_seen) },
      { key: 'state', label: 'State', get: (h) => (h.online ? 1 : 0),
        cell: (h) => ({ text: h.online ? 'online' : 'OFFLINE', cls: h.online ? 'ok' : 'bad' }) },
      { key: 'labels', label: 'Labels', get: (h) => fmt.labels(h.labels), cell: (h) => fmt.labels(h.labels) },
    ];
    const online = hosts.filter((h) => h.online).length;
    show(el('h1', {}, 'Fleet'),
      el('div', { class: 'filters' },
        el('input', { type: 'search', id: 'filter', placeholder: 'host or label', value: fleetState.text,
          oninput: (e) => { fleetState.text = e.target.value; draw(); document.getElementById('filter').focus(); } }),
        el('select', { id: 'state', onchange: (e) => { fleetState.state = e.target.value; draw(); } },
          ['all', 'online', 'offline'].map((v) => el('option', { value: v, selected: fleetState.state === v }, v))),
        el('label', {}, 'utilisation ', el('select', { id: 'util', onchange: (e) => { fleetState.util = Number(e.target.value); draw(); } },
          [[0, 'any'], [0.5, '50% or more'], [0.75, '75% or more'], [0.9, '90% or more']].map(([v, t]) =>
            el('option', { value: v, selected: fleetState.util === v }, t)))),
        el('label', {}, 'room ', el('select', { id: 'room', onchange: (e) => { fleetState.room = Number(e.target.value); draw(); } },
          [[-1, 'any'], [0, 'none'], [8, '8 contexts or less'], [64, '64 contexts or less']].map(([v, t]) =>
            el('option', { value: v, selected: fleetState.room === v }, t)))),
        el('label', {}, el('input', { type: 'checkbox', id: 'witherrors', checked: fleetState.errors,
          onchange: (e) => { fleetState.errors = e.target.checked; draw(); } }), ' with errors'),
        el('span', { class: 'muted', id: 'count' },
          `${rows.length} of ${hosts.length} hosts; ${online} online, ${hosts.length - online} offline`)),
      sortableTable(cols, rows, fleetState, draw));
  };
  draw();
  status('Fleet as of ' + new Date().toLocaleTimeString());
}

async function hostPage(name) {
  const [h, hist, alerts] = await Promise.all([
    api('/hosts/' + encodeURIComponent(name)),
    api('/hosts/' + encodeURIComponent(name) + '/history?since=24h'),
    api('/alerts'),
  ]);
  const p = h.persisted;
  const mine = alerts.alerts.filter((a) => a.subject === h.host);
  show(el('h1', {}, h.host, ' ', el('span', { class: h.online ? 'ok' : 'bad' }, h.online ? 'online' : 'OFFLINE')),
    kv([
      ['fs.aio-nr', fmt.int(h.aio_nr)],
      ['fs.aio-max-nr', fmt.int(h.aio_max_nr)],
      ['Utilisation', fmt.pct(h.utilization)],
      ['Room', fmt.int(h.room) + ' more 1024-event contexts'],
      ['After reboot', p ? fmt.int(p.after_reboot) + (p.file ? ' (from ' + p.file + ')' : ' (kernel default)') : '?'],
      ['Last seen', fmt.ago(h.last_seen)],
      ['Labels', fmt.labels(h.labels) || '-'],
      ['Kernel', h.kernel || '-'],
      ['Agent', h.agent_version || '-'],
    ]),
    el('h2', {}, 'aio-nr over 24 hours, with the limit'),
    chart([{ points: pointsOf(hist.points, 'max'), class: 'line' },
      { points: pointsOf(hist.points, 'aio_max_nr'), class: 'limit' }], { label: 'aio-nr and aio-max-nr' }),
    el('h2', {}, 'Files that set the limit at boot'),
    p && p.settings.length
      ? el('table', {}, el('thead', {}, el('tr', {}, el('th', {}, 'File'), el('th', {}, 'Line'), el('th', { class: 'num' }, 'Value'))),
        el('tbody', {}, p.settings.map((s) => el('tr', {}, el('td', {}, s.file), el('td', {}, s.line), el('td', { class: 'num' }, fmt.int(s.value))))))
      : el('p', { class: 'muted' }, 'No sysctl file sets fs.aio-max-nr: the kernel default applies at boot.'),
    el('h2', {}, 'Users of AIO contexts'),
    el('table', {}, el('thead', {}, el('tr', {}, ['Name', 'PID', 'VM', 'Contexts', 'Events'].map((t, i) => el('th', { class: i > 2 ? 'num' : null }, t)))),
      el('tbody', {}, h.users.map((u) => el('tr', {}, el('td', {}, u.name), el('td', {}, u.pid), el('td', {}, u.vm ? 'yes' : ''),
        el('td', { class: 'num' }, fmt.int(u.contexts)), el('td', { class: 'num' }, fmt.int(u.events)))))),
    el('h2', {}, 'Recent errors'),
    eventsTable(h.recent_errors, false),
    el('h2', {}, 'Alerts'),
    alertsTable(mine));
  status('Host as of ' + new Date().toLocaleTimeString());
}

function eventsTable(events, withHost) {
  if (!events.length) return el('p', { class: 'muted' }, 'None.');
  return el('table', {}, el('thead', {}, el('tr', {}, ['Time', withHost ? 'Host' : null, 'Kind', 'VM', 'Source', 'Line'].filter(Boolean).map((t) => el('th', {}, t)))),
    el('tbody', {}, events.map((e) => el('tr', {}, el('td', {}, fmt.time(e.time)),
      withHost ? el('td', {}, el('a', { href: '#/host/' + encodeURIComponent(e.host) }, e.host)) : null,
      el('td', {}, e.kind), el('td', {}, e.vm || '-'), el('td', {}, (e.sources || [e.source]).join(',')),
      el('td', { class: 'wrap' }, e.line || '')))));
}

function alertsTable(alerts) {
  if (!alerts.length) return el('p', { class: 'muted' }, 'None.');
  return el('table', {}, el('thead', {}, el('tr', {}, ['State', 'Kind', 'Subject', 'Started', 'Cleared', 'Message'].map((t) => el('th', {}, t)))),
    el('tbody', {}, alerts.map((a) => el('tr', {}, el('td', { class: a.state === 'active' ? 'bad' : 'muted' }, a.state),
      el('td', {}, a.kind), el('td', {}, a.subject), el('td', {}, fmt.time(a.started)), el('td', {}, fmt.time(a.cleared)),
      el('td', { class: 'wrap' }, a.message || '')))));
}

async function errorsPage() {
  const doc = await api('/errors?since=24h');
  show(el('h1', {}, 'AIO errors of the last 24 hours'), eventsTable(doc.events, true),
    doc.truncated ? el('p', { class: 'muted' }, 'More matched: narrow with aioctl errors --since.') : null);
  status('Errors as of ' + new Date().toLocaleTimeString());
}

async function alertsPage() {
  const doc = await api('/alerts');
  show(el('h1', {}, 'Alerts: ', doc.active, ' active'), alertsTable(doc.alerts));
  status('Alerts as of ' + new Date().toLocaleTimeString());
}

function rolloutForm() {
  const f = (id, label, attrs) => [el('label', { for: id }, label), el('input', Object.assign({ id, name: id }, attrs))];
  const planBox = el('div', { id: 'plan' });
  const body = () => {
    const v = (id) => document.getElementById(id).value.trim();
    const b = { max: Number(v('max')) };
    if (v('select')) b.select = v('select').split(',').map((s) => s.trim()).filter(Boolean);
    if (v('hosts')) b.hosts = v('hosts');
    if (v('canary')) b.canary = Number(v('canary'));
    if (v('batch')) b.batch = Number(v('batch'));
    if (v('soak')) b.soak = v('soak');
    if (document.getElementById('rollback').checked) b.rollback_on_failure = true;
    if (document.getElementById('lower').checked) b.allow_lower = true;
    return b;
  };
  const form = el('form', {
    class: 'grid', id: 'newrollout',
    onsubmit: async (ev) => {
      ev.preventDefault();
      try {
        const plan = await api('/rollouts', { method: 'POST', body: Object.assign(body(), { dry_run: true }) });
        const start = el('button', { class: 'primary', type: 'button', id: 'start',
          onclick: async () => {
            try {
              const r = await api('/rollouts', { method: 'POST', body: body() });
              location.hash = '#/rollout/' + r.id;
            } catch (err) { failure(err); }
          } }, `Start: ${plan.steps.length} hosts in ${plan.waves} waves`);
        planBox.replaceChildren(el('h2', {}, 'Plan (nothing changed yet)'),
          el('p', {}, `${plan.steps.length} hosts to ${fmt.int(plan.target)} in ${plan.waves} waves; ${plan.skipped.length} already there; ${plan.refused.length} refused by their own bounds.`),
          stepsTable(plan), el('p', {}, start));
      } catch (err) {
        planBox.replaceChildren(el('div', { class: 'error', role: 'alert' }, err.message));
      }
    },
  },
  f('max', 'New fs.aio-max-nr', { type: 'number', min: 1, required: true, placeholder: '2097152' }),
  f('select', 'Labels (KEY=VALUE,...)', { type: 'text', placeholder: 'rack=r1' }),
  f('hosts', 'Hosts (globs,...)', { type: 'text', placeholder: 'hv-*' }),
  f('canary', 'Canary hosts', { type: 'number', min: 0 }),
  f('batch', 'Batch size', { type: 'number', min: 0 }),
  f('soak', 'Soak', { type: 'text', placeholder: '30s' }),
  el('label', { for: 'rollback' }, 'Roll back on failure'), el('input', { type: 'checkbox', id: 'rollback' }),
  el('label', { for: 'lower' }, 'Allow lowering'), el('input', { type: 'checkbox', id: 'lower' }),
  el('span'), el('button', { type: 'submit', id: 'planbtn' }, 'Show the plan'));
  return [el('h2', {}, 'New rollout'), form, planBox];
}

async function rolloutsPage() {
  const doc = await api('/rollouts?limit=50');
  const rows = doc.rollouts;
  show(el('h1', {}, 'Rollouts'),
    rows.length ? el('table', { id: 'rollouts' }, el('thead', {}, el('tr', {}, ['ID', 'State', 'Target', 'Hosts', 'Created', 'By', 'Message'].map((t) => el('th', {}, t)))),
      el('tbody', {}, rows.map((r) => el('tr', {}, el('td', {}, el('a', { href: '#/rollout/' + r.id }, '#' + r.id)),
        el('td', {}, r.state), el('td', { class: 'num' }, r.target ? fmt.int(r.target) : 'desired'),
        el('td', { class: 'num' }, r.steps.length), el('td', {}, fmt.time(r.created)), el('td', {}, r.created_by || ''),
        el('td', { class: 'wrap' }, r.message || '')))))
      : el('p', { class: 'muted' }, 'No rollouts yet.'),
    session.may.start_rollouts ? rolloutForm() : null);
  status('Rollouts as of ' + new Date().toLocaleTimeString());
}

function stepsTable(r) {
  return el('table', { id: 'steps' }, el('thead', {}, el('tr', {}, ['Host', 'Wave', 'State', 'Live before', 'Live after', 'Boot before', 'Boot after', 'Message'].map((t) => el('th', {}, t)))),
    el('tbody', {}, r.steps.map((s) => el('tr', { 'data-host': s.host }, el('td', {}, s.host), el('td', {}, s.wave),
      el('td', { class: s.state === 'failed' ? 'bad' : s.state === 'done' ? 'ok' : null }, s.state),
      el('td', { class: 'num' }, fmt.int(s.runtime_before)), el('td', { class: 'num' }, fmt.int(s.runtime_after)),
      el('td', { class: 'num' }, fmt.int(s.persisted_before)), el('td', { class: 'num' }, fmt.int(s.persisted_after)),
      el('td', { class: 'wrap' }, s.message || '')))));
}

async function rolloutPage(id) {
  const r = await api('/rollouts/' + encodeURIComponent(id));
  const done = r.steps.filter((s) => s.state === 'done').length;
  const act = (verb, label, cls) => el('button', { type: 'button', id: verb, class: cls,
    onclick: async () => {
      try { await api(`/rollouts/${r.id}/${verb}`, { method: 'POST' }); await rolloutPage(id); } catch (err) { failure(err); }
    } }, label);
  const may = session.may.control_rollouts;
  const buttons = may ? [
    r.state === 'running' ? act('pause', 'Pause') : null,
    r.state === 'paused' ? act('resume', 'Resume', 'primary') : null,
    ['running', 'paused'].includes(r.state) ? act('abort', 'Abort', 'danger') : null,
    ['completed', 'paused', 'aborted'].includes(r.state) ? act('rollback', 'Roll back', 'danger') : null,
  ].filter(Boolean) : [];
  const pct = r.steps.length ? done / r.steps.length : 0;
  show(el('h1', {}, 'Rollout #' + r.id + ' ', el('span', { id: 'state' }, r.state)),
    kv([
      ['Target', r.target ? fmt.int(r.target) : 'each host\'s desired value'],
      ['Progress', el('span', {}, el('span', { class: 'bar' }, el('span', { style: null, id: 'bar' })), ` ${done} of ${r.steps.length} done, wave ${r.waves ? r.wave + 1 : 0} of ${r.waves}`)],
      ['Created', fmt.time(r.created) + ' by ' + (r.created_by || '?')],
      ['Finished', fmt.time(r.finished)],
      ['Message', r.message || '-'],
    ]),
    el('p', { id: 'actions' }, buttons.flatMap((b) => [b, ' '])),
    stepsTable(r));
  document.getElementById('bar').style.width = (100 * pct).toFixed(1) + '%';
  status('Rollout as of ' + new Date().toLocaleTimeString());
  if (['running', 'rolling-back', 'paused'].includes(r.state))
    timer = setTimeout(() => rolloutPage(id).catch(failure), r.state === 'paused' ? 3000 : 1000);
}

async function trendPage() {
  const doc = await api('/trend?since=30d&series=8');
  const f = doc.fleet;
  show(el('h1', {}, 'Capacity review since ' + fmt.time(doc.since)),
    kv([
      ['Hosts', fmt.int(f.hosts)],
      ['Act now', fmt.int(f.act)],
      ['Watch', fmt.int(f.watch)],
      ['Highest peak utilisation', fmt.pct(f.peak_utilization)],
      ['First exhaustion', f.exhaustion ? fmt.time(f.exhaustion) + ' (' + f.exhaustion_host + ')' : 'not within the horizon'],
      ['Recommendations', `peak + ${doc.headroom_percent}%, a power of two`],
    ]),
    el('h2', {}, 'Fleet utilisation per day: highest and mean'),
    chart([{ points: pointsOf(doc.fleet_days, 'max_utilization'), class: 'line' },
      { points: pointsOf(doc.fleet_days, 'mean_utilization'), class: 'mean' }], { ymax: 1, yfmt: fmt.pct, label: 'fleet utilisation' }),
    el('h2', {}, 'Hosts, most urgent first'),
    el('table', { id: 'trend' }, el('thead', {}, el('tr', {}, ['Host', 'Verdict', 'Limit', 'Peak', 'p95', 'Peak util', 'Growth/day', 'Exhaustion', 'Errors', 'Recommended'].map((t, i) => el('th', { class: i > 1 && i !== 7 ? 'num' : null }, t)))),
      el('tbody', {}, doc.hosts.slice(0, 200).map((h) => el('tr', {},
        el('td', {}, el('a', { href: '#/host/' + encodeURIComponent(h.host) }, h.host)),
        el('td', { class: h.verdict === 'act' ? 'bad' : h.verdict === 'watch' ? 'warn' : null }, h.verdict),
        el('td', { class: 'num' }, fmt.int(h.limit)), el('td', { class: 'num' }, fmt.int(h.peak)), el('td', { class: 'num' }, fmt.int(h.p95)),
        el('td', { class: 'num' }, fmt.pct(h.peak_utilization)),
        el('td', { class: 'num' }, h.growth_per_day === null ? '-' : Math.round(h.growth_per_day)),
        el('td', {}, fmt.time(h.exhaustion)), el('td', { class: 'num' }, h.errors), el('td', { class: 'num' }, fmt.int(h.recommended)))))),
    doc.hosts.filter((h) => h.daily).map((h) => [el('h2', {}, h.host + ': daily peak and limit'),
      chart([{ points: pointsOf(h.daily, 'peak'), class: 'line' }, { points: pointsOf(h.daily, 'limit'), class: 'limit' }], { label: h.host })]));
  status('Capacity as of ' + new Date().toLocaleTimeString());
}

// ---------------------------------------------------------------- router

const routes = [
  [/^#\/fleet$/, () => fleetPage()],
  [/^#\/host\/(.+)$/, (m) => hostPage(decodeURIComponent(m[1]))],
  [/^#\/errors$/, () => errorsPage()],
  [/^#\/alerts$/, () => alertsPage()],
  [/^#\/rollouts$/, () => rolloutsPage()],
  [/^#\/rollout\/(\d+)$/, (m) => rolloutPage(m[1])],
  [/^#\/trend$/, () => trendPage()],
];

function route() {
  if (timer) { clearTimeout(timer); timer = null; }
  windowed = null;
  if (!session) return;
  for (const a of document.querySelectorAll('nav a'))
    a.classList.toggle('here', location.hash.startsWith(a.getAttribute('href')));
  for (const [re, page] of routes) {
    const m = location.hash.match(re);
    if (m) {
      page(m).catch(failure);
      return;
    }
  }
  location.hash = '#/fleet';
}

// the one windowed table on the page follows the scroll (sortableTable)
let windowed = null;
let queued = false;
function follow() {
  if (queued || !windowed) return;
  queued = true;
  requestAnimationFrame(() => { queued = false; if (windowed) windowed(false); });
}
addEventListener('scroll', follow, { passive: true });
addEventListener('resize', follow, { passive: true });
addEventListener('beforeprint', () => windowed && windowed(true));
addEventListener('afterprint', () => windowed && windowed(false));

window.addEventListener('hashchange', route);
window.addEventListener('DOMContentLoaded', () => {
  document.getElementById('logout').addEventListener('click', () => {
    sessionStorage.removeItem(TOKEN_KEY);
    session = null;
    login();
  });
  if (!sessionStorage.getItem(TOKEN_KEY)) return login();
  start().catch(failure);
});
