package awsapi

import (
	"context"
	"fmt"
	"sort"
	"strings"

	"github.com/flinkplane/flinkplane"
	"github.com/flinkplane/flinkplane/awsapi/model"
)

// arn returns the ARN of an application.
func (s *Server) arn(name string) string {
	return fmt.Sprintf("arn:aws:kinesisanalytics:%s:%s:application/%s", s.Region, s.Account, name)
}

// appFromARN returns the application name of one of this server's ARNs.
func (s *Server) appFromARN(arn string) (string, error) {
	prefix := fmt.Sprintf("arn:aws:kinesisanalytics:%s:%s:application/", s.Region, s.Account)
	name, ok := strings.CutPrefix(arn, prefix)
	if !ok || name == "" || strings.Contains(name, "/") {
		return "", flinkplane.Errorf(flinkplane.ENOTFOUND, "Resource %s not found.", arn)
	}
	return name, nil
}

// checkRuntime rejects runtimes flinkplane cannot run: it runs Apache Flink
// applications only (no SQL or Studio/Zeppelin applications).
func checkRuntime(r model.RuntimeEnvironment) error {
	if !flinkplane.RuntimeID(r).IsFlink() {
		return flinkplane.Errorf(flinkplane.EUNSUPPORTED, "Runtime environment %s is not supported: flinkplane runs Apache Flink applications (FLINK-x_y) only.", r)
	}
	return nil
}

// applyCode applies an ApplicationCodeConfiguration.
func (s *Server) applyCode(ctx context.Context, cfg *flinkplane.ApplicationConfig, c *model.ApplicationCodeConfiguration) error {
	if c == nil {
		return nil
	}
	cfg.Code = flinkplane.CodeConfig{ContentType: string(c.CodeContentType)}
	if c.CodeContentType == model.CodeContentTypePlaintext {
		return flinkplane.Errorf(flinkplane.EINVALID, "CodeContentType PLAINTEXT is for SQL applications; a Flink application's code is a ZIPFILE (a JAR or zip).")
	}
	if c.CodeContent == nil {
		return nil
	}
	if c.CodeContent.TextContent != nil {
		return flinkplane.Errorf(flinkplane.EINVALID, "TextContent is for SQL applications; give S3ContentLocation or ZipFileContent.")
	}
	if c.CodeContent.S3ContentLocation != nil && c.CodeContent.ZipFileContent != nil {
		return flinkplane.Errorf(flinkplane.EINVALID, "Give either S3ContentLocation or ZipFileContent, not both.")
	}
	if l := c.CodeContent.S3ContentLocation; l != nil {
		loc := flinkplane.S3ContentLocation{BucketARN: l.BucketARN, FileKey: l.FileKey, ObjectVersion: model.Value(l.ObjectVersion)}
		if err := s.Code.Check(ctx, loc); err != nil {
			return err
		}
		cfg.Code.S3 = &loc
	}
	if z := c.CodeContent.ZipFileContent; z != nil {
		ref, sum, err := s.putZip(ctx, z)
		if err != nil {
			return err
		}
		cfg.Code.ZipRef, cfg.Code.CodeMD5, cfg.Code.CodeSize = ref, sum, int64(len(z))
	}
	return nil
}

func applyCheckpoint(c *flinkplane.CheckpointConfig, typ *model.ConfigurationType, enabled *bool, interval, pause *int64) {
	if typ != nil {
		if *typ == model.ConfigurationTypeDefault {
			*c = flinkplane.DefaultConfig().Checkpoint
			return
		}
		c.ConfigurationType = string(*typ)
	}
	if c.ConfigurationType != flinkplane.ConfigCustom {
		return
	}
	if enabled != nil {
		c.CheckpointingEnabled = *enabled
	}
	if interval != nil {
		c.CheckpointInterval = *interval
	}
	if pause != nil {
		c.MinPauseBetweenCheckpoints = *pause
	}
}

