package main

// A real browser for the console's tests: Debian's headless Chromium driven
// over the DevTools protocol (chromedp). Under CI=true a missing Chromium
// fails the test; elsewhere it skips; -short skips.

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"
)

// browser is one headless Chromium with one tab.
type browser struct {
	t   testing.TB
	ctx context.Context
	// shots is the directory screenshots go to; n numbers them.
	shots string
	n     int
	// console is the console's URL.
	console string
	// errors collects the page's uncaught exceptions and console errors
	// (appended by chromedp's event goroutine: under mu).
	mu     sync.Mutex
	errors []string
}

// pageErrors returns the page's errors so far and forgets them.
func (b *browser) pageErrors() []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	e := b.errors
	b.errors = nil
	return e
}

// chromiumPath returns $FLINKPLANE_CHROMIUM or the first Chromium on PATH.
func chromiumPath() string {
	if p := os.Getenv("FLINKPLANE_CHROMIUM"); p != "" {
		return p
	}
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	return ""
}

// artifactsDir returns the directory of a test's screenshots:
// $FLINKPLANE_TEST_ARTIFACTS/<name>, by default test-artifacts/<name> at the
// repository's root (printed by .ci/run), emptied first.
func artifactsDir(t testing.TB, name string) string {
	root := os.Getenv("FLINKPLANE_TEST_ARTIFACTS")
	if root == "" {
		root = filepath.Join("..", "..", "test-artifacts")
	}
	dir, err := filepath.Abs(filepath.Join(root, name))
	if err != nil {
		t.Fatal(err)
	}
	os.RemoveAll(dir)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}

// newBrowser starts Chromium with the flags this machine's closed network
// needs and a fresh profile; it is stopped at the end of the test.
func newBrowser(t testing.TB, consoleURL, shots string) *browser {
	t.Helper()
	if testing.Short() {
		t.Skip("browser: skipped with -short")
	}
	path := chromiumPath()
	if path == "" {
		if os.Getenv("CI") == "true" {
			t.Fatal("Chromium is not installed (apt-get install chromium; .ci/run installs it)")
		}
		t.Skip("Chromium is not installed (apt-get install chromium)")
	}
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(path),
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.UserDataDir(t.TempDir()),
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.WindowSize(1280, 1000),
	)
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	// chromedp logs protocol events its version does not know (a newer
	// Chromium's); they are not the page's errors.
	// (Printed with FLINKPLANE_TEST_LOG, to stderr: chromedp may log after
	// the test ended, when t.Logf would panic.)
	quiet := func(format string, args ...any) {
		if msg := fmt.Sprintf(format, args...); os.Getenv("FLINKPLANE_TEST_LOG") != "" && !strings.Contains(msg, "unhandled") {
			fmt.Fprintf(os.Stderr, "chromedp: %s\n", msg)
		}
	}
	ctx, cancel := chromedp.NewContext(actx, chromedp.WithErrorf(quiet), chromedp.WithLogf(func(string, ...any) {}))
	b := &browser{t: t, ctx: ctx, shots: shots, console: consoleURL}
	chromedp.ListenTarget(ctx, func(ev any) {
		b.mu.Lock()
		defer b.mu.Unlock()
		switch e := ev.(type) {
		case *runtime.EventExceptionThrown:
			b.errors = append(b.errors, "exception: "+e.ExceptionDetails.Error())
		case *runtime.EventConsoleAPICalled:
			if e.Type == runtime.APITypeError {
				var parts []string
				for _, a := range e.Args {
					parts = append(parts, string(a.Value)+a.Description)
				}
				b.errors = append(b.errors, "console.error: "+strings.Join(parts, " "))
			}
		}
	})
	if err := chromedp.Run(ctx); err != nil { // starts the browser
		cancel()
		cancelAlloc()
		t.Fatalf("start %s: %v", path, err)
	}
	t.Cleanup(func() {
		cancel()
		cancelAlloc()
		if errs := b.pageErrors(); len(errs) > 0 {
			t.Errorf("the page reported errors:\n%s", strings.Join(errs, "\n"))
		}
	})
	return b
}

