package awsapi

import (
	"context"
	"encoding/json"
	"strconv"
	"strings"

	"github.com/flinkplane/flinkplane"
	"github.com/flinkplane/flinkplane/awsapi/model"
	"github.com/flinkplane/flinkplane/engine"
)

const defaultLimit = 50

func limitOf(l *int32) int {
	if l == nil || *l <= 0 {
		return defaultLimit
	}
	return int(*l)
}

func (s *Server) createApplication(ctx context.Context, body []byte) (any, error) {
	var req model.CreateApplicationRequest
	if err := decode("CreateApplication", body, &req); err != nil {
		return nil, err
	}
	if err := checkRuntime(req.RuntimeEnvironment); err != nil {
		return nil, err
	}
	tags, err := tagsFromModel(req.Tags)
	if err != nil {
		return nil, err
	}
	// Name taken? Answer before storing any code.
	if err := s.Store.View(ctx, func(tx flinkplane.Tx) error {
		_, err := tx.Application(req.ApplicationName)
		return err
	}); err == nil {
		return nil, flinkplane.Errorf(flinkplane.EINUSE, "Application %s already exists.", req.ApplicationName)
	}
	cfg, err := s.configFromCreate(ctx, &req)
	if err != nil {
		return nil, err
	}
	app, ver, err := s.Engine.CreateApplication(ctx, &flinkplane.Application{Name: req.ApplicationName, ARN: s.arn(req.ApplicationName)}, cfg, tags)
	if err != nil {
		return nil, err
	}
	return &model.CreateApplicationResponse{ApplicationDetail: s.detail(app, ver, false)}, nil
}

func (s *Server) current(ctx context.Context, name string) (app *flinkplane.Application, ver *flinkplane.ApplicationVersion, err error) {
	err = s.Store.View(ctx, func(tx flinkplane.Tx) error {
		if app, err = tx.Application(name); err != nil {
			return err
		}
		ver, err = tx.Version(name, app.VersionID)
		return err
	})
	return app, ver, err
}

func (s *Server) describeApplication(ctx context.Context, body []byte) (any, error) {
	var req model.DescribeApplicationRequest
	if err := decode("DescribeApplication", body, &req); err != nil {
		return nil, err
	}
	app, ver, err := s.current(ctx, req.ApplicationName)
	if err != nil {
		return nil, err
	}
	additional := model.Value(req.IncludeAdditionalDetails)
	if !additional {
		if b := s.describeCache.get(app); b != nil {
			return b, nil
		}
	}
	resp := &model.DescribeApplicationResponse{ApplicationDetail: s.detail(app, ver, additional)}
	if additional {
		return resp, nil
	}
	b, err := json.Marshal(resp)
	if err != nil {
		return nil, err
	}
	s.describeCache.put(app, b)
	return rawJSON(b), nil
}

func (s *Server) listApplications(ctx context.Context, body []byte) (any, error) {
	var req model.ListApplicationsRequest
	if err := decode("ListApplications", body, &req); err != nil {
		return nil, err
	}
	limit := limitOf(req.Limit)
	var apps []*flinkplane.Application
	if err := s.Store.View(ctx, func(tx flinkplane.Tx) (err error) {
		apps, err = tx.Applications(model.Value(req.NextToken), limit+1)
		return err
	}); err != nil {
		return nil, err
	}
	resp := &model.ListApplicationsResponse{ApplicationSummaries: []model.ApplicationSummary{}}
	if len(apps) > limit {
		apps = apps[:limit]
		resp.NextToken = model.Ptr(apps[limit-1].Name)
	}
	for _, a := range apps {
		resp.ApplicationSummaries = append(resp.ApplicationSummaries, model.ApplicationSummary{
			ApplicationName: a.Name, ApplicationARN: s.arn(a.Name), ApplicationStatus: model.ApplicationStatus(a.Status),
			ApplicationVersionId: a.VersionID, RuntimeEnvironment: model.RuntimeEnvironment(a.RuntimeEnvironment),
			ApplicationMode: (*model.ApplicationMode)(nonEmpty(a.ApplicationMode)),
		})
	}
	return resp, nil
}