func applyMonitoring(m *flinkplane.MonitoringConfig, typ *model.ConfigurationType, metrics *model.MetricsLevel, log *model.LogLevel) {
	if typ != nil {
		if *typ == model.ConfigurationTypeDefault {
			*m = flinkplane.DefaultConfig().Monitoring
			return
		}
		m.ConfigurationType = string(*typ)
	}
	if m.ConfigurationType != flinkplane.ConfigCustom {
		return
	}
	if metrics != nil {
		m.MetricsLevel = string(*metrics)
	}
	if log != nil {
		m.LogLevel = string(*log)
	}
}

func applyParallelism(p *flinkplane.ParallelismConfig, typ *model.ConfigurationType, par, perKPU *int32, auto *bool) {
	if typ != nil {
		if *typ == model.ConfigurationTypeDefault {
			*p = flinkplane.DefaultConfig().Parallelism
			return
		}
		p.ConfigurationType = string(*typ)
	}
	if p.ConfigurationType != flinkplane.ConfigCustom {
		return
	}
	if par != nil {
		p.Parallelism = int(*par)
	}
	if perKPU != nil {
		p.ParallelismPerKPU = int(*perKPU)
	}
	if auto != nil {
		p.AutoScalingEnabled = *auto
	}
	p.CurrentParallelism = p.Parallelism
}

func propertyGroups(groups []model.PropertyGroup) ([]flinkplane.PropertyGroup, error) {
	var out []flinkplane.PropertyGroup
	seen := map[string]bool{}
	for _, g := range groups {
		if seen[g.PropertyGroupId] {
			return nil, flinkplane.Errorf(flinkplane.EINVALID, "Property group %s is given more than once.", g.PropertyGroupId)
		}
		seen[g.PropertyGroupId] = true
		m := make(map[string]string, len(g.PropertyMap))
		for k, v := range g.PropertyMap {
			m[k] = v
		}
		out = append(out, flinkplane.PropertyGroup{PropertyGroupID: g.PropertyGroupId, PropertyMap: m})
	}
	return out, nil
}

// configFromCreate builds the configuration of a new application.
func (s *Server) configFromCreate(ctx context.Context, req *model.CreateApplicationRequest) (flinkplane.ApplicationConfig, error) {
	cfg := flinkplane.DefaultConfig()
	cfg.RuntimeEnvironment = flinkplane.RuntimeID(req.RuntimeEnvironment)
	cfg.ServiceExecutionRole = req.ServiceExecutionRole
	cfg.Description = model.Value(req.ApplicationDescription)
	if req.ApplicationMode != nil {
		if *req.ApplicationMode == model.ApplicationModeInteractive {
			return cfg, flinkplane.Errorf(flinkplane.EINVALID, "ApplicationMode 'INTERACTIVE' is not applicable to runtime environment : %s", req.RuntimeEnvironment)
		}
		cfg.ApplicationMode = string(*req.ApplicationMode)
	}
	for i, o := range req.CloudWatchLoggingOptions {
		cfg.CloudWatchLogging = append(cfg.CloudWatchLogging, flinkplane.CloudWatchLoggingOption{ID: fmt.Sprintf("1.%d", i+1), LogStreamARN: o.LogStreamARN})
	}
	ac := req.ApplicationConfiguration
	if ac == nil {
		return cfg, nil
	}
	if ac.SqlApplicationConfiguration != nil || ac.ZeppelinApplicationConfiguration != nil {
		return cfg, flinkplane.Errorf(flinkplane.EINVALID, "SQL and Zeppelin configurations do not apply to a Flink application.")
	}
	if err := s.applyCode(ctx, &cfg, ac.ApplicationCodeConfiguration); err != nil {
		return cfg, err
	}
	if f := ac.FlinkApplicationConfiguration; f != nil {
		if c := f.CheckpointConfiguration; c != nil {
			t := c.ConfigurationType
			applyCheckpoint(&cfg.Checkpoint, &t, c.CheckpointingEnabled, c.CheckpointInterval, c.MinPauseBetweenCheckpoints)
		}
		if m := f.MonitoringConfiguration; m != nil {
			t := m.ConfigurationType
			applyMonitoring(&cfg.Monitoring, &t, m.MetricsLevel, m.LogLevel)
		}
		if p := f.ParallelismConfiguration; p != nil {
			t := p.ConfigurationType
			applyParallelism(&cfg.Parallelism, &t, p.Parallelism, p.ParallelismPerKPU, p.AutoScalingEnabled)
		}
	}
	if ep := ac.EnvironmentProperties; ep != nil {
		groups, err := propertyGroups(ep.PropertyGroups)
		if err != nil {
			return cfg, err
		}
		cfg.EnvironmentProperties = groups
	}
	if sc := ac.ApplicationSnapshotConfiguration; sc != nil {
		cfg.SnapshotsEnabled = sc.SnapshotsEnabled
	}
	if rc := ac.ApplicationSystemRollbackConfiguration; rc != nil {
		cfg.RollbackEnabled = rc.RollbackEnabled
	}
	for i, v := range ac.VpcConfigurations {
		cfg.VPCConfigurations = append(cfg.VPCConfigurations, flinkplane.VPCConfiguration{ID: fmt.Sprintf("1.%d", i+1),
			SubnetIDs: v.SubnetIds, SecurityGroupIDs: v.SecurityGroupIds})
	}
	if ec := ac.ApplicationEncryptionConfiguration; ec != nil {
		cfg.EncryptionKeyType, cfg.EncryptionKeyID = string(ec.KeyType), model.Value(ec.KeyId)
	}
	return cfg, nil
}

