// One operation: what it did, how it ended, its findings, the rollback it
// led to (or the failure it rolled back), and the log lines behind a
// failure.
import { h, replace, badge, fmtTime, errorText } from './ui.js';
import { poller } from './common.js';
import { findingsTable } from './actions.js';

// Lines that say what went wrong: WARN and ERROR lines of log4j's layout,
// INFO lines that report a failure (Flink logs a task or job switching to
// FAILED at INFO), and the stack traces under them.
const LEVEL = /^\d{4}-\d\d-\d\d[ T]\d\d:\d\d:\d\d[,.]\d+\s+(\w+)/;
const FAILURE = /FAILED|FAILING|Exception|Error:/;

/** failureLines picks the lines behind a failure out of a log, at most max (the last ones). */
export function failureLines(text, max = 80) {
  const out = [];
  let keep = false, under = 0, cut = 0;
  const flush = () => { if (cut) out.push(`\t… ${cut} more line(s)`); cut = 0; };
  for (const line of text.split('\n')) {
    const m = LEVEL.exec(line);
    if (m) {
      flush();
      keep = m[1] === 'ERROR' || m[1] === 'WARN' || FAILURE.test(line);
      under = 0;
    }
    if (!keep || !line.trim()) continue;
    if (!m && ++under > 12) { cut++; continue; } // a long stack trace: its head
    out.push(line);
  }
  flush();
  return out.slice(-max);
}

export function operationView(ctx, name, id) {
  const { api, main } = ctx;
  document.title = `Operation ${id} · ${name} · flinkplane`;
  const body = h('div');
  const logs = h('div');
  const logSection = h('section', { 'aria-labelledby': 's-logs', hidden: true }, h('h2', { id: 's-logs' }, 'Log lines behind it'), logs);
  replace(main,
    h('nav', { 'aria-label': 'Breadcrumb', class: 'crumbs' },
      h('a', { href: '#/' }, 'Applications'), ' / ', h('a', { href: `#/applications/${encodeURIComponent(name)}` }, name), ' / operation ', id),
    body,
    logSection);
  const link = (op, text) => h('a', { href: `#/applications/${encodeURIComponent(name)}/operations/${op}` }, text || op);
  let last = '', logsFor = '';

  async function refresh() {
    let d, ops;
    try {
      [d, ops] = await Promise.all([
        api.operation(name, id).then((r) => r.ApplicationOperationInfoDetails),
        api.operations(name).then((r) => r.ApplicationOperationInfoList || []),
      ]);
    } catch (e) {
      if (e.auth) return ctx.onAuthError();
      replace(body, h('p', { role: 'alert', class: 'error' }, errorText(e)));
      return;
    }
    // The failed operation this one rolled back, if it is a rollback.
    let rolledBack = null;
    for (const o of ops.filter((o) => o.OperationStatus === 'FAILED' && o.OperationId !== id && o.StartTime <= d.StartTime + 1)) {
      try {
        const x = (await api.operation(name, o.OperationId)).ApplicationOperationInfoDetails;
        if (x.OperationFailureDetails?.RollbackOperationId === id) { rolledBack = o.OperationId; break; }
      } catch { /* skip */ }
    }
    const key = JSON.stringify([d, rolledBack]);
    if (key === last) return;
    last = key;
    const f = d.OperationFailureDetails || {};
    const err = f.ErrorInfo?.ErrorString;
    const vc = d.ApplicationVersionChangeDetails;
    const findings = d.FlinkplaneCompatibilityFindings || [];
    replace(body,
      h('div', { class: 'titlebar left' }, h('h1', {}, d.Operation), badge(d.OperationStatus, 'Operation status')),
      h('dl', { class: 'facts' },
        h('dt', {}, 'Operation id'), h('dd', { class: 'mono' }, id),
        h('dt', {}, 'Started'), h('dd', {}, fmtTime(d.StartTime)),
        h('dt', {}, 'Ended'), h('dd', {}, d.EndTime ? fmtTime(d.EndTime) : 'in progress'),
        vc ? [h('dt', {}, 'Version'), h('dd', {}, `${vc.ApplicationVersionUpdatedFrom} → ${vc.ApplicationVersionUpdatedTo}`)] : null,
        d.FlinkplaneSystemOperation ? [h('dt', {}, 'Started by'), h('dd', {}, 'the service (a system operation)')] : null,
        d.FlinkplaneCause ? [h('dt', {}, 'Cause'), h('dd', {}, d.FlinkplaneCause)] : null,
        f.RollbackOperationId ? [h('dt', {}, 'Rolled back by'), h('dd', {}, link(f.RollbackOperationId, `the rollback operation ${f.RollbackOperationId}`))] : null,
        rolledBack ? [h('dt', {}, 'Rolls back'), h('dd', {}, link(rolledBack, `the failed operation ${rolledBack}`))] : null),
      err ? h('section', { 'aria-labelledby': 's-fail' }, h('h2', { id: 's-fail' }, 'Failure'), h('p', { class: 'op-error' }, err)) : null,
      findings.length ? h('section', { 'aria-labelledby': 's-find' }, h('h2', { id: 's-find' }, `Compatibility findings (${findings.length})`), findingsTable(findings)) : null);
    if (d.OperationStatus !== 'IN_PROGRESS' && logsFor !== id) {
      logsFor = id;
      showLogs(d, err || '');
    }
  }

  async function showLogs(d, err) {
    if (d.OperationStatus !== 'FAILED') return; // the section stays hidden
    logSection.hidden = false;
    replace(logs, h('p', { class: 'busy' }, 'Reading the logs…'));
    let files;
    try {
      files = (await api.logs(name)).LogFiles || [];
    } catch (e) {
      replace(logs, h('p', { class: 'error' }, errorText(e)));
      return;
    }
    // The cluster the failure names, else the newest cluster that wrote
    // during the operation.
    const named = /--cluster (\S+)/.exec(err);
    let cluster = named ? named[1].replace(/[.,;]$/, '') : null;
    if (!cluster) {
      const during = files.filter((x) => Date.parse(x.LastModified) / 1000 >= d.StartTime - 1);
      cluster = (during[0] || files[0] || {}).ClusterId;
    }
    const mine = files.filter((x) => x.ClusterId === cluster && /\.log$/.test(x.FileName));
    if (!cluster || !mine.length) {
      replace(logs, h('p', { class: 'muted' }, 'No log of the operation\'s cluster is kept (a pre-flight refusal runs no cluster: its findings are above).'));
      return;
    }
    const parts = [];
    for (const file of mine.sort((a, b) => (a.FileName === 'jobmanager.log' ? -1 : b.FileName === 'jobmanager.log' ? 1 : a.FileName < b.FileName ? -1 : 1)).slice(0, 3)) {
      try {
        const text = await api.readLog(name, file.FileName, cluster, 3000);
        const lines = failureLines(text);
        if (lines.length) parts.push(h('h3', {}, `${file.FileName} of cluster ${cluster} (${file.RuntimeEnvironment || ''})`), h('pre', { class: 'log', tabindex: 0, 'aria-label': `Warnings and errors in ${file.FileName}` }, lines.join('\n')));
      } catch { /* skip the file */ }
    }
    replace(logs, parts.length ? parts : h('p', { class: 'muted' }, `No WARN or ERROR line in the logs of cluster ${cluster}.`),
      h('p', { class: 'muted' }, `All of them: flinkplane logs --application-name ${name} --cluster ${cluster}`));
  }
  return poller(refresh, 3000);
}
