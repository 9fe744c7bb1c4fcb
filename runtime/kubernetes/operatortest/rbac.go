package operatortest

import (
	"bytes"
	"context"
	"fmt"
	"strings"
	"sync"

	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/apiserver/pkg/authentication/user"
	"k8s.io/apiserver/pkg/authorization/authorizer"
	"sigs.k8s.io/yaml"
)

// RuleAuthorizer authorizes requests by RBAC roles and bindings parsed
// from manifests (deploy/kubernetes), with Kubernetes' RBAC rule matching
// (k8s.io/kubernetes plugin/pkg/auth/authorizer/rbac: a rule allows a
// request when its verbs, API groups, resources (resource/subresource) and
// resource names, or its non-resource URLs, match; "*" matches all). The
// API server here has no RBAC API of its own; this makes the driver run
// with exactly the permissions the manifests grant. Every decision is
// recorded (Requests).
type RuleAuthorizer struct {
	roles        map[string]rbacv1.Role // namespace/name
	clusterRoles map[string]rbacv1.ClusterRole
	bindings     []rbacv1.RoleBinding
	crBindings   []rbacv1.ClusterRoleBinding

	mu       sync.Mutex
	requests []string
	denied   []string
}

// ParseRBAC reads Role, ClusterRole, RoleBinding and ClusterRoleBinding
// objects from multi-document YAML (other kinds are skipped). Namespaced
// objects without a namespace get defaultNamespace.
func ParseRBAC(defaultNamespace string, docs ...[]byte) (*RuleAuthorizer, error) {
	r := &RuleAuthorizer{roles: map[string]rbacv1.Role{}, clusterRoles: map[string]rbacv1.ClusterRole{}}
	for _, all := range docs {
		for _, doc := range bytes.Split(all, []byte("\n---")) {
			var head struct {
				Kind string `json:"kind"`
			}
			if err := yaml.Unmarshal(doc, &head); err != nil {
				return nil, err
			}
			switch head.Kind {
			case "Role":
				var o rbacv1.Role
				if err := yaml.UnmarshalStrict(doc, &o); err != nil {
					return nil, fmt.Errorf("parse Role: %w", err)
				}
				if o.Namespace == "" {
					o.Namespace = defaultNamespace
				}
				r.roles[o.Namespace+"/"+o.Name] = o
			case "ClusterRole":
				var o rbacv1.ClusterRole
				if err := yaml.UnmarshalStrict(doc, &o); err != nil {
					return nil, fmt.Errorf("parse ClusterRole: %w", err)
				}
				r.clusterRoles[o.Name] = o
			case "RoleBinding":
				var o rbacv1.RoleBinding
				if err := yaml.UnmarshalStrict(doc, &o); err != nil {
					return nil, fmt.Errorf("parse RoleBinding: %w", err)
				}
				if o.Namespace == "" {
					o.Namespace = defaultNamespace
				}
				r.bindings = append(r.bindings, o)
			case "ClusterRoleBinding":
				var o rbacv1.ClusterRoleBinding
				if err := yaml.UnmarshalStrict(doc, &o); err != nil {
					return nil, fmt.Errorf("parse ClusterRoleBinding: %w", err)
				}
				r.crBindings = append(r.crBindings, o)
			}
		}
	}
	return r, nil
}

func subjectMatches(s rbacv1.Subject, bindingNamespace string, u user.Info) bool {
	switch s.Kind {
	case rbacv1.UserKind:
		return s.Name == u.GetName()
	case rbacv1.GroupKind:
		for _, g := range u.GetGroups() {
			if g == s.Name {
				return true
			}
		}
	case rbacv1.ServiceAccountKind:
		ns := s.Namespace
		if ns == "" {
			ns = bindingNamespace
		}
		return u.GetName() == "system:serviceaccount:"+ns+":"+s.Name
	}
	return false
}

func has(list []string, v string) bool {
	for _, x := range list {
		if x == "*" || x == v {
			return true
		}
	}
	return false
}

