// The dialogs that change an application. Each says what will happen
// before it does anything; the upgrade shows the pre-flight findings first.
import { h, replace, toast, errorText, dialog, field, confirmDialog, fmtTime } from './ui.js';
import { RUNTIMES, codeLocation } from './common.js';

function current(ctx) {
  return ctx.state.detail;
}

// restoreChooser is the restore configuration: a radio group and, for a
// custom snapshot, a select. Returns {el, value(), onChange(f)}.
function restoreChooser(ctx, preset, legend = 'Restore configuration') {
  const snaps = (ctx.state.snapshots || []).filter((s) => s.SnapshotStatus === 'READY')
    .sort((a, b) => (b.SnapshotCreationTimestamp || 0) - (a.SnapshotCreationTimestamp || 0));
  const id = 'r' + Math.random().toString(36).slice(2);
  const listeners = [];
  const fire = () => listeners.forEach((f) => f());
  const radio = (value, label, checked) => {
    const r = h('input', { type: 'radio', name: id, value, id: `${id}-${value}`, checked, onchange: () => { sel.disabled = value !== 'RESTORE_FROM_CUSTOM_SNAPSHOT'; fire(); } });
    return h('div', { class: 'check' }, r, h('label', { for: r.id }, label));
  };
  const sel = h('select', { 'aria-label': 'Snapshot to restore', disabled: !preset, onchange: fire },
    snaps.map((s) => h('option', { value: s.SnapshotName, selected: s.SnapshotName === preset },
      `${s.SnapshotName} (version ${s.ApplicationVersionId}, ${s.RuntimeEnvironment || ''}, ${fmtTime(s.SnapshotCreationTimestamp)})`)));
  const el = h('fieldset', {},
    h('legend', {}, legend),
    radio('RESTORE_FROM_LATEST_SNAPSHOT', 'From the latest snapshot', !preset),
    snaps.length ? radio('RESTORE_FROM_CUSTOM_SNAPSHOT', 'From a snapshot I choose', !!preset) : null,
    h('div', { class: 'indent' }, snaps.length ? sel : h('small', {}, 'no snapshot is READY')),
    radio('SKIP_RESTORE_FROM_SNAPSHOT', 'Without state (skip restore)', false));
  return {
    el,
    value() {
      const type = el.querySelector(`input[name="${id}"]:checked`).value;
      return type === 'RESTORE_FROM_CUSTOM_SNAPSHOT' ? { ApplicationRestoreType: type, SnapshotName: sel.value } : { ApplicationRestoreType: type };
    },
    describe() {
      const v = this.value();
      if (v.ApplicationRestoreType === 'SKIP_RESTORE_FROM_SNAPSHOT') return 'without any state (the job starts from scratch)';
      if (v.ApplicationRestoreType === 'RESTORE_FROM_CUSTOM_SNAPSHOT') return `from snapshot ${v.SnapshotName}`;
      return snaps.length ? `from the latest snapshot (${snaps[0].SnapshotName})` : 'from the latest snapshot (there is none yet: without state)';
    },
    onChange(f) { listeners.push(f); },
  };
}

async function act(ctx, close, msgEl, what, fn) {
  try {
    const r = await fn();
    close();
    toast(`${what} started.`);
    ctx.refresh();
    return r;
  } catch (e) {
    replace(msgEl, errorText(e));
  }
}

export function startDialog(ctx, snapshot) {
  const d = current(ctx);
  const restore = restoreChooser(ctx, snapshot);
  const allow = h('input', { type: 'checkbox', id: 'st-allow' });
  const text = h('p', { class: 'what' });
  const say = () => replace(text, `This starts ${ctx.name} on ${d.RuntimeEnvironment} (version ${d.ApplicationVersionId}) ${restore.describe()}. The status goes STARTING, then RUNNING once the job runs every task and completes a checkpoint.`);
  restore.onChange(say);
  say();
  const msg = h('p', { role: 'alert', class: 'error' });
  dialog(`Start ${ctx.name}`, (close) => h('form', {
    onsubmit: (ev) => {
      ev.preventDefault();
      act(ctx, close, msg, 'Start', () => ctx.api.call('StartApplication', {
        ApplicationName: ctx.name,
        RunConfiguration: { ApplicationRestoreConfiguration: restore.value(), FlinkRunConfiguration: { AllowNonRestoredState: allow.checked } },
      }));
    },
  }, restore.el,
  h('div', { class: 'check' }, allow, h('label', { for: 'st-allow' }, 'Allow non-restored state (skip snapshot state no operator takes)')),
  text, msg,
  h('div', { class: 'buttons' }, h('button', { type: 'submit', class: 'primary' }, 'Start application'), h('button', { type: 'button', onclick: close }, 'Cancel'))));
}

