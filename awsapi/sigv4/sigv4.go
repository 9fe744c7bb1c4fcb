// Package sigv4 verifies AWS Signature Version 4 signatures of requests to
// the kinesisanalyticsv2 API, the way AWS does for AWS JSON 1.1 services:
// from the Authorization header (AWS4-HMAC-SHA256), X-Amz-Date (or Date),
// the signed headers and a SHA-256 of the body.
//
// Failures are *Error values that wrap a *flinkplane.Error with code
// flinkplane.EUNAUTHORIZED and carry the AWS exception name for the error
// body's "__type":
//
//	MissingAuthenticationTokenException  no Authorization header
//	IncompleteSignatureException         malformed Authorization header, no date header,
//	                                     host, the date header, X-Amz-Target or
//	                                     Content-Type not signed, unsupported algorithm
//	UnrecognizedClientException          unknown access key id
//	InvalidSignatureException            wrong signature (wrong secret, tampered body or
//	                                     header), bad credential scope, clock skew
//
// Every failure answers HTTP 403 (Status). Real AWS answers 403 only for a
// missing token and 400 for the others; flinkplane uses 403 throughout
// because a rejected credential is an authorization failure and the AWS
// clients read the exception name from the body, not the status.
package sigv4

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/flinkplane/flinkplane"
)

// AWS exception names used in error bodies.
const (
	MissingAuthenticationToken = "MissingAuthenticationTokenException"
	IncompleteSignature        = "IncompleteSignatureException"
	UnrecognizedClient         = "UnrecognizedClientException"
	InvalidSignature           = "InvalidSignatureException"
)

const (
	algorithm   = "AWS4-HMAC-SHA256"
	terminator  = "aws4_request"
	amzDateFmt  = "20060102T150405Z"
	shortDate   = "20060102"
	defaultSkew = 15 * time.Minute
)

// Error is a verification failure. It wraps a *flinkplane.Error with code
// EUNAUTHORIZED, so flinkplane.ErrorCode and ErrorMessage work on it.
type Error struct {
	Exception string // AWS exception name, for "__type"
	Status    int    // HTTP status: always 403
	Err       *flinkplane.Error
}

func (e *Error) Error() string { return e.Exception + ": " + e.Err.Message }

// Unwrap returns the *flinkplane.Error.
func (e *Error) Unwrap() error { return e.Err }

func fail(exception, format string, args ...any) *Error {
	return &Error{Exception: exception, Status: http.StatusForbidden, Err: flinkplane.Errorf(flinkplane.EUNAUTHORIZED, format, args...)}
}

// ExceptionName returns the AWS exception name of a verification error, and
// "" if err is not (and does not wrap) an *Error.
func ExceptionName(err error) string {
	var e *Error
	if errors.As(err, &e) {
		return e.Exception
	}
	return ""
}

// Verifier checks SigV4 signatures against a fixed set of credentials.
// The zero value of Service, Now and MaxSkew mean "kinesisanalytics",
// time.Now and 15 minutes. A Verifier is safe for concurrent use; its
// fields must not change after the first Verify.
type Verifier struct {
	Credentials map[string]string // access key id → secret access key
	Region      string            // the region credentials must be scoped to
	Service     string            // signing name, "kinesisanalytics"
	Now         func() time.Time
	MaxSkew     time.Duration // allowed difference between X-Amz-Date and Now
	// Required are the headers that must be signed whenever the request
	// carries them (lower case); nil means DefaultRequired. Host and the
	// date header (X-Amz-Date, or Date without it) must always be signed.
	Required []string

	mu   sync.Mutex
	keys map[string][]byte // akid/date → signing key
}

// New returns a Verifier for the kinesisanalytics service in region.
func New(credentials map[string]string, region string) *Verifier {
	return &Verifier{Credentials: credentials, Region: region, Service: "kinesisanalytics", Now: time.Now, MaxSkew: defaultSkew}
}

type authorization struct {
	accessKey, date, region, service, term string
	signedHeaders                          []string
	signature                              string
}

// Verify checks the signature of r, whose body is body (r.Body is not
// read). It returns nil for a valid signature and an *Error otherwise. An
// X-Amz-Security-Token header is allowed (and must be signed when sent)
// but not checked. Verify is Begin followed by Finish.
func (v *Verifier) Verify(r *http.Request, body []byte) error {
	p, err := v.Begin(r)
	if err != nil {
		return err
	}
	sum := sha256.Sum256(body)
	return p.Finish(sum[:])
}