func ruleAllows(rule rbacv1.PolicyRule, a authorizer.Attributes) bool {
	if !has(rule.Verbs, a.GetVerb()) {
		return false
	}
	if !a.IsResourceRequest() {
		for _, u := range rule.NonResourceURLs {
			if u == a.GetPath() || (strings.HasSuffix(u, "*") && strings.HasPrefix(a.GetPath(), strings.TrimSuffix(u, "*"))) {
				return true
			}
		}
		return false
	}
	res := a.GetResource()
	if a.GetSubresource() != "" {
		res += "/" + a.GetSubresource()
	}
	if !has(rule.APIGroups, a.GetAPIGroup()) || !has(rule.Resources, res) {
		return false
	}
	return len(rule.ResourceNames) == 0 || has(rule.ResourceNames, a.GetName())
}

// Authorize allows what a bound role allows; otherwise it has no opinion
// (the request is denied).
func (r *RuleAuthorizer) Authorize(ctx context.Context, a authorizer.Attributes) (authorizer.Decision, string, error) {
	desc := describe(a)
	allowed := r.allows(a)
	r.mu.Lock()
	r.requests = append(r.requests, desc)
	if !allowed {
		r.denied = append(r.denied, desc)
	}
	r.mu.Unlock()
	if allowed {
		return authorizer.DecisionAllow, "", nil
	}
	return authorizer.DecisionNoOpinion, "no rule of the manifests allows " + desc, nil
}

func (r *RuleAuthorizer) allows(a authorizer.Attributes) bool {
	u := a.GetUser()
	if u == nil {
		return false
	}
	// What every authenticated user may do in a cluster (the default
	// bindings of system:discovery and system:public-info-viewer).
	if !a.IsResourceRequest() && a.GetVerb() == "get" {
		switch p := a.GetPath(); {
		case p == "/api" || p == "/apis" || strings.HasPrefix(p, "/api/") || strings.HasPrefix(p, "/apis/"),
			p == "/version" || p == "/healthz" || p == "/readyz" || p == "/livez":
			return true
		}
	}
	for _, b := range r.crBindings {
		for _, s := range b.Subjects {
			if !subjectMatches(s, "", u) || b.RoleRef.Kind != "ClusterRole" {
				continue
			}
			for _, rule := range r.clusterRoles[b.RoleRef.Name].Rules {
				if ruleAllows(rule, a) {
					return true
				}
			}
		}
	}
	for _, b := range r.bindings {
		if a.GetNamespace() != b.Namespace {
			continue
		}
		for _, s := range b.Subjects {
			if !subjectMatches(s, b.Namespace, u) {
				continue
			}
			var rules []rbacv1.PolicyRule
			switch b.RoleRef.Kind {
			case "Role":
				rules = r.roles[b.Namespace+"/"+b.RoleRef.Name].Rules
			case "ClusterRole":
				rules = r.clusterRoles[b.RoleRef.Name].Rules
			}
			for _, rule := range rules {
				if ruleAllows(rule, a) {
					return true
				}
			}
		}
	}
	return false
}

func describe(a authorizer.Attributes) string {
	u := ""
	if a.GetUser() != nil {
		u = a.GetUser().GetName()
	}
	if !a.IsResourceRequest() {
		return fmt.Sprintf("%s: %s %s", u, a.GetVerb(), a.GetPath())
	}
	res := a.GetResource()
	if a.GetSubresource() != "" {
		res += "/" + a.GetSubresource()
	}
	g := a.GetAPIGroup()
	if g == "" {
		g = "core"
	}
	return fmt.Sprintf("%s: %s %s %s ns=%q name=%q", u, a.GetVerb(), g, res, a.GetNamespace(), a.GetName())
}

// Requests returns every request decided so far, and the denied ones.
func (r *RuleAuthorizer) Requests() (all, denied []string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.requests...), append([]string(nil), r.denied...)
}
