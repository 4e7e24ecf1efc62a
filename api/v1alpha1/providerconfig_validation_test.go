/*
Copyright 2026 The csms-operator Authors.

Licensed under the Apache License, Version 2.0 (the "License");
you may not use this file except in compliance with the License.
You may obtain a copy of the License at

    http://www.apache.org/licenses/LICENSE-2.0

Unless required by applicable law or agreed to in writing, software
distributed under the License is distributed on an "AS IS" BASIS,
WITHOUT WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied.
See the License for the specific language governing permissions and
limitations under the License.
*/

package v1alpha1_test

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/controller-runtime/pkg/client"

	v1alpha1 "github.com/csms-operator/csms-operator/api/v1alpha1"
)

func validSettings() v1alpha1.ProviderSettings {
	return v1alpha1.ProviderSettings{Region: "cn-north-4", ProjectID: projectA, Endpoint: "http://127.0.0.1:8787"}
}

func newProviderConfig() *v1alpha1.ProviderConfig {
	return &v1alpha1.ProviderConfig{
		ObjectMeta: metav1.ObjectMeta{Name: uniqueName("pc"), Namespace: testNamespace},
		Spec: v1alpha1.ProviderConfigSpec{
			ProviderSettings: validSettings(),
			Credentials: v1alpha1.ProviderCredentials{
				Source:    v1alpha1.CredentialsSourceSecret,
				SecretRef: &v1alpha1.LocalSecretReference{Name: "csms-credentials"},
			},
		},
	}
}

func newClusterProviderConfig() *v1alpha1.ClusterProviderConfig {
	return &v1alpha1.ClusterProviderConfig{
		ObjectMeta: metav1.ObjectMeta{Name: uniqueName("cpc")},
		Spec: v1alpha1.ClusterProviderConfigSpec{
			ProviderSettings: validSettings(),
			Credentials: v1alpha1.ClusterProviderCredentials{
				Source:    v1alpha1.CredentialsSourceSecret,
				SecretRef: &v1alpha1.NamespacedSecretReference{Namespace: "csms-system", Name: "csms-credentials"},
			},
		},
	}
}

// settingsCases are the rules shared by both kinds (ProviderSettings).
var settingsCases = []struct {
	name   string
	mutate func(*v1alpha1.ProviderSettings)
	want   []string
}{
	{"region missing", func(s *v1alpha1.ProviderSettings) { s.Region = "" }, []string{"spec.region"}},
	{"region with upper case and underscore", func(s *v1alpha1.ProviderSettings) { s.Region = "CN_NORTH_4" }, []string{"spec.region", "should match"}},
	{"region without a dash", func(s *v1alpha1.ProviderSettings) { s.Region = "cnnorth4" }, []string{"spec.region", "should match"}},
	{"projectID of 31 characters", func(s *v1alpha1.ProviderSettings) { s.ProjectID = projectA[:31] }, []string{"spec.projectID", "should match"}},
	{"projectID of 33 characters", func(s *v1alpha1.ProviderSettings) { s.ProjectID = projectA + "a" }, []string{"spec.projectID", "should match"}},
	{"endpoint with ftp scheme", func(s *v1alpha1.ProviderSettings) { s.Endpoint = "ftp://127.0.0.1:8787" },
		[]string{"spec.endpoint", "spec.endpoint must be an http or https URL"}},
	{"endpoint not a URL", func(s *v1alpha1.ProviderSettings) { s.Endpoint = "127.0.0.1:8787" },
		[]string{"spec.endpoint", "spec.endpoint must be an http or https URL"}},
	{"endpoint without a host", func(s *v1alpha1.ProviderSettings) { s.Endpoint = "http://" },
		[]string{"spec.endpoint", "spec.endpoint must be an http or https URL"}},
	{"endpoint too long", func(s *v1alpha1.ProviderSettings) { s.Endpoint = "https://" + strings.Repeat("a", 510) },
		[]string{"spec.endpoint", "Too long"}},
	{"rateLimit.qps 0", func(s *v1alpha1.ProviderSettings) { s.RateLimit = &v1alpha1.RateLimit{QPS: 0} },
		[]string{"spec.rateLimit.qps", "greater than or equal to 1"}},
	{"rateLimit.qps negative", func(s *v1alpha1.ProviderSettings) { s.RateLimit = &v1alpha1.RateLimit{QPS: -5} },
		[]string{"spec.rateLimit.qps", "greater than or equal to 1"}},
	{"rateLimit.burst negative", func(s *v1alpha1.ProviderSettings) { s.RateLimit = &v1alpha1.RateLimit{QPS: 5, Burst: -1} },
		[]string{"spec.rateLimit.burst", "greater than or equal to 1"}},
}

