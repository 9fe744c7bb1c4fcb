package awsapi

import (
	"context"
	"io"
	"net/http"

	"github.com/flinkplane/flinkplane"
	"github.com/flinkplane/flinkplane/awsapi/model"
	"github.com/flinkplane/flinkplane/client"
	"github.com/flinkplane/flinkplane/engine"
)

// preflight serves POST /flinkplane/v1/applications/{name}/preflight: the
// body is an UpdateApplication request for the application (validated
// against the model like one); the answer is what UpdateApplication's
// compatibility pre-flight finds for it, and whether the update would be
// refused, without updating anything (engine.Preflight). A request
// UpdateApplication would refuse before its pre-flight (stale version,
// wrong status, bad configuration, missing code) gets the same error. Code
// uploaded inline (ZipFileContentUpdate) is checked and then dropped.
func (s *Server) preflight(ctx context.Context, r *http.Request, args []string) (any, error) {
	body, err := io.ReadAll(r.Body) // read within the admission budget by serveExtension
	if err != nil {
		return nil, err
	}
	var req model.UpdateApplicationRequest
	if err := decode("UpdateApplication", body, &req); err != nil {
		return nil, err
	}
	if req.ApplicationName != args[0] {
		return nil, flinkplane.Errorf(flinkplane.EINVALID, "ApplicationName %q does not match the application %q of the path.", clip(req.ApplicationName), clip(args[0]))
	}
	ups := &uploads{}
	ctx = context.WithValue(ctx, uploadsKey{}, ups)
	defer func() {
		for _, ref := range ups.refs {
			s.Engine.ReleaseUpload(context.WithoutCancel(ctx), ref, false)
		}
	}()
	res, err := s.Engine.Preflight(ctx, req.ApplicationName, engine.UpdateInput{
		CurrentVersion:   req.CurrentApplicationVersionId,
		ConditionalToken: req.ConditionalToken,
		Change: func(cfg *flinkplane.ApplicationConfig) error {
			return s.applyUpdate(ctx, cfg, &req, 0)
		},
	})
	if err != nil {
		return nil, err
	}
	out := &client.PreflightResponse{ApplicationName: req.ApplicationName, RuntimeEnvironment: string(res.RuntimeEnvironment),
		Checked: res.Checked, Blocked: res.Blocked, CompatCheck: res.CompatCheck, CompatibilityFindings: res.Findings}
	for _, f := range res.Findings {
		switch f.Severity {
		case flinkplane.SeverityError:
			out.Summary.Errors++
		case flinkplane.SeverityWarning:
			out.Summary.Warnings++
		default:
			out.Summary.Infos++
		}
	}
	return out, nil
}
