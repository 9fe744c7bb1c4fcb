package awsapi

import (
	"context"
	"net/http"
	"strconv"
	"time"

	"github.com/flinkplane/flinkplane"
	"github.com/flinkplane/flinkplane/client"
)

// maxHealthHistory bounds one page of the health history.
const maxHealthHistory = 1000

// health serves GET /flinkplane/v1/applications/{name}/health: the newest
// health sample the watch recorded (docs/health.md) and, with
// ?history=N[&before=RFC3339], up to N earlier samples, newest first.
// Returns ResourceNotFoundException for an unknown application; an
// application never watched answers without Health.
func (s *Server) health(ctx context.Context, r *http.Request, args []string) (any, error) {
	name := args[0]
	q := r.URL.Query()
	n := 0
	if v := q.Get("history"); v != "" {
		var err error
		if n, err = strconv.Atoi(v); err != nil || n < 0 || n > maxHealthHistory {
			return nil, flinkplane.Errorf(flinkplane.EINVALID, "history must be a number of samples from 0 to %d, not %q.", maxHealthHistory, clip(v))
		}
	}
	var before time.Time
	if v := q.Get("before"); v != "" {
		var err error
		if before, err = time.Parse(time.RFC3339Nano, v); err != nil {
			return nil, flinkplane.Errorf(flinkplane.EINVALID, "before must be an RFC 3339 time, not %q.", clip(v))
		}
	}
	resp := &client.HealthResponse{ApplicationName: name}
	err := s.Store.View(ctx, func(tx flinkplane.Tx) error {
		app, err := tx.Application(name)
		if err != nil {
			return err
		}
		resp.ApplicationStatus = app.Status
		resp.FailedOperationID = app.FailedOperation
		if h, err := tx.Health(name); err == nil {
			resp.Health = h
		} else if flinkplane.ErrorCode(err) != flinkplane.ENOTFOUND {
			return err
		}
		if n > 0 {
			resp.History, err = tx.HealthHistory(name, before, n)
		}
		return err
	})
	if err != nil {
		return nil, err
	}
	if resp.History == nil && n > 0 {
		resp.History = []*flinkplane.HealthSample{}
	}
	return resp, nil
}