// applyUpdate applies an UpdateApplication request to a copy of the
// current configuration.
func (s *Server) applyUpdate(ctx context.Context, cfg *flinkplane.ApplicationConfig, req *model.UpdateApplicationRequest, newVersion int64) error {
	if r := req.RuntimeEnvironmentUpdate; r != nil {
		if err := checkRuntime(*r); err != nil {
			// UpdateApplication declares no UnsupportedOperationException.
			return flinkplane.Errorf(flinkplane.EINVALID, "%s", flinkplane.ErrorMessage(err))
		}
		cfg.RuntimeEnvironment = flinkplane.RuntimeID(*r)
	}
	if r := req.ServiceExecutionRoleUpdate; r != nil {
		cfg.ServiceExecutionRole = *r
	}
	// AllowNonRestoredState is reset to false unless given (model doc).
	cfg.AllowNonRestoredState = false
	if rc := req.RunConfigurationUpdate; rc != nil {
		if f := rc.FlinkRunConfiguration; f != nil && f.AllowNonRestoredState != nil {
			cfg.AllowNonRestoredState = *f.AllowNonRestoredState
		}
		if r := rc.ApplicationRestoreConfiguration; r != nil {
			cfg.Restore = flinkplane.RestoreConfig{Type: string(r.ApplicationRestoreType), SnapshotName: model.Value(r.SnapshotName)}
			if err := checkRestore(cfg.Restore); err != nil {
				return err
			}
		}
	}
	for _, u := range req.CloudWatchLoggingOptionUpdates {
		found := false
		for i := range cfg.CloudWatchLogging {
			if cfg.CloudWatchLogging[i].ID == u.CloudWatchLoggingOptionId {
				found = true
				if u.LogStreamARNUpdate != nil {
					cfg.CloudWatchLogging[i].LogStreamARN = *u.LogStreamARNUpdate
				}
			}
		}
		if !found {
			return flinkplane.Errorf(flinkplane.EINVALID, "CloudWatch logging option %s does not exist.", u.CloudWatchLoggingOptionId)
		}
	}
	u := req.ApplicationConfigurationUpdate
	if u == nil {
		return nil
	}
	if u.SqlApplicationConfigurationUpdate != nil || u.ZeppelinApplicationConfigurationUpdate != nil {
		return flinkplane.Errorf(flinkplane.EINVALID, "SQL and Zeppelin configurations do not apply to a Flink application.")
	}
	if c := u.ApplicationCodeConfigurationUpdate; c != nil {
		if c.CodeContentTypeUpdate != nil {
			if *c.CodeContentTypeUpdate == model.CodeContentTypePlaintext {
				return flinkplane.Errorf(flinkplane.EINVALID, "CodeContentType PLAINTEXT is for SQL applications.")
			}
			cfg.Code.ContentType = string(*c.CodeContentTypeUpdate)
		}
		if cc := c.CodeContentUpdate; cc != nil {
			if cc.TextContentUpdate != nil {
				return flinkplane.Errorf(flinkplane.EINVALID, "TextContentUpdate is for SQL applications.")
			}
			if cc.S3ContentLocationUpdate != nil && cc.ZipFileContentUpdate != nil {
				return flinkplane.Errorf(flinkplane.EINVALID, "Give either S3ContentLocationUpdate or ZipFileContentUpdate, not both.")
			}
			if l := cc.S3ContentLocationUpdate; l != nil {
				loc := flinkplane.S3ContentLocation{}
				if cfg.Code.S3 != nil {
					loc = *cfg.Code.S3
				}
				if l.BucketARNUpdate != nil {
					loc.BucketARN = *l.BucketARNUpdate
				}
				if l.FileKeyUpdate != nil {
					loc.FileKey = *l.FileKeyUpdate
					loc.ObjectVersion = ""
				}
				if l.ObjectVersionUpdate != nil {
					loc.ObjectVersion = *l.ObjectVersionUpdate
				}
				if loc.BucketARN == "" || loc.FileKey == "" {
					return flinkplane.Errorf(flinkplane.EINVALID, "The application has no S3 code location to update: give BucketARNUpdate and FileKeyUpdate.")
				}
				if err := s.Code.Check(ctx, loc); err != nil {
					return err
				}
				cfg.Code = flinkplane.CodeConfig{ContentType: flinkplane.CodeZipFile, S3: &loc}
			}
			if z := cc.ZipFileContentUpdate; z != nil {
				ref, sum, err := s.putZip(ctx, z)
				if err != nil {
					return err
				}
				cfg.Code = flinkplane.CodeConfig{ContentType: flinkplane.CodeZipFile, ZipRef: ref, CodeMD5: sum, CodeSize: int64(len(z))}
			}
		}
	}
	if f := u.FlinkApplicationConfigurationUpdate; f != nil {
		if c := f.CheckpointConfigurationUpdate; c != nil {
			applyCheckpoint(&cfg.Checkpoint, c.ConfigurationTypeUpdate, c.CheckpointingEnabledUpdate, c.CheckpointIntervalUpdate, c.MinPauseBetweenCheckpointsUpdate)
		}
		if m := f.MonitoringConfigurationUpdate; m != nil {
			applyMonitoring(&cfg.Monitoring, m.ConfigurationTypeUpdate, m.MetricsLevelUpdate, m.LogLevelUpdate)
		}
		if p := f.ParallelismConfigurationUpdate; p != nil {
			applyParallelism(&cfg.Parallelism, p.ConfigurationTypeUpdate, p.ParallelismUpdate, p.ParallelismPerKPUUpdate, p.AutoScalingEnabledUpdate)
		}
	}
	if ep := u.EnvironmentPropertyUpdates; ep != nil {
		groups, err := propertyGroups(ep.PropertyGroups)
		if err != nil {
			return err
		}
		cfg.EnvironmentProperties = groups
	}
	if sc := u.ApplicationSnapshotConfigurationUpdate; sc != nil {
		cfg.SnapshotsEnabled = sc.SnapshotsEnabledUpdate
	}
	if rc := u.ApplicationSystemRollbackConfigurationUpdate; rc != nil {
		cfg.RollbackEnabled = rc.RollbackEnabledUpdate
	}
	for _, v := range u.VpcConfigurationUpdates {
		found := false
		for i := range cfg.VPCConfigurations {
			if cfg.VPCConfigurations[i].ID == v.VpcConfigurationId {
				found = true
				if v.SubnetIdUpdates != nil {
					cfg.VPCConfigurations[i].SubnetIDs = v.SubnetIdUpdates
				}
				if v.SecurityGroupIdUpdates != nil {
					cfg.VPCConfigurations[i].SecurityGroupIDs = v.SecurityGroupIdUpdates
				}
			}
		}
		if !found {
			return flinkplane.Errorf(flinkplane.EINVALID, "VPC configuration %s does not exist.", v.VpcConfigurationId)
		}
	}
	if ec := u.ApplicationEncryptionConfigurationUpdate; ec != nil {
		cfg.EncryptionKeyType, cfg.EncryptionKeyID = string(ec.KeyTypeUpdate), model.Value(ec.KeyIdUpdate)
	}
	return nil
}

