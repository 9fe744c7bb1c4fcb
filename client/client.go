// Package client is a small typed Go client for what the AWS SDKs cannot
// reach: flinkplane's extension endpoints under /flinkplane/v1/ (the logs of
// an application's clusters, its health) and the extra members flinkplane
// adds to AWS responses (the compatibility findings and the cause of
// DescribeApplicationOperation).
// It signs requests with SigV4 when credentials are set, as the server
// expects with --auth sigv4. The wire types are defined here and used by
// the server (awsapi), so both ends share one definition.
package client

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/flinkplane/flinkplane"
)

// ExtensionPrefix is the path prefix of flinkplane's extension endpoints.
const ExtensionPrefix = "/flinkplane/v1/"

// LogFile is one log file of one of an application's clusters.
type LogFile struct {
	FileName           string `json:"FileName"`
	ClusterID          string `json:"ClusterId"`
	RuntimeEnvironment string `json:"RuntimeEnvironment,omitempty"`
	// Current is true for the cluster the application runs on now.
	Current      bool      `json:"Current"`
	Size         int64     `json:"Size"`
	LastModified time.Time `json:"LastModified"`
}

// ListLogsResponse is the body of GET /flinkplane/v1/applications/{name}/logs.
type ListLogsResponse struct {
	ApplicationName string    `json:"ApplicationName"`
	LogFiles        []LogFile `json:"LogFiles"`
}

// OperationDetails is DescribeApplicationOperation's
// ApplicationOperationInfoDetails with flinkplane's extra members.
type OperationDetails struct {
	Operation                       string               `json:"Operation"`
	OperationStatus                 string               `json:"OperationStatus"`
	StartTime                       float64              `json:"StartTime"`
	EndTime                         float64              `json:"EndTime,omitempty"`
	ApplicationVersionChangeDetails *VersionChange       `json:"ApplicationVersionChangeDetails,omitempty"`
	OperationFailureDetails         *FailureDetails      `json:"OperationFailureDetails,omitempty"`
	CompatibilityFindings           []flinkplane.Finding `json:"FlinkplaneCompatibilityFindings,omitempty"`
	// Cause says why the service started a system operation, or what a
	// stop fell back to; System marks operations the service started.
	Cause  string `json:"FlinkplaneCause,omitempty"`
	System bool   `json:"FlinkplaneSystemOperation,omitempty"`
	// StateMigration says what an update's state migration moved.
	StateMigration *StateMigration `json:"FlinkplaneStateMigration,omitempty"`
}

// StateMigration is DescribeApplicationOperation's FlinkplaneStateMigration:
// the snapshot an update's state migration read, the migrated savepoint the
// new job restored, and what moved.
type StateMigration struct {
	Source       string   `json:"Source"`
	Savepoint    string   `json:"Savepoint"`
	Snapshot     string   `json:"Snapshot,omitempty"`
	OperatorIDs  []string `json:"OperatorIds,omitempty"`
	Operators    []string `json:"Operators,omitempty"`
	Keys         int64    `json:"Keys"`
	Values       int64    `json:"Values"`
	Timers       int64    `json:"Timers"`
	Seconds      float64  `json:"Seconds,omitempty"`
	ReadSeconds  float64  `json:"ReadSeconds,omitempty"`
	WriteSeconds float64  `json:"WriteSeconds,omitempty"`
	Notes        []string `json:"Notes,omitempty"`
}

// HealthResponse is the body of GET /flinkplane/v1/applications/{name}/health.
type HealthResponse struct {
	ApplicationName   string `json:"ApplicationName"`
	ApplicationStatus string `json:"ApplicationStatus"`
	// FailedOperationID is set while a failed update without system
	// rollback leaves the application RUNNING with its failing job.
	FailedOperationID string `json:"FailedOperationId,omitempty"`
	// Health is the newest sample (absent before the first poll).
	Health *flinkplane.HealthSample `json:"Health,omitempty"`
	// History holds earlier samples, newest first, when asked for.
	History []*flinkplane.HealthSample `json:"History,omitempty"`
}

