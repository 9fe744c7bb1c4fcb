package awsapi

import (
	"context"
	"fmt"
	"net/http"
	"time"

	"github.com/flinkplane/flinkplane"
	"github.com/flinkplane/flinkplane/awsapi/model"
	"github.com/flinkplane/flinkplane/engine"
)

func loggingDescriptions(c flinkplane.ApplicationConfig) []model.CloudWatchLoggingOptionDescription {
	out := []model.CloudWatchLoggingOptionDescription{}
	for _, o := range c.CloudWatchLogging {
		out = append(out, model.CloudWatchLoggingOptionDescription{CloudWatchLoggingOptionId: model.Ptr(o.ID), LogStreamARN: o.LogStreamARN, RoleARN: nonEmpty(o.RoleARN)})
	}
	return out
}

// nextOptionID returns an id "<version>.<n>" not used by ids.
func nextOptionID(version int64, used func(string) bool) string {
	for n := 1; ; n++ {
		id := fmt.Sprintf("%d.%d", version, n)
		if !used(id) {
			return id
		}
	}
}

func (s *Server) addCloudWatchLoggingOption(ctx context.Context, body []byte) (any, error) {
	var req model.AddApplicationCloudWatchLoggingOptionRequest
	if err := decode("AddApplicationCloudWatchLoggingOption", body, &req); err != nil {
		return nil, err
	}
	app, ver, opID, err := s.Engine.UpdateApplication(ctx, req.ApplicationName, engine.UpdateInput{
		Kind: flinkplane.OpAddCloudWatchLogging, CurrentVersion: req.CurrentApplicationVersionId, ConditionalToken: req.ConditionalToken,
		Change: func(cfg *flinkplane.ApplicationConfig) error {
			arn := req.CloudWatchLoggingOption.LogStreamARN
			for _, o := range cfg.CloudWatchLogging {
				if o.LogStreamARN == arn {
					return flinkplane.Errorf(flinkplane.EINVALID, "CloudWatch logging option with log stream %s already exists.", arn)
				}
			}
			cur := int64(1)
			if req.CurrentApplicationVersionId != nil {
				cur = *req.CurrentApplicationVersionId
			}
			id := nextOptionID(cur+1, func(id string) bool {
				for _, o := range cfg.CloudWatchLogging {
					if o.ID == id {
						return true
					}
				}
				return false
			})
			cfg.CloudWatchLogging = append(cfg.CloudWatchLogging, flinkplane.CloudWatchLoggingOption{ID: id, LogStreamARN: arn})
			return nil
		},
	})
	if err != nil {
		return nil, err
	}
	return &model.AddApplicationCloudWatchLoggingOptionResponse{ApplicationARN: model.Ptr(s.arn(app.Name)), ApplicationVersionId: model.Ptr(ver.VersionID),
		CloudWatchLoggingOptionDescriptions: loggingDescriptions(ver.Config), OperationId: model.Ptr(opID)}, nil
}

func (s *Server) deleteCloudWatchLoggingOption(ctx context.Context, body []byte) (any, error) {
	var req model.DeleteApplicationCloudWatchLoggingOptionRequest
	if err := decode("DeleteApplicationCloudWatchLoggingOption", body, &req); err != nil {
		return nil, err
	}
	app, ver, opID, err := s.Engine.UpdateApplication(ctx, req.ApplicationName, engine.UpdateInput{
		Kind: flinkplane.OpDeleteCloudWatchLogging, CurrentVersion: req.CurrentApplicationVersionId, ConditionalToken: req.ConditionalToken,
		Change: func(cfg *flinkplane.ApplicationConfig) error {
			var keep []flinkplane.CloudWatchLoggingOption
			for _, o := range cfg.CloudWatchLogging {
				if o.ID != req.CloudWatchLoggingOptionId {
					keep = append(keep, o)
				}
			}
			if len(keep) == len(cfg.CloudWatchLogging) {
				return flinkplane.Errorf(flinkplane.ENOTFOUND, "CloudWatch logging option %s does not exist.", req.CloudWatchLoggingOptionId)
			}
			cfg.CloudWatchLogging = keep
			return nil
		},
	})
	if err != nil {
		return nil, err
	}
	return &model.DeleteApplicationCloudWatchLoggingOptionResponse{ApplicationARN: model.Ptr(s.arn(app.Name)), ApplicationVersionId: model.Ptr(ver.VersionID),
		CloudWatchLoggingOptionDescriptions: loggingDescriptions(ver.Config), OperationId: model.Ptr(opID)}, nil
}

