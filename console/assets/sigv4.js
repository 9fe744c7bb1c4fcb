// AWS Signature Version 4 in the browser: the console signs each call to
// the API with the access key pair the user signed in with, exactly as the
// AWS SDKs do (docs/console.md). The secret never leaves this tab.
import { sha256 as jsSHA256, hmacSHA256 as jsHMAC } from './sha256.js';

const enc = new TextEncoder();
const subtle = globalThis.crypto && globalThis.crypto.subtle;

/** usesWebCrypto reports whether signing uses the browser's Web Crypto. */
export const usesWebCrypto = !!subtle;

async function sha256(bytes) {
  if (subtle) return new Uint8Array(await subtle.digest('SHA-256', bytes));
  return jsSHA256(bytes);
}

async function hmac(key, data) {
  if (subtle) {
    const k = await subtle.importKey('raw', key, { name: 'HMAC', hash: 'SHA-256' }, false, ['sign']);
    return new Uint8Array(await subtle.sign('HMAC', k, data));
  }
  return jsHMAC(key, data);
}

/** hex returns the lower-case hex string of bytes. */
export function hex(bytes) {
  return Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('');
}

/** sha256Hex returns the hex SHA-256 of a string (UTF-8). */
export async function sha256Hex(s) {
  return hex(await sha256(enc.encode(s)));
}

// escape is RFC 3986 percent-encoding, as the AWS signers do it.
function escape(s, encodeSlash) {
  let out = '';
  for (const b of enc.encode(s)) {
    const c = String.fromCharCode(b);
    if (/[A-Za-z0-9\-_.~]/.test(c) || (c === '/' && !encodeSlash)) out += c;
    else out += '%' + b.toString(16).toUpperCase().padStart(2, '0');
  }
  return out;
}

function canonicalQuery(search) {
  const pairs = [...new URLSearchParams(search)];
  pairs.sort((a, b) => (a[0] === b[0] ? (a[1] < b[1] ? -1 : a[1] > b[1] ? 1 : 0) : a[0] < b[0] ? -1 : 1));
  return pairs.map(([k, v]) => escape(k, true) + '=' + escape(v, true)).join('&');
}

function amzDate(d) {
  return d.toISOString().replace(/[-:]/g, '').replace(/\.\d{3}/, '');
}

/**
 * sign adds X-Amz-Date, X-Amz-Security-Token (with a session token) and
 * Authorization to headers (a plain object of the headers the request will
 * carry, besides Host) for a request to url (a URL) with the given method
 * and body (a string).
 */
export async function sign({ method, url, headers, body = '', service, region, creds, now = new Date() }) {
  const date = amzDate(now);
  const day = date.slice(0, 8);
  headers['X-Amz-Date'] = date;
  if (creds.sessionToken) headers['X-Amz-Security-Token'] = creds.sessionToken;
  const canon = { host: url.host };
  for (const [k, v] of Object.entries(headers)) canon[k.toLowerCase()] = String(v).trim().replace(/\s+/g, ' ');
  const names = Object.keys(canon).sort();
  const signedHeaders = names.join(';');
  const request = [
    method,
    escape(url.pathname || '/', false),
    canonicalQuery(url.search),
    names.map((n) => n + ':' + canon[n] + '\n').join(''),
    signedHeaders,
    await sha256Hex(body),
  ].join('\n');
  const scope = `${day}/${region}/${service}/aws4_request`;
  const toSign = ['AWS4-HMAC-SHA256', date, scope, await sha256Hex(request)].join('\n');
  let key = enc.encode('AWS4' + creds.secretAccessKey);
  for (const part of [day, region, service, 'aws4_request']) key = await hmac(key, enc.encode(part));
  const signature = hex(await hmac(key, enc.encode(toSign)));
  headers['Authorization'] = `AWS4-HMAC-SHA256 Credential=${creds.accessKeyId}/${scope}, SignedHeaders=${signedHeaders}, Signature=${signature}`;
  return headers;
}