// PreflightResponse is the body of POST
// /flinkplane/v1/applications/{name}/preflight: what UpdateApplication's
// compatibility pre-flight finds for an update, which is not made.
type PreflightResponse struct {
	ApplicationName    string `json:"ApplicationName"`
	RuntimeEnvironment string `json:"RuntimeEnvironment"`
	// Checked is false when the update changes neither the runtime nor
	// the code (no check applies).
	Checked bool `json:"Checked"`
	// Blocked: UpdateApplication would refuse the update
	// (InvalidApplicationConfigurationException).
	Blocked bool `json:"Blocked"`
	// CompatCheck is the application's flinkplane:compat-check mode,
	// "enforce" or "warn".
	CompatCheck           string               `json:"CompatCheck"`
	CompatibilityFindings []flinkplane.Finding `json:"CompatibilityFindings"`
	Summary               struct {
		Errors   int `json:"Errors"`
		Warnings int `json:"Warnings"`
		Infos    int `json:"Infos"`
	} `json:"Summary"`
}

// HealthOptions selects the history Health returns.
type HealthOptions struct {
	// History is the number of samples to return besides the newest (at
	// most 1000); Before, if set, returns those taken before it.
	History int
	Before  time.Time
}

// VersionChange is ApplicationVersionChangeDetails.
type VersionChange struct {
	ApplicationVersionUpdatedFrom int64 `json:"ApplicationVersionUpdatedFrom"`
	ApplicationVersionUpdatedTo   int64 `json:"ApplicationVersionUpdatedTo"`
}

// FailureDetails is OperationFailureDetails.
type FailureDetails struct {
	RollbackOperationID string `json:"RollbackOperationId,omitempty"`
	ErrorInfo           *struct {
		ErrorString string `json:"ErrorString"`
	} `json:"ErrorInfo,omitempty"`
}

// ErrorString returns the operation's ErrorInfo.ErrorString, if any.
func (d *OperationDetails) ErrorString() string {
	if d.OperationFailureDetails == nil || d.OperationFailureDetails.ErrorInfo == nil {
		return ""
	}
	return d.OperationFailureDetails.ErrorInfo.ErrorString
}

// Error is an error answered by the service: the AWS exception name
// (__type) and its message.
type Error struct {
	StatusCode int
	Type       string `json:"__type"`
	Message    string `json:"message"`
}

func (e *Error) Error() string { return e.Type + ": " + e.Message }

// Client talks to one flinkplane endpoint.
type Client struct {
	// Endpoint is the service URL, e.g. http://127.0.0.1:8080.
	Endpoint string
	// Region is the SigV4 signing region.
	Region string
	// Credentials, if set, sign every request (service "kinesisanalytics").
	Credentials aws.CredentialsProvider
	HTTPClient  *http.Client
}

// New returns a client of the endpoint that sends unsigned requests.
func New(endpoint string) *Client {
	return &Client{Endpoint: strings.TrimRight(endpoint, "/"), Region: "us-east-1", HTTPClient: http.DefaultClient}
}

// ListLogs lists the log files of the application's current and earlier
// clusters, the current cluster first, then newest first. An unknown
// application is a ResourceNotFoundException *Error.
func (c *Client) ListLogs(ctx context.Context, app string) (*ListLogsResponse, error) {
	var out ListLogsResponse
	body, err := c.get(ctx, "applications/"+url.PathEscape(app)+"/logs", nil)
	if err != nil {
		return nil, err
	}
	if err := json.Unmarshal(body, &out); err != nil {
		return nil, fmt.Errorf("decode response: %w", err)
	}
	return &out, nil
}

// ReadLogOptions selects what ReadLog returns.
type ReadLogOptions struct {
	// Cluster is the cluster id; empty: the newest cluster that has the file.
	Cluster string
	// Tail, if positive, returns only the last Tail lines.
	Tail int
}

// ReadLog returns the text of one log file. An unknown application or
// file is a ResourceNotFoundException *Error.
func (c *Client) ReadLog(ctx context.Context, app, file string, o ReadLogOptions) ([]byte, error) {
	q := url.Values{}
	if o.Cluster != "" {
		q.Set("cluster", o.Cluster)
	}
	if o.Tail > 0 {
		q.Set("tail", strconv.Itoa(o.Tail))
	}
	return c.get(ctx, "applications/"+url.PathEscape(app)+"/logs/"+url.PathEscape(file), q)
}

