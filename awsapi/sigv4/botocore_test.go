package sigv4_test

import (
	"bytes"
	"encoding/json"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// signScript signs a kinesisanalyticsv2 request with botocore, the signer
// of the AWS CLI, and prints its headers as JSON.
const signScript = `
import json, sys
try:  # awscli 1.x vendors its botocore as awscli.botocore
    from awscli.botocore.auth import SigV4Auth
    from awscli.botocore.awsrequest import AWSRequest
    from awscli.botocore.credentials import Credentials
except ImportError:
    from botocore.auth import SigV4Auth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials
a = json.load(sys.stdin)
req = AWSRequest(method="POST", url=a["url"], data=a["body"].encode(), headers={
    "Content-Type": "application/x-amz-json-1.1",
    "X-Amz-Target": "KinesisAnalytics_20180523.DescribeApplication",
    "User-Agent": "aws-cli/2 botocore",
})
SigV4Auth(Credentials(a["akid"], a["secret"], a.get("token")), "kinesisanalytics", a["region"]).add_auth(req)
print(json.dumps(dict(req.headers.items())))
`

// botocorePython returns $FLINKPLANE_PYTHON, else the python of the aws CLI
// virtual environment that scripts/install-awscli.sh makes, else python3.
func botocorePython() string {
	if p := os.Getenv("FLINKPLANE_PYTHON"); p != "" {
		return p
	}
	venv := os.Getenv("FLINKPLANE_AWSCLI_VENV")
	if venv == "" {
		cache, err := os.UserCacheDir()
		if err == nil {
			venv = filepath.Join(cache, "flinkplane", "awscli")
		}
	}
	if p := filepath.Join(venv, "bin", "python"); venv != "" {
		if _, err := os.Stat(p); err == nil {
			return p
		}
	}
	return "python3"
}

// TestVerify_Botocore checks requests signed by botocore (the AWS CLI's
// signer), including a session token and a query string. It needs python3 with
// botocore (installed with the AWS CLI: pip install awscli); without it the
// test fails in CI (CI set) and is skipped elsewhere.
func TestVerify_Botocore(t *testing.T) {
	python := botocorePython()
	if err := exec.Command(python, "-c", "try:\n import awscli.botocore\nexcept ImportError:\n import botocore").Run(); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("%s with botocore is required (pip install awscli): %v", python, err)
		}
		t.Skipf("%s with botocore not available: %v", python, err)
	}
	for _, tt := range []struct {
		name, token, url string
	}{
		{"Plain", "", "http://127.0.0.1:8080/"},
		{"SessionToken", "FwoGZXIvYXdzEBYaDH", "http://127.0.0.1:8080/"},
		{"QueryAndPath", "", "http://127.0.0.1:8080/a%20b/c?z=1&a=2&a=1"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			in, _ := json.Marshal(map[string]any{"url": tt.url, "body": body, "akid": akid, "secret": secret, "region": region, "token": nilIfEmpty(tt.token)})
			cmd := exec.Command(python, "-c", signScript)
			cmd.Stdin = bytes.NewReader(in)
			out, err := cmd.Output()
			if err != nil {
				t.Fatalf("botocore: %v", err)
			}
			var headers map[string]string
			if err := json.Unmarshal(out, &headers); err != nil {
				t.Fatalf("botocore output %s: %v", out, err)
			}
			r, err := http.NewRequest(http.MethodPost, tt.url, strings.NewReader(body))
			if err != nil {
				t.Fatal(err)
			}
			for k, v := range headers {
				r.Header.Set(k, v)
			}
			// botocore signs with the current time: verify at that time.
			signedAt, err := time.Parse("20060102T150405Z", headers["X-Amz-Date"])
			if err != nil {
				t.Fatalf("X-Amz-Date: %v", err)
			}
			v := newVerifier()
			v.Now = func() time.Time { return signedAt }
			if err := v.Verify(r, []byte(body)); err != nil {
				t.Fatalf("Verify(botocore request) = %v\nheaders %v", err, headers)
			}
			if err := v.Verify(r, []byte(body+" ")); err == nil {
				t.Fatal("Verify accepted a tampered body")
			}
			v.Now = func() time.Time { return signedAt.Add(time.Hour) }
			if err := v.Verify(r, []byte(body)); err == nil {
				t.Fatal("Verify accepted a request an hour old")
			}
		})
	}
}

func nilIfEmpty(s string) any {
	if s == "" {
		return nil
	}
	return s
}
