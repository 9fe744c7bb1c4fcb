package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	kav2 "github.com/aws/aws-sdk-go-v2/service/kinesisanalyticsv2"
	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"
	"github.com/flinkplane/flinkplane/mock"
)

// startConsoleMain is startMain with an authentication mode: "sigv4"
// knows the key AKIDTEST:secret (apiClient's).
func startConsoleMain(t testing.TB, auth string) *Main {
	t.Helper()
	withoutDefaults(t)
	m := NewMain()
	m.Config.Addr = "127.0.0.1:0"
	m.Config.DataDir = t.TempDir()
	m.Config.Region = "eu-west-1"
	m.Config.AccountID = "123456789012"
	m.Config.Auth = auth
	if auth == "sigv4" {
		m.Config.Credentials = "AKIDTEST:secret"
	}
	m.Config.WatchInterval = 0
	m.Config.ProbationWindow = -1
	m.Driver = mock.NewClusterDriver()
	m.PollInterval = 5 * time.Millisecond
	m.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	if err := m.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Close() })
	for _, key := range []string{"app-1.20.jar", "app-2.2.jar"} {
		srvPutObject(t, m.Config.DataDir, "flinkplane-test", key)
	}
	return m
}

// TestConsole_Browser drives the console in headless Chromium against the
// real server with the recording fake driver (the flow on real Flink is
// TestRealFlink_ConsoleAndUpgrade): signing in with SigV4 computed in the
// browser, the accessibility tree of the main controls, keyboard use of a
// dialog, the SHA-256 fallback against Web Crypto, and cross-site requests
// that must not change anything.
func TestConsole_Browser(t *testing.T) {
	shots := artifactsDir(t, "console-ui")
	m := startConsoleMain(t, "sigv4")
	srvCreateApp(t, apiClient(m.URL()), "ui-app", nil)
	b := newBrowser(t, m.URL()+"/console/", shots)

	t.Run("SignIn", func(t *testing.T) {
		b.t = t
		b.open("")
		b.waitText(`Sign in`, 20*time.Second)
		b.requireAX(axNode{"textbox", "^Access key ID$"}, axNode{"textbox", "^Secret access key$"}, axNode{"button", "^Sign in$"},
			axNode{"navigation", "^Main$"}, axNode{"main", ""})
		b.shot("sign-in")
		b.fill("Access key ID", "AKIDTEST")
		b.fill("Secret access key", "wrong")
		b.click("Sign in")
		b.waitText(`InvalidSignatureException`, 20*time.Second)
		b.shot("sign-in-refused")
		b.fill("Secret access key", "secret")
		b.click("Sign in")
		b.waitText(`ui-app\s+READY`, 20*time.Second)
		b.requireAX(axNode{"table", "^Applications$"}, axNode{"link", "^ui-app$"}, axNode{"button", "^Create application…$"},
			axNode{"button", "^Delete ui-app$"})
		b.shot("applications")
	})

	t.Run("SHA256Fallback", func(t *testing.T) {
		b.t = t
		// The plain-JavaScript hash (for plain HTTP beyond loopback, where
		// browsers withhold Web Crypto) agrees with Web Crypto.
		var got string
		b.eval(`(async () => {
			const m = await import('./sha256.js');
			const hex = (a) => Array.from(new Uint8Array(a), (x) => x.toString(16).padStart(2, '0')).join('');
			for (const n of [0, 1, 55, 56, 63, 64, 65, 119, 1000, 70000]) {
				const data = new Uint8Array(n).map((_, i) => (i * 31 + n) & 255);
				const key = new Uint8Array(n % 100 + 1).map((_, i) => i * 7);
				const want = hex(await crypto.subtle.digest('SHA-256', data));
				if (hex(m.sha256(data)) !== want) return 'sha256 differs at ' + n;
				const k = await crypto.subtle.importKey('raw', key, { name: 'HMAC', hash: 'SHA-256' }, false, ['sign']);
				if (hex(m.hmacSHA256(key, data)) !== hex(await crypto.subtle.sign('HMAC', k, data))) return 'hmac differs at ' + n;
			}
			return 'ok';
		})()`, &got)
		if got != "ok" {
			t.Fatal(got)
		}
	})

	t.Run("Keyboard", func(t *testing.T) {
		b.t = t
		b.open("#/applications/ui-app")
		b.waitText(`numberOfFailedCheckpoints[\s\S]*1 \(current\)`, 20*time.Second)
		b.requireAX(axNode{"heading", "^ui-app$"}, axNode{"status", "Application status"}, axNode{"group", "^Actions$"},
			axNode{"button", "^Start…$"}, axNode{"button", "^Stop…$"}, axNode{"button", "^Roll back…$"}, axNode{"group", "^Configure$"},
			axNode{"button", "^Upgrade…$"}, axNode{"switch", "^System rollback$"}, axNode{"image", "^numRestarts"},
			axNode{"image", "^lastCheckpointDuration"}, axNode{"list", "^Operations, newest first$"}, axNode{"table", "^Version history$"},
			axNode{"navigation", "^Breadcrumb$"})
		// Enter on the focused Start… button opens its dialog with the focus
		// inside; Escape closes it and gives the focus back.
		b.run(10*time.Second, chromedp.Focus(button("Start…"), chromedp.BySearch))
		b.key(kb.Enter)
		b.run(10*time.Second, chromedp.WaitVisible(`//dialog[@open]`, chromedp.BySearch))
		b.requireAX(axNode{"dialog", "^Start ui-app$"}, axNode{"radio", "^From the latest snapshot$"}, axNode{"button", "^Start application$"})
		var inDialog bool
		b.eval(`!!document.activeElement.closest('dialog')`, &inDialog)
		if !inDialog {
			t.Error("the focus is not in the dialog")
		}
		b.shot("start-dialog")
		b.key(kb.Escape)
		var focused string
		b.eval(`document.querySelector('dialog[open]') ? 'still open' : document.activeElement.textContent`, &focused)
		if focused != "Start…" {
			t.Errorf("after Escape the focus is on %q, want the Start… button", focused)
		}
		// Start with the keyboard only: Enter, Tab to the submit button, Enter.
		b.key(kb.Enter)
		b.run(10*time.Second, chromedp.WaitVisible(`//dialog[@open]`, chromedp.BySearch), chromedp.Focus(button("Start application"), chromedp.BySearch))
		b.key(kb.Enter)
		b.waitText(`Application status|RUNNING`, 10*time.Second)
		b.waitText(`StartApplication`, 20*time.Second)
		d := srvDescribe(t, apiClient(m.URL()), "ui-app")
		if d.ApplicationStatus != "RUNNING" && d.ApplicationStatus != "STARTING" {
			t.Fatalf("after Start by keyboard: %s", d.ApplicationStatus)
		}
		b.shot("started-by-keyboard")
	})

	t.Run("CrossSite", func(t *testing.T) {
		b.t = t
		// A page of another origin tries to act on a server without
		// authentication (the most exposed case): with the API's custom
		// header and content type (a CORS preflight the server does not
		// grant), as simple requests (no-cors, text/plain, a form post),
		// and to read ListApplications.
		open := startConsoleMain(t, "none")
		c := apiClient(open.URL())
		srvCreateApp(t, c, "victim", nil)
		api := open.URL()
		evil := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "text/html")
			fmt.Fprintf(w, `<!doctype html><title>evil</title><form id=f method=POST action="%[1]s/" enctype="text/plain" target=sink>
<input name='{"ApplicationName":"victim","x":"' value='"}'></form><iframe name=sink></iframe>
<script>
window.results = (async () => {
  const api = %[1]q, body = JSON.stringify({ApplicationName: 'victim'}), out = [];
  const tryFetch = async (name, url, init) => {
    try { const r = await fetch(url, init); out.push(name + ': ' + r.type + ' ' + r.status + ' ' + (r.type === 'opaque' ? '' : await r.text())); }
    catch (e) { out.push(name + ': blocked'); }
  };
  await tryFetch('start-cors', api + '/', {method: 'POST', body, headers: {'Content-Type': 'application/x-amz-json-1.1', 'X-Amz-Target': 'KinesisAnalytics_20180523.StartApplication'}});
  await tryFetch('start-no-cors', api + '/', {method: 'POST', mode: 'no-cors', body, headers: {'Content-Type': 'text/plain', 'X-Amz-Target': 'KinesisAnalytics_20180523.StartApplication'}});
  await tryFetch('preflight-no-cors', api + '/flinkplane/v1/applications/victim/preflight', {method: 'POST', mode: 'no-cors', body, headers: {'Content-Type': 'text/plain'}});
  await tryFetch('list-read', api + '/', {method: 'POST', body: '{}', headers: {'Content-Type': 'application/x-amz-json-1.1', 'X-Amz-Target': 'KinesisAnalytics_20180523.ListApplications'}});
  await tryFetch('health-read', api + '/flinkplane/v1/applications/victim/health', {});
  document.getElementById('f').submit();
  await new Promise((r) => setTimeout(r, 1000));
  return out.join('\n');
})();
</script>`, api)
		}))
		defer evil.Close()
		b.run(30*time.Second, chromedp.Navigate(evil.URL))
		var results string
		b.eval(`window.results`, &results)
		t.Logf("cross-site attempts:\n%s", results)
		for _, want := range []string{"start-cors: blocked", "start-no-cors: opaque", "preflight-no-cors: opaque", "list-read: blocked", "health-read: blocked"} {
			if !regexpContains(results, want) {
				t.Errorf("cross-site results lack %q", want)
			}
		}
		b.shot("cross-site-page")
		d := srvDescribe(t, c, "victim")
		if d.ApplicationStatus != "READY" || aws.ToInt64(d.ApplicationVersionId) != 1 {
			t.Fatalf("victim after cross-site requests: %s, version %d", d.ApplicationStatus, aws.ToInt64(d.ApplicationVersionId))
		}
		ops, err := c.ListApplicationOperations(sctx, &kav2.ListApplicationOperationsInput{ApplicationName: aws.String("victim")})
		if err != nil || len(ops.ApplicationOperationInfoList) != 0 {
			t.Fatalf("victim has operations after cross-site requests: %+v %v", ops, err)
		}
		b.pageErrors() // the blocked requests log CORS errors in the evil page's console
	})
}

func regexpContains(s, sub string) bool {
	for _, line := range splitLines(s) {
		if len(line) >= len(sub) && line[:len(sub)] == sub {
			return true
		}
	}
	return false
}

func splitLines(s string) []string {
	var out []string
	start := 0
	for i := 0; i < len(s); i++ {
		if s[i] == '\n' {
			out = append(out, s[start:i])
			start = i + 1
		}
	}
	return append(out, s[start:])
}
