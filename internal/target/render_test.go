package target

import (
	"encoding/base64"
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"

	"github.com/csms-operator/csms-operator/api/v1alpha1"
	"github.com/csms-operator/csms-operator/internal/csms"
)

const canary = "render-canary-4Jx9"

func TestRender(t *testing.T) {
	jsonValue := csms.StringValue(`{"username":"app","password":"` + canary + `","port":5432}`)
	tests := []struct {
		name     string
		in       Input
		wantData map[string]string
		wantType corev1.SecretType
	}{
		{name: "text without template", in: Input{Value: csms.StringValue(canary)}, wantData: map[string]string{"value": canary}},
		{name: "binary stays bytes", in: Input{Value: csms.BinaryValue([]byte{0, 1, 2, 255})}, wantData: map[string]string{"value": "\x00\x01\x02\xff"}},
		{name: "secretRef comes back as the same keys", in: Input{Value: jsonValue, SplitJSON: true},
			wantData: map[string]string{"username": "app", "password": canary, "port": "5432"}},
		{name: "a JSON value from another source stays whole", in: Input{Value: jsonValue},
			wantData: map[string]string{"value": `{"username":"app","password":"` + canary + `","port":5432}`}},
		{name: "template over .JSON, .Value and .VersionID", in: Input{Value: jsonValue, VersionID: "v3", Spec: &v1alpha1.SecretTarget{
			Template: &v1alpha1.TargetTemplate{Type: "kubernetes.io/basic-auth", Data: map[string]string{
				"username": "{{ .JSON.username }}",
				"password": "{{ .JSON.password }}",
				"url":      "postgres://{{ .JSON.username }}:{{ .JSON.password | b64enc }}@db:{{ .JSON.port }}/app?v={{ .VersionID }}",
				"raw":      "{{ .Value | upper | lower | trim }}",
			}}}},
			wantType: "kubernetes.io/basic-auth",
			wantData: map[string]string{"username": "app", "password": canary,
				"url": "postgres://app:" + base64.StdEncoding.EncodeToString([]byte(canary)) + "@db:5432/app?v=v3",
				"raw": strings.ToLower(`{"username":"app","password":"` + canary + `","port":5432}`)}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, err := Render(tt.in)
			if err != nil {
				t.Fatal(err)
			}
			got := map[string]string{}
			for k, v := range r.Data {
				got[k] = string(v)
			}
			if diff := cmp.Diff(tt.wantData, got); diff != "" {
				t.Errorf("data (-want +got):\n%s", diff)
			}
			want := tt.wantType
			if want == "" {
				want = corev1.SecretTypeOpaque
			}
			if r.Type != want {
				t.Errorf("type %q, want %q", r.Type, want)
			}
		})
	}
}

// TestRenderErrorsNeverShowTheValue: a template that cannot be rendered is an error that
// names the key and the problem, never the value or any part of its JSON.
func TestRenderErrorsNeverShowTheValue(t *testing.T) {
	value := csms.StringValue(`{"password":"` + canary + `","nested":{"k":"` + canary + `-2"}}`)
	for name, tmpl := range map[string]string{
		"missing key":         "{{ .JSON.nothere }}",
		"field of a string":   "{{ .Value.Foo }}",
		"bad base64":          "{{ .JSON.password | b64dec }}",
		"does not parse":      "{{ .JSON.password ",
		"unknown function":    "{{ secret .Value }}",
		"index of a string":   `{{ index .JSON.password "x" }}`,
		"wrong argument type": `{{ .JSON.nested | b64enc }}`,
		"call of a non-func":  `{{ call .JSON.password }}`,
	} {
		t.Run(name, func(t *testing.T) {
			_, err := Render(Input{Value: value, Spec: &v1alpha1.SecretTarget{Template: &v1alpha1.TargetTemplate{Data: map[string]string{"k": tmpl, "ok": "x"}}}})
			if err == nil {
				t.Fatal("no error")
			}
			if !errors.Is(err, ErrTemplate) || !strings.Contains(err.Error(), `data["k"]`) {
				t.Errorf("error %q should match ErrTemplate and name the key", err)
			}
			if strings.Contains(err.Error(), canary) {
				t.Errorf("error shows the value: %s", err)
			}
		})
	}
}
