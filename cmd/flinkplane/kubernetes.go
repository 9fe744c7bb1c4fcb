package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/flinkplane/flinkplane"
	"github.com/flinkplane/flinkplane/runtime/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
)

// kubernetesConfig is the configuration of the Kubernetes driver
// (--driver kubernetes); see docs/kubernetes.md.
type kubernetesConfig struct {
	// Kubeconfig and Context pick the cluster; empty Kubeconfig: the
	// in-cluster configuration when running in a pod, else $KUBECONFIG or
	// ~/.kube/config.
	Kubeconfig string
	Context    string
	// Namespace of the FlinkDeployments (empty: the pod's own namespace in
	// a cluster, else "flinkplane").
	Namespace       string
	Instance        string
	Images          map[flinkplane.RuntimeID]string
	ImageRepository string
	ImagePullPolicy string
	ServiceAccount  string
	// StateDir is the shared volume's mount path (in flinkplane and in the
	// Flink pods) and StateVolumeClaim its PersistentVolumeClaim; with
	// --s3-endpoint and --s3-state-bucket the bucket is used instead.
	StateDir         string
	StateVolumeClaim string
	// S3Secret names the Secret (keys access-key, secret-key) the Flink
	// pods read the bucket's credentials from.
	S3Secret                    string
	JobManager, TaskManager     kubernetes.PodResource
	HighAvailability            bool
	FlinkConfig                 map[string]string
	AckTimeout, OperatorTimeout time.Duration
}

func defaultKubernetesConfig() kubernetesConfig {
	return kubernetesConfig{Instance: "flinkplane", ImageRepository: "flinkplane-flink", ImagePullPolicy: "IfNotPresent",
		ServiceAccount: "flink", JobManager: kubernetes.PodResource{CPU: 0.5, Memory: "1024m"},
		TaskManager: kubernetes.PodResource{CPU: 1, Memory: "2048m"}, HighAvailability: true,
		AckTimeout: time.Minute, OperatorTimeout: 5 * time.Minute}
}