// Pending is a request whose signature passed every check that does not
// need the body (Begin); Finish completes the verification with the
// body's SHA-256.
type Pending struct {
	v       *Verifier
	r       *http.Request
	auth    *authorization
	amzDate string
	secret  string
}

// DefaultRequired are the headers that must be signed whenever a request
// carries them, besides host and the date header: what the AWS SDKs and
// the AWS CLI sign for an AWS JSON 1.1 call. Without X-Amz-Target among
// them a signature would not bind the operation.
var DefaultRequired = []string{"x-amz-target", "content-type", "x-amz-security-token"}

// Begin checks everything in r's signature that does not need the body:
// the Authorization header's form, the date (within MaxSkew), the
// credential scope, the access key and the signed headers (host, the date
// header, and each of Required the request carries). A request refused here
// has had none of its body read, so an unauthenticated client cannot make
// the server hold a large body.
func (v *Verifier) Begin(r *http.Request) (*Pending, error) {
	header := r.Header.Get("Authorization")
	if header == "" {
		if r.URL.Query().Get("X-Amz-Signature") != "" {
			return nil, fail(IncompleteSignature, "Query-string authentication is not supported; sign the request with an Authorization header.")
		}
		return nil, fail(MissingAuthenticationToken, "Missing Authentication Token")
	}
	auth, err := parseAuthorization(header)
	if err != nil {
		return nil, err
	}

	// Date: X-Amz-Date, else Date (RFC 1123), as AWS accepts.
	var when time.Time
	dateHeader := "x-amz-date"
	amzDate := r.Header.Get("X-Amz-Date")
	if amzDate != "" {
		if when, err = time.Parse(amzDateFmt, amzDate); err != nil {
			return nil, fail(IncompleteSignature, "Date must be in ISO-8601 'basic format'. Got '%s'. See http://en.wikipedia.org/wiki/ISO_8601", clip(amzDate))
		}
	} else if d := r.Header.Get("Date"); d != "" {
		if when, err = http.ParseTime(d); err != nil {
			return nil, fail(IncompleteSignature, "Date must be in RFC 1123 format. Got '%s'.", clip(d))
		}
		amzDate = when.UTC().Format(amzDateFmt)
		dateHeader = "date"
	} else {
		return nil, fail(IncompleteSignature, "Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header. Authorization=%s", clip(header))
	}

	if !contains(auth.signedHeaders, "host") {
		return nil, fail(IncompleteSignature, "'Host' or ':authority' must be a 'SignedHeader' in the AWS Authorization.")
	}
	if !contains(auth.signedHeaders, dateHeader) {
		return nil, fail(IncompleteSignature, "'%s' must be a 'SignedHeader' in the AWS Authorization.", http.CanonicalHeaderKey(dateHeader))
	}
	required := v.Required
	if required == nil {
		required = DefaultRequired
	}
	for _, name := range required {
		if len(r.Header.Values(name)) > 0 && !contains(auth.signedHeaders, name) {
			return nil, fail(IncompleteSignature, "'%s' must be a 'SignedHeader' in the AWS Authorization.", http.CanonicalHeaderKey(name))
		}
	}
	if auth.term != terminator {
		return nil, fail(InvalidSignature, "Credential should be scoped with a valid terminator: '%s', not '%s'.", terminator, clip(auth.term))
	}
	service := v.Service
	if service == "" {
		service = "kinesisanalytics"
	}
	if auth.service != service {
		return nil, fail(InvalidSignature, "Credential should be scoped to correct service: '%s'. ", service)
	}
	if auth.region != v.Region {
		return nil, fail(InvalidSignature, "Credential should be scoped to a valid region. ")
	}
	if auth.date != amzDate[:8] {
		return nil, fail(InvalidSignature, "Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date from HTTP: '%s' != '%s', from '%s'.", clip(auth.date), amzDate[:8], amzDate)
	}

	secret, ok := v.Credentials[auth.accessKey]
	if !ok {
		return nil, fail(UnrecognizedClient, "The security token included in the request is invalid.")
	}

	now := time.Now
	if v.Now != nil {
		now = v.Now
	}
	skew := v.MaxSkew
	if skew == 0 {
		skew = defaultSkew
	}
	t := now().UTC()
	switch {
	case when.Before(t.Add(-skew)):
		return nil, fail(InvalidSignature, "Signature expired: %s is now earlier than %s (%s - %s.)", amzDate, t.Add(-skew).Format(amzDateFmt), t.Format(amzDateFmt), skewText(skew))
	case when.After(t.Add(skew)):
		return nil, fail(InvalidSignature, "Signature not yet current: %s is still later than %s (%s + %s.)", amzDate, t.Add(skew).Format(amzDateFmt), t.Format(amzDateFmt), skewText(skew))
	}
	return &Pending{v: v, r: r, auth: auth, amzDate: amzDate, secret: secret}, nil
}

