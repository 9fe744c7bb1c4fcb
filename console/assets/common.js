// Shared by the views.

/** RUNTIMES are the Flink runtimes the console offers (the API's names). */
export const RUNTIMES = ['FLINK-2_2', 'FLINK-1_20', 'FLINK-1_19', 'FLINK-1_18'];

/**
 * poller runs fn now and then every ms until the returned stop function is
 * called; a run never overlaps the previous one, and pauses while the tab
 * is hidden.
 */
export function poller(fn, ms) {
  let stopped = false, timer = null;
  const tick = async () => {
    timer = null;
    if (stopped) return;
    if (!document.hidden) {
      try { await fn(); } catch (e) { console.error(e); }
    }
    if (!stopped) timer = setTimeout(tick, ms);
  };
  tick();
  return () => { stopped = true; if (timer) clearTimeout(timer); };
}

/** codeLocation returns {bucket, key} of an ApplicationDetail's S3 code, if any. */
export function codeLocation(detail) {
  const c = detail.ApplicationConfigurationDescription?.ApplicationCodeConfigurationDescription?.CodeContentDescription;
  const s = c && c.S3ApplicationCodeLocationDescription;
  return s ? { bucket: s.BucketARN, key: s.FileKey } : null;
}