// kubernetesFlags registers the --driver and --k8s-* flags; the returned
// function reads them after Parse.
func kubernetesFlags(fs *flag.FlagSet) func() (string, kubernetesConfig, error) {
	d := defaultKubernetesConfig()
	driver := stringFlag(fs, "driver", "local", "cluster driver: local (Flink clusters as child processes) or kubernetes (FlinkDeployments of the Flink Kubernetes Operator)")
	kubeconfig := stringFlag(fs, "kubeconfig", "", "with --driver kubernetes: kubeconfig file (default: in-cluster configuration in a pod, else $KUBECONFIG or ~/.kube/config)")
	kctx := stringFlag(fs, "k8s-context", "", "kubeconfig context (default: the current context)")
	ns := stringFlag(fs, "k8s-namespace", "", "namespace of the FlinkDeployments (default: the pod's namespace, else flinkplane)")
	instance := stringFlag(fs, "k8s-instance", d.Instance, "label value telling this installation's resources apart from another's in the same namespace")
	images := stringFlag(fs, "k8s-images", "", "container image per runtime, e.g. FLINK-1_20=registry/flink:1.20.5,FLINK-2_2=registry/flink:2.2.1")
	repo := stringFlag(fs, "k8s-image-repository", d.ImageRepository, "image repository of runtimes without --k8s-images entry (tag: the Flink version)")
	pull := stringFlag(fs, "k8s-image-pull-policy", d.ImagePullPolicy, "imagePullPolicy of the Flink pods")
	sa := stringFlag(fs, "k8s-service-account", d.ServiceAccount, "service account of the JobManager and TaskManager pods")
	stateDir := stringFlag(fs, "k8s-state-dir", "", "mount path of the shared volume for JARs, checkpoints and savepoints, the same in flinkplane and the Flink pods (unless --s3-state-bucket)")
	claim := stringFlag(fs, "k8s-state-volume-claim", "", "PersistentVolumeClaim (ReadWriteMany) mounted at --k8s-state-dir in the Flink pods")
	secret := stringFlag(fs, "k8s-s3-secret", "", "Secret with keys access-key and secret-key from which the Flink pods read the S3 credentials (default: the --s3-access-key/--s3-secret-key values in the Flink configuration)")
	jmMem := stringFlag(fs, "k8s-jobmanager-memory", d.JobManager.Memory, "memory of each JobManager pod (Flink size: 1024m, 2g)")
	jmCPU := stringFlag(fs, "k8s-jobmanager-cpu", "0.5", "CPU of each JobManager pod")
	tmMem := stringFlag(fs, "k8s-taskmanager-memory", d.TaskManager.Memory, "memory of each TaskManager pod (one per ParallelismPerKPU slots)")
	tmCPU := stringFlag(fs, "k8s-taskmanager-cpu", "1", "CPU of each TaskManager pod")
	ha := boolFlag(fs, "k8s-high-availability", d.HighAvailability, "Flink's Kubernetes high availability: a restarted JobManager resumes from the newest checkpoint")
	conf := stringFlag(fs, "k8s-flink-config", "", "Flink configuration added to every FlinkDeployment, key=value[,key=value...]")
	ack := intFlag(fs, "k8s-ack-timeout", int(d.AckTimeout/time.Second), "seconds the operator may take to take up a change of a FlinkDeployment")
	opTimeout := intFlag(fs, "k8s-operator-timeout", int(d.OperatorTimeout/time.Second), "seconds the operator may take to suspend a job")
	return func() (string, kubernetesConfig, error) {
		c := d
		c.Kubeconfig, c.Context, c.Namespace, c.Instance = *kubeconfig, *kctx, *ns, *instance
		c.ImageRepository, c.ImagePullPolicy, c.ServiceAccount = *repo, *pull, *sa
		c.StateDir, c.StateVolumeClaim, c.S3Secret = *stateDir, *claim, *secret
		c.JobManager.Memory, c.TaskManager.Memory, c.HighAvailability = *jmMem, *tmMem, *ha
		c.AckTimeout, c.OperatorTimeout = time.Duration(*ack)*time.Second, time.Duration(*opTimeout)*time.Second
		var err error
		if c.JobManager.CPU, err = strconv.ParseFloat(*jmCPU, 64); err != nil || c.JobManager.CPU <= 0 {
			return "", c, fmt.Errorf("--k8s-jobmanager-cpu: %q is not a positive number", *jmCPU)
		}
		if c.TaskManager.CPU, err = strconv.ParseFloat(*tmCPU, 64); err != nil || c.TaskManager.CPU <= 0 {
			return "", c, fmt.Errorf("--k8s-taskmanager-cpu: %q is not a positive number", *tmCPU)
		}
		if c.FlinkConfig, err = keyValues(*conf); err != nil {
			return "", c, fmt.Errorf("--k8s-flink-config: %v", err)
		}
		imgs, err := keyValues(*images)
		if err != nil {
			return "", c, fmt.Errorf("--k8s-images: %v", err)
		}
		c.Images = map[flinkplane.RuntimeID]string{}
		for k, v := range imgs {
			if !flinkplane.RuntimeID(k).IsFlink() {
				return "", c, fmt.Errorf("--k8s-images: %q is not a runtime (FLINK-1_20=image)", k)
			}
			c.Images[flinkplane.RuntimeID(k)] = v
		}
		switch *driver {
		case "local", "kubernetes":
		default:
			return "", c, fmt.Errorf("--driver must be local or kubernetes, not %q", *driver)
		}
		return *driver, c, nil
	}
}

// keyValues parses "k=v,k=v".
func keyValues(s string) (map[string]string, error) {
	out := map[string]string{}
	for _, kv := range strings.Split(s, ",") {
		kv = strings.TrimSpace(kv)
		if kv == "" {
			continue
		}
		k, v, ok := strings.Cut(kv, "=")
		if !ok || strings.TrimSpace(k) == "" {
			return nil, fmt.Errorf("%q is not key=value", kv)
		}
		out[strings.TrimSpace(k)] = strings.TrimSpace(v)
	}
	return out, nil
}

