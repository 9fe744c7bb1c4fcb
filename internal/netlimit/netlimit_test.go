package netlimit_test

import (
	"bufio"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/flinkplane/flinkplane/internal/netlimit"
)

func TestListener_PerAddr(t *testing.T) {
	raw, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	l := netlimit.New(raw, 3)
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok") })}
	go srv.Serve(l)
	defer srv.Close()

	var held []net.Conn
	for i := 0; i < 3; i++ {
		c, err := net.Dial("tcp", raw.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		held = append(held, c)
	}
	waitOpen(t, l, 3)
	// The fourth gets a 503 and is closed.
	c, err := net.Dial("tcp", raw.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	c.SetDeadline(time.Now().Add(5 * time.Second))
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 503 || !strings.Contains(string(b), "ServiceUnavailableException") {
		t.Fatalf("%d %s", resp.StatusCode, b)
	}
	c.Close()
	// Closing one makes room for another.
	held[0].Close()
	waitOpen(t, l, 2)
	resp2, err := (&http.Client{Transport: &http.Transport{DisableKeepAlives: true}}).Get("http://" + raw.Addr().String() + "/")
	if err != nil {
		t.Fatal(err)
	}
	resp2.Body.Close()
	if resp2.StatusCode != 200 {
		t.Fatalf("status %d", resp2.StatusCode)
	}
}

func waitOpen(t *testing.T, l *netlimit.Listener, n int) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for l.Open("127.0.0.1") != n {
		if time.Now().After(deadline) {
			t.Fatalf("%d open, want %d", l.Open("127.0.0.1"), n)
		}
		time.Sleep(5 * time.Millisecond)
	}
}
