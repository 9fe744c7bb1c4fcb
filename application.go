package flinkplane

import "time"

// Application statuses (the API's ApplicationStatus).
const (
	StatusDeleting      = "DELETING"
	StatusStarting      = "STARTING"
	StatusStopping      = "STOPPING"
	StatusReady         = "READY"
	StatusRunning       = "RUNNING"
	StatusUpdating      = "UPDATING"
	StatusAutoscaling   = "AUTOSCALING"
	StatusForceStopping = "FORCE_STOPPING"
	StatusRollingBack   = "ROLLING_BACK"
	StatusMaintenance   = "MAINTENANCE"
	StatusRolledBack    = "ROLLED_BACK"
)

// Application is the mutable head of an application: its name, status and
// current version, plus what is running for it right now. Its configuration
// lives in ApplicationVersion, one immutable record per version id.
type Application struct {
	Name string `json:"name"`
	// ID is a stable, file-system safe identifier (directories, process tags).
	ID     string `json:"id"`
	ARN    string `json:"arn"`
	Status string `json:"status"`
	// VersionID is the current ApplicationVersionId; ConditionalToken
	// rotates with it.
	VersionID int64 `json:"versionId"`
	// RuntimeEnvironment is the current version's runtime (for listings);
	// the runtime actually running is Cluster.Runtime.
	RuntimeEnvironment RuntimeID `json:"runtimeEnvironment"`
	ApplicationMode    string    `json:"applicationMode,omitempty"`
	ConditionalToken   string    `json:"conditionalToken"`
	// MaintenanceWindow is the maintenance window start time (HH:MM UTC),
	// set by UpdateApplicationMaintenanceConfiguration without a new
	// version.
	MaintenanceWindow string    `json:"maintenanceWindow,omitempty"`
	CreateTime        time.Time `json:"createTime"`
	UpdateTime        time.Time `json:"updateTime"`

	// Cluster and JobID name the cluster and job running the application,
	// if any. They are written in the same transaction as the operation step
	// that created them, so a restarted control plane can find them.
	Cluster *ClusterHandle `json:"cluster,omitempty"`
	JobID   string         `json:"jobId,omitempty"`
	// RunningVersionID is the version whose configuration the job runs.
	RunningVersionID int64 `json:"runningVersionId,omitempty"`
	// FailedOperation is the id of the update whose job never became
	// healthy while system rollback was off: the application stays RUNNING
	// on the new version with its failing job (as the managed service
	// leaves it) until RollbackApplication, a corrected UpdateApplication
	// or StopApplication. The watch reports its health and does not recover
	// it. Cleared by the next operation that succeeds.
	FailedOperation string `json:"failedOperation,omitempty"`
}

// ApplicationVersion is the configuration of an application at one version
// id. A version is never changed once written.
type ApplicationVersion struct {
	ApplicationName string    `json:"applicationName"`
	VersionID       int64     `json:"versionId"`
	CreateTime      time.Time `json:"createTime"`
	// Status is the application's status when the version was created.
	Status string `json:"status"`

	UpdatedFrom    int64 `json:"updatedFrom,omitempty"`
	RolledBackFrom int64 `json:"rolledBackFrom,omitempty"`
	RolledBackTo   int64 `json:"rolledBackTo,omitempty"`

	Config ApplicationConfig `json:"config"`
}