func (s *Server) updateApplication(ctx context.Context, body []byte) (any, error) {
	var req model.UpdateApplicationRequest
	if err := decode("UpdateApplication", body, &req); err != nil {
		return nil, err
	}
	app, ver, opID, err := s.Engine.UpdateApplication(ctx, req.ApplicationName, engine.UpdateInput{
		CurrentVersion:   req.CurrentApplicationVersionId,
		ConditionalToken: req.ConditionalToken,
		Change: func(cfg *flinkplane.ApplicationConfig) error {
			return s.applyUpdate(ctx, cfg, &req, 0)
		},
	})
	if err != nil {
		return nil, err
	}
	return &model.UpdateApplicationResponse{ApplicationDetail: s.detail(app, ver, false), OperationId: model.Ptr(opID)}, nil
}

func (s *Server) deleteApplication(ctx context.Context, body []byte) (any, error) {
	var req model.DeleteApplicationRequest
	if err := decode("DeleteApplication", body, &req); err != nil {
		return nil, err
	}
	if err := s.Engine.DeleteApplication(ctx, req.ApplicationName, req.CreateTimestamp.Time); err != nil {
		return nil, err
	}
	return &model.DeleteApplicationResponse{}, nil
}

func (s *Server) startApplication(ctx context.Context, body []byte) (any, error) {
	var req model.StartApplicationRequest
	if err := decode("StartApplication", body, &req); err != nil {
		return nil, err
	}
	var in engine.StartInput
	if rc := req.RunConfiguration; rc != nil {
		if len(rc.SqlRunConfigurations) > 0 {
			return nil, flinkplane.Errorf(flinkplane.EINVALID, "SqlRunConfigurations do not apply to a Flink application.")
		}
		if r := rc.ApplicationRestoreConfiguration; r != nil {
			in.Restore = &flinkplane.RestoreConfig{Type: string(r.ApplicationRestoreType), SnapshotName: model.Value(r.SnapshotName)}
			if err := checkRestore(*in.Restore); err != nil {
				return nil, err
			}
		}
		if f := rc.FlinkRunConfiguration; f != nil {
			in.AllowNonRestoredState = f.AllowNonRestoredState
		}
	}
	id, err := s.Engine.StartApplication(ctx, req.ApplicationName, in)
	if err != nil {
		return nil, err
	}
	return &model.StartApplicationResponse{OperationId: model.Ptr(id)}, nil
}

func (s *Server) stopApplication(ctx context.Context, body []byte) (any, error) {
	var req model.StopApplicationRequest
	if err := decode("StopApplication", body, &req); err != nil {
		return nil, err
	}
	id, err := s.Engine.StopApplication(ctx, req.ApplicationName, model.Value(req.Force))
	if err != nil {
		return nil, err
	}
	return &model.StopApplicationResponse{OperationId: model.Ptr(id)}, nil
}

func (s *Server) rollbackApplication(ctx context.Context, body []byte) (any, error) {
	var req model.RollbackApplicationRequest
	if err := decode("RollbackApplication", body, &req); err != nil {
		return nil, err
	}
	app, ver, id, err := s.Engine.RollbackApplication(ctx, req.ApplicationName, req.CurrentApplicationVersionId)
	if err != nil {
		return nil, err
	}
	return &model.RollbackApplicationResponse{ApplicationDetail: s.detail(app, ver, false), OperationId: model.Ptr(id)}, nil
}

