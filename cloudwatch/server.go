// Package cloudwatch serves a CloudWatch-compatible metrics API over a
// flinkplane.MetricStore: GetMetricStatistics, GetMetricData (without
// metric math) and ListMetrics, in the three protocols CloudWatch's model
// names (it is awsQueryCompatible):
//
//   - Smithy RPC v2 CBOR: POST /service/GraniteServiceVersion20100801/operation/<Op>
//     with smithy-protocol: rpc-v2-cbor (the AWS SDK for Go v2);
//   - AWS JSON 1.0: POST / with X-Amz-Target: GraniteServiceVersion20100801.<Op>
//     (the AWS CLI, botocore ≥ 1.40);
//   - AWS query: Action=<Op>&Version=2010-08-01, form-encoded POST or GET,
//     with XML responses (older SDKs and CLIs).
//
// Errors carry each protocol's shape: a __type and message body (JSON or
// CBOR) with X-Amzn-ErrorType and x-amzn-query-error: <Code>;<Sender|Receiver>,
// or an <ErrorResponse> document (query). The request bodies are read and
// checked against the operations' shapes in the model trimmed from
// botocore's (model.json; go generate). See docs/metrics.md.
package cloudwatch

//go:generate sh -c "go run ../internal/awsproto/trim -model ${BOTOCORE_DATA:-$HOME/.cache/flinkplane/awscli/lib/python3.11/site-packages/awscli/botocore/data}/cloudwatch/2010-08-01/service-2.json -ops GetMetricStatistics,GetMetricData,ListMetrics > model.json"

import (
	"context"
	"crypto/rand"
	_ "embed"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/flinkplane/flinkplane"
	"github.com/flinkplane/flinkplane/awsapi/sigv4"
	"github.com/flinkplane/flinkplane/internal/awsproto"
)

//go:embed model.json
var modelJSON []byte

// Model is CloudWatch's model, trimmed to the served operations.
var Model = func() *awsproto.Model {
	m, err := awsproto.Load(modelJSON)
	if err != nil {
		panic(err)
	}
	return m
}()

// Protocol identifiers, as the metrics label them.
const (
	TargetPrefix = "GraniteServiceVersion20100801"
	APIVersion   = "2010-08-01"
	cborPrefix   = "/service/" + TargetPrefix + "/operation/"
	errNamespace = "com.amazonaws.cloudwatch#"
)

// MaxBodySize bounds a request body.
const MaxBodySize = 1 << 20

// Server is the HTTP handler of the CloudWatch-compatible API.
type Server struct {
	Metrics flinkplane.MetricStore
	// Verifier, if set, checks SigV4 signatures (signing name
	// "monitoring"); nil accepts any request.
	Verifier *sigv4.Verifier
	// Account is the account id of OwningAccounts.
	Account string
	Now     func() time.Time
	Logger  *slog.Logger

	ops map[string]opFunc
}

type opFunc func(ctx context.Context, in map[string]any) (any, error)

// New returns a server over ms.
func New(ms flinkplane.MetricStore) *Server {
	s := &Server{Metrics: ms, Account: "000000000000", Now: time.Now, Logger: slog.Default()}
	s.ops = map[string]opFunc{
		"GetMetricStatistics": s.getMetricStatistics,
		"GetMetricData":       s.getMetricData,
		"ListMetrics":         s.listMetrics,
	}
	return s
}

// Operations returns the served operation names.
func Operations() []string { return []string{"GetMetricData", "GetMetricStatistics", "ListMetrics"} }

// protocol of a request.
type protocol int

const (
	protoJSON protocol = iota
	protoCBOR
	protoQuery
)

// Matches reports whether r is a CloudWatch request, by its shape: the
// JSON target prefix, the RPC v2 CBOR path, or a query protocol request
// (form-encoded POST, or GET with Action) on /.
func Matches(r *http.Request) bool {
	_, ok := detect(r)
	return ok
}

func detect(r *http.Request) (protocol, bool) {
	if strings.HasPrefix(r.Header.Get("X-Amz-Target"), TargetPrefix+".") {
		return protoJSON, true
	}
	if strings.HasPrefix(r.URL.Path, cborPrefix) {
		return protoCBOR, true
	}
	if r.URL.Path == "/" || r.URL.Path == "" {
		if (r.Method == http.MethodGet || r.Method == http.MethodPost) && r.URL.Query().Get("Action") != "" {
			return protoQuery, true
		}
		if r.Method == http.MethodPost && r.Header.Get("X-Amz-Target") == "" {
			mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
			if mt == "application/x-www-form-urlencoded" {
				return protoQuery, true
			}
		}
	}
	return 0, false
}

// Classify names the API and operation of a request for the request
// metrics (operation names outside the served ones are "unknown").
func Classify(r *http.Request) (api, operation string) {
	p, ok := detect(r)
	if !ok {
		return "", ""
	}
	op := ""
	switch p {
	case protoJSON:
		op = strings.TrimPrefix(r.Header.Get("X-Amz-Target"), TargetPrefix+".")
	case protoCBOR:
		op = strings.TrimPrefix(r.URL.Path, cborPrefix)
	case protoQuery:
		op = r.URL.Query().Get("Action")
	}
	for _, known := range Operations() {
		if op == known {
			return "cloudwatch", op
		}
	}
	return "cloudwatch", "unknown"
}

