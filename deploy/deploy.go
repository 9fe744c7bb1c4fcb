// Package deploy holds what runs flinkplane on Kubernetes: the manifests
// of kubernetes/ (service account and RBAC, storage, the control plane's
// Deployment and Service) and the container image definitions of images/
// (one per Flink runtime, generated from the runtime catalog, and one for
// flinkplane). The manifests are embedded so that tests apply exactly
// these files; see docs/kubernetes.md.
package deploy

import "embed"

// Kubernetes holds kubernetes/*.yaml.
//
//go:embed kubernetes/*.yaml
var Kubernetes embed.FS

// Manifest returns one file of kubernetes/.
func Manifest(name string) ([]byte, error) { return Kubernetes.ReadFile("kubernetes/" + name) }