func TestProviderConfigRejected(t *testing.T) {
	t.Parallel()
	type tcase struct {
		name   string
		mutate func(*v1alpha1.ProviderConfig)
		want   []string
	}
	var cases []tcase
	for _, sc := range settingsCases {
		cases = append(cases, tcase{sc.name, func(p *v1alpha1.ProviderConfig) { sc.mutate(&p.Spec.ProviderSettings) }, sc.want})
	}
	cases = append(cases,
		tcase{"credentials.source File", func(p *v1alpha1.ProviderConfig) { p.Spec.Credentials.Source = "File" },
			[]string{"spec.credentials.source", "Unsupported value"}},
		tcase{"source Secret without secretRef", func(p *v1alpha1.ProviderConfig) { p.Spec.Credentials.SecretRef = nil },
			[]string{"spec.credentials.secretRef", "spec.credentials.secretRef is required when spec.credentials.source is Secret"}},
		tcase{"source defaulted to Secret without secretRef", func(p *v1alpha1.ProviderConfig) { p.Spec.Credentials = v1alpha1.ProviderCredentials{} },
			[]string{"spec.credentials.secretRef", "spec.credentials.secretRef is required when spec.credentials.source is Secret"}},
		tcase{"source Environment with secretRef", func(p *v1alpha1.ProviderConfig) { p.Spec.Credentials.Source = v1alpha1.CredentialsSourceEnvironment },
			[]string{"spec.credentials.secretRef", "spec.credentials.secretRef must not be set when spec.credentials.source is Environment"}},
		tcase{"secretRef.name not a Secret name", func(p *v1alpha1.ProviderConfig) { p.Spec.Credentials.SecretRef.Name = "Bad_Name" },
			[]string{"spec.credentials.secretRef.name", "should match"}},
	)
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			pc := newProviderConfig()
			tc.mutate(pc)
			expectInvalid(t, k8sClient.Create(ctx, pc), tc.want...)
		})
	}

	// Only the cluster kind has secretRef.namespace and namespaceSelector: on the namespaced
	// kind they are unknown fields, refused under kubectl's default strict field validation.
	for _, extra := range []struct {
		name  string
		value any
		path  []string
	}{
		{"secretRef.namespace", "csms-system", []string{"spec", "credentials", "secretRef", "namespace"}},
		{"namespaceSelector", map[string]any{}, []string{"spec", "namespaceSelector"}},
	} {
		t.Run("namespaced kind with "+extra.name, func(t *testing.T) {
			t.Parallel()
			u := toUnstructured(t, newProviderConfig())
			if err := unstructuredSetNested(u.Object, extra.value, extra.path...); err != nil {
				t.Fatal(err)
			}
			expectInvalid(t, k8sClient.Create(ctx, u), `unknown field "`+strings.Join(extra.path, ".")+`"`)
		})
	}
}

func TestClusterProviderConfigRejected(t *testing.T) {
	t.Parallel()
	type tcase struct {
		name   string
		mutate func(*v1alpha1.ClusterProviderConfig)
		want   []string
	}
	var cases []tcase
	for _, sc := range settingsCases {
		cases = append(cases, tcase{sc.name, func(p *v1alpha1.ClusterProviderConfig) { sc.mutate(&p.Spec.ProviderSettings) }, sc.want})
	}
	cases = append(cases,
		tcase{"credentials.source File", func(p *v1alpha1.ClusterProviderConfig) { p.Spec.Credentials.Source = "File" },
			[]string{"spec.credentials.source", "Unsupported value"}},
		tcase{"source Secret without secretRef", func(p *v1alpha1.ClusterProviderConfig) { p.Spec.Credentials.SecretRef = nil },
			[]string{"spec.credentials.secretRef", "spec.credentials.secretRef is required when spec.credentials.source is Secret"}},
		tcase{"source Environment with secretRef", func(p *v1alpha1.ClusterProviderConfig) {
			p.Spec.Credentials.Source = v1alpha1.CredentialsSourceEnvironment
		},
			[]string{"spec.credentials.secretRef", "must not be set when spec.credentials.source is Environment"}},
		tcase{"secretRef.namespace missing", func(p *v1alpha1.ClusterProviderConfig) { p.Spec.Credentials.SecretRef.Namespace = "" },
			[]string{"spec.credentials.secretRef.namespace"}},
		tcase{"secretRef.namespace not a namespace name", func(p *v1alpha1.ClusterProviderConfig) { p.Spec.Credentials.SecretRef.Namespace = "csms.system" },
			[]string{"spec.credentials.secretRef.namespace", "should match"}},
		tcase{"secretRef.name missing", func(p *v1alpha1.ClusterProviderConfig) { p.Spec.Credentials.SecretRef.Name = "" },
			[]string{"spec.credentials.secretRef.name"}},
	)
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			cpc := newClusterProviderConfig()
			tc.mutate(cpc)
			expectInvalid(t, k8sClient.Create(ctx, cpc), tc.want...)
		})
	}
}

