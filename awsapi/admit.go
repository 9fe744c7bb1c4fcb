package awsapi

import (
	"context"
	"crypto/sha256"
	"errors"
	"hash"
	"io"
	"mime"
	"net/http"
	"runtime/debug"
	"strings"
	"sync/atomic"
	"time"

	"golang.org/x/sync/semaphore"

	"github.com/flinkplane/flinkplane"
	"github.com/flinkplane/flinkplane/awsapi/model"
	"github.com/flinkplane/flinkplane/awsapi/sigv4"
)

// Admission bounds the work done for a request before it is trusted: the
// order in which ServeHTTP admits a request is
//
//  1. a Content-Length above MaxBody: 413 RequestEntityTooLargeException,
//     answered before any of the body is read (the connection is closed);
//  2. with a Verifier, everything in the signature that does not need the
//     body (sigv4.Verifier.Begin): an unsigned or wrongly scoped request
//     gets its 403 without a byte of its body read;
//  3. room for the body in a memory budget shared by every request being
//     read or served (BodyMemory): a request waits up to BodyWait for it,
//     then gets 503 ServiceUnavailableException (the AWS SDKs retry it);
//  4. the body, read into one buffer of its declared length, or, chunked,
//     streamed in steps, each step reserved from the budget first, and cut
//     at MaxBody (413);
//  5. the signature over the body.
//
// The zero value reads bodies up to model.MaxBodySize without a budget.
type Admission struct {
	// MaxBody is the largest body read (default model.MaxBodySize).
	MaxBody int64
	// BodyMemory bounds the bytes of request bodies held at once, from
	// the first byte read until the answer is written; 0: no bound. A body
	// larger than the bound waits until it is alone.
	BodyMemory int64
	// BodyWait is how long a request waits for room in BodyMemory
	// (default 10 s).
	BodyWait time.Duration

	budget *semaphore.Weighted
}

// NewAdmission returns an Admission with a budget of bodyMemory bytes
// (0: none).
func NewAdmission(bodyMemory int64) *Admission {
	a := &Admission{MaxBody: model.MaxBodySize, BodyMemory: bodyMemory, BodyWait: 10 * time.Second}
	if bodyMemory > 0 {
		a.budget = semaphore.NewWeighted(bodyMemory)
	}
	return a
}

func (a *Admission) maxBody() int64 {
	if a == nil || a.MaxBody <= 0 {
		return model.MaxBodySize
	}
	return a.MaxBody
}

// chunkStep is how much of a body of unknown length is reserved and read
// at a time.
const chunkStep = 1 << 20

// Read admits r as described on Admission and returns its body; release
// must be called once the answer is written (it returns the body's memory
// to the budget). verifier may be nil (no authentication).
func (a *Admission) Read(r *http.Request, verifier *sigv4.Verifier) (body []byte, release func(), err error) {
	release = func() {}
	limit := a.maxBody()
	if r.ContentLength > limit {
		return nil, release, tooLarge(limit)
	}
	var pending *sigv4.Pending
	if verifier != nil {
		if pending, err = verifier.Begin(r); err != nil {
			return nil, release, err
		}
	}
	var reserved int64
	release = func() { a.release(reserved); reserved = 0 }
	var h hash.Hash = nullHash{} // the body is hashed only to check a signature
	if pending != nil {
		h = sha256.New()
	}
	if n := r.ContentLength; n >= 0 {
		if err := a.acquire(r.Context(), n); err != nil {
			return nil, release, err
		}
		reserved = n
		body = make([]byte, n)
		if _, err := io.ReadFull(r.Body, body); err != nil {
			return nil, release, readError(err)
		}
		h.Write(body)
	} else {
		// Chunked: reserve, then read, one block at a time; the blocks
		// are joined once at the end.
		var blocks [][]byte
		var total int64
		for {
			if total > limit {
				return nil, release, tooLarge(limit)
			}
			step := min(int64(chunkStep), limit+1-total)
			if err := a.acquire(r.Context(), step); err != nil {
				return nil, release, err
			}
			reserved += step
			block := make([]byte, step)
			n, err := io.ReadFull(r.Body, block)
			blocks = append(blocks, block[:n])
			total += int64(n)
			h.Write(block[:n])
			if err == io.EOF || err == io.ErrUnexpectedEOF {
				a.release(step - int64(n))
				reserved -= step - int64(n)
				break
			}
			if err != nil {
				return nil, release, readError(err)
			}
		}
		if total > limit {
			return nil, release, tooLarge(limit)
		}
		body = make([]byte, 0, total)
		for _, b := range blocks {
			body = append(body, b...)
		}
	}
	if pending != nil {
		if err := pending.Finish(h.Sum(nil)); err != nil {
			return nil, release, err
		}
	}
	return body, release, nil
}

