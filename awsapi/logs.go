package awsapi

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/flinkplane/flinkplane"
	"github.com/flinkplane/flinkplane/awsapi/model"
	"github.com/flinkplane/flinkplane/client"
)

// Extension endpoints: flinkplane's own operations, served next to the AWS
// API under /flinkplane/v1/ because the AWS API has no equivalent. They are
// authenticated like the AWS API (SigV4 over an empty body for GET) and
// answer errors in the same {"__type","message"} shape, written by
// writeError. Routes are an explicit table, like the AWS operations.
//
//	GET /flinkplane/v1/applications/{name}/logs
//	GET /flinkplane/v1/applications/{name}/logs/{file}?cluster=ID&tail=N
//	GET /flinkplane/v1/applications/{name}/health?history=N&before=T
//	POST /flinkplane/v1/applications/{name}/preflight (an UpdateApplication body)

// extFunc handles one extension request; args are the path's wildcard
// segments, unescaped. A textResponse result is written as text/plain, any
// other as JSON.
type extFunc func(ctx context.Context, r *http.Request, args []string) (any, error)

// textResponse is a plain-text response body.
type textResponse []byte

type extRoute struct {
	method string
	path   []string // literal segments, "*" for a wildcard
	fn     extFunc
}

func (s *Server) extRoutes() []extRoute {
	return []extRoute{
		{http.MethodGet, []string{"applications", "*", "logs"}, s.listLogs},
		{http.MethodGet, []string{"applications", "*", "logs", "*"}, s.readLog},
		{http.MethodGet, []string{"applications", "*", "health"}, s.health},
		{http.MethodPost, []string{"applications", "*", "preflight"}, s.preflight},
	}
}

// maxLogRead bounds one log response; a longer file answers its last
// maxLogRead bytes.
const maxLogRead = 16 << 20