func (s *Server) addVpcConfiguration(ctx context.Context, body []byte) (any, error) {
	var req model.AddApplicationVpcConfigurationRequest
	if err := decode("AddApplicationVpcConfiguration", body, &req); err != nil {
		return nil, err
	}
	var added flinkplane.VPCConfiguration
	app, ver, opID, err := s.Engine.UpdateApplication(ctx, req.ApplicationName, engine.UpdateInput{
		Kind: "AddApplicationVpcConfiguration", CurrentVersion: req.CurrentApplicationVersionId, ConditionalToken: req.ConditionalToken,
		Change: func(cfg *flinkplane.ApplicationConfig) error {
			if len(cfg.VPCConfigurations) > 0 {
				return flinkplane.Errorf(flinkplane.EINVALID, "The application already has a VPC configuration.")
			}
			added = flinkplane.VPCConfiguration{ID: "1.1", SubnetIDs: req.VpcConfiguration.SubnetIds, SecurityGroupIDs: req.VpcConfiguration.SecurityGroupIds}
			cfg.VPCConfigurations = append(cfg.VPCConfigurations, added)
			return nil
		},
	})
	if err != nil {
		return nil, err
	}
	return &model.AddApplicationVpcConfigurationResponse{ApplicationARN: model.Ptr(s.arn(app.Name)), ApplicationVersionId: model.Ptr(ver.VersionID),
		VpcConfigurationDescription: &model.VpcConfigurationDescription{VpcConfigurationId: added.ID, VpcId: "vpc-local",
			SubnetIds: nonNil(added.SubnetIDs), SecurityGroupIds: nonNil(added.SecurityGroupIDs)},
		OperationId: model.Ptr(opID)}, nil
}

func (s *Server) deleteVpcConfiguration(ctx context.Context, body []byte) (any, error) {
	var req model.DeleteApplicationVpcConfigurationRequest
	if err := decode("DeleteApplicationVpcConfiguration", body, &req); err != nil {
		return nil, err
	}
	app, ver, opID, err := s.Engine.UpdateApplication(ctx, req.ApplicationName, engine.UpdateInput{
		Kind: "DeleteApplicationVpcConfiguration", CurrentVersion: req.CurrentApplicationVersionId, ConditionalToken: req.ConditionalToken,
		Change: func(cfg *flinkplane.ApplicationConfig) error {
			var keep []flinkplane.VPCConfiguration
			for _, v := range cfg.VPCConfigurations {
				if v.ID != req.VpcConfigurationId {
					keep = append(keep, v)
				}
			}
			if len(keep) == len(cfg.VPCConfigurations) {
				return flinkplane.Errorf(flinkplane.ENOTFOUND, "VPC configuration %s does not exist.", req.VpcConfigurationId)
			}
			cfg.VPCConfigurations = keep
			return nil
		},
	})
	if err != nil {
		return nil, err
	}
	return &model.DeleteApplicationVpcConfigurationResponse{ApplicationARN: model.Ptr(s.arn(app.Name)), ApplicationVersionId: model.Ptr(ver.VersionID),
		OperationId: model.Ptr(opID)}, nil
}

