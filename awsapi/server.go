// Package awsapi serves the kinesisanalyticsv2 API (Amazon Managed Service
// for Apache Flink) over AWS JSON 1.1: POST / with
// X-Amz-Target: KinesisAnalytics_20180523.<Operation>. Every operation of the
// model is routed through one explicit table; handlers validate the body
// against the model (awsapi/model), act through the engine and the store,
// and return a response or an error that one function writes.
package awsapi

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/flinkplane/flinkplane"
	"github.com/flinkplane/flinkplane/awsapi/model"
	"github.com/flinkplane/flinkplane/awsapi/sigv4"
	"github.com/flinkplane/flinkplane/client"
	"github.com/flinkplane/flinkplane/engine"
)

// opFunc handles one operation: it receives the raw body and returns the
// response value or an error.
type opFunc func(ctx context.Context, body []byte) (any, error)

// Server is the HTTP handler of the API.
type Server struct {
	Engine *engine.Engine
	Store  flinkplane.Store
	Code   flinkplane.CodeStore
	// Region and Account form the application ARNs.
	Region  string
	Account string
	// Verifier, if set, checks SigV4 signatures; nil accepts any request.
	Verifier *sigv4.Verifier
	// Dashboard, if set, hands out the presigned URLs of
	// CreateApplicationPresignedUrl.
	Dashboard Dashboard
	// Admission bounds what a request may cost before it is trusted (see
	// Admission); nil reads bodies up to model.MaxBodySize without a
	// memory budget.
	Admission *Admission
	// Logs, if set, serves the logs of the applications' clusters on the
	// extension endpoints (logs.go); NewServer takes it from the engine's
	// driver when that keeps logs.
	Logs   flinkplane.LogReader
	Logger *slog.Logger
	Now    func() time.Time

	ops           map[string]opFunc
	describeCache responseCache
}

// SetCacheEntries bounds the cache of encoded DescribeApplication
// responses (least recently used out); call it before serving.
func (s *Server) SetCacheEntries(n int) { s.describeCache.max = n }

// NewServer returns a server wired to the engine (and its store and code
// store).
func NewServer(e *engine.Engine, region, account string) *Server {
	s := &Server{Engine: e, Store: e.Store, Code: e.Code, Region: region, Account: account, Logger: slog.Default(), Now: time.Now}
	s.ops = s.routes()
	s.Logs, _ = e.Driver.(flinkplane.LogReader)
	return s
}

// TargetPrefix is the X-Amz-Target prefix of the API.
const TargetPrefix = "KinesisAnalytics_20180523."

func (s *Server) routes() map[string]opFunc {
	r := map[string]opFunc{
		"CreateApplication":                         s.createApplication,
		"DescribeApplication":                       s.describeApplication,
		"ListApplications":                          s.listApplications,
		"UpdateApplication":                         s.updateApplication,
		"DeleteApplication":                         s.deleteApplication,
		"StartApplication":                          s.startApplication,
		"StopApplication":                           s.stopApplication,
		"RollbackApplication":                       s.rollbackApplication,
		"CreateApplicationSnapshot":                 s.createApplicationSnapshot,
		"DescribeApplicationSnapshot":               s.describeApplicationSnapshot,
		"ListApplicationSnapshots":                  s.listApplicationSnapshots,
		"DeleteApplicationSnapshot":                 s.deleteApplicationSnapshot,
		"ListApplicationOperations":                 s.listApplicationOperations,
		"DescribeApplicationOperation":              s.describeApplicationOperation,
		"ListApplicationVersions":                   s.listApplicationVersions,
		"DescribeApplicationVersion":                s.describeApplicationVersion,
		"TagResource":                               s.tagResource,
		"UntagResource":                             s.untagResource,
		"ListTagsForResource":                       s.listTagsForResource,
		"AddApplicationCloudWatchLoggingOption":     s.addCloudWatchLoggingOption,
		"DeleteApplicationCloudWatchLoggingOption":  s.deleteCloudWatchLoggingOption,
		"AddApplicationVpcConfiguration":            s.addVpcConfiguration,
		"DeleteApplicationVpcConfiguration":         s.deleteVpcConfiguration,
		"UpdateApplicationMaintenanceConfiguration": s.updateMaintenanceConfiguration,
		"CreateApplicationPresignedUrl":             s.createPresignedURL,
		"DiscoverInputSchema":                       s.discoverInputSchema,
	}
	// The SQL-only operations answer for a Flink application as AWS does.
	for _, op := range []string{"AddApplicationInput", "AddApplicationOutput", "AddApplicationReferenceDataSource",
		"AddApplicationInputProcessingConfiguration", "DeleteApplicationInputProcessingConfiguration",
		"DeleteApplicationOutput", "DeleteApplicationReferenceDataSource"} {
		r[op] = s.sqlOnly(op)
	}
	return r
}

// Operations returns the names of the routed operations.
func (s *Server) Operations() []string {
	var out []string
	for k := range s.ops {
		out = append(out, k)
	}
	return out
}

func requestID() string {
	var b [16]byte
	rand.Read(b[:])
	h := hex.EncodeToString(b[:])
	return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:32]
}

