// The applications list: name, status, runtime, version, health at a
// glance, with Create and Delete.
import { h, replace, badge, toast, errorText, dialog, field, confirmDialog } from './ui.js';
import { RUNTIMES, poller } from './common.js';

export function listView(ctx) {
  const { api, main } = ctx;
  document.title = 'Applications · flinkplane';
  const tbody = h('tbody');
  const status = h('p', { class: 'muted', role: 'status' });
  replace(main,
    h('div', { class: 'titlebar' },
      h('h1', {}, 'Applications'),
      h('button', { type: 'button', class: 'primary', onclick: () => createDialog(ctx, refresh) }, 'Create application…')),
    h('table', { class: 'list', 'aria-label': 'Applications' },
      h('thead', {}, h('tr', {}, ['Name', 'Status', 'Runtime', 'Version', 'Health', 'Actions'].map((c) => h('th', { scope: 'col' }, c)))),
      tbody),
    status);

  let last = '';
  async function refresh() {
    let apps;
    try {
      apps = (await api.list()).ApplicationSummaries || [];
    } catch (e) {
      if (e.auth) return ctx.onAuthError();
      replace(status, errorText(e));
      return;
    }
    const health = await Promise.all(apps.map((a) => api.health(a.ApplicationName).catch(() => null)));
    const key = JSON.stringify([apps, health.map((x) => x && x.Health && [x.Health.status, x.Health.restarts])]);
    if (key === last) return;
    last = key;
    replace(status, apps.length ? '' : 'No applications yet: create one.');
    replace(tbody, apps.map((a, i) => {
      const hs = health[i] && health[i].Health;
      return h('tr', {},
        h('th', { scope: 'row' }, h('a', { href: `#/applications/${encodeURIComponent(a.ApplicationName)}` }, a.ApplicationName)),
        h('td', {}, badge(a.ApplicationStatus)),
        h('td', {}, a.RuntimeEnvironment),
        h('td', {}, String(a.ApplicationVersionId)),
        h('td', {}, hs ? [badge(hs.status), hs.restarts ? ` ${hs.restarts} restart(s)` : ''] : h('span', { class: 'muted' }, '—')),
        h('td', {}, h('button', {
          type: 'button', class: 'small danger', 'aria-label': `Delete ${a.ApplicationName}`,
          onclick: () => deleteApp(ctx, a.ApplicationName, refresh),
        }, 'Delete…')));
    }));
  }
  return poller(refresh, 3000);
}

async function deleteApp(ctx, name, refresh) {
  let d;
  try {
    d = (await ctx.api.describe(name)).ApplicationDetail;
  } catch (e) {
    toast(errorText(e), 'error');
    return;
  }
  const running = d.ApplicationStatus !== 'READY';
  const ok = await confirmDialog(`Delete ${name}?`, [
    `This deletes application ${name}, its ${d.ApplicationVersionId} version(s), its operations and its logs.` +
      (running ? ` It is ${d.ApplicationStatus}: its job is stopped without a snapshot.` : ''),
    'Its snapshots are deleted with it. This cannot be undone.',
  ], 'Delete application', true);
  if (!ok) return;
  try {
    await ctx.api.call('DeleteApplication', { ApplicationName: name, CreateTimestamp: d.CreateTimestamp });
    toast(`Deleting ${name}.`);
    refresh();
  } catch (e) {
    toast(errorText(e), 'error');
  }
}

function createDialog(ctx, refresh) {
  const name = h('input', { required: true, pattern: '[a-zA-Z0-9_.-]+', maxlength: 128, autofocus: true });
  const runtime = h('select', {}, RUNTIMES.map((r) => h('option', { value: r, selected: r === 'FLINK-1_20' }, r)));
  const bucket = h('input', { required: true, placeholder: 'arn:aws:s3:::my-bucket' });
  const key = h('input', { required: true, placeholder: 'my-app-flink-1.20.jar' });
  const props = h('textarea', { rows: 4, placeholder: 'output.path=/tmp/out' });
  const parallelism = h('input', { type: 'number', min: 1, value: 1 });
  const checkpoint = h('input', { type: 'number', min: 1000, value: 60000 });
  const snapshots = h('input', { type: 'checkbox', checked: true });
  const rollback = h('input', { type: 'checkbox' });
  const role = h('input', { value: 'arn:aws:iam::000000000000:role/flink', required: true });
  const msg = h('p', { role: 'alert', class: 'error' });
  dialog('Create application', (close) => h('form', {
    onsubmit: async (ev) => {
      ev.preventDefault();
      const map = {};
      for (const line of props.value.split('\n')) {
        const i = line.indexOf('=');
        if (i > 0) map[line.slice(0, i).trim()] = line.slice(i + 1).trim();
      }
      const input = {
        ApplicationName: name.value.trim(),
        RuntimeEnvironment: runtime.value,
        ServiceExecutionRole: role.value.trim(),
        ApplicationConfiguration: {
          ApplicationCodeConfiguration: { CodeContentType: 'ZIPFILE', CodeContent: { S3ContentLocation: { BucketARN: bucket.value.trim(), FileKey: key.value.trim() } } },
          FlinkApplicationConfiguration: {
            CheckpointConfiguration: { ConfigurationType: 'CUSTOM', CheckpointingEnabled: true, CheckpointInterval: Number(checkpoint.value), MinPauseBetweenCheckpoints: 500 },
            ParallelismConfiguration: { ConfigurationType: 'CUSTOM', Parallelism: Number(parallelism.value), ParallelismPerKPU: 1, AutoScalingEnabled: false },
          },
          ApplicationSnapshotConfiguration: { SnapshotsEnabled: snapshots.checked },
          ApplicationSystemRollbackConfiguration: { RollbackEnabled: rollback.checked },
        },
      };
      if (Object.keys(map).length) {
        input.ApplicationConfiguration.EnvironmentProperties = { PropertyGroups: [{ PropertyGroupId: 'FlinkApplicationProperties', PropertyMap: map }] };
      }
      try {
        await ctx.api.call('CreateApplication', input);
        close();
        toast(`Created ${input.ApplicationName}.`);
        location.hash = `#/applications/${encodeURIComponent(input.ApplicationName)}`;
        refresh();
      } catch (e) {
        replace(msg, errorText(e));
      }
    },
  },
  field('Name', name),
  field('Runtime', runtime),
  field('Code: S3 bucket ARN', bucket, 'A bucket of the server\'s code store (by default a folder of its data directory).'),
  field('Code: object key', key),
  field('Properties (FlinkApplicationProperties, one key=value a line)', props),
  field('Parallelism', parallelism),
  field('Checkpoint interval (ms)', checkpoint),
  h('div', { class: 'check' }, snapshots, h('label', { for: (snapshots.id = 'c-snap') }, 'Snapshots enabled')),
  h('div', { class: 'check' }, rollback, h('label', { for: (rollback.id = 'c-rb') }, 'System rollback enabled')),
  field('Service execution role', role),
  msg,
  h('div', { class: 'buttons' },
    h('button', { type: 'submit', class: 'primary' }, 'Create'),
    h('button', { type: 'button', onclick: close }, 'Cancel'))));
}