// run runs actions within a timeout.
func (b *browser) run(timeout time.Duration, actions ...chromedp.Action) {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, timeout)
	defer cancel()
	if err := chromedp.Run(ctx, actions...); err != nil {
		b.shot("failure")
		b.t.Fatalf("browser: %v", err)
	}
}

// open navigates to a route of the console (e.g. "#/applications/x").
func (b *browser) open(route string) {
	b.t.Helper()
	b.run(30*time.Second, chromedp.Navigate(b.console+route), chromedp.WaitReady("#main", chromedp.ByQuery))
}

// shot saves a full-page screenshot as NN-name.png.
func (b *browser) shot(name string) string {
	b.n++
	var png []byte
	ctx, cancel := context.WithTimeout(b.ctx, 30*time.Second)
	defer cancel()
	// With a modal dialog open, the viewport (where the dialog and its
	// backdrop are); else the whole page.
	var modal bool
	shoot := chromedp.FullScreenshot(&png, 100)
	if err := chromedp.Run(ctx, chromedp.Evaluate(`!!document.querySelector('dialog[open]')`, &modal)); err == nil && modal {
		shoot = chromedp.CaptureScreenshot(&png)
	}
	if err := chromedp.Run(ctx, chromedp.Sleep(150*time.Millisecond), shoot); err != nil {
		b.t.Logf("screenshot %s: %v", name, err)
		return ""
	}
	p := filepath.Join(b.shots, fmt.Sprintf("%02d-%s.png", b.n, name))
	if err := os.WriteFile(p, png, 0o644); err != nil {
		b.t.Logf("screenshot %s: %v", name, err)
	}
	return p
}

// shotViewport saves what the window shows, from the top of the page.
func (b *browser) shotViewport(name string) {
	b.n++
	var png []byte
	ctx, cancel := context.WithTimeout(b.ctx, 30*time.Second)
	defer cancel()
	if err := chromedp.Run(ctx, chromedp.Evaluate(`window.scrollTo(0, 0)`, nil), chromedp.Sleep(150*time.Millisecond), chromedp.CaptureScreenshot(&png)); err != nil {
		b.t.Logf("screenshot %s: %v", name, err)
		return
	}
	if err := os.WriteFile(filepath.Join(b.shots, fmt.Sprintf("%02d-%s.png", b.n, name)), png, 0o644); err != nil {
		b.t.Logf("screenshot %s: %v", name, err)
	}
}

// xpathLiteral quotes s for XPath.
func xpathLiteral(s string) string {
	if !strings.Contains(s, "'") {
		return "'" + s + "'"
	}
	return `concat('` + strings.ReplaceAll(s, "'", `', "'", '`) + `')`
}

// button is the XPath of an enabled button by its text, inside the open
// dialog if there is one.
func button(text string) string {
	return `(//dialog[@open]//button | //body[not(.//dialog[@open])]//button)[normalize-space(.)=` + xpathLiteral(text) + ` and not(@disabled)]`
}

// click clicks the enabled button with the given text (waiting for it).
func (b *browser) click(text string) {
	b.t.Helper()
	b.run(60*time.Second, chromedp.Click(button(text), chromedp.BySearch, chromedp.NodeVisible))
}

// clickLink clicks the link with the given text.
func (b *browser) clickLink(text string) {
	b.t.Helper()
	b.run(30*time.Second, chromedp.Click(`//a[normalize-space(.)=`+xpathLiteral(text)+`]`, chromedp.BySearch, chromedp.NodeVisible))
}

