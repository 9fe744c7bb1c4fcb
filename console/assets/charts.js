// Line charts drawn as SVG, no library. Each chart is an image with a text
// alternative (role="img", an aria-label that says the latest and extreme
// values), so a screen reader gets the figures the picture shows.
const NS = 'http://www.w3.org/2000/svg';

function s(tag, attrs = {}, text) {
  const el = document.createElementNS(NS, tag);
  for (const [k, v] of Object.entries(attrs)) el.setAttribute(k, String(v));
  if (text !== undefined) el.textContent = text;
  return el;
}

function niceMax(v) {
  if (v <= 0) return 1;
  const p = Math.pow(10, Math.floor(Math.log10(v)));
  for (const m of [1, 2, 2.5, 5, 10]) if (v <= m * p) return m * p;
  return 10 * p;
}

/**
 * lineChart returns an <svg> of points [{t: ms epoch, v: number}] between
 * start and end (ms epoch); fmt formats a value for the axis and the label.
 */
export function lineChart({ title, points, start, end, fmt = (v) => String(v), integer = false, width = 360, height = 150 }) {
  const pad = { l: 52, r: 10, t: 10, b: 24 };
  const W = width - pad.l - pad.r, H = height - pad.t - pad.b;
  const vals = points.map((p) => p.v);
  let max = niceMax(Math.max(0, ...vals));
  if (integer) max = Math.max(2, Math.ceil(max / 2) * 2); // whole numbers on every grid line
  const min = Math.min(0, ...vals);
  const x = (t) => pad.l + ((t - start) / Math.max(1, end - start)) * W;
  const y = (v) => pad.t + H - ((v - min) / Math.max(1e-9, max - min)) * H;
  const latest = points.length ? points[points.length - 1].v : undefined;
  const label = points.length
    ? `${title}: ${points.length} points; latest ${fmt(latest)}, highest ${fmt(Math.max(...vals))}, lowest ${fmt(Math.min(...vals))}.`
    : `${title}: no data points in this window.`;
  const svg = s('svg', { viewBox: `0 0 ${width} ${height}`, role: 'img', 'aria-label': label, class: 'chart' });
  svg.append(s('title', {}, label));
  // Grid and axes (no values on an empty chart).
  for (const v of [min, (min + max) / 2, max]) {
    svg.append(s('line', { x1: pad.l, x2: pad.l + W, y1: y(v), y2: y(v), class: 'grid' }));
    if (points.length) svg.append(s('text', { x: pad.l - 6, y: y(v) + 4, 'text-anchor': 'end', class: 'axis' }, fmt(v)));
  }
  const tfmt = (t) => new Date(t).toLocaleTimeString(undefined, { hour: '2-digit', minute: '2-digit' });
  svg.append(s('text', { x: pad.l, y: height - 6, class: 'axis' }, tfmt(start)));
  svg.append(s('text', { x: pad.l + W, y: height - 6, 'text-anchor': 'end', class: 'axis' }, tfmt(end)));
  if (!points.length) {
    svg.append(s('text', { x: pad.l + W / 2, y: pad.t + H / 2, 'text-anchor': 'middle', class: 'empty' }, 'no data yet'));
    return svg;
  }
  const d = points.map((p, i) => `${i ? 'L' : 'M'}${x(p.t).toFixed(1)},${y(p.v).toFixed(1)}`).join(' ');
  svg.append(s('path', { d, class: 'line' }));
  for (const p of points) {
    svg.append(s('circle', { cx: x(p.t).toFixed(1), cy: y(p.v).toFixed(1), r: 2.5, class: 'dot' },));
  }
  return svg;
}