export function stopDialog(ctx) {
  const d = current(ctx);
  const snapshotsOn = d.ApplicationConfigurationDescription?.ApplicationSnapshotConfigurationDescription?.SnapshotsEnabled;
  const force = h('input', { type: 'checkbox', id: 'sp-force' });
  const text = h('p', { class: 'what' });
  const say = () => replace(text, force.checked
    ? `This force-stops ${ctx.name} now, without a snapshot: the state since its last snapshot is not kept. The status goes FORCE_STOPPING, then READY.`
    : `This stops ${ctx.name}${snapshotsOn ? ' with a snapshot of its state (a savepoint), so that a later start continues where it stopped' : ' (snapshots are disabled: its state is not kept)'}. The status goes STOPPING, then READY.`);
  force.addEventListener('change', say);
  say();
  const msg = h('p', { role: 'alert', class: 'error' });
  dialog(`Stop ${ctx.name}`, (close) => h('form', {
    onsubmit: (ev) => {
      ev.preventDefault();
      act(ctx, close, msg, 'Stop', () => ctx.api.call('StopApplication', { ApplicationName: ctx.name, Force: force.checked }));
    },
  }, h('div', { class: 'check' }, force, h('label', { for: 'sp-force' }, 'Force stop (no snapshot)')), text, msg,
  h('div', { class: 'buttons' }, h('button', { type: 'submit', class: 'danger' }, 'Stop application'), h('button', { type: 'button', onclick: close }, 'Cancel'))));
}

export async function rollbackDialog(ctx) {
  const d = current(ctx);
  const to = d.ApplicationVersionUpdatedFrom;
  let target = ctx.state.versions.get(to);
  if (!target) {
    try {
      target = (await ctx.api.version(ctx.name, to)).ApplicationVersionDetail;
    } catch { /* described without it */ }
  }
  const snaps = (ctx.state.snapshots || []).filter((s) => s.SnapshotStatus === 'READY' && s.ApplicationVersionId <= to)
    .sort((a, b) => (b.SnapshotCreationTimestamp || 0) - (a.SnapshotCreationTimestamp || 0));
  const from = codeLocation(d), back = target && codeLocation(target);
  const lines = [
    `This rolls ${ctx.name} back from version ${d.ApplicationVersionId} (${d.RuntimeEnvironment}${from ? ', ' + from.key : ''}) ` +
      `to version ${to}${target ? ` (${target.RuntimeEnvironment}${back ? ', ' + back.key : ''})` : ''}.`,
    d.ApplicationStatus === 'RUNNING' || d.ApplicationStatus === 'UPDATING'
      ? `The running job is stopped and version ${to} starts ` +
        (snaps.length ? `from snapshot ${snaps[0].SnapshotName} (taken on version ${snaps[0].ApplicationVersionId}, ${fmtTime(snaps[0].SnapshotCreationTimestamp)}), the newest taken at or before version ${to}. Records processed after that snapshot are processed again.`
          : `from the newest snapshot taken at or before version ${to}.`)
      : '',
    'The status goes ROLLING_BACK, then RUNNING.',
  ].filter(Boolean);
  const msg = h('p', { role: 'alert', class: 'error' });
  dialog(`Roll back ${ctx.name}`, (close) => [
    ...lines.map((l) => h('p', { class: 'what' }, l)), msg,
    h('div', { class: 'buttons' },
      h('button', { type: 'button', class: 'danger', autofocus: true, onclick: () => act(ctx, close, msg, 'Rollback', () => ctx.api.call('RollbackApplication', { ApplicationName: ctx.name, CurrentApplicationVersionId: d.ApplicationVersionId })) }, `Roll back to version ${to}`),
      h('button', { type: 'button', onclick: close }, 'Cancel'))]);
}

export function snapshotDialog(ctx) {
  const now = new Date().toISOString().replace(/[-:]/g, '').replace(/\..*/, '').replace('T', '-');
  const nameIn = h('input', { required: true, value: `console-${now}`, pattern: '[a-zA-Z0-9_.-]+', maxlength: 256 });
  const msg = h('p', { role: 'alert', class: 'error' });
  dialog(`Create a snapshot of ${ctx.name}`, (close) => h('form', {
    onsubmit: (ev) => {
      ev.preventDefault();
      act(ctx, close, msg, 'Snapshot', () => ctx.api.call('CreateApplicationSnapshot', { ApplicationName: ctx.name, SnapshotName: nameIn.value.trim() }));
    },
  }, field('Snapshot name', nameIn),
  h('p', { class: 'what' }, `This takes a savepoint of the running job; the job keeps running. The snapshot is CREATING, then READY.`), msg,
  h('div', { class: 'buttons' }, h('button', { type: 'submit', class: 'primary' }, 'Create snapshot'), h('button', { type: 'button', onclick: close }, 'Cancel'))));
}