func (s *Server) listApplicationVersions(ctx context.Context, body []byte) (any, error) {
	var req model.ListApplicationVersionsRequest
	if err := decode("ListApplicationVersions", body, &req); err != nil {
		return nil, err
	}
	var after int64
	if t := model.Value(req.NextToken); t != "" {
		n, err := strconv.ParseInt(t, 10, 64)
		if err != nil {
			return nil, flinkplane.Errorf(flinkplane.EINVALID, "Invalid NextToken.")
		}
		after = n
	}
	limit := limitOf(req.Limit)
	var app *flinkplane.Application
	var vers []*flinkplane.ApplicationVersion
	if err := s.Store.View(ctx, func(tx flinkplane.Tx) (err error) {
		if app, err = tx.Application(req.ApplicationName); err != nil {
			return err
		}
		vers, err = tx.Versions(req.ApplicationName, after, limit+1)
		return err
	}); err != nil {
		return nil, err
	}
	resp := &model.ListApplicationVersionsResponse{ApplicationVersionSummaries: []model.ApplicationVersionSummary{}}
	if len(vers) > limit {
		vers = vers[:limit]
		resp.NextToken = model.Ptr(strconv.FormatInt(vers[limit-1].VersionID, 10))
	}
	for _, v := range vers {
		st := v.Status
		if v.VersionID == app.VersionID {
			st = app.Status
		}
		resp.ApplicationVersionSummaries = append(resp.ApplicationVersionSummaries, model.ApplicationVersionSummary{
			ApplicationVersionId: v.VersionID, ApplicationStatus: model.ApplicationStatus(st)})
	}
	return resp, nil
}

func (s *Server) describeApplicationVersion(ctx context.Context, body []byte) (any, error) {
	var req model.DescribeApplicationVersionRequest
	if err := decode("DescribeApplicationVersion", body, &req); err != nil {
		return nil, err
	}
	var app *flinkplane.Application
	var ver *flinkplane.ApplicationVersion
	if err := s.Store.View(ctx, func(tx flinkplane.Tx) (err error) {
		if app, err = tx.Application(req.ApplicationName); err != nil {
			return err
		}
		ver, err = tx.Version(req.ApplicationName, req.ApplicationVersionId)
		return err
	}); err != nil {
		return nil, err
	}
	return &model.DescribeApplicationVersionResponse{ApplicationVersionDetail: s.detail(app, ver, false)}, nil
}

func tagsFromModel(in []model.Tag) ([]flinkplane.Tag, error) {
	var out []flinkplane.Tag
	seen := map[string]bool{}
	for _, t := range in {
		if strings.HasPrefix(strings.ToLower(t.Key), "aws:") {
			return nil, flinkplane.Errorf(flinkplane.EINVALID, "Tag keys starting with aws: are reserved.")
		}
		switch t.Key {
		case flinkplane.TagCompatCheck:
			if v := model.Value(t.Value); v != "warn" && v != "enforce" {
				return nil, flinkplane.Errorf(flinkplane.EINVALID, "Tag %s must be warn or enforce, not %q.", t.Key, v)
			}
		case flinkplane.TagProbationWindow:
			if _, err := flinkplane.ParseWindow(model.Value(t.Value)); err != nil {
				return nil, flinkplane.Errorf(flinkplane.EINVALID, "Tag %s: %s", t.Key, flinkplane.ErrorMessage(err))
			}
		case flinkplane.TagAutoRollback:
			if _, err := flinkplane.ParseAutoRollback(model.Value(t.Value)); err != nil {
				return nil, flinkplane.Errorf(flinkplane.EINVALID, "Tag %s: %s", t.Key, flinkplane.ErrorMessage(err))
			}
		}
		if seen[t.Key] {
			return nil, flinkplane.Errorf(flinkplane.EINVALID, "Tag key %s is given more than once.", t.Key)
		}
		seen[t.Key] = true
		out = append(out, flinkplane.Tag{Key: t.Key, Value: model.Value(t.Value)})
	}
	if len(out) > flinkplane.MaxTags {
		return nil, flinkplane.Errorf(flinkplane.ETOOMANYTAGS, "An application can have at most %d tags.", flinkplane.MaxTags)
	}
	return out, nil
}