func requestID() string {
	var b [16]byte
	rand.Read(b[:])
	h := hex.EncodeToString(b[:])
	return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:32]
}

// ServeHTTP serves one CloudWatch request.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	rid := requestID()
	w.Header().Set("X-Amzn-Requestid", rid)
	p, ok := detect(r)
	if !ok {
		p = protoJSON
	}
	if p == protoCBOR {
		w.Header().Set("Smithy-Protocol", "rpc-v2-cbor")
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, MaxBodySize+1))
	if err != nil {
		s.writeError(w, p, rid, fail("SerializationException", "Cannot read the request body."))
		return
	}
	if len(body) > MaxBodySize {
		s.writeError(w, p, rid, &apiError{shape: "RequestEntityTooLarge", code: "RequestEntityTooLarge", status: http.StatusRequestEntityTooLarge, sender: true,
			message: fmt.Sprintf("Request size %d exceeded %d bytes", len(body), MaxBodySize)})
		return
	}
	if s.Verifier != nil {
		if err := s.Verifier.Verify(r, body); err != nil {
			s.writeError(w, p, rid, authError(err))
			return
		}
	}
	name, form, err := s.operationName(r, p, body)
	if err != nil {
		s.writeError(w, p, rid, err)
		return
	}
	op, ok := Model.Operations[name]
	fn := s.ops[name]
	if !ok || fn == nil {
		s.writeError(w, p, rid, unknownOperation(p, name))
		return
	}
	if os, ok := w.(interface{ SetOperation(string) }); ok {
		os.SetOperation(name) // for the request metrics (the query protocol names it in the body)
	}
	var tree map[string]any
	switch p {
	case protoJSON:
		tree, err = Model.DecodeJSON(op.Input.Shape, body)
	case protoCBOR:
		tree, err = Model.DecodeCBOR(op.Input.Shape, body)
	case protoQuery:
		tree, err = Model.DecodeQuery(op.Input.Shape, form)
	}
	if err == nil {
		err = Model.Validate(op.Input.Shape, tree)
	}
	if err != nil {
		s.writeError(w, p, rid, protoError(err))
		return
	}
	out, err := s.call(r.Context(), name, fn, tree)
	if err != nil {
		s.writeError(w, p, rid, err)
		return
	}
	otree, err := Model.ToTree(op.Output.Shape, out)
	if err != nil {
		s.writeError(w, p, rid, err)
		return
	}
	var b []byte
	switch p {
	case protoJSON:
		w.Header().Set("Content-Type", "application/x-amz-json-1.0")
		b, err = Model.EncodeJSON(op.Output.Shape, otree)
	case protoCBOR:
		w.Header().Set("Content-Type", "application/cbor")
		b, err = Model.EncodeCBOR(op.Output.Shape, otree)
	case protoQuery:
		w.Header().Set("Content-Type", "text/xml")
		b = Model.EncodeXML(op, otree, rid)
	}
	if err != nil {
		s.writeError(w, p, rid, fmt.Errorf("encode %s output: %w", name, err))
		return
	}
	w.Header().Set("Content-Length", fmt.Sprint(len(b)))
	w.WriteHeader(http.StatusOK)
	w.Write(b)
}

// operationName finds the operation of a request; for the query protocol
// it also returns the form without Action and Version.
func (s *Server) operationName(r *http.Request, p protocol, body []byte) (string, url.Values, error) {
	switch p {
	case protoJSON:
		if r.Method != http.MethodPost {
			return "", nil, fail("UnknownOperationException", "Only POST is served for X-Amz-Target requests.")
		}
		return strings.TrimPrefix(r.Header.Get("X-Amz-Target"), TargetPrefix+"."), nil, nil
	case protoCBOR:
		if r.Method != http.MethodPost {
			return "", nil, &apiError{shape: "UnknownOperationException", code: "UnknownOperationException", status: http.StatusNotFound, sender: true, message: "Only POST is served."}
		}
		return strings.TrimPrefix(r.URL.Path, cborPrefix), nil, nil
	}
	form := r.URL.Query()
	if r.Method == http.MethodPost && len(body) > 0 {
		bf, err := url.ParseQuery(string(body))
		if err != nil {
			return "", nil, &apiError{shape: "MalformedQueryString", code: "MalformedQueryString", status: 400, sender: true, message: "The query string is malformed."}
		}
		for k, v := range bf {
			form[k] = v
		}
	}
	action := form.Get("Action")
	if action == "" {
		return "", nil, &apiError{shape: "MissingAction", code: "MissingAction", status: 400, sender: true, message: "The request must contain the parameter Action."}
	}
	if v := form.Get("Version"); v != "" && v != APIVersion {
		return "", nil, &apiError{shape: "InvalidAction", code: "InvalidAction", status: 400, sender: true,
			message: fmt.Sprintf("Could not find operation %s for version %s", clip(action), clip(v))}
	}
	form.Del("Action")
	form.Del("Version")
	return action, form, nil
}

