// Small DOM helpers: no framework, plain elements.

/**
 * h creates an element: h('button', {class: 'x', onclick: f}, 'Label').
 * Attributes starting with "on" are listeners; false/null attributes are
 * left out; children may be strings, nodes, arrays or null.
 */
export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === false || v === null || v === undefined) continue;
    if (k.startsWith('on')) el.addEventListener(k.slice(2), v);
    else if (k === 'class') el.className = v;
    else if (k === 'value') el.value = v;
    else if (k === 'checked') el.checked = !!v;
    else el.setAttribute(k, v === true ? '' : String(v));
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const c of children) {
    if (c === null || c === undefined || c === false) continue;
    if (Array.isArray(c)) append(el, c);
    else el.append(c instanceof Node ? c : String(c));
  }
}

/** replace sets the children of el. */
export function replace(el, ...children) {
  el.replaceChildren();
  append(el, children);
}

/** fmtTime formats an AWS timestamp (epoch seconds) as local date and time. */
export function fmtTime(epoch) {
  if (epoch === undefined || epoch === null) return '—';
  const d = new Date(epoch * 1000);
  return d.toLocaleString(undefined, { year: 'numeric', month: 'short', day: 'numeric', hour: '2-digit', minute: '2-digit', second: '2-digit' });
}

/** fmtDuration formats milliseconds as "1h 2m", "3m 4s", "5.2 s" or "120 ms". */
export function fmtDuration(ms) {
  if (ms === undefined || ms === null || isNaN(ms)) return '—';
  if (ms < 1000) return `${Math.round(ms)} ms`;
  const s = ms / 1000;
  if (s < 60) return `${s.toFixed(1)} s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m}m ${Math.floor(s % 60)}s`;
  return `${Math.floor(m / 60)}h ${m % 60}m`;
}

const statusClass = {
  RUNNING: 'ok', READY: 'idle', HEALTHY: 'ok', SUCCESSFUL: 'ok',
  STARTING: 'busy', STOPPING: 'busy', UPDATING: 'busy', ROLLING_BACK: 'busy', AUTOSCALING: 'busy',
  FORCE_STOPPING: 'busy', DELETING: 'busy', MAINTENANCE: 'busy', IN_PROGRESS: 'busy', CREATING: 'busy', DEGRADED: 'warn',
  RESTARTING: 'warn', ROLLED_BACK: 'warn', CANCELLED: 'idle', NO_JOB: 'idle',
  FAILED: 'bad', JOBMANAGER_LOST: 'bad', UNREACHABLE: 'bad', CANCELED: 'idle', FINISHED: 'idle',
};

/** badge shows a status word in its colour (the word itself carries the meaning). */
export function badge(status, label) {
  const s = status || '—';
  return h('span', { class: `badge ${statusClass[s] || 'idle'}`, ...(label ? { 'aria-label': `${label}: ${s}` } : {}) }, s);
}

/** toast announces a message politely (screen readers read the live region). */
export function toast(message, kind = 'info') {
  const el = document.getElementById('toast');
  replace(el, h('p', { class: kind }, message));
  clearTimeout(toast.timer);
  toast.timer = setTimeout(() => replace(el), 8000);
}

/**
 * dialog opens a modal <dialog> (focus is kept inside, Escape closes it)
 * titled title, with body built by build(close) and returns it. The
 * element that had the focus gets it back on close.
 */
export function dialog(title, build) {
  const id = 'dlg-' + Math.random().toString(36).slice(2);
  const opener = document.activeElement;
  const d = h('dialog', { 'aria-labelledby': id + '-t', class: 'modal' });
  const close = () => d.close();
  d.append(h('h2', { id: id + '-t' }, title), ...[].concat(build(close, d)));
  d.addEventListener('close', () => {
    d.remove();
    if (opener && opener.isConnected) opener.focus();
  });
  document.body.append(d);
  d.showModal();
  const first = d.querySelector('[autofocus]') || d.querySelector('input, select, textarea, button:not([disabled])');
  if (first) first.focus();
  return d;
}

/** confirmDialog asks to confirm an action described by text; resolves true or false. */
export function confirmDialog(title, text, action = 'Confirm', danger = false) {
  return new Promise((resolve) => {
    let answered = false;
    const d = dialog(title, (close) => [
      ...[].concat(text).map((t) => (t instanceof Node ? t : h('p', {}, t))),
      h('div', { class: 'buttons' },
        h('button', { type: 'button', class: danger ? 'danger' : 'primary', onclick: () => { answered = true; close(); resolve(true); } }, action),
        h('button', { type: 'button', onclick: close }, 'Cancel')),
    ]);
    d.addEventListener('close', () => { if (!answered) resolve(false); });
  });
}

/** field is a labelled form control. */
export function field(label, control, help) {
  const id = control.id || 'f-' + Math.random().toString(36).slice(2);
  control.id = id;
  const helpEl = help ? h('small', { id: id + '-help' }, help) : null;
  if (helpEl) control.setAttribute('aria-describedby', id + '-help');
  return h('div', { class: 'field' }, h('label', { for: id }, label), control, helpEl);
}

/** errorText is the user-facing text of an error. */
export function errorText(e) {
  if (e && e.type) return `${e.type}: ${e.message}`;
  return String(e && e.message ? e.message : e);
}
