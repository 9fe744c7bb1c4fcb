package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"

	"github.com/flinkplane/flinkplane/awsapi/model"
)

// validatingTransport checks every successful response the SDK clients of
// the tests receive against the model's output shape (the SDKs never do);
// TestMain fails the run if any response did not satisfy it.
type validatingTransport struct{ next http.RoundTripper }

var outputErrors struct {
	sync.Mutex
	list []string
}

func (v validatingTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	resp, err := v.next.RoundTrip(r)
	if err != nil {
		return resp, err
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		return nil, err
	}
	resp.Body = io.NopCloser(bytes.NewReader(body))
	op := strings.TrimPrefix(r.Header.Get("X-Amz-Target"), "KinesisAnalytics_20180523.")
	if resp.StatusCode != 200 {
		// An error must be one the operation declares, so that the SDKs
		// return it as their typed error.
		var e struct {
			Type string `json:"__type"`
		}
		json.Unmarshal(body, &e)
		if o, ok := model.LookupOperation(op); ok && !o.HasError(e.Type) {
			outputErrors.Lock()
			outputErrors.list = append(outputErrors.list, fmt.Sprintf("%s answered %s, which it does not declare: %s", op, e.Type, body))
			outputErrors.Unlock()
		}
		return resp, nil
	}
	if err := model.ValidateOutput(op, body); err != nil {
		msg := err.Error()
		// flinkplane leaves EndTime out while an operation is in progress
		// (documented); everything else must satisfy the model.
		if !(op == "DescribeApplicationOperation" && strings.Contains(msg, "endTime") && strings.Contains(string(body), `"IN_PROGRESS"`)) {
			outputErrors.Lock()
			outputErrors.list = append(outputErrors.list, fmt.Sprintf("%s: %v: %s", op, err, body))
			outputErrors.Unlock()
		}
	}
	return resp, nil
}