func TestProviderConfigsAccepted(t *testing.T) {
	t.Parallel()
	t.Run("namespaced, Environment credentials, https endpoint with path", func(t *testing.T) {
		t.Parallel()
		pc := newProviderConfig()
		pc.Spec.Endpoint = "https://kms.cn-north-4.myhuaweicloud.com:443/base"
		pc.Spec.Credentials = v1alpha1.ProviderCredentials{Source: v1alpha1.CredentialsSourceEnvironment}
		pc.Spec.RateLimit = &v1alpha1.RateLimit{QPS: 1}
		if err := k8sClient.Create(ctx, pc); err != nil {
			t.Fatalf("create: %v", err)
		}
	})
	t.Run("namespaced, no endpoint and no projectID", func(t *testing.T) {
		t.Parallel()
		pc := newProviderConfig()
		pc.Spec.ProviderSettings = v1alpha1.ProviderSettings{Region: "ap-southeast-3"}
		if err := k8sClient.Create(ctx, pc); err != nil {
			t.Fatalf("create: %v", err)
		}
	})
	t.Run("cluster, namespaceSelector, rate limit and policy", func(t *testing.T) {
		t.Parallel()
		cpc := newClusterProviderConfig()
		cpc.Spec.RateLimit = &v1alpha1.RateLimit{QPS: 50, Burst: 100}
		cpc.Spec.Policy = &v1alpha1.ProviderPolicy{AllowAdoption: true, AllowObserve: true}
		cpc.Spec.NamespaceSelector = &metav1.LabelSelector{
			MatchLabels:      map[string]string{"csms": "allowed"},
			MatchExpressions: []metav1.LabelSelectorRequirement{{Key: "team", Operator: metav1.LabelSelectorOpIn, Values: []string{"a", "b"}}},
		}
		want := cpc.Spec.DeepCopy()
		if err := k8sClient.Create(ctx, cpc); err != nil {
			t.Fatalf("create: %v", err)
		}
		got := &v1alpha1.ClusterProviderConfig{}
		if err := k8sClient.Get(ctx, client.ObjectKeyFromObject(cpc), got); err != nil {
			t.Fatalf("get: %v", err)
		}
		if diff := cmp.Diff(*want, got.Spec); diff != "" {
			t.Errorf("spec changed on the round trip (-want +got):\n%s", diff)
		}
	})
}

func TestProviderConfigDefaults(t *testing.T) {
	t.Parallel()
	pc := newProviderConfig()
	pc.Spec.Credentials.Source = ""
	if err := k8sClient.Create(ctx, pc); err != nil {
		t.Fatalf("create: %v", err)
	}
	if pc.Spec.Credentials.Source != v1alpha1.CredentialsSourceSecret {
		t.Errorf("namespaced credentials.source = %q, want Secret", pc.Spec.Credentials.Source)
	}
	cpc := newClusterProviderConfig()
	cpc.Spec.Credentials.Source = ""
	if err := k8sClient.Create(ctx, cpc); err != nil {
		t.Fatalf("create: %v", err)
	}
	if cpc.Spec.Credentials.Source != v1alpha1.CredentialsSourceSecret {
		t.Errorf("cluster credentials.source = %q, want Secret", cpc.Spec.Credentials.Source)
	}

	// spec.policy is written out with every permission false, so that
	// `kubectl get -o yaml` shows the safe defaults instead of hiding them.
	for _, obj := range []client.Object{pc, cpc} {
		u := toUnstructured(t, obj)
		if err := k8sClient.Get(ctx, client.ObjectKeyFromObject(obj), u); err != nil {
			t.Fatalf("get: %v", err)
		}
		policy, found, err := unstructured.NestedMap(u.Object, "spec", "policy")
		if err != nil || !found {
			t.Fatalf("%s: spec.policy not defaulted (found=%v, err=%v)", u.GetKind(), found, err)
		}
		if diff := cmp.Diff(map[string]any{"allowAdoption": false, "allowObserve": false}, policy); diff != "" {
			t.Errorf("%s: spec.policy (-want +got):\n%s", u.GetKind(), diff)
		}
	}
	if got := pc.Spec.PolicyOrDefault(); got != (v1alpha1.ProviderPolicy{}) {
		t.Errorf("namespaced PolicyOrDefault = %+v, want everything false", got)
	}
	if got := (&v1alpha1.ProviderSettings{}).PolicyOrDefault(); got != (v1alpha1.ProviderPolicy{}) {
		t.Errorf("PolicyOrDefault of an unset policy = %+v", got)
	}
}

// A misspelt permission is refused rather than silently ignored (it would leave the
// permission off while its author believes it on).
func TestProviderPolicyUnknownField(t *testing.T) {
	t.Parallel()
	for _, obj := range []client.Object{newProviderConfig(), newClusterProviderConfig()} {
		u := toUnstructured(t, obj)
		if err := unstructuredSetNested(u.Object, true, "spec", "policy", "allowAdopt"); err != nil {
			t.Fatal(err)
		}
		expectInvalid(t, k8sClient.Create(ctx, u), `unknown field "spec.policy.allowAdopt"`)
	}
}