// Health returns the newest health sample of an application and, with
// o.History, earlier ones. An unknown application is a
// ResourceNotFoundException *Error.
func (c *Client) Health(ctx context.Context, app string, o HealthOptions) (*HealthResponse, error) {
	q := url.Values{}
	if o.History > 0 {
		q.Set("history", strconv.Itoa(o.History))
	}
	if !o.Before.IsZero() {
		q.Set("before", o.Before.UTC().Format(time.RFC3339Nano))
	}
	body, err := c.get(ctx, "applications/"+url.PathEscape(app)+"/health", q)
	if err != nil {
		return nil, err
	}
	var out HealthResponse
	if err := json.Unmarshal(body, &out); err != nil {
		return nil, fmt.Errorf("decode response: %w", err)
	}
	return &out, nil
}

// Preflight runs UpdateApplication's compatibility pre-flight for an
// update without making it. update is the UpdateApplication request
// (anything that encodes to its JSON: a map, a struct of the AWS shapes);
// it must name app. The errors are those UpdateApplication returns before
// its pre-flight, as *Error.
func (c *Client) Preflight(ctx context.Context, app string, update any) (*PreflightResponse, error) {
	in, err := json.Marshal(update)
	if err != nil {
		return nil, fmt.Errorf("encode request: %w", err)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.Endpoint+ExtensionPrefix+"applications/"+url.PathEscape(app)+"/preflight", bytes.NewReader(in))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/x-amz-json-1.1")
	body, err := c.do(req, in)
	if err != nil {
		return nil, err
	}
	var out PreflightResponse
	if err := json.Unmarshal(body, &out); err != nil {
		return nil, fmt.Errorf("decode response: %w", err)
	}
	return &out, nil
}

// DescribeOperation calls DescribeApplicationOperation and returns its
// details with flinkplane's compatibility findings.
func (c *Client) DescribeOperation(ctx context.Context, app, operationID string) (*OperationDetails, error) {
	in, _ := json.Marshal(map[string]string{"ApplicationName": app, "OperationId": operationID})
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.Endpoint+"/", bytes.NewReader(in))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/x-amz-json-1.1")
	req.Header.Set("X-Amz-Target", "KinesisAnalytics_20180523.DescribeApplicationOperation")
	body, err := c.do(req, in)
	if err != nil {
		return nil, err
	}
	var out struct {
		ApplicationOperationInfoDetails *OperationDetails `json:"ApplicationOperationInfoDetails"`
	}
	if err := json.Unmarshal(body, &out); err != nil || out.ApplicationOperationInfoDetails == nil {
		return nil, fmt.Errorf("decode DescribeApplicationOperation response: %v", err)
	}
	return out.ApplicationOperationInfoDetails, nil
}

func (c *Client) get(ctx context.Context, path string, q url.Values) ([]byte, error) {
	u := c.Endpoint + ExtensionPrefix + path
	if len(q) > 0 {
		u += "?" + q.Encode()
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, err
	}
	return c.do(req, nil)
}

// do signs (when credentials are set) and sends req, whose body is body,
// and returns the response body or the service's *Error.
func (c *Client) do(req *http.Request, body []byte) ([]byte, error) {
	if c.Credentials != nil {
		creds, err := c.Credentials.Retrieve(req.Context())
		if err != nil {
			return nil, fmt.Errorf("credentials: %w", err)
		}
		sum := sha256.Sum256(body)
		if err := v4.NewSigner().SignHTTP(req.Context(), creds, req, hex.EncodeToString(sum[:]), "kinesisanalytics", c.Region, time.Now()); err != nil {
			return nil, fmt.Errorf("sign request: %w", err)
		}
	}
	hc := c.HTTPClient
	if hc == nil {
		hc = http.DefaultClient
	}
	resp, err := hc.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, fmt.Errorf("read response: %w", err)
	}
	if resp.StatusCode/100 != 2 {
		e := &Error{StatusCode: resp.StatusCode}
		if json.Unmarshal(b, e) != nil || e.Type == "" {
			e.Type, e.Message = resp.Status, strings.TrimSpace(string(b))
		}
		return nil, e
	}
	return b, nil
}