// ApplicationConfig is an application's configuration as the API's
// ApplicationDetail shows it.
type ApplicationConfig struct {
	Description          string    `json:"description,omitempty"`
	RuntimeEnvironment   RuntimeID `json:"runtimeEnvironment"`
	ServiceExecutionRole string    `json:"serviceExecutionRole,omitempty"`
	ApplicationMode      string    `json:"applicationMode,omitempty"`

	Code                  CodeConfig                `json:"code"`
	EnvironmentProperties []PropertyGroup           `json:"environmentProperties,omitempty"`
	Checkpoint            CheckpointConfig          `json:"checkpoint"`
	Monitoring            MonitoringConfig          `json:"monitoring"`
	Parallelism           ParallelismConfig         `json:"parallelism"`
	SnapshotsEnabled      bool                      `json:"snapshotsEnabled"`
	RollbackEnabled       bool                      `json:"rollbackEnabled"`
	Restore               RestoreConfig             `json:"restore"`
	AllowNonRestoredState bool                      `json:"allowNonRestoredState"`
	CloudWatchLogging     []CloudWatchLoggingOption `json:"cloudWatchLogging,omitempty"`
	VPCConfigurations     []VPCConfiguration        `json:"vpcConfigurations,omitempty"`
	MaintenanceWindow     string                    `json:"maintenanceWindow,omitempty"`
	EncryptionKeyType     string                    `json:"encryptionKeyType,omitempty"`
	EncryptionKeyID       string                    `json:"encryptionKeyId,omitempty"`
}

// Code content types.
const (
	CodeZipFile   = "ZIPFILE"
	CodePlainText = "PLAINTEXT"
)

// CodeConfig is the ApplicationCodeConfiguration: where the code is.
type CodeConfig struct {
	ContentType string             `json:"contentType,omitempty"`
	S3          *S3ContentLocation `json:"s3,omitempty"`
	// ZipRef is the code store's reference of ZipFileContent uploaded with
	// the request; CodeMD5 and CodeSize describe it.
	ZipRef      string `json:"zipRef,omitempty"`
	CodeMD5     string `json:"codeMd5,omitempty"`
	CodeSize    int64  `json:"codeSize,omitempty"`
	TextContent string `json:"textContent,omitempty"`
}

// S3ContentLocation names an object: a bucket ARN, a key and an optional
// object version.
type S3ContentLocation struct {
	BucketARN     string `json:"bucketArn"`
	FileKey       string `json:"fileKey"`
	ObjectVersion string `json:"objectVersion,omitempty"`
}

// Configuration types of the Flink configuration blocks.
const (
	ConfigDefault = "DEFAULT"
	ConfigCustom  = "CUSTOM"
)

// CheckpointConfig is the CheckpointConfiguration. Durations are in ms.
type CheckpointConfig struct {
	ConfigurationType          string `json:"configurationType"`
	CheckpointingEnabled       bool   `json:"checkpointingEnabled"`
	CheckpointInterval         int64  `json:"checkpointInterval"`
	MinPauseBetweenCheckpoints int64  `json:"minPauseBetweenCheckpoints"`
}

// MonitoringConfig is the MonitoringConfiguration.
type MonitoringConfig struct {
	ConfigurationType string `json:"configurationType"`
	MetricsLevel      string `json:"metricsLevel"`
	LogLevel          string `json:"logLevel"`
}

// ParallelismConfig is the ParallelismConfiguration.
type ParallelismConfig struct {
	ConfigurationType  string `json:"configurationType"`
	Parallelism        int    `json:"parallelism"`
	ParallelismPerKPU  int    `json:"parallelismPerKpu"`
	AutoScalingEnabled bool   `json:"autoScalingEnabled"`
	// CurrentParallelism is what runs now (equal to Parallelism here).
	CurrentParallelism int `json:"currentParallelism"`
}

// Restore types (ApplicationRestoreType).
const (
	RestoreSkip   = "SKIP_RESTORE_FROM_SNAPSHOT"
	RestoreLatest = "RESTORE_FROM_LATEST_SNAPSHOT"
	RestoreCustom = "RESTORE_FROM_CUSTOM_SNAPSHOT"
)

// RestoreConfig is the ApplicationRestoreConfiguration.
type RestoreConfig struct {
	Type         string `json:"type"`
	SnapshotName string `json:"snapshotName,omitempty"`
}

// CloudWatchLoggingOption is one CloudWatchLoggingOptionDescription.
type CloudWatchLoggingOption struct {
	ID           string `json:"id"`
	LogStreamARN string `json:"logStreamArn"`
	RoleARN      string `json:"roleArn,omitempty"`
}