// restConfig returns the Kubernetes client configuration: the kubeconfig
// file given, else the in-cluster configuration in a pod, else the
// default kubeconfig loading rules ($KUBECONFIG, ~/.kube/config).
func (c kubernetesConfig) restConfig() (*rest.Config, string, error) {
	if c.Kubeconfig == "" && c.Context == "" {
		if cfg, err := rest.InClusterConfig(); err == nil {
			ns := c.Namespace
			if ns == "" {
				if b, err := os.ReadFile("/var/run/secrets/kubernetes.io/serviceaccount/namespace"); err == nil {
					ns = strings.TrimSpace(string(b))
				}
			}
			return cfg, ns, nil
		}
	}
	rules := clientcmd.NewDefaultClientConfigLoadingRules()
	if c.Kubeconfig != "" {
		rules.ExplicitPath = c.Kubeconfig
	}
	cc := clientcmd.NewNonInteractiveDeferredLoadingClientConfig(rules, &clientcmd.ConfigOverrides{CurrentContext: c.Context})
	cfg, err := cc.ClientConfig()
	if err != nil {
		return nil, "", fmt.Errorf("kubeconfig: %w", err)
	}
	ns := c.Namespace
	if ns == "" {
		if n, _, err := cc.Namespace(); err == nil && n != "default" {
			ns = n
		}
	}
	return cfg, ns, nil
}

// newKubernetesDriver builds the Kubernetes driver of serve: the cluster
// of the kubeconfig, the namespace, images, service account and storage
// (the S3 state bucket when --s3-endpoint and --s3-state-bucket are set,
// else the shared volume --k8s-state-dir).
func newKubernetesDriver(c serveConfig) (*kubernetes.Driver, error) {
	k := c.Kubernetes
	cfg, ns, err := k.restConfig()
	if err != nil {
		return nil, err
	}
	if ns == "" {
		ns = "flinkplane"
	}
	d, err := kubernetes.New(cfg, ns)
	if err != nil {
		return nil, err
	}
	d.Instance, d.Images, d.ImageRepository, d.ImagePullPolicy = k.Instance, k.Images, k.ImageRepository, k.ImagePullPolicy
	d.ServiceAccount, d.JobManager, d.TaskManager, d.HighAvailability = k.ServiceAccount, k.JobManager, k.TaskManager, k.HighAvailability
	d.FlinkConfig, d.AckTimeout, d.StopTimeout = k.FlinkConfig, k.AckTimeout, k.OperatorTimeout
	switch {
	case c.S3Endpoint != "" && c.S3StateBucket != "":
		st := &kubernetes.S3Storage{Endpoint: c.S3Endpoint, Region: c.S3Region, Bucket: c.S3StateBucket,
			AccessKey: c.S3AccessKey, SecretKey: c.S3SecretKey, Secret: k.S3Secret,
			Client: s3.New(s3.Options{Region: c.S3Region, BaseEndpoint: aws.String(c.S3Endpoint), UsePathStyle: true,
				Credentials: credentials.NewStaticCredentialsProvider(c.S3AccessKey, c.S3SecretKey, "")})}
		if ls := s3Storage(c); ls != nil {
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			if err := ls.EnsureBucket(ctx); err != nil {
				return nil, err
			}
		}
		d.Storage = st
	case k.StateDir != "":
		if err := os.MkdirAll(k.StateDir, 0o755); err != nil {
			return nil, fmt.Errorf("--k8s-state-dir: %w", err)
		}
		d.Storage = &kubernetes.VolumeStorage{Dir: k.StateDir, VolumeClaim: k.StateVolumeClaim}
	default:
		return nil, errors.New("--driver kubernetes needs storage shared with the Flink pods: --s3-endpoint with --s3-state-bucket, or --k8s-state-dir (a volume mounted at the same path in flinkplane and in the pods)")
	}
	return d, nil
}
