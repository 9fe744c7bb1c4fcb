// The application page: live status, health, charts, configuration,
// snapshots, versions and the operations timeline, with the Actions
// (Start, Stop, Roll back), Configure → Upgrade and Create snapshot.
import { h, replace, badge, fmtTime, fmtDuration, toast, errorText } from './ui.js';
import { poller, codeLocation } from './common.js';
import { lineChart } from './charts.js';
import { startDialog, stopDialog, rollbackDialog, upgradeDialog, snapshotDialog, rollbackToggle, deleteSnapshot } from './actions.js';

const CHARTS = [
  { metric: 'numRestarts', stat: 'Maximum', title: 'numRestarts', fmt: (v) => String(Math.round(v)), integer: true },
  { metric: 'uptime', stat: 'Maximum', title: 'uptime', fmt: (v) => fmtDuration(v) },
  { metric: 'lastCheckpointDuration', stat: 'Average', title: 'lastCheckpointDuration', fmt: (v) => fmtDuration(v) },
  { metric: 'numberOfFailedCheckpoints', stat: 'Maximum', title: 'numberOfFailedCheckpoints', fmt: (v) => String(Math.round(v)), integer: true },
];

export function applicationView(ctx, name) {
  const { api, main } = ctx;
  document.title = `${name} · flinkplane`;
  const el = {
    status: h('span', { role: 'status', 'aria-live': 'polite', 'aria-label': 'Application status' }),
    facts: h('dl', { class: 'facts' }),
    actions: h('div', { class: 'toolbar' }),
    health: h('dl', { class: 'facts' }),
    charts: h('div', { class: 'charts' }),
    config: h('div'),
    snapshots: h('div'),
    versions: h('div'),
    operations: h('ol', { class: 'timeline', 'aria-label': 'Operations, newest first' }),
    error: h('p', { role: 'alert', class: 'error' }),
  };
  const windowSel = h('select', { id: 'chart-window', onchange: () => { state.chartsAt = 0; refreshCharts(); } },
    h('option', { value: 900 }, 'last 15 minutes'), h('option', { value: 3600, selected: true }, 'last hour'),
    h('option', { value: 21600 }, 'last 6 hours'), h('option', { value: 86400 }, 'last 24 hours'));
  replace(main,
    h('nav', { 'aria-label': 'Breadcrumb', class: 'crumbs' }, h('a', { href: '#/' }, 'Applications'), ' / ', name),
    h('div', { class: 'titlebar left' }, h('h1', {}, name), el.status),
    el.error,
    el.facts,
    el.actions,
    h('section', { 'aria-labelledby': 's-health' }, h('h2', { id: 's-health' }, 'Health'), el.health),
    h('section', { 'aria-labelledby': 's-charts' },
      h('div', { class: 'titlebar' }, h('h2', { id: 's-charts' }, 'Metrics'),
        h('label', { for: 'chart-window', class: 'inline' }, 'Window ', windowSel)),
      el.charts),
    h('section', { 'aria-labelledby': 's-ops' }, h('h2', { id: 's-ops' }, 'Operations'), el.operations),
    h('section', { 'aria-labelledby': 's-config' }, h('h2', { id: 's-config' }, 'Configuration'), el.config),
    h('section', { 'aria-labelledby': 's-snaps' }, h('h2', { id: 's-snaps' }, 'Snapshots'), el.snapshots),
    h('section', { 'aria-labelledby': 's-versions' }, h('h2', { id: 's-versions' }, 'Version history'), el.versions));

  const state = { detail: null, snapshots: [], ops: [], opDetails: new Map(), versions: new Map(), keys: {}, chartsAt: 0 };
  // changed reports whether a section's data differ from what it shows.
  const changed = (section, data) => {
    const k = JSON.stringify(data);
    if (state.keys[section] === k) return false;
    state.keys[section] = k;
    return true;
  };
  const actionCtx = { ...ctx, name, state, refresh: () => refresh() };

  async function refresh() {
    let detail, health, ops, snaps;
    try {
      [detail, health, ops, snaps] = await Promise.all([
        api.describe(name).then((r) => r.ApplicationDetail),
        api.health(name).catch(() => null),
        api.operations(name).then((r) => r.ApplicationOperationInfoList || []),
        api.snapshots(name).then((r) => r.SnapshotSummaries || []),
      ]);
    } catch (e) {
      if (e.auth) return ctx.onAuthError();
      replace(el.error, errorText(e));
      return;
    }
    replace(el.error);
    state.detail = detail;
    state.health = health;
    state.snapshots = snaps;
    state.ops = ops.slice().sort((a, b) => b.StartTime - a.StartTime);
    if (changed('status', [detail.ApplicationStatus])) replace(el.status, badge(detail.ApplicationStatus, 'Status'));
    if (changed('facts', [detail.RuntimeEnvironment, detail.ApplicationVersionId, detail.ApplicationVersionUpdatedFrom, detail.ApplicationVersionRolledBackFrom, detail.LastUpdateTimestamp])) renderFacts(detail);
    if (changed('actions', [detail.ApplicationStatus, detail.ApplicationVersionUpdatedFrom, detail.ApplicationVersionId])) renderActions(detail);
    if (changed('health', health)) renderHealth(health);
    if (changed('config', detail.ApplicationConfigurationDescription)) renderConfig(detail);
    if (changed('snaps', [snaps, detail.ApplicationStatus])) renderSnapshots(snaps, detail);
    await refreshVersions(detail);
    await refreshOperations();
    if (Date.now() - state.chartsAt > 30000) refreshCharts();
  }

  function renderFacts(d) {
    const code = codeLocation(d);
    replace(el.facts,
      h('dt', {}, 'Runtime'), h('dd', {}, d.RuntimeEnvironment),
      h('dt', {}, 'Version'), h('dd', {}, String(d.ApplicationVersionId),
        d.ApplicationVersionRolledBackFrom ? ` (rolled back from ${d.ApplicationVersionRolledBackFrom})`
          : d.ApplicationVersionUpdatedFrom ? ` (updated from ${d.ApplicationVersionUpdatedFrom})` : ''),
      h('dt', {}, 'Code'), h('dd', {}, code ? `${code.bucket} / ${code.key}` : '—'),
      h('dt', {}, 'Last updated'), h('dd', {}, fmtTime(d.LastUpdateTimestamp)),
      h('dt', {}, 'ARN'), h('dd', { class: 'mono' }, d.ApplicationARN));
  }

  function renderActions(d) {
    const s = d.ApplicationStatus;
    const btn = (label, enabled, onclick, why) => h('button', { type: 'button', disabled: !enabled, onclick, title: enabled ? null : why }, label);
    replace(el.actions,
      h('div', { role: 'group', 'aria-label': 'Actions', class: 'group' },
        h('span', { class: 'group-label', 'aria-hidden': 'true' }, 'Actions'),
        btn('Start…', s === 'READY', () => startDialog(actionCtx), 'The application is not READY.'),
        btn('Stop…', !['READY', 'DELETING', 'STOPPING', 'FORCE_STOPPING'].includes(s), () => stopDialog(actionCtx), 'The application is not running.'),
        btn('Roll back…', ['RUNNING', 'UPDATING', 'AUTOSCALING'].includes(s) && !!d.ApplicationVersionUpdatedFrom, () => rollbackDialog(actionCtx),
          'Roll back needs a RUNNING or UPDATING application with a previous version.')),
      h('div', { role: 'group', 'aria-label': 'Configure', class: 'group' },
        h('span', { class: 'group-label', 'aria-hidden': 'true' }, 'Configure'),
        btn('Upgrade…', s === 'READY' || s === 'RUNNING', () => upgradeDialog(actionCtx), 'Upgrades need a READY or RUNNING application.')),
      h('div', { role: 'group', 'aria-label': 'Snapshots and dashboard', class: 'group' },
        btn('Create snapshot…', s === 'RUNNING', () => snapshotDialog(actionCtx), 'Snapshots are taken of a RUNNING application.'),
        btn('Open Flink dashboard', s === 'RUNNING', openDashboard, 'The dashboard is there while the application is RUNNING.')));
  }

  async function openDashboard() {
    const w = window.open('', '_blank'); // opened now, on the click, so that no pop-up blocker stops it
    try {
      const r = await api.call('CreateApplicationPresignedUrl', { ApplicationName: name, UrlType: 'FLINK_DASHBOARD_URL', SessionExpirationDurationInSeconds: 1800 });
      if (w) {
        w.opener = null;
        w.location = r.AuthorizedUrl;
      } else {
        toast('The browser blocked the new tab; the dashboard link: ' + r.AuthorizedUrl);
      }
    } catch (e) {
      if (w) w.close();
      toast(errorText(e), 'error');
    }
  }

  function renderHealth(r) {
    const s = r && r.Health;
    if (!s) {
      replace(el.health, h('dt', {}, 'Health'), h('dd', {}, 'Nothing recorded yet (the application has not run since the watch started).'));
      return;
    }
    const ck = s.latestCheckpoint;
    replace(el.health,
      h('dt', {}, 'Health'), h('dd', {}, badge(s.status, 'Health'), ` at ${new Date(s.time).toLocaleTimeString()}`),
      h('dt', {}, 'Job'), h('dd', {}, s.jobId ? `${s.jobState || '—'}${s.allTasksRunning ? ', all tasks running' : ', not all tasks running'} (version ${s.versionId} on ${s.runtime})` : '—'),
      h('dt', {}, 'Restarts'), h('dd', {}, String(s.restarts)),
      h('dt', {}, 'Checkpoints'), h('dd', {}, `${s.completedCheckpoints} completed, ${s.failedCheckpoints} failed`,
        ck ? `; newest ${ck.savepoint ? 'savepoint' : 'checkpoint'} ${ck.id}, ${fmtDuration(ck.duration / 1e6)}` : ''),
      s.cause ? [h('dt', {}, 'Cause'), h('dd', {}, s.cause)] : null,
      r.FailedOperationId ? [h('dt', {}, 'Failed update'), h('dd', {},
        h('a', { href: `#/applications/${encodeURIComponent(name)}/operations/${r.FailedOperationId}` }, r.FailedOperationId),
        ': the update failed without system rollback; roll back, update again or stop.')] : null);
  }

  function renderConfig(d) {
    const c = d.ApplicationConfigurationDescription || {};
    const code = codeLocation(d);
    const flink = c.FlinkApplicationConfigurationDescription || {};
    const ck = flink.CheckpointConfigurationDescription || {};
    const par = flink.ParallelismConfigurationDescription || {};
    const groups = c.EnvironmentPropertyDescriptions?.PropertyGroupDescriptions || [];
    const restore = c.RunConfigurationDescription?.ApplicationRestoreConfigurationDescription;
    const rollbackOn = !!c.ApplicationSystemRollbackConfigurationDescription?.RollbackEnabled;
    const toggle = h('input', {
      type: 'checkbox', role: 'switch', id: 'rollback-switch', checked: rollbackOn,
      disabled: !['READY', 'RUNNING'].includes(d.ApplicationStatus),
      onchange: (ev) => rollbackToggle(actionCtx, ev.target),
    });
    replace(el.config,
      h('div', { class: 'check switch' }, toggle, h('label', { for: 'rollback-switch' }, 'System rollback'),
        h('small', {}, rollbackOn ? ' on: a failed update or start returns to the previous version by itself' : ' off: a failed update is held RUNNING until you roll back')),
      h('dl', { class: 'facts' },
        h('dt', {}, 'Code location'), h('dd', {}, code ? `${code.bucket} / ${code.key}` : '—'),
        h('dt', {}, 'Checkpointing'), h('dd', {}, ck.CheckpointingEnabled === false ? 'off' :
          `${ck.ConfigurationType || ''}: every ${fmtDuration(ck.CheckpointInterval)}, min pause ${fmtDuration(ck.MinPauseBetweenCheckpoints)}`),
        h('dt', {}, 'Parallelism'), h('dd', {}, `${par.Parallelism ?? '—'} (${par.ParallelismPerKPU ?? 1} per KPU${par.AutoScalingEnabled ? ', autoscaling' : ''}); current ${par.CurrentParallelism ?? '—'}`),
        h('dt', {}, 'Snapshots'), h('dd', {}, c.ApplicationSnapshotConfigurationDescription?.SnapshotsEnabled ? 'enabled' : 'disabled'),
        h('dt', {}, 'Restore at start'), h('dd', {}, restore ? restore.ApplicationRestoreType + (restore.SnapshotName ? ` ${restore.SnapshotName}` : '') : '—'),
        h('dt', {}, 'Properties'), h('dd', {}, groups.length ? groups.map((g) => h('div', {},
          h('strong', {}, g.PropertyGroupId), ': ', Object.entries(g.PropertyMap || {}).map(([k, v]) => `${k}=${v}`).join(', '))) : '—')));
  }

  function renderSnapshots(snaps, d) {
    if (!snaps.length) {
      replace(el.snapshots, h('p', { class: 'muted' }, 'No snapshots.'));
      return;
    }
    const sorted = snaps.slice().sort((a, b) => (b.SnapshotCreationTimestamp || 0) - (a.SnapshotCreationTimestamp || 0));
    replace(el.snapshots, h('table', { class: 'list', 'aria-label': 'Snapshots' },
      h('thead', {}, h('tr', {}, ['Name', 'Status', 'Version', 'Runtime', 'Created', 'Restore'].map((c) => h('th', { scope: 'col' }, c)))),
      h('tbody', {}, sorted.map((s) => h('tr', {},
        h('th', { scope: 'row', class: 'mono' }, s.SnapshotName),
        h('td', {}, badge(s.SnapshotStatus)),
        h('td', {}, String(s.ApplicationVersionId)),
        h('td', {}, s.RuntimeEnvironment || '—'),
        h('td', {}, fmtTime(s.SnapshotCreationTimestamp)),
        h('td', {},
          h('button', { type: 'button', class: 'small', disabled: d.ApplicationStatus !== 'READY' || s.SnapshotStatus !== 'READY',
            title: d.ApplicationStatus !== 'READY' ? 'Start from a snapshot when the application is READY.' : null,
            'aria-label': `Start from snapshot ${s.SnapshotName}`, onclick: () => startDialog(actionCtx, s.SnapshotName) }, 'Start from this…'),
          ' ',
          h('button', { type: 'button', class: 'small danger', disabled: s.SnapshotStatus === 'CREATING' || s.SnapshotStatus === 'DELETING',
            'aria-label': `Delete snapshot ${s.SnapshotName}`, onclick: () => deleteSnapshot(actionCtx, s) }, 'Delete…')))))));
  }

  async function refreshVersions(d) {
    if (!changed('versionsHead', [d.ApplicationVersionId, d.ApplicationStatus]) && state.versions.size) return;
    let list;
    try {
      list = ((await api.versions(name)).ApplicationVersionSummaries || []).sort((a, b) => b.ApplicationVersionId - a.ApplicationVersionId);
    } catch (e) {
      replace(el.versions, h('p', { class: 'error' }, errorText(e)));
      return;
    }
    // Versions are immutable: each is described once.
    await Promise.all(list.slice(0, 12).filter((v) => !state.versions.has(v.ApplicationVersionId)).map(async (v) => {
      try {
        const r = await api.version(name, v.ApplicationVersionId);
        state.versions.set(v.ApplicationVersionId, r.ApplicationVersionDetail);
      } catch { /* shown without details */ }
    }));
    replace(el.versions, h('table', { class: 'list', 'aria-label': 'Version history' },
      h('thead', {}, h('tr', {}, ['Version', 'Runtime', 'Code', 'System rollback', 'From', 'Status'].map((c) => h('th', { scope: 'col' }, c)))),
      h('tbody', {}, list.map((v) => {
        const x = state.versions.get(v.ApplicationVersionId);
        const code = x && codeLocation(x);
        return h('tr', { class: v.ApplicationVersionId === d.ApplicationVersionId ? 'current' : null },
          h('th', { scope: 'row' }, String(v.ApplicationVersionId), v.ApplicationVersionId === d.ApplicationVersionId ? ' (current)' : ''),
          h('td', {}, x ? x.RuntimeEnvironment : '—'),
          h('td', { class: 'mono' }, code ? code.key : '—'),
          h('td', {}, x ? (x.ApplicationConfigurationDescription?.ApplicationSystemRollbackConfigurationDescription?.RollbackEnabled ? 'on' : 'off') : '—'),
          h('td', {}, x && x.ApplicationVersionRolledBackFrom ? `rolled back from ${x.ApplicationVersionRolledBackFrom}` :
            x && x.ApplicationVersionUpdatedFrom ? `updated from ${x.ApplicationVersionUpdatedFrom}` : '—'),
          h('td', {}, badge(v.ApplicationStatus)));
      }))));
  }

  async function refreshOperations() {
    // Details of operations that ended are final: described once.
    const todo = state.ops.filter((o) => o.OperationStatus !== 'IN_PROGRESS' && !state.opDetails.has(o.OperationId)).slice(0, 20);
    await Promise.all(todo.map(async (o) => {
      try {
        state.opDetails.set(o.OperationId, (await api.operation(name, o.OperationId)).ApplicationOperationInfoDetails);
      } catch { /* listed without details */ }
    }));
    if (!changed('ops', [state.ops, [...state.opDetails.keys()]])) return;
    const rolledBackBy = new Map();
    for (const [id, d] of state.opDetails) {
      const rb = d.OperationFailureDetails?.RollbackOperationId;
      if (rb) rolledBackBy.set(rb, id);
    }
    const link = (id, text) => h('a', { href: `#/applications/${encodeURIComponent(name)}/operations/${id}` }, text || id);
    if (!state.ops.length) {
      replace(el.operations, h('li', { class: 'muted' }, 'No operations yet.'));
      return;
    }
    replace(el.operations, state.ops.map((o) => {
      const d = state.opDetails.get(o.OperationId);
      const err = d?.OperationFailureDetails?.ErrorInfo?.ErrorString;
      const rb = d?.OperationFailureDetails?.RollbackOperationId;
      const vc = d?.ApplicationVersionChangeDetails;
      return h('li', { class: `op ${o.OperationStatus.toLowerCase()}` },
        h('div', { class: 'op-head' },
          badge(o.OperationStatus), ' ',
          link(o.OperationId, o.Operation),
          d?.FlinkplaneSystemOperation ? h('span', { class: 'tag' }, 'system') : null,
          h('span', { class: 'muted' }, ` ${fmtTime(o.StartTime)}`, o.EndTime ? ` → ${fmtTime(o.EndTime)}` : ' (in progress)'),
          vc ? h('span', { class: 'muted' }, ` · version ${vc.ApplicationVersionUpdatedFrom} → ${vc.ApplicationVersionUpdatedTo}`) : null),
        err ? h('p', { class: 'op-error' }, err) : null,
        d?.FlinkplaneCause ? h('p', { class: 'muted' }, d.FlinkplaneCause) : null,
        rb ? h('p', {}, 'Rolled back by ', link(rb, 'the rollback operation ' + rb)) : null,
        rolledBackBy.has(o.OperationId) ? h('p', {}, 'Rolls back ', link(rolledBackBy.get(o.OperationId), 'the failed operation ' + rolledBackBy.get(o.OperationId))) : null);
    }));
  }

  async function refreshCharts() {
    state.chartsAt = Date.now();
    const span = Number(windowSel.value);
    const end = Math.ceil(Date.now() / 60000) * 60;
    const start = end - span;
    const period = span <= 3600 ? 60 : span <= 21600 ? 300 : 900;
    const dims = [{ Name: 'Application', Value: name }];
    let res;
    try {
      res = await api.metrics({
        StartTime: start, EndTime: end, ScanBy: 'TimestampAscending',
        MetricDataQueries: CHARTS.map((c, i) => ({ Id: `m${i}`, ReturnData: true,
          MetricStat: { Metric: { Namespace: 'AWS/KinesisAnalytics', MetricName: c.metric, Dimensions: dims }, Period: period, Stat: c.stat } })),
      });
    } catch (e) {
      replace(el.charts, h('p', { class: 'error' }, `Metrics: ${errorText(e)}`));
      return;
    }
    const byId = new Map((res.MetricDataResults || []).map((r) => [r.Id, r]));
    replace(el.charts, CHARTS.map((c, i) => {
      const r = byId.get(`m${i}`) || { Timestamps: [], Values: [] };
      const points = (r.Timestamps || []).map((t, j) => ({ t: t * 1000, v: r.Values[j] })).sort((a, b) => a.t - b.t);
      return h('figure', { class: 'chart-box' },
        lineChart({ title: `${c.title} (${c.stat}, ${period / 60}-minute periods)`, points, start: start * 1000, end: end * 1000, fmt: c.fmt, integer: c.integer }),
        h('figcaption', {}, c.title));
    }));
  }

  return poller(refresh, 2000);
}