// VPCConfiguration is one VpcConfigurationDescription.
type VPCConfiguration struct {
	ID               string   `json:"id"`
	SubnetIDs        []string `json:"subnetIds"`
	SecurityGroupIDs []string `json:"securityGroupIds"`
}

// DefaultConfig returns the configuration defaults the managed service
// applies to a new Flink application (checkpointing every 60 s with a 5 s
// pause, parallelism 1, one slot per KPU, restore from the latest snapshot).
func DefaultConfig() ApplicationConfig {
	return ApplicationConfig{
		ApplicationMode: "STREAMING",
		Checkpoint: CheckpointConfig{ConfigurationType: ConfigDefault, CheckpointingEnabled: true,
			CheckpointInterval: 60000, MinPauseBetweenCheckpoints: 5000},
		Monitoring: MonitoringConfig{ConfigurationType: ConfigDefault, MetricsLevel: "APPLICATION", LogLevel: "INFO"},
		Parallelism: ParallelismConfig{ConfigurationType: ConfigDefault, Parallelism: 1, ParallelismPerKPU: 1,
			CurrentParallelism: 1},
		SnapshotsEnabled:  true,
		Restore:           RestoreConfig{Type: RestoreLatest},
		MaintenanceWindow: "06:00",
		EncryptionKeyType: "AWS_OWNED_KEY",
	}
}

// RunsDifferently reports whether moving from configuration a to b changes
// what runs: the runtime, the code, the properties, or the Flink
// configuration. Other changes (rollback and snapshot settings, logging,
// role, description) take effect without restarting the job.
func RunsDifferently(a, b ApplicationConfig) bool {
	if a.RuntimeEnvironment != b.RuntimeEnvironment || !sameCode(a.Code, b.Code) || a.Checkpoint != b.Checkpoint ||
		a.Parallelism.Parallelism != b.Parallelism.Parallelism ||
		a.Parallelism.ParallelismPerKPU != b.Parallelism.ParallelismPerKPU {
		return true
	}
	if len(a.EnvironmentProperties) != len(b.EnvironmentProperties) {
		return true
	}
	for i := range a.EnvironmentProperties {
		x, y := a.EnvironmentProperties[i], b.EnvironmentProperties[i]
		if x.PropertyGroupID != y.PropertyGroupID || len(x.PropertyMap) != len(y.PropertyMap) {
			return true
		}
		for k, v := range x.PropertyMap {
			if w, ok := y.PropertyMap[k]; !ok || w != v {
				return true
			}
		}
	}
	return false
}

// Clone returns a deep copy of c, safe to modify.
func (c ApplicationConfig) Clone() ApplicationConfig {
	out := c
	if c.Code.S3 != nil {
		s3 := *c.Code.S3
		out.Code.S3 = &s3
	}
	out.EnvironmentProperties = nil
	for _, g := range c.EnvironmentProperties {
		m := make(map[string]string, len(g.PropertyMap))
		for k, v := range g.PropertyMap {
			m[k] = v
		}
		out.EnvironmentProperties = append(out.EnvironmentProperties, PropertyGroup{PropertyGroupID: g.PropertyGroupID, PropertyMap: m})
	}
	out.CloudWatchLogging = append([]CloudWatchLoggingOption(nil), c.CloudWatchLogging...)
	out.VPCConfigurations = nil
	for _, v := range c.VPCConfigurations {
		v.SubnetIDs = append([]string(nil), v.SubnetIDs...)
		v.SecurityGroupIDs = append([]string(nil), v.SecurityGroupIDs...)
		out.VPCConfigurations = append(out.VPCConfigurations, v)
	}
	return out
}

func sameCode(a, b CodeConfig) bool {
	if (a.S3 == nil) != (b.S3 == nil) || (a.S3 != nil && *a.S3 != *b.S3) {
		return false
	}
	a.S3, b.S3 = nil, nil
	return a == b
}