// updateMaintenanceConfiguration sets the maintenance window start time;
// only in READY or RUNNING (model doc). It does not create a version.
func (s *Server) updateMaintenanceConfiguration(ctx context.Context, body []byte) (any, error) {
	var req model.UpdateApplicationMaintenanceConfigurationRequest
	if err := decode("UpdateApplicationMaintenanceConfiguration", body, &req); err != nil {
		return nil, err
	}
	start := req.ApplicationMaintenanceConfigurationUpdate.ApplicationMaintenanceWindowStartTimeUpdate
	var name string
	err := s.Store.Update(ctx, func(tx flinkplane.Tx) error {
		app, err := tx.Application(req.ApplicationName)
		if err != nil {
			return err
		}
		if app.Status != flinkplane.StatusReady && app.Status != flinkplane.StatusRunning {
			return flinkplane.Errorf(flinkplane.EINUSE, "Application %s is in %s status. UpdateApplicationMaintenanceConfiguration requires the application to be in READY or RUNNING status.", app.Name, app.Status)
		}
		app.MaintenanceWindow = start
		name = app.Name
		return tx.PutApplication(app)
	})
	if err != nil {
		return nil, err
	}
	return &model.UpdateApplicationMaintenanceConfigurationResponse{ApplicationARN: model.Ptr(s.arn(name)),
		ApplicationMaintenanceConfigurationDescription: &model.ApplicationMaintenanceConfigurationDescription{
			ApplicationMaintenanceWindowStartTime: start, ApplicationMaintenanceWindowEndTime: windowEnd(start)}}, nil
}

// createPresignedURL returns the presigned URL of the Flink dashboard of a
// RUNNING application: a link to this server's dashboard proxy (package
// dashboard), on the address the request came to, which must be used
// within 3 minutes and opens a read-only session of
// SessionExpirationDurationInSeconds (12 hours without it). Zeppelin URLs
// do not apply.
func (s *Server) createPresignedURL(ctx context.Context, body []byte) (any, error) {
	var req model.CreateApplicationPresignedUrlRequest
	if err := decode("CreateApplicationPresignedUrl", body, &req); err != nil {
		return nil, err
	}
	app, _, err := s.current(ctx, req.ApplicationName)
	if err != nil {
		return nil, err
	}
	if req.UrlType != "FLINK_DASHBOARD_URL" {
		return nil, flinkplane.Errorf(flinkplane.EINVALID, "UrlType %s does not apply to a Flink application.", req.UrlType)
	}
	if app.Status != flinkplane.StatusRunning || app.Cluster == nil || app.Cluster.RESTURL == "" {
		return nil, flinkplane.Errorf(flinkplane.EINUSE, "Application %s is in %s status; the Flink dashboard is available while it is RUNNING.", app.Name, app.Status)
	}
	if s.Dashboard == nil {
		return nil, flinkplane.Errorf(flinkplane.EUNSUPPORTED, "This server does not serve Flink dashboards.")
	}
	session := time.Duration(model.Value(req.SessionExpirationDurationInSeconds)) * time.Second
	base, _ := ctx.Value(baseURLKey{}).(string)
	return &model.CreateApplicationPresignedUrlResponse{AuthorizedUrl: model.Ptr(s.Dashboard.SignInURL(base, app.Name, session))}, nil
}

// Dashboard hands out presigned URLs of the Flink dashboards
// (dashboard.Proxy).
type Dashboard interface {
	SignInURL(base, application string, session time.Duration) string
}

type baseURLKey struct{}

// baseURL is the scheme and host a request came to.
func baseURL(r *http.Request) string {
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	return scheme + "://" + r.Host
}

func (s *Server) discoverInputSchema(ctx context.Context, body []byte) (any, error) {
	if err := model.Validate("DiscoverInputSchema", body); err != nil {
		return nil, err
	}
	return nil, flinkplane.Errorf(flinkplane.EUNSUPPORTED, "DiscoverInputSchema applies to SQL applications; flinkplane runs Apache Flink applications only.")
}

// sqlOnly answers an operation that exists only for SQL applications: the
// request is validated, the application must exist, and then the call is
// refused with InvalidArgumentException as for any Flink application.
func (s *Server) sqlOnly(op string) opFunc {
	return func(ctx context.Context, body []byte) (any, error) {
		var req struct{ ApplicationName string }
		if err := decode(op, body, &req); err != nil {
			return nil, err
		}
		if _, _, err := s.current(ctx, req.ApplicationName); err != nil {
			return nil, err
		}
		return nil, flinkplane.Errorf(flinkplane.EINVALID, "%s is not supported for application %s: it applies to SQL applications only, and this is an Apache Flink application.", op, req.ApplicationName)
	}
}
