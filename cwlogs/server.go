// Package cwlogs serves a CloudWatch Logs-compatible API (AWS JSON 1.1,
// X-Amz-Target: Logs_20140328.<Op>) over a flinkplane.LogStore —
// CreateLogGroup, CreateLogStream, DescribeLogGroups, DescribeLogStreams,
// GetLogEvents and FilterLogEvents — and delivers applications' Flink logs
// and exception history into the log streams their CloudWatch logging
// options name (Shipper), in the JSON format of the managed service.
// Requests are read and checked against the model trimmed from botocore's
// (model.json; go generate). See docs/metrics.md.
package cwlogs

//go:generate sh -c "go run ../internal/awsproto/trim -model ${BOTOCORE_DATA:-$HOME/.cache/flinkplane/awscli/lib/python3.11/site-packages/awscli/botocore/data}/logs/2014-03-28/service-2.json -ops CreateLogGroup,CreateLogStream,DescribeLogGroups,DescribeLogStreams,GetLogEvents,FilterLogEvents > model.json"

import (
	"context"
	"crypto/rand"
	_ "embed"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/flinkplane/flinkplane"
	"github.com/flinkplane/flinkplane/awsapi/sigv4"
	"github.com/flinkplane/flinkplane/internal/awsproto"
)

//go:embed model.json
var modelJSON []byte

// Model is CloudWatch Logs' model, trimmed to the served operations.
var Model = func() *awsproto.Model {
	m, err := awsproto.Load(modelJSON)
	if err != nil {
		panic(err)
	}
	return m
}()

// TargetPrefix is the X-Amz-Target prefix of the API.
const TargetPrefix = "Logs_20140328"

// MaxBodySize bounds a request body.
const MaxBodySize = 1 << 20

// Server is the HTTP handler of the CloudWatch Logs-compatible API.
type Server struct {
	Logs flinkplane.LogStore
	// Verifier, if set, checks SigV4 signatures (signing name "logs").
	Verifier *sigv4.Verifier
	// Region and Account form the ARNs of groups and streams.
	Region, Account string
	Now             func() time.Time
	Logger          *slog.Logger

	ops map[string]opFunc
}

type opFunc func(ctx context.Context, in map[string]any) (any, error)

// New returns a server over ls.
func New(ls flinkplane.LogStore, region, account string) *Server {
	s := &Server{Logs: ls, Region: region, Account: account, Now: time.Now, Logger: slog.Default()}
	s.ops = map[string]opFunc{
		"CreateLogGroup":     s.createLogGroup,
		"CreateLogStream":    s.createLogStream,
		"DescribeLogGroups":  s.describeLogGroups,
		"DescribeLogStreams": s.describeLogStreams,
		"GetLogEvents":       s.getLogEvents,
		"FilterLogEvents":    s.filterLogEvents,
	}
	return s
}

// Operations returns the served operation names.
func Operations() []string {
	return []string{"CreateLogGroup", "CreateLogStream", "DescribeLogGroups", "DescribeLogStreams", "FilterLogEvents", "GetLogEvents"}
}

// Matches reports whether r is a CloudWatch Logs request.
func Matches(r *http.Request) bool {
	return strings.HasPrefix(r.Header.Get("X-Amz-Target"), TargetPrefix+".")
}

// Classify names the API and operation of a request for the request
// metrics.
func Classify(r *http.Request) (api, operation string) {
	if !Matches(r) {
		return "", ""
	}
	op := strings.TrimPrefix(r.Header.Get("X-Amz-Target"), TargetPrefix+".")
	for _, known := range Operations() {
		if op == known {
			return "logs", op
		}
	}
	return "logs", "unknown"
}

func requestID() string {
	var b [16]byte
	rand.Read(b[:])
	h := hex.EncodeToString(b[:])
	return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:32]
}