// Finish checks the signature over the request and the SHA-256 of its
// body (32 bytes).
func (p *Pending) Finish(bodySHA256 []byte) error {
	auth := p.auth
	creq := canonicalRequest(p.r, auth.signedHeaders, bodySHA256)
	scope := auth.date + "/" + auth.region + "/" + auth.service + "/" + terminator
	sum := sha256.Sum256([]byte(creq))
	stringToSign := algorithm + "\n" + p.amzDate + "\n" + scope + "\n" + hex.EncodeToString(sum[:])

	mac := hmac.New(sha256.New, p.v.signingKey(auth.accessKey, p.secret, auth.date, auth.region, auth.service))
	mac.Write([]byte(stringToSign))
	want := mac.Sum(nil)
	got, err := hex.DecodeString(auth.signature)
	if err != nil || !hmac.Equal(got, want) {
		return fail(InvalidSignature, "The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method. Consult the service documentation for details.")
	}
	return nil
}

func skewText(d time.Duration) string {
	if d%time.Minute == 0 {
		return strconv.Itoa(int(d/time.Minute)) + " min"
	}
	return d.String()
}

// clip keeps client-supplied text in messages short.
func clip(s string) string {
	if len(s) > 256 {
		return s[:256] + "..."
	}
	return s
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// parseAuthorization parses
// "AWS4-HMAC-SHA256 Credential=AKID/20240101/us-east-1/kinesisanalytics/aws4_request, SignedHeaders=host;x-amz-date, Signature=hex".
func parseAuthorization(h string) (*authorization, error) {
	alg, rest, _ := strings.Cut(strings.TrimSpace(h), " ")
	if alg != algorithm {
		return nil, fail(IncompleteSignature, "Unsupported AWS 'algorithm': '%s'.", clip(alg))
	}
	params := map[string]string{}
	for _, p := range strings.Split(rest, ",") {
		k, val, ok := strings.Cut(strings.TrimSpace(p), "=")
		if !ok {
			continue
		}
		params[k] = val
	}
	var missing []string
	for _, k := range []string{"Credential", "Signature", "SignedHeaders"} {
		if params[k] == "" {
			missing = append(missing, "Authorization header requires '"+k+"' parameter.")
		}
	}
	if len(missing) > 0 {
		return nil, fail(IncompleteSignature, "%s Authorization=%s", strings.Join(missing, " "), clip(h))
	}
	parts := strings.Split(params["Credential"], "/")
	if len(parts) != 5 || parts[0] == "" {
		return nil, fail(IncompleteSignature, "Credential must have exactly 5 slash-delimited elements, e.g. keyid/date/region/service/term, got '%s'", clip(params["Credential"]))
	}
	a := &authorization{
		accessKey: parts[0], date: parts[1], region: parts[2], service: parts[3], term: parts[4],
		signedHeaders: strings.Split(params["SignedHeaders"], ";"),
		signature:     params["Signature"],
	}
	for _, name := range a.signedHeaders {
		if name == "" || name != strings.ToLower(name) {
			return nil, fail(IncompleteSignature, "SignedHeaders must be lower-case header names separated by ';'. Got '%s'.", clip(params["SignedHeaders"]))
		}
	}
	return a, nil
}

// canonicalRequest builds the SigV4 canonical request of r.
func canonicalRequest(r *http.Request, signed []string, bodySHA256 []byte) string {
	var b strings.Builder
	b.WriteString(r.Method)
	b.WriteByte('\n')
	b.WriteString(canonicalURI(r.URL))
	b.WriteByte('\n')
	b.WriteString(canonicalQuery(r.URL))
	b.WriteByte('\n')
	for _, name := range signed {
		b.WriteString(name)
		b.WriteByte(':')
		b.WriteString(headerValue(r, name))
		b.WriteByte('\n')
	}
	b.WriteByte('\n')
	b.WriteString(strings.Join(signed, ";"))
	b.WriteByte('\n')
	b.WriteString(hex.EncodeToString(bodySHA256))
	return b.String()
}

// canonicalURI is the escaped path escaped once more, as the AWS signers do
// for every service but S3.
func canonicalURI(u *url.URL) string {
	p := u.EscapedPath()
	if u.Opaque != "" {
		p = u.Opaque
	}
	if p == "" {
		return "/"
	}
	return escape(p, false)
}

// canonicalQuery sorts parameters by name, then value, and escapes both.
func canonicalQuery(u *url.URL) string {
	if u.RawQuery == "" {
		return ""
	}
	q, _ := url.ParseQuery(u.RawQuery)
	keys := make([]string, 0, len(q))
	for k := range q {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b strings.Builder
	for _, k := range keys {
		vals := append([]string(nil), q[k]...)
		sort.Strings(vals)
		for _, val := range vals {
			if b.Len() > 0 {
				b.WriteByte('&')
			}
			b.WriteString(escape(k, true))
			b.WriteByte('=')
			b.WriteString(escape(val, true))
		}
	}
	return b.String()
}

// escape percent-encodes everything but RFC 3986 unreserved characters
// (and '/' unless encodeSlash).
func escape(s string, encodeSlash bool) string {
	const hexdig = "0123456789ABCDEF"
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if 'A' <= c && c <= 'Z' || 'a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '-' || c == '_' || c == '.' || c == '~' || (c == '/' && !encodeSlash) {
			b.WriteByte(c)
			continue
		}
		b.WriteByte('%')
		b.WriteByte(hexdig[c>>4])
		b.WriteByte(hexdig[c&15])
	}
	return b.String()
}

