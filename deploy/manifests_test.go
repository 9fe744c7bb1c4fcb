package deploy

import (
	"bytes"
	"io/fs"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/serializer"
	"k8s.io/client-go/kubernetes/scheme"
)

// Objects decodes every document of kubernetes/*.yaml with the Kubernetes
// API types, strictly (an unknown or misplaced field is an error).
func objects(t *testing.T) []runtime.Object {
	t.Helper()
	dec := serializer.NewCodecFactory(scheme.Scheme, serializer.EnableStrict).UniversalDeserializer()
	var out []runtime.Object
	files, err := fs.Glob(Kubernetes, "kubernetes/*.yaml")
	if err != nil || len(files) == 0 {
		t.Fatalf("manifests: %v %v", files, err)
	}
	for _, f := range files {
		b, _ := Kubernetes.ReadFile(f)
		for i, doc := range bytes.Split(b, []byte("\n---")) {
			if len(bytes.TrimSpace(stripComments(doc))) == 0 {
				continue
			}
			obj, _, err := dec.Decode(doc, nil, nil)
			if err != nil {
				t.Fatalf("%s document %d: %v", f, i, err)
			}
			out = append(out, obj)
		}
	}
	return out
}

func stripComments(b []byte) []byte {
	var out []byte
	for _, l := range bytes.Split(b, []byte("\n")) {
		if !bytes.HasPrefix(bytes.TrimSpace(l), []byte("#")) {
			out = append(out, l...)
			out = append(out, '\n')
		}
	}
	return out
}

// TestManifests: the manifests are valid Kubernetes objects that fit
// together: the Deployment runs as the service account the RBAC binds, and
// mounts the claims they declare; the driver's permissions are exactly
// those of rbac.yaml (TestRealFlink_Kubernetes and the driver's tests run
// with them enforced).
func TestManifests(t *testing.T) {
	var dep *appsv1.Deployment
	claims := map[string]bool{}
	sa, bound := "", false
	for _, o := range objects(t) {
		switch x := o.(type) {
		case *appsv1.Deployment:
			dep = x
		case *corev1.PersistentVolumeClaim:
			claims[x.Name] = true
		case *corev1.ServiceAccount:
			sa = x.Name
		case *rbacv1.RoleBinding:
			bound = bound || (len(x.Subjects) == 1 && x.Subjects[0].Name == "flinkplane" && x.RoleRef.Name == "flinkplane")
		}
	}
	if dep == nil || sa == "" || !bound {
		t.Fatalf("deployment %v, service account %q, bound %v", dep != nil, sa, bound)
	}
	pod := dep.Spec.Template.Spec
	if pod.ServiceAccountName != sa {
		t.Errorf("the Deployment runs as %q, the RBAC is for %q", pod.ServiceAccountName, sa)
	}
	for _, v := range pod.Volumes {
		if v.PersistentVolumeClaim != nil && !claims[v.PersistentVolumeClaim.ClaimName] {
			t.Errorf("volume %s: claim %s not declared", v.Name, v.PersistentVolumeClaim.ClaimName)
		}
	}
	env := map[string]string{}
	for _, e := range pod.Containers[0].Env {
		env[e.Name] = e.Value
	}
	if env["FLINKPLANE_DRIVER"] != "kubernetes" || !claims[env["FLINKPLANE_K8S_STATE_VOLUME_CLAIM"]] {
		t.Errorf("env %v", env)
	}
	mounted := false
	for _, m := range pod.Containers[0].VolumeMounts {
		mounted = mounted || m.MountPath == env["FLINKPLANE_K8S_STATE_DIR"]
	}
	if !mounted {
		t.Errorf("the state volume is not mounted at FLINKPLANE_K8S_STATE_DIR %s", env["FLINKPLANE_K8S_STATE_DIR"])
	}
	if !strings.Contains(env["FLINKPLANE_K8S_IMAGES"], "FLINK-2_2=flinkplane-flink:2.2.1") {
		t.Errorf("images %q", env["FLINKPLANE_K8S_IMAGES"])
	}
}