// ServeHTTP serves one CloudWatch Logs request.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("X-Amzn-Requestid", requestID())
	if r.Method != http.MethodPost {
		s.writeError(w, apiErr("UnknownOperationException", 400, "Only POST is served."))
		return
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, MaxBodySize+1))
	if err != nil {
		s.writeError(w, apiErr("SerializationException", 400, "Cannot read the request body."))
		return
	}
	if len(body) > MaxBodySize {
		s.writeError(w, apiErr("InvalidParameterException", 413, fmt.Sprintf("The request body exceeds %d bytes.", MaxBodySize)))
		return
	}
	if s.Verifier != nil {
		if err := s.Verifier.Verify(r, body); err != nil {
			name := sigv4.ExceptionName(err)
			if name == "" {
				name = "AccessDeniedException"
			}
			s.writeError(w, apiErr(name, http.StatusForbidden, flinkplane.ErrorMessage(err)))
			return
		}
	}
	name := strings.TrimPrefix(r.Header.Get("X-Amz-Target"), TargetPrefix+".")
	op, ok := Model.Operations[name]
	fn := s.ops[name]
	if !ok || fn == nil {
		s.writeError(w, apiErr("UnknownOperationException", 400, fmt.Sprintf("Unknown operation %s; flinkplane serves %s.", clip(name), strings.Join(Operations(), ", "))))
		return
	}
	tree, err := Model.DecodeJSON(op.Input.Shape, body)
	if err == nil {
		err = Model.Validate(op.Input.Shape, tree)
	}
	if err != nil {
		var e *awsproto.Error
		if errors.As(err, &e) && e.Kind == awsproto.KindSerialization {
			s.writeError(w, apiErr("SerializationException", 400, e.Message))
		} else {
			s.writeError(w, invalid("%s", flinkplane.ErrorMessage(err)))
		}
		return
	}
	out, err := s.call(r.Context(), name, fn, tree)
	if err != nil {
		s.writeError(w, err)
		return
	}
	var b []byte
	if op.Output != nil {
		otree, err := Model.ToTree(op.Output.Shape, out)
		if err == nil {
			b, err = Model.EncodeJSON(op.Output.Shape, otree)
		}
		if err != nil {
			s.writeError(w, fmt.Errorf("encode %s output: %w", name, err))
			return
		}
	}
	w.Header().Set("Content-Type", "application/x-amz-json-1.1")
	w.Header().Set("Content-Length", fmt.Sprint(len(b)))
	w.WriteHeader(http.StatusOK)
	w.Write(b)
}

func clip(s string) string {
	if len(s) > 128 {
		return s[:128]
	}
	return s
}

func (s *Server) call(ctx context.Context, name string, fn opFunc, in map[string]any) (out any, err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("panic in %s: %v", name, p)
		}
	}()
	return fn(ctx, in)
}

// apiError is a CloudWatch Logs error.
type apiError struct {
	typ     string
	status  int
	message string
}

func (e *apiError) Error() string { return e.typ + ": " + e.message }

func apiErr(typ string, status int, msg string) *apiError {
	return &apiError{typ: typ, status: status, message: msg}
}

func invalid(format string, args ...any) *apiError {
	return apiErr("InvalidParameterException", 400, fmt.Sprintf(format, args...))
}

// storeError maps the store's errors to the API's.
func storeError(err error) error {
	switch flinkplane.ErrorCode(err) {
	case flinkplane.ENOTFOUND:
		return apiErr("ResourceNotFoundException", 400, flinkplane.ErrorMessage(err))
	case flinkplane.EINUSE:
		return apiErr("ResourceAlreadyExistsException", 400, flinkplane.ErrorMessage(err))
	case flinkplane.EINVALID:
		return invalid("%s", flinkplane.ErrorMessage(err))
	}
	return err
}

// writeError is the one function that writes errors.
func (s *Server) writeError(w http.ResponseWriter, err error) {
	var e *apiError
	if !errors.As(err, &e) {
		s.Logger.Error("internal error in the CloudWatch Logs API", "error", err)
		e = apiErr("ServiceUnavailableException", 500, "Internal error.")
	}
	b, _ := json.Marshal(map[string]string{"__type": e.typ, "message": e.message})
	w.Header().Set("Content-Type", "application/x-amz-json-1.1")
	w.Header().Set("X-Amzn-ErrorType", e.typ)
	w.Header().Set("Content-Length", fmt.Sprint(len(b)))
	w.WriteHeader(e.status)
	w.Write(b)
}