func checkRestore(r flinkplane.RestoreConfig) error {
	if r.Type == flinkplane.RestoreCustom && r.SnapshotName == "" {
		return flinkplane.Errorf(flinkplane.EINVALID, "SnapshotName is required with RESTORE_FROM_CUSTOM_SNAPSHOT.")
	}
	return nil
}

// detail renders an application at a version as the API's ApplicationDetail.
func (s *Server) detail(app *flinkplane.Application, ver *flinkplane.ApplicationVersion, additional bool) *model.ApplicationDetail {
	c := ver.Config
	d := &model.ApplicationDetail{
		ApplicationARN:                    s.arn(app.Name),
		ApplicationName:                   app.Name,
		RuntimeEnvironment:                model.RuntimeEnvironment(c.RuntimeEnvironment),
		ServiceExecutionRole:              nonEmpty(c.ServiceExecutionRole),
		ApplicationDescription:            model.Ptr(c.Description),
		ApplicationStatus:                 model.ApplicationStatus(app.Status),
		ApplicationVersionId:              ver.VersionID,
		CreateTimestamp:                   model.Ptr(model.NewTimestamp(app.CreateTime)),
		LastUpdateTimestamp:               model.Ptr(model.NewTimestamp(app.UpdateTime)),
		ApplicationVersionCreateTimestamp: model.Ptr(model.NewTimestamp(ver.CreateTime)),
		ApplicationMode:                   (*model.ApplicationMode)(nonEmpty(c.ApplicationMode)),
	}
	if ver.VersionID == app.VersionID {
		d.ConditionalToken = model.Ptr(app.ConditionalToken)
	} else {
		d.ApplicationStatus = model.ApplicationStatus(ver.Status)
	}
	if ver.UpdatedFrom != 0 {
		d.ApplicationVersionUpdatedFrom = model.Ptr(ver.UpdatedFrom)
	}
	if ver.RolledBackFrom != 0 {
		d.ApplicationVersionRolledBackFrom = model.Ptr(ver.RolledBackFrom)
		d.ApplicationVersionRolledBackTo = model.Ptr(ver.RolledBackTo)
	}
	window := app.MaintenanceWindow
	if window == "" {
		window = c.MaintenanceWindow
	}
	if window != "" {
		d.ApplicationMaintenanceConfigurationDescription = &model.ApplicationMaintenanceConfigurationDescription{
			ApplicationMaintenanceWindowStartTime: window, ApplicationMaintenanceWindowEndTime: windowEnd(window)}
	}
	for _, o := range c.CloudWatchLogging {
		d.CloudWatchLoggingOptionDescriptions = append(d.CloudWatchLoggingOptionDescriptions, model.CloudWatchLoggingOptionDescription{
			CloudWatchLoggingOptionId: model.Ptr(o.ID), LogStreamARN: o.LogStreamARN, RoleARN: nonEmpty(o.RoleARN)})
	}
	acd := &model.ApplicationConfigurationDescription{}
	if c.Code.ContentType != "" || c.Code.S3 != nil || c.Code.ZipRef != "" {
		cd := &model.ApplicationCodeConfigurationDescription{CodeContentType: model.CodeContentType(orDefault(c.Code.ContentType, flinkplane.CodeZipFile)),
			CodeContentDescription: &model.CodeContentDescription{}}
		if c.Code.S3 != nil {
			cd.CodeContentDescription.S3ApplicationCodeLocationDescription = &model.S3ApplicationCodeLocationDescription{
				BucketARN: c.Code.S3.BucketARN, FileKey: c.Code.S3.FileKey, ObjectVersion: nonEmpty(c.Code.S3.ObjectVersion)}
		}
		if c.Code.ZipRef != "" {
			cd.CodeContentDescription.CodeMD5 = model.Ptr(c.Code.CodeMD5)
			cd.CodeContentDescription.CodeSize = model.Ptr(c.Code.CodeSize)
		}
		acd.ApplicationCodeConfigurationDescription = cd
	}
	restore := &model.ApplicationRestoreConfiguration{ApplicationRestoreType: model.ApplicationRestoreType(orDefault(c.Restore.Type, flinkplane.RestoreLatest)),
		SnapshotName: nonEmpty(c.Restore.SnapshotName)}
	acd.RunConfigurationDescription = &model.RunConfigurationDescription{
		ApplicationRestoreConfigurationDescription: restore,
		FlinkRunConfigurationDescription:           &model.FlinkRunConfiguration{AllowNonRestoredState: model.Ptr(c.AllowNonRestoredState)},
	}
	cp, mo, pa := c.Checkpoint, c.Monitoring, c.Parallelism
	acd.FlinkApplicationConfigurationDescription = &model.FlinkApplicationConfigurationDescription{
		CheckpointConfigurationDescription: &model.CheckpointConfigurationDescription{
			ConfigurationType: model.Ptr(model.ConfigurationType(cp.ConfigurationType)), CheckpointingEnabled: model.Ptr(cp.CheckpointingEnabled),
			CheckpointInterval: model.Ptr(cp.CheckpointInterval), MinPauseBetweenCheckpoints: model.Ptr(cp.MinPauseBetweenCheckpoints)},
		MonitoringConfigurationDescription: &model.MonitoringConfigurationDescription{
			ConfigurationType: model.Ptr(model.ConfigurationType(mo.ConfigurationType)), MetricsLevel: model.Ptr(model.MetricsLevel(mo.MetricsLevel)),
			LogLevel: model.Ptr(model.LogLevel(mo.LogLevel))},
		ParallelismConfigurationDescription: &model.ParallelismConfigurationDescription{
			ConfigurationType: model.Ptr(model.ConfigurationType(pa.ConfigurationType)), Parallelism: model.Ptr(int32(pa.Parallelism)),
			ParallelismPerKPU: model.Ptr(int32(pa.ParallelismPerKPU)), CurrentParallelism: model.Ptr(int32(max(pa.CurrentParallelism, pa.Parallelism))),
			AutoScalingEnabled: model.Ptr(pa.AutoScalingEnabled)},
	}
	if additional && app.JobID != "" && ver.VersionID == app.VersionID {
		acd.FlinkApplicationConfigurationDescription.JobPlanDescription = model.Ptr(fmt.Sprintf("Flink job %s", app.JobID))
	}
	if len(c.EnvironmentProperties) > 0 {
		groups := make([]model.PropertyGroup, 0, len(c.EnvironmentProperties))
		for _, g := range c.EnvironmentProperties {
			groups = append(groups, model.PropertyGroup{PropertyGroupId: g.PropertyGroupID, PropertyMap: g.PropertyMap})
		}
		acd.EnvironmentPropertyDescriptions = &model.EnvironmentPropertyDescriptions{PropertyGroupDescriptions: groups}
	}
	acd.ApplicationSnapshotConfigurationDescription = &model.ApplicationSnapshotConfigurationDescription{SnapshotsEnabled: c.SnapshotsEnabled}
	acd.ApplicationSystemRollbackConfigurationDescription = &model.ApplicationSystemRollbackConfigurationDescription{RollbackEnabled: c.RollbackEnabled}
	for _, v := range c.VPCConfigurations {
		acd.VpcConfigurationDescriptions = append(acd.VpcConfigurationDescriptions, model.VpcConfigurationDescription{
			VpcConfigurationId: v.ID, VpcId: "vpc-local", SubnetIds: nonNil(v.SubnetIDs), SecurityGroupIds: nonNil(v.SecurityGroupIDs)})
	}
	if c.EncryptionKeyType != "" {
		acd.ApplicationEncryptionConfigurationDescription = &model.ApplicationEncryptionConfigurationDescription{
			KeyType: model.KeyType(c.EncryptionKeyType), KeyId: nonEmpty(c.EncryptionKeyID)}
	}
	d.ApplicationConfigurationDescription = acd
	return d
}

func windowEnd(start string) string {
	var h, m int
	if _, err := fmt.Sscanf(start, "%d:%d", &h, &m); err != nil {
		return start
	}
	return fmt.Sprintf("%02d:%02d", (h+8)%24, m)
}

func nonEmpty(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

func orDefault(s, d string) string {
	if s == "" {
		return d
	}
	return s
}

func sortTags(tags []flinkplane.Tag) {
	sort.Slice(tags, func(i, j int) bool { return tags[i].Key < tags[j].Key })
}
