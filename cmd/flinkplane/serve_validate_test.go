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

// fullDiskAnswer reports the answer the server gives any write on a full
// disk: LimitExceededException saying so. The model declares that type only
// for CreateApplication, UpdateApplication and CreateApplicationSnapshot;
// docs/control-plane.md documents it for the others (no declared exception
// says what is wrong).
func fullDiskAnswer(typ string, body []byte) bool {
	return typ == "LimitExceededException" && bytes.Contains(body, []byte("The server's disk is full"))
}

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
		// Except a full disk: every write answers LimitExceededException
		// then, declared or not (docs/control-plane.md, "A full disk").
		if o, ok := model.LookupOperation(op); ok && !o.HasError(e.Type) && !fullDiskAnswer(e.Type, body) {
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