func clip(s string) string {
	if len(s) > 128 {
		return s[:128]
	}
	return s
}

func unknownOperation(p protocol, name string) error {
	switch p {
	case protoQuery:
		return &apiError{shape: "InvalidAction", code: "InvalidAction", status: 400, sender: true,
			message: fmt.Sprintf("Could not find operation %s for version %s", clip(name), APIVersion)}
	case protoCBOR:
		return &apiError{shape: "UnknownOperationException", code: "UnknownOperationException", status: http.StatusNotFound, sender: true,
			message: fmt.Sprintf("Unknown operation %s; flinkplane serves %s.", clip(name), strings.Join(Operations(), ", "))}
	}
	return fail("UnknownOperationException", "Unknown operation %s; flinkplane serves %s.", clip(name), strings.Join(Operations(), ", "))
}

// call runs a handler, turning a panic into an internal error.
func (s *Server) call(ctx context.Context, name string, fn opFunc, in map[string]any) (out any, err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("panic in %s: %v", name, p)
		}
	}()
	return fn(ctx, in)
}

// apiError is a CloudWatch error: the exception shape (JSON/CBOR __type),
// the query error code, the HTTP status and who is at fault.
type apiError struct {
	shape   string
	code    string
	status  int
	sender  bool
	message string
}

func (e *apiError) Error() string { return e.code + ": " + e.message }

// fail returns the error of a modeled exception (or of an unmodeled one
// with status 400, sender fault).
func fail(shape, format string, args ...any) *apiError {
	e := &apiError{shape: shape, code: shape, status: 400, sender: true, message: fmt.Sprintf(format, args...)}
	if s, ok := Model.Shapes[shape]; ok && s.Error != nil {
		if s.Error.Code != "" {
			e.code = s.Error.Code
		}
		if s.Error.HTTPStatusCode != 0 {
			e.status = s.Error.HTTPStatusCode
		}
		e.sender = s.Error.SenderFault
	}
	return e
}

// Errors of the operations.
func invalidValue(format string, args ...any) *apiError {
	return fail("InvalidParameterValueException", format, args...)
}

func invalidCombination(format string, args ...any) *apiError {
	return fail("InvalidParameterCombinationException", format, args...)
}

func protoError(err error) error {
	var e *awsproto.Error
	if !errors.As(err, &e) {
		return err
	}
	switch e.Kind {
	case awsproto.KindMissing:
		return fail("MissingRequiredParameterException", "%s", e.Message)
	case awsproto.KindInvalid:
		return fail("InvalidParameterValueException", "%s", e.Message)
	}
	return fail("SerializationException", "%s", e.Message)
}

// authError turns a SigV4 failure into CloudWatch's error: the exception
// name for JSON and CBOR, the query code (without "Exception") for query.
func authError(err error) *apiError {
	name := sigv4.ExceptionName(err)
	if name == "" {
		name = "AccessDeniedException"
	}
	code := strings.TrimSuffix(name, "Exception")
	switch name {
	case sigv4.InvalidSignature:
		code = "SignatureDoesNotMatch"
	case sigv4.UnrecognizedClient:
		code = "InvalidClientTokenId"
	}
	return &apiError{shape: name, code: code, status: http.StatusForbidden, sender: true, message: flinkplane.ErrorMessage(err)}
}

// writeError is the one function that writes errors.
func (s *Server) writeError(w http.ResponseWriter, p protocol, rid string, err error) {
	var e *apiError
	if !errors.As(err, &e) {
		s.Logger.Error("internal error in the CloudWatch API", "error", err)
		e = fail("InternalServiceFault", "Internal error.")
		e.sender = false
	}
	fault := "Sender"
	if !e.sender {
		fault = "Receiver"
	}
	w.Header().Set("X-Amzn-ErrorType", e.shape)
	w.Header().Set("X-Amzn-Query-Error", e.code+";"+fault)
	var b []byte
	switch p {
	case protoQuery:
		w.Header().Set("Content-Type", "text/xml")
		b = awsproto.XMLError(Model.Metadata.XMLNamespace, fault, e.code, e.message, rid)
	case protoCBOR:
		w.Header().Set("Content-Type", "application/cbor")
		b, _ = awsproto.EncodeCBORValue(map[string]any{"__type": errNamespace + e.shape, "message": e.message})
	default:
		w.Header().Set("Content-Type", "application/x-amz-json-1.0")
		b = jsonError(errNamespace+e.shape, e.message)
	}
	w.Header().Set("Content-Length", fmt.Sprint(len(b)))
	w.WriteHeader(e.status)
	w.Write(b)
}

func jsonError(typ, msg string) []byte {
	b, _ := jsonMarshal(map[string]string{"__type": typ, "message": msg})
	return b
}