// nullHash is a hash.Hash that ignores what it is given.
type nullHash struct{}

func (nullHash) Write(p []byte) (int, error) { return len(p), nil }
func (nullHash) Sum(b []byte) []byte         { return b }
func (nullHash) Reset()                      {}
func (nullHash) Size() int                   { return 0 }
func (nullHash) BlockSize() int              { return 1 }

func (a *Admission) acquire(ctx context.Context, n int64) error {
	if a == nil || a.budget == nil || n <= 0 {
		return nil
	}
	n = min(n, a.BodyMemory)
	wait := a.BodyWait
	if wait <= 0 {
		wait = 10 * time.Second
	}
	ctx, cancel := context.WithTimeout(ctx, wait)
	defer cancel()
	if err := a.budget.Acquire(ctx, n); err != nil {
		return flinkplane.Errorf(flinkplane.EUNAVAILABLE, "The server is reading too many large requests at once; retry later.")
	}
	return nil
}

func (a *Admission) release(n int64) {
	if n >= largeBody {
		freeMemory()
	}
	if a == nil || a.budget == nil || n <= 0 {
		return
	}
	a.budget.Release(min(n, a.BodyMemory))
}

// largeBody is the size from which a body's memory is handed back to the
// operating system once it is answered, rather than left to the garbage
// collector's pace: a few large bodies would otherwise keep the process's
// RSS at their peak for minutes.
const largeBody = 8 << 20

var freeing atomic.Bool

// freeMemory returns freed memory to the operating system, in the
// background and once at a time.
func freeMemory() {
	if !freeing.CompareAndSwap(false, true) {
		return
	}
	go func() {
		defer freeing.Store(false)
		debug.FreeOSMemory()
	}()
}

func tooLarge(limit int64) error {
	return flinkplane.Errorf(model.ETOOLARGE, "The request body exceeds %d bytes.", limit)
}

func readError(err error) error {
	var mb *http.MaxBytesError
	if errors.As(err, &mb) {
		return tooLarge(mb.Limit)
	}
	if errors.Is(err, io.ErrUnexpectedEOF) {
		return flinkplane.Errorf(model.ESERIALIZATION, "The request body ended before its Content-Length.")
	}
	return flinkplane.Errorf(model.ESERIALIZATION, "Cannot read the request body.")
}

// checkContentType accepts AWS JSON (1.1, as the model's protocol, and
// 1.0), any parameters ignored.
func checkContentType(r *http.Request) error {
	ct := r.Header.Get("Content-Type")
	mt, _, err := mime.ParseMediaType(ct)
	if err == nil {
		switch strings.ToLower(mt) {
		case "application/x-amz-json-1.1", "application/x-amz-json-1.0":
			return nil
		}
	}
	if ct == "" {
		return flinkplane.Errorf(model.EMEDIATYPE, "Missing Content-Type; the kinesisanalyticsv2 API takes application/x-amz-json-1.1.")
	}
	return flinkplane.Errorf(model.EMEDIATYPE, "Content-Type %q is not supported; the kinesisanalyticsv2 API takes application/x-amz-json-1.1.", clip(ct))
}