export async function deleteSnapshot(ctx, s) {
  const ok = await confirmDialog(`Delete snapshot ${s.SnapshotName}?`,
    `This deletes snapshot ${s.SnapshotName} (version ${s.ApplicationVersionId}) and its savepoint files. A rollback or restore can no longer use it.`, 'Delete snapshot', true);
  if (!ok) return;
  try {
    await ctx.api.call('DeleteApplicationSnapshot', { ApplicationName: ctx.name, SnapshotName: s.SnapshotName, SnapshotCreationTimestamp: s.SnapshotCreationTimestamp });
    toast(`Deleting snapshot ${s.SnapshotName}.`);
    ctx.refresh();
  } catch (e) {
    toast(errorText(e), 'error');
  }
}

export async function rollbackToggle(ctx, input) {
  const d = current(ctx);
  const on = input.checked;
  input.checked = !on; // unchanged until confirmed and done
  const ok = await confirmDialog(`Turn system rollback ${on ? 'on' : 'off'}?`, on
    ? `With system rollback on, an update or start of ${ctx.name} that fails (its job does not run, restarts or never checkpoints within the probation) returns by itself to the version before it, from the snapshot taken before it. This is a new version (${d.ApplicationVersionId + 1}); the running job is not restarted.`
    : `With system rollback off, an update of ${ctx.name} that fails is left RUNNING on the new version without a working job until you roll back, update or stop it. This is a new version (${d.ApplicationVersionId + 1}); the running job is not restarted.`,
  on ? 'Turn on' : 'Turn off');
  if (!ok) return;
  try {
    await ctx.api.call('UpdateApplication', {
      ApplicationName: ctx.name, CurrentApplicationVersionId: d.ApplicationVersionId,
      ApplicationConfigurationUpdate: { ApplicationSystemRollbackConfigurationUpdate: { RollbackEnabledUpdate: on } },
    });
    toast(`System rollback is ${on ? 'on' : 'off'}.`);
    ctx.refresh();
  } catch (e) {
    toast(errorText(e), 'error');
  }
}

function findingsTable(findings) {
  return h('table', { class: 'list findings', 'aria-label': 'Findings' },
    h('thead', {}, h('tr', {}, ['Severity', 'Code', 'Finding'].map((c) => h('th', { scope: 'col' }, c)))),
    h('tbody', {}, findings.map((f) => h('tr', { class: f.severity.toLowerCase() },
      h('td', {}, h('span', { class: `sev ${f.severity.toLowerCase()}` }, f.severity)),
      h('td', { class: 'mono nowrap' }, f.code),
      h('td', {}, f.message,
        f.class ? h('div', { class: 'where mono' }, 'in ', [f.class, f.method].filter(Boolean).join('.')) : null,
        f.hint ? h('div', { class: 'hint' }, 'Hint: ' + f.hint) : null)))));
}

export { findingsTable };

