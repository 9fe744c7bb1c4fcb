// The console's only way to the service: the same public APIs every client
// uses, on the console's own origin. kinesisanalyticsv2 (AWS JSON 1.1,
// POST /), flinkplane's extension endpoints (/flinkplane/v1/...) and the
// CloudWatch-compatible API (AWS JSON 1.0) for the charts. With
// --auth sigv4 every call is signed (sigv4.js) with the key pair kept in
// this tab's sessionStorage.
import { sign } from './sigv4.js';

const TARGET = 'KinesisAnalytics_20180523.';
const CW_TARGET = 'GraniteServiceVersion20100801.';
const CREDS_KEY = 'flinkplane.console.credentials';

/** APIError is an error the service answered: its AWS type and message. */
export class APIError extends Error {
  constructor(status, type, message) {
    super(message || type);
    this.status = status;
    this.type = type || `HTTP ${status}`;
  }
  /** auth is true for a refused signature or key. */
  get auth() {
    return this.status === 403;
  }
}

export class API {
  constructor(config) {
    this.auth = config.auth || 'none';
    this.region = config.region || 'us-east-1';
    this.base = new URL('/', location.href);
    try {
      this.creds = JSON.parse(sessionStorage.getItem(CREDS_KEY) || 'null');
    } catch {
      this.creds = null;
    }
  }

  /** signedIn: requests can be made (no auth needed, or a key pair is kept). */
  get signedIn() {
    return this.auth !== 'sigv4' || !!this.creds;
  }

  signIn(creds) {
    this.creds = creds;
    sessionStorage.setItem(CREDS_KEY, JSON.stringify(creds));
  }

  signOut() {
    this.creds = null;
    sessionStorage.removeItem(CREDS_KEY);
  }

  async request(method, path, { body = '', headers = {}, service = 'kinesisanalytics' } = {}) {
    const url = new URL(path, this.base);
    if (this.auth === 'sigv4') {
      if (!this.creds) throw new APIError(403, 'MissingAuthenticationTokenException', 'Sign in with an access key pair.');
      await sign({ method, url, headers, body, service, region: this.region, creds: this.creds });
    }
    let resp;
    try {
      resp = await fetch(url, { method, headers, body: method === 'GET' ? undefined : body, credentials: 'omit', cache: 'no-store' });
    } catch (e) {
      throw new APIError(0, 'NetworkError', `The server did not answer (${e.message}).`);
    }
    const text = await resp.text();
    if (!resp.ok) {
      let type = '', message = text;
      try {
        const e = JSON.parse(text);
        type = e.__type || '';
        message = e.message || e.Message || text;
      } catch { /* not JSON */ }
      type = type.replace(/^.*#/, '');
      throw new APIError(resp.status, type, message);
    }
    return text;
  }

  /** call runs a kinesisanalyticsv2 operation and returns its JSON answer. */
  async call(op, input = {}) {
    const text = await this.request('POST', '/', {
      body: JSON.stringify(input),
      headers: { 'Content-Type': 'application/x-amz-json-1.1', 'X-Amz-Target': TARGET + op },
    });
    return text ? JSON.parse(text) : {};
  }

  /** ext calls a flinkplane extension endpoint (path after /flinkplane/v1/). */
  async ext(path, { method = 'GET', input, text = false } = {}) {
    const opts = {};
    if (input !== undefined) {
      opts.body = JSON.stringify(input);
      opts.headers = { 'Content-Type': 'application/x-amz-json-1.1' };
    }
    const out = await this.request(method, '/flinkplane/v1/' + path, opts);
    return text ? out : JSON.parse(out);
  }

  /** metrics runs CloudWatch GetMetricData (AWS JSON 1.0, signing name monitoring). */
  async metrics(input) {
    const text = await this.request('POST', '/', {
      body: JSON.stringify(input),
      headers: { 'Content-Type': 'application/x-amz-json-1.0', 'X-Amz-Target': CW_TARGET + 'GetMetricData' },
      service: 'monitoring',
    });
    return JSON.parse(text);
  }

  // The calls the console makes, by name.
  list() { return this.call('ListApplications', { Limit: 50 }); }
  describe(name) { return this.call('DescribeApplication', { ApplicationName: name }); }
  versions(name) { return this.call('ListApplicationVersions', { ApplicationName: name, Limit: 50 }); }
  version(name, id) { return this.call('DescribeApplicationVersion', { ApplicationName: name, ApplicationVersionId: id }); }
  operations(name) { return this.call('ListApplicationOperations', { ApplicationName: name, Limit: 50 }); }
  operation(name, id) { return this.call('DescribeApplicationOperation', { ApplicationName: name, OperationId: id }); }
  snapshots(name) { return this.call('ListApplicationSnapshots', { ApplicationName: name, Limit: 50 }); }
  health(name) { return this.ext(`applications/${encodeURIComponent(name)}/health`); }
  logs(name) { return this.ext(`applications/${encodeURIComponent(name)}/logs`); }
  readLog(name, file, cluster, tail) {
    const q = new URLSearchParams();
    if (cluster) q.set('cluster', cluster);
    if (tail) q.set('tail', String(tail));
    return this.ext(`applications/${encodeURIComponent(name)}/logs/${encodeURIComponent(file)}?${q}`, { text: true });
  }
  preflight(name, update) {
    return this.ext(`applications/${encodeURIComponent(name)}/preflight`, { method: 'POST', input: update });
  }
}