// serveExtension serves a request under client.ExtensionPrefix. A POST
// has a JSON body, read like an API request's (Admission, the signature
// over it, Content-Type application/x-amz-json-1.1), and handed to the
// route as r.Body.
func (s *Server) serveExtension(w http.ResponseWriter, r *http.Request) {
	if r.Method == http.MethodPost {
		body, release, err := s.Admission.Read(r, s.Verifier)
		defer release()
		if err == nil {
			err = checkContentType(r)
		}
		if err != nil {
			s.writeError(w, r, err)
			return
		}
		r.Body = io.NopCloser(bytes.NewReader(body))
	} else if s.Verifier != nil {
		if err := s.Verifier.Verify(r, nil); err != nil {
			s.writeError(w, r, err)
			return
		}
	}
	fn, args, err := s.matchExtension(r)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	resp, err := s.call(r.Context(), r.URL.Path, func(ctx context.Context, _ []byte) (any, error) { return fn(ctx, r, args) }, nil)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	if b, ok := resp.(textResponse); ok {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.Header().Set("Content-Length", strconv.Itoa(len(b)))
		w.WriteHeader(http.StatusOK)
		w.Write(b)
		return
	}
	b, err := json.Marshal(resp)
	if err != nil {
		s.writeError(w, r, fmt.Errorf("encode response: %w", err))
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Content-Length", strconv.Itoa(len(b)))
	w.WriteHeader(http.StatusOK)
	w.Write(b)
}

// matchExtension finds the route of r. Segments are split on the escaped
// path and then unescaped, so an encoded "/" stays inside its segment (and
// is then refused as a file name).
func (s *Server) matchExtension(r *http.Request) (extFunc, []string, error) {
	rest := strings.TrimPrefix(r.URL.EscapedPath(), client.ExtensionPrefix)
	segs := strings.Split(rest, "/")
	methodOK := false
	for _, rt := range s.extRoutes() {
		if len(rt.path) != len(segs) {
			continue
		}
		var args []string
		ok := true
		for i, p := range rt.path {
			seg, err := url.PathUnescape(segs[i])
			if err != nil || seg == "" {
				ok = false
				break
			}
			if p == "*" {
				args = append(args, seg)
			} else if p != seg {
				ok = false
				break
			}
		}
		if !ok {
			continue
		}
		if rt.method != r.Method {
			methodOK = true
			continue
		}
		return rt.fn, args, nil
	}
	if methodOK {
		return nil, nil, flinkplane.Errorf(model.EUNKNOWNOPERATION, "Method %s is not supported on %s.", r.Method, clip(r.URL.Path))
	}
	return nil, nil, flinkplane.Errorf(model.EUNKNOWNOPERATION, "Unknown flinkplane extension %s.", clip(r.URL.Path))
}

// clusterRef is one cluster an application ran on, from the store.
type clusterRef struct {
	h       flinkplane.ClusterHandle
	current bool
}

// clustersOf returns the clusters recorded for an application: the current
// one first, then those of its operations, newest first. Returns ENOTFOUND
// for an unknown application.
func (s *Server) clustersOf(ctx context.Context, name string) ([]clusterRef, error) {
	var refs []clusterRef
	seen := map[string]bool{}
	add := func(h *flinkplane.ClusterHandle, current bool) {
		if h == nil || h.ID == "" || seen[h.ID] {
			return
		}
		seen[h.ID] = true
		refs = append(refs, clusterRef{h: *h, current: current})
	}
	err := s.Store.View(ctx, func(tx flinkplane.Tx) error {
		app, err := tx.Application(name)
		if err != nil {
			return err
		}
		ops, err := tx.Operations(name, flinkplane.OperationFilter{})
		if err != nil {
			return err
		}
		add(app.Cluster, true)
		for _, op := range ops {
			add(op.Cluster, false)
		}
		return nil
	})
	return refs, err
}

// logReader returns the driver's log reader or EUNSUPPORTED.
func (s *Server) logReader() (flinkplane.LogReader, error) {
	if s.Logs == nil {
		return nil, flinkplane.Errorf(flinkplane.EUNSUPPORTED, "The cluster driver of this server keeps no logs.")
	}
	return s.Logs, nil
}

func (s *Server) listLogs(ctx context.Context, r *http.Request, args []string) (any, error) {
	name := args[0]
	refs, err := s.clustersOf(ctx, name)
	if err != nil {
		return nil, err
	}
	lr, err := s.logReader()
	if err != nil {
		return nil, err
	}
	resp := &client.ListLogsResponse{ApplicationName: name, LogFiles: []client.LogFile{}}
	for _, c := range refs {
		files, err := lr.Logs(ctx, c.h)
		if flinkplane.ErrorCode(err) == flinkplane.ENOTFOUND {
			continue // removed, or the cluster never wrote a log
		} else if err != nil {
			return nil, fmt.Errorf("list logs of cluster %s: %w", c.h.ID, err)
		}
		for _, f := range files {
			resp.LogFiles = append(resp.LogFiles, client.LogFile{FileName: f.Name, ClusterID: c.h.ID,
				RuntimeEnvironment: string(c.h.Runtime), Current: c.current, Size: f.Size, LastModified: f.ModTime.UTC()})
		}
	}
	return resp, nil
}

// validLogName reports whether name is a plain file name.
func validLogName(name string) bool {
	return name != "" && len(name) <= 255 && !strings.ContainsAny(name, "/\\\x00") && !strings.HasPrefix(name, ".")
}

func (s *Server) readLog(ctx context.Context, r *http.Request, args []string) (any, error) {
	name, file := args[0], args[1]
	q := r.URL.Query()
	tail := 0
	if v := q.Get("tail"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			return nil, flinkplane.Errorf(flinkplane.EINVALID, "tail must be a non-negative number of lines, not %q.", clip(v))
		}
		tail = n
	}
	if !validLogName(file) {
		return nil, flinkplane.Errorf(flinkplane.EINVALID, "Invalid log file name %q: give a file name as listed by the logs endpoint.", clip(file))
	}
	cluster := q.Get("cluster")
	refs, err := s.clustersOf(ctx, name)
	if err != nil {
		return nil, err
	}
	lr, err := s.logReader()
	if err != nil {
		return nil, err
	}
	for _, c := range refs {
		if cluster != "" && c.h.ID != cluster {
			continue
		}
		files, err := lr.Logs(ctx, c.h)
		if flinkplane.ErrorCode(err) == flinkplane.ENOTFOUND {
			continue
		} else if err != nil {
			return nil, fmt.Errorf("list logs of cluster %s: %w", c.h.ID, err)
		}
		for _, f := range files {
			if f.Name == file {
				return readTail(ctx, lr, c.h, f, tail)
			}
		}
	}
	if cluster != "" {
		return nil, flinkplane.Errorf(flinkplane.ENOTFOUND, "Log file %s of cluster %s of application %s not found.", file, clip(cluster), name)
	}
	return nil, flinkplane.Errorf(flinkplane.ENOTFOUND, "Log file %s of application %s not found.", file, name)
}

// readTail reads a whole log file (its last maxLogRead bytes if longer) or,
// with tail > 0, its last tail lines, reading backwards in growing chunks.
func readTail(ctx context.Context, lr flinkplane.LogReader, h flinkplane.ClusterHandle, f flinkplane.LogFile, tail int) (textResponse, error) {
	if tail <= 0 {
		b, err := lr.ReadLog(ctx, h, f.Name, -maxLogRead, maxLogRead)
		return textResponse(b), err
	}
	for chunk := int64(64 << 10); ; chunk *= 4 {
		chunk = min(chunk, maxLogRead)
		b, err := lr.ReadLog(ctx, h, f.Name, -chunk, chunk)
		if err != nil {
			return nil, err
		}
		whole := int64(len(b)) < chunk || chunk >= f.Size
		if out, ok := lastLines(b, tail, whole || chunk == maxLogRead); ok {
			return textResponse(out), nil
		}
		if whole || chunk == maxLogRead {
			return textResponse(b), nil
		}
	}
}

// lastLines returns the last n lines of b (a final line without a newline
// counts). ok is false when b holds fewer than n complete lines and more
// may precede it (complete false).
func lastLines(b []byte, n int, complete bool) ([]byte, bool) {
	end := len(b)
	if end > 0 && b[end-1] == '\n' {
		end--
	}
	i := end
	for k := 0; k < n; k++ {
		j := bytes.LastIndexByte(b[:i], '\n')
		if j < 0 {
			if complete {
				return b, true
			}
			return nil, false
		}
		i = j
		if k == n-1 {
			return b[i+1:], true
		}
	}
	return b[i:], true
}