export function upgradeDialog(ctx) {
  const d = current(ctx);
  const code = codeLocation(d) || { bucket: '', key: '' };
  const others = RUNTIMES.filter((r) => r !== d.RuntimeEnvironment);
  const runtime = h('select', {}, RUNTIMES.map((r) => h('option', { value: r, selected: r === (others[0] || d.RuntimeEnvironment) }, r + (r === d.RuntimeEnvironment ? ' (current)' : ''))));
  const bucket = h('input', { value: code.bucket, required: true });
  const key = h('input', { value: code.key, required: true });
  const restore = restoreChooser(ctx, null, 'Restore configuration (the state the new version starts from)');
  const allow = h('input', { type: 'checkbox', id: 'up-allow' });
  const result = h('div', { role: 'region', 'aria-label': 'Pre-flight findings', 'aria-live': 'polite', class: 'preflight' });
  const msg = h('p', { role: 'alert', class: 'error' });
  const checkBtn = h('button', { type: 'submit', class: 'primary' }, 'Check compatibility');
  const upgradeBtn = h('button', { type: 'button', class: 'danger', disabled: true }, 'Upgrade');
  let checked = null; // the request the findings are for
  const request = () => {
    const u = { ApplicationName: ctx.name, CurrentApplicationVersionId: d.ApplicationVersionId, RuntimeEnvironmentUpdate: runtime.value,
      ApplicationConfigurationUpdate: {}, RunConfigurationUpdate: { ApplicationRestoreConfiguration: restore.value(), FlinkRunConfiguration: { AllowNonRestoredState: allow.checked } } };
    if (bucket.value.trim() !== code.bucket || key.value.trim() !== code.key) {
      u.ApplicationConfigurationUpdate.ApplicationCodeConfigurationUpdate = { CodeContentUpdate: { S3ContentLocationUpdate: { BucketARNUpdate: bucket.value.trim(), FileKeyUpdate: key.value.trim() } } };
    }
    return u;
  };
  const invalidate = () => {
    checked = null;
    upgradeBtn.disabled = true;
    replace(result, h('p', { class: 'muted' }, 'Check compatibility to see the pre-flight findings of this upgrade.'));
  };
  for (const el of [runtime, bucket, key, allow]) el.addEventListener('input', invalidate);
  restore.onChange(invalidate);
  invalidate();

  async function check() {
    replace(msg);
    const req = request();
    checkBtn.disabled = true;
    replace(result, h('p', { class: 'busy' }, `Checking the code and the state against ${req.RuntimeEnvironmentUpdate}… (nothing is stopped or changed)`));
    try {
      const r = await ctx.api.preflight(ctx.name, req);
      checked = req;
      const errors = r.Summary.Errors, warnings = r.Summary.Warnings;
      const rollbackOn = d.ApplicationConfigurationDescription?.ApplicationSystemRollbackConfigurationDescription?.RollbackEnabled;
      const verdict = r.Blocked
        ? h('p', { class: 'verdict bad' }, `The pre-flight refuses this upgrade: ${errors} error(s), ${warnings} warning(s). Nothing was changed; ${ctx.name} keeps ${d.ApplicationStatus === 'RUNNING' ? 'running' : 'its configuration'}. Fix the code or choose another target.`)
        : h('p', { class: 'verdict ok' }, !r.Checked ? 'This change does not touch the runtime or the code: there is nothing to check.'
          : `No errors (${warnings} warning(s)${r.CompatCheck === 'warn' && errors ? `, ${errors} error(s) let through by the flinkplane:compat-check=warn tag` : ''}). Ready to upgrade.`);
      const what = d.ApplicationStatus === 'RUNNING'
        ? `Upgrade stops the running job with a snapshot, starts version ${d.ApplicationVersionId + 1} on ${req.RuntimeEnvironmentUpdate} with ${key.value.trim()} ${restore.describe().replace(/^from the latest snapshot.*/, 'from that snapshot')}, and watches it through its probation. ` +
          (rollbackOn ? `If it fails, system rollback returns to version ${d.ApplicationVersionId} by itself.` : 'System rollback is off: if it fails, the application stays on the new version until you roll back.')
        : `Upgrade makes version ${d.ApplicationVersionId + 1} (${req.RuntimeEnvironmentUpdate}, ${key.value.trim()}); the application is READY and runs it at its next start.`;
      replace(result, verdict, r.CompatibilityFindings.length ? findingsTable(r.CompatibilityFindings) : null,
        r.Blocked ? null : h('p', { class: 'what' }, what));
      upgradeBtn.disabled = r.Blocked;
      if (!r.Blocked) upgradeBtn.focus();
    } catch (e) {
      replace(result);
      replace(msg, errorText(e));
    } finally {
      checkBtn.disabled = false;
    }
  }

  upgradeBtn.addEventListener('click', async () => {
    if (!checked) return;
    upgradeBtn.disabled = true;
    try {
      const r = await ctx.api.call('UpdateApplication', checked);
      dlg.close();
      ctx.refresh();
      if (r.OperationId) toast(`Upgrade to ${checked.RuntimeEnvironmentUpdate} started: operation ${r.OperationId}.`);
    } catch (e) {
      replace(msg, errorText(e));
      upgradeBtn.disabled = false;
    }
  });

  const dlg = dialog(`Upgrade ${ctx.name}`, (close) => h('form', {
    class: 'wide',
    onsubmit: (ev) => { ev.preventDefault(); check(); },
  },
  h('p', {}, `Now: ${d.RuntimeEnvironment}, ${code.key} (version ${d.ApplicationVersionId}, ${d.ApplicationStatus}).`),
  field('Target runtime', runtime),
  field('Code: S3 bucket ARN', bucket),
  field('Code: object key', key, 'The application\'s JAR built for the target runtime.'),
  restore.el,
  h('div', { class: 'check' }, allow, h('label', { for: 'up-allow' }, 'Allow non-restored state')),
  result, msg,
  h('div', { class: 'buttons' }, checkBtn, upgradeBtn, h('button', { type: 'button', onclick: close }, 'Cancel'))));
}