// ServeHTTP serves one API request.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	rid := requestID()
	w.Header().Set("X-Amzn-Requestid", rid)
	if strings.HasPrefix(r.URL.Path, client.ExtensionPrefix) {
		s.serveExtension(w, r)
		return
	}
	if r.Method != http.MethodPost || (r.URL.Path != "/" && r.URL.Path != "") {
		s.writeError(w, r, flinkplane.Errorf(model.EUNKNOWNOPERATION, "Only POST / is served."))
		return
	}
	body, release, err := s.Admission.Read(r, s.Verifier)
	defer release()
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	if err := checkContentType(r); err != nil {
		s.writeError(w, r, err)
		return
	}
	target := r.Header.Get("X-Amz-Target")
	name, ok := strings.CutPrefix(target, TargetPrefix)
	fn := s.ops[name]
	if !ok || fn == nil {
		s.writeError(w, r, flinkplane.Errorf(model.EUNKNOWNOPERATION, "Unknown operation %q.", clip(target)))
		return
	}
	ups := &uploads{}
	ctx := context.WithValue(context.WithValue(r.Context(), uploadsKey{}, ups), baseURLKey{}, baseURL(r))
	resp, err := s.call(ctx, name, fn, body)
	for _, ref := range ups.refs {
		s.Engine.ReleaseUpload(r.Context(), ref, err == nil)
	}
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	b, ok := resp.(rawJSON)
	if !ok {
		if b, err = json.Marshal(resp); err != nil {
			s.writeError(w, r, fmt.Errorf("encode response: %w", err))
			return
		}
	}
	w.Header().Set("Content-Type", "application/x-amz-json-1.1")
	w.Header().Set("Content-Length", fmt.Sprint(len(b)))
	w.WriteHeader(http.StatusOK)
	w.Write(b)
}

// uploads are the code uploads (ZipFileContent) of one request: pinned in
// the code store until the request is answered (engine.ReleaseUpload).
type uploads struct{ refs []string }

type uploadsKey struct{}

// putZip stores uploaded code and records it with the request.
func (s *Server) putZip(ctx context.Context, data []byte) (ref, sum string, err error) {
	ref, sum, err = s.Code.PutZip(ctx, data)
	if err == nil {
		if u, ok := ctx.Value(uploadsKey{}).(*uploads); ok {
			u.refs = append(u.refs, ref)
		}
	}
	return ref, sum, err
}

// call runs a handler, turning a panic into an internal error.
func (s *Server) call(ctx context.Context, name string, fn opFunc, body []byte) (resp any, err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("panic in %s: %v", name, p)
		}
	}()
	return fn(ctx, body)
}

func clip(s string) string {
	if len(s) > 128 {
		return s[:128]
	}
	return s
}

// errorBody is the AWS JSON 1.1 error body.
type errorBody struct {
	Type    string `json:"__type"`
	Message string `json:"message"`
}

// writeError is the one function that writes errors.
func (s *Server) writeError(w http.ResponseWriter, r *http.Request, err error) {
	exception, status := errorType(err)
	msg := flinkplane.ErrorMessage(err)
	if flinkplane.ErrorCode(err) == flinkplane.EINTERNAL {
		s.Logger.Error("internal error", "target", r.Header.Get("X-Amz-Target"), "path", r.URL.Path, "error", err)
	}
	b, _ := json.Marshal(errorBody{Type: exception, Message: msg})
	if status == http.StatusRequestEntityTooLarge {
		// The rest of the body is not read: the connection cannot serve
		// another request.
		w.Header().Set("Connection", "close")
	}
	w.Header().Set("Content-Type", "application/x-amz-json-1.1")
	w.Header().Set("X-Amzn-ErrorType", exception)
	w.WriteHeader(status)
	w.Write(b)
}

// errorTable maps each flinkplane error code to its AWS exception and HTTP
// status: the one place where this mapping lives.
var errorTable = map[string]struct {
	Exception string
	Status    int
}{
	flinkplane.EINVALID:        {"InvalidArgumentException", 400},
	flinkplane.EINVALIDREQUEST: {"InvalidRequestException", 400},
	flinkplane.EINVALIDCONFIG:  {"InvalidApplicationConfigurationException", 400},
	flinkplane.ECODE:           {"CodeValidationException", 400},
	flinkplane.ENOTFOUND:       {"ResourceNotFoundException", 400},
	flinkplane.EINUSE:          {"ResourceInUseException", 400},
	flinkplane.ECONFLICT:       {"ConcurrentModificationException", 400},
	flinkplane.ELIMIT:          {"LimitExceededException", 400},
	flinkplane.ETOOMANYTAGS:    {"TooManyTagsException", 400},
	flinkplane.EUNSUPPORTED:    {"UnsupportedOperationException", 400},
	flinkplane.EUNAVAILABLE:    {"ServiceUnavailableException", 503},
	flinkplane.EUNAUTHORIZED:   {"AccessDeniedException", 403},
	flinkplane.EINTERNAL:       {"InternalFailure", 500},
}

// errorType returns the AWS exception name and HTTP status of err.
func errorType(err error) (string, int) {
	if name := sigv4.ExceptionName(err); name != "" {
		return name, http.StatusForbidden
	}
	code := flinkplane.ErrorCode(err)
	if exc, status, ok := model.ProtocolError(code); ok {
		return exc, status
	}
	if e, ok := errorTable[code]; ok {
		return e.Exception, e.Status
	}
	return "InternalFailure", 500
}

func decode(op string, body []byte, v any) error {
	return model.DecodeInput(op, body, v)
}

// ExceptionNames returns the AWS exception names of the error table.
func ExceptionNames() []string {
	var out []string
	for _, e := range errorTable {
		out = append(out, e.Exception)
	}
	return out
}