// headerValue returns the canonical value of a signed header: values
// joined by ',', each trimmed with inner runs of spaces collapsed.
func headerValue(r *http.Request, name string) string {
	var vals []string
	switch name {
	case "host":
		h := r.Host
		if h == "" && r.URL != nil {
			h = r.URL.Host
		}
		vals = []string{h}
	case "content-length":
		vals = r.Header.Values("Content-Length")
		if len(vals) == 0 && r.ContentLength >= 0 {
			vals = []string{strconv.FormatInt(r.ContentLength, 10)}
		}
	case "transfer-encoding":
		vals = r.Header.Values("Transfer-Encoding")
		if len(vals) == 0 {
			vals = r.TransferEncoding
		}
	default:
		vals = r.Header.Values(name)
	}
	if len(vals) == 1 {
		return collapseSpaces(vals[0])
	}
	out := make([]string, len(vals))
	for i, val := range vals {
		out[i] = collapseSpaces(val)
	}
	return strings.Join(out, ",")
}

func collapseSpaces(s string) string {
	s = strings.TrimSpace(s)
	if !strings.Contains(s, "  ") {
		return s
	}
	var b bytes.Buffer
	space := false
	for i := 0; i < len(s); i++ {
		if s[i] == ' ' {
			if space {
				continue
			}
			space = true
		} else {
			space = false
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// signingKey derives (and caches per access key and day) the SigV4
// signing key.
func (v *Verifier) signingKey(akid, secret, date, region, service string) []byte {
	id := akid + "/" + date + "/" + region + "/" + service
	v.mu.Lock()
	defer v.mu.Unlock()
	if k, ok := v.keys[id]; ok {
		return k
	}
	k := hmacSHA256([]byte("AWS4"+secret), date)
	k = hmacSHA256(k, region)
	k = hmacSHA256(k, service)
	k = hmacSHA256(k, terminator)
	if v.keys == nil || len(v.keys) >= 1024 {
		v.keys = make(map[string][]byte)
	}
	v.keys[id] = k
	return k
}

func hmacSHA256(key []byte, data string) []byte {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(data))
	return m.Sum(nil)
}
