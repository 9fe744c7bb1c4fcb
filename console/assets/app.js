// The console's entry point: configuration, sign-in, routing (#/...).
import { API } from './api.js';
import { h, replace, toast, errorText } from './ui.js';
import { listView } from './list.js';
import { applicationView } from './application.js';
import { operationView } from './operation.js';

const main = document.getElementById('main');
let api;
let stopView = () => {};

async function boot() {
  let config = { auth: 'none', region: 'us-east-1' };
  try {
    const resp = await fetch('config.json', { cache: 'no-store', credentials: 'omit' });
    config = await resp.json();
  } catch (e) {
    toast(`Cannot read the console configuration: ${e.message}`, 'error');
  }
  api = new API(config);
  window.addEventListener('hashchange', route);
  route();
}

function sessionBar() {
  const el = document.getElementById('session');
  if (api.auth !== 'sigv4') {
    replace(el, h('span', { class: 'muted' }, 'no authentication (--auth none)'));
    return;
  }
  if (!api.creds) {
    replace(el);
    return;
  }
  replace(el,
    h('span', {}, `Signed in with ${api.creds.accessKeyId} (${api.region})`),
    h('button', { type: 'button', class: 'link', onclick: () => { api.signOut(); route(); } }, 'Sign out'));
}

function signInView() {
  const akid = h('input', { name: 'accessKeyId', autocomplete: 'username', required: true, spellcheck: 'false' });
  const secret = h('input', { name: 'secretAccessKey', type: 'password', autocomplete: 'current-password', required: true });
  const token = h('input', { name: 'sessionToken', autocomplete: 'off' });
  const msg = h('p', { role: 'alert', class: 'error' });
  const form = h('form', {
    class: 'card narrow', 'aria-labelledby': 'signin-t',
    onsubmit: async (ev) => {
      ev.preventDefault();
      api.signIn({ accessKeyId: akid.value.trim(), secretAccessKey: secret.value, sessionToken: token.value.trim() || undefined });
      try {
        await api.list(); // proves the key pair before going on
        route();
      } catch (e) {
        api.signOut();
        replace(msg, errorText(e));
      }
    },
  },
  h('h1', { id: 'signin-t' }, 'Sign in'),
  h('p', {}, `This server verifies AWS Signature Version 4 (--auth sigv4). Enter an access key pair it knows: the console signs each call with it in this tab (region ${api.region}); the secret is kept in this tab's session storage only and is never sent.`),
  h('div', { class: 'field' }, h('label', { for: 'akid' }, 'Access key ID'), Object.assign(akid, { id: 'akid' })),
  h('div', { class: 'field' }, h('label', { for: 'secret' }, 'Secret access key'), Object.assign(secret, { id: 'secret' })),
  h('div', { class: 'field' }, h('label', { for: 'token' }, 'Session token (optional)'), Object.assign(token, { id: 'token' })),
  msg,
  h('div', { class: 'buttons' }, h('button', { type: 'submit', class: 'primary' }, 'Sign in')));
  replace(main, form);
  akid.focus();
}

function route() {
  stopView();
  stopView = () => {};
  sessionBar();
  if (!api.signedIn) {
    signInView();
    return;
  }
  const parts = location.hash.replace(/^#\/?/, '').split('/').map(decodeURIComponent);
  const ctx = {
    api,
    main,
    onAuthError: () => { api.signOut(); route(); },
  };
  let view;
  if (parts[0] === 'applications' && parts[1] && parts[2] === 'operations' && parts[3]) {
    view = operationView(ctx, parts[1], parts[3]);
  } else if (parts[0] === 'applications' && parts[1]) {
    view = applicationView(ctx, parts[1]);
  } else {
    view = listView(ctx);
  }
  stopView = view || (() => {});
  main.focus({ preventScroll: true });
}

// The skip link moves the focus without touching the route (the hash).
document.querySelector('.skip').addEventListener('click', (ev) => {
  ev.preventDefault();
  main.focus();
});

boot();
