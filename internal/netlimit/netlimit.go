// Package netlimit caps the connections one client address may hold open
// at once on a listener. A connection over the cap is answered with a
// minimal HTTP 503 (an AWS JSON ServiceUnavailableException body, which
// the AWS SDKs retry) and closed, without reading anything from it.
package netlimit

import (
	"fmt"
	"io"
	"net"
	"sync"
	"time"
)

// Listener wraps a net.Listener. PerAddr is the most connections one
// remote IP address may have open (0: no cap).
type Listener struct {
	net.Listener
	PerAddr int
	// OnRefuse, if set, is called (from Accept) with the address of each
	// refused connection.
	OnRefuse func(addr string)

	mu   sync.Mutex
	open map[string]int
}

// New returns a listener that caps connections per remote address.
func New(l net.Listener, perAddr int) *Listener {
	return &Listener{Listener: l, PerAddr: perAddr}
}

// Open returns how many connections from ip are open.
func (l *Listener) Open(ip string) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.open[ip]
}

func remoteIP(c net.Conn) string {
	if a, ok := c.RemoteAddr().(*net.TCPAddr); ok {
		return a.IP.String()
	}
	host, _, err := net.SplitHostPort(c.RemoteAddr().String())
	if err != nil {
		return c.RemoteAddr().String()
	}
	return host
}

// Accept returns the next connection within the cap.
func (l *Listener) Accept() (net.Conn, error) {
	for {
		c, err := l.Listener.Accept()
		if err != nil || l.PerAddr <= 0 {
			return c, err
		}
		ip := remoteIP(c)
		l.mu.Lock()
		if l.open == nil {
			l.open = map[string]int{}
		}
		if l.open[ip] >= l.PerAddr {
			l.mu.Unlock()
			if l.OnRefuse != nil {
				l.OnRefuse(ip)
			}
			go refuse(c)
			continue
		}
		l.open[ip]++
		l.mu.Unlock()
		return &conn{Conn: c, l: l, ip: ip}, nil
	}
}

const refusal = `{"__type":"ServiceUnavailableException","message":"Too many connections from this address."}`

// lingering bounds the refused connections drained at once.
var lingering = make(chan struct{}, 64)

// refuse answers 503 and closes c, spending at most a second on it. It
// reads (and drops) what the client sends meanwhile, so that the client's
// request does not meet a closed socket, whose reset could destroy the
// answer before the client reads it.
func refuse(c net.Conn) {
	defer c.Close()
	c.SetWriteDeadline(time.Now().Add(time.Second))
	fmt.Fprintf(c, "HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/x-amz-json-1.1\r\nX-Amzn-Errortype: ServiceUnavailableException\r\nRetry-After: 1\r\nConnection: close\r\nContent-Length: %d\r\n\r\n%s", len(refusal), refusal)
	tc, ok := c.(*net.TCPConn)
	if !ok {
		return
	}
	tc.CloseWrite()
	select {
	case lingering <- struct{}{}:
		defer func() { <-lingering }()
		c.SetReadDeadline(time.Now().Add(time.Second))
		io.Copy(io.Discard, io.LimitReader(c, 64<<10))
	default: // too many at once: close now
	}
}

type conn struct {
	net.Conn
	l    *Listener
	ip   string
	once sync.Once
}

func (c *conn) Close() error {
	err := c.Conn.Close()
	c.once.Do(func() {
		c.l.mu.Lock()
		if c.l.open[c.ip]--; c.l.open[c.ip] <= 0 {
			delete(c.l.open, c.ip)
		}
		c.l.mu.Unlock()
	})
	return err
}