// controlID waits for the form control a label names (inside the open
// dialog if there is one) and returns its id.
func (b *browser) controlID(label string) string {
	b.t.Helper()
	js := fmt.Sprintf(`(() => {
		const root = document.querySelector('dialog[open]') || document;
		const l = [...root.querySelectorAll('label')].find((l) => l.textContent.trim() === %q && l.htmlFor);
		return l && document.getElementById(l.htmlFor) ? l.htmlFor : '';
	})()`, label)
	deadline := time.Now().Add(30 * time.Second)
	for {
		var id string
		b.eval(js, &id)
		if id != "" {
			return id
		}
		if time.Now().After(deadline) {
			b.shot("no-control")
			b.t.Fatalf("no form control labelled %q", label)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// fill replaces the text of the control labelled label by typing it.
func (b *browser) fill(label, value string) {
	b.t.Helper()
	id := b.controlID(label)
	b.eval(fmt.Sprintf(`document.getElementById(%q).value = ''`, id), nil)
	b.run(30*time.Second, chromedp.SendKeys("#"+id, value, chromedp.ByQuery))
}

// selectOption chooses a select's option by value (as a user's choice:
// with input and change events).
func (b *browser) selectOption(label, value string) {
	b.t.Helper()
	id := b.controlID(label)
	b.eval(fmt.Sprintf(`(() => { const s = document.getElementById(%q); s.value = %q;
		s.dispatchEvent(new Event('input', {bubbles: true})); s.dispatchEvent(new Event('change', {bubbles: true})); return s.value; })()`, id, value), nil)
}

// waitText waits until the page's text matches re (polling its innerText).
func (b *browser) waitText(re string, timeout time.Duration) string {
	b.t.Helper()
	rx := regexp.MustCompile(re)
	deadline := time.Now().Add(timeout)
	var text string
	for {
		ctx, cancel := context.WithTimeout(b.ctx, 10*time.Second)
		err := chromedp.Run(ctx, chromedp.Evaluate(`document.body.innerText`, &text))
		cancel()
		if err == nil && rx.MatchString(text) {
			return text
		}
		if time.Now().After(deadline) {
			b.shot("timeout")
			b.t.Fatalf("page text does not match %q after %s:\n%s", re, timeout, text)
		}
		time.Sleep(250 * time.Millisecond)
	}
}

// text returns the innerText of the first element matching an XPath.
func (b *browser) text(xpath string) string {
	b.t.Helper()
	var s string
	b.run(30*time.Second, chromedp.Text(xpath, &s, chromedp.BySearch, chromedp.NodeVisible))
	return s
}

// eval evaluates JavaScript (awaiting a promise) into out.
func (b *browser) eval(js string, out any) {
	b.t.Helper()
	b.run(30*time.Second, chromedp.Evaluate(js, out, func(p *runtime.EvaluateParams) *runtime.EvaluateParams { return p.WithAwaitPromise(true) }))
}

// key presses a key (kb.Enter, kb.Escape, "\t") on the focused element.
func (b *browser) key(k string) {
	b.t.Helper()
	b.run(10*time.Second, chromedp.KeyEvent(k))
}

var _ = kb.Escape

// axNode is a node of the accessibility tree: its role and its name.
type axNode struct{ Role, Name string }

// accessibility returns the page's accessibility tree (what a screen
// reader is given), without ignored nodes. The answer is decoded here, not
// by cdproto, so that a newer Chromium's new enum values do not break it.
func (b *browser) accessibility() []axNode {
	b.t.Helper()
	var res struct {
		Nodes []struct {
			Ignored bool `json:"ignored"`
			Role    *struct {
				Value any `json:"value"`
			} `json:"role"`
			Name *struct {
				Value any `json:"value"`
			} `json:"name"`
		} `json:"nodes"`
	}
	b.run(30*time.Second, chromedp.ActionFunc(func(ctx context.Context) error {
		return cdp.Execute(ctx, "Accessibility.getFullAXTree", map[string]any{}, &res)
	}))
	var out []axNode
	for _, n := range res.Nodes {
		if n.Ignored || n.Role == nil {
			continue
		}
		var name string
		if n.Name != nil {
			name = fmt.Sprint(n.Name.Value)
		}
		out = append(out, axNode{fmt.Sprint(n.Role.Value), name})
	}
	return out
}

// requireAX checks that the accessibility tree has a node of each role
// whose name matches (a regular expression).
func (b *browser) requireAX(want ...axNode) {
	b.t.Helper()
	tree := b.accessibility()
	for _, w := range want {
		rx := regexp.MustCompile(w.Name)
		found := false
		for _, n := range tree {
			if n.Role == w.Role && rx.MatchString(n.Name) {
				found = true
				break
			}
		}
		if !found {
			var have []string
			for _, n := range tree {
				if n.Role == w.Role {
					have = append(have, fmt.Sprintf("%q", n.Name))
				}
			}
			b.t.Errorf("accessibility tree: no %s named %q (the %ss: %s)", w.Role, w.Name, w.Role, strings.Join(have, ", "))
		}
	}
}
