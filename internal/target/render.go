// Package target renders the Kubernetes Secret a ManagedSecret keeps with the cloud
// secret's current value (spec.target). Rendering is pure: the reconciler reads the value
// from CSMS, renders it here, and writes the result.
//
// Errors never contain the value: template errors are rewritten with the value and every
// string of its JSON form cut out.
package target

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"text/template"

	corev1 "k8s.io/api/core/v1"

	"github.com/csms-operator/csms-operator/api/v1alpha1"
	"github.com/csms-operator/csms-operator/internal/csms"
)

// ValueKey is the key of the target Secret that holds the value when no template and no
// secretRef source says otherwise.
const ValueKey = "value"

// ErrTemplate marks an error of spec.target.template: it cannot be rendered with the value.
var ErrTemplate = errors.New("target template error")

// Rendered is the content of a target Secret.
type Rendered struct {
	Type        corev1.SecretType
	Data        map[string][]byte
	Labels      map[string]string
	Annotations map[string]string
}

// Keys are the data keys, sorted: what events and logs may name.
func (r Rendered) Keys() []string {
	keys := make([]string, 0, len(r.Data))
	for k := range r.Data {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// Input is what a target is rendered from.
type Input struct {
	Spec      *v1alpha1.SecretTarget
	Value     csms.Value
	VersionID string
	// SplitJSON: the value came from a secretRef source (a JSON object of the Secret's
	// keys), so without a template it comes back as the same keys.
	SplitJSON bool
}

// Funcs is the fixed function set templates may use besides text/template's built-ins.
var Funcs = template.FuncMap{
	"b64enc": func(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) },
	"b64dec": func(s string) (string, error) {
		b, err := base64.StdEncoding.DecodeString(s)
		if err != nil {
			return "", errors.New("b64dec: the argument is not valid base64")
		}
		return string(b), nil
	},
	"upper": strings.ToUpper,
	"lower": strings.ToLower,
	"trim":  strings.TrimSpace,
	"quote": func(s string) string { return fmt.Sprintf("%q", s) },
	"toJSON": func(v any) (string, error) {
		b, err := json.Marshal(v)
		if err != nil {
			return "", errors.New("toJSON: the argument cannot be encoded")
		}
		return string(b), nil
	},
}

// Render turns the value into the target Secret's content. Every key is rendered before
// anything is returned, so a template error never yields a half-written Secret.
func Render(in Input) (Rendered, error) {
	out := Rendered{Type: corev1.SecretTypeOpaque, Data: map[string][]byte{}}
	var tmpl *v1alpha1.TargetTemplate
	if in.Spec != nil {
		tmpl = in.Spec.Template
	}
	if tmpl != nil {
		if tmpl.Type != "" {
			out.Type = corev1.SecretType(tmpl.Type)
		}
		out.Labels = clone(tmpl.Metadata.Labels)
		out.Annotations = clone(tmpl.Metadata.Annotations)
	}
	raw := in.Value.Bytes()
	text, isText := in.Value.Text()
	var obj map[string]any
	if isText {
		if err := json.Unmarshal([]byte(text), &obj); err != nil {
			obj = nil // not a JSON object: .JSON is empty
		}
	}
	if tmpl == nil || len(tmpl.Data) == 0 {
		switch {
		case in.SplitJSON && obj != nil:
			for k, v := range obj {
				if s, ok := v.(string); ok {
					out.Data[k] = []byte(s)
					continue
				}
				b, err := json.Marshal(v)
				if err != nil {
					return Rendered{}, fmt.Errorf("%w: key %q of the value cannot be encoded", ErrTemplate, k)
				}
				out.Data[k] = b
			}
		default:
			out.Data[ValueKey] = append([]byte(nil), raw...)
		}
		return out, nil
	}
	data := struct {
		Value     string
		JSON      map[string]any
		VersionID string
	}{Value: string(raw), JSON: obj, VersionID: in.VersionID}
	keys := make([]string, 0, len(tmpl.Data))
	for k := range tmpl.Data {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		t, err := template.New(k).Funcs(Funcs).Option("missingkey=error").Parse(tmpl.Data[k])
		if err != nil {
			return Rendered{}, fmt.Errorf("%w: spec.target.template.data[%q] does not parse: %s", ErrTemplate, k, scrub(err.Error(), raw, obj))
		}
		var buf bytes.Buffer
		if err := t.Execute(&buf, data); err != nil {
			return Rendered{}, fmt.Errorf("%w: spec.target.template.data[%q] cannot be rendered with the current value: %s", ErrTemplate, k, scrub(err.Error(), raw, obj))
		}
		out.Data[k] = buf.Bytes()
	}
	return out, nil
}

// scrub cuts the value, and every string in its JSON form, out of a message. Template
// errors name fields and types, not values; this makes sure of it.
func scrub(msg string, raw []byte, obj map[string]any) string {
	var secrets []string
	if len(raw) > 0 {
		secrets = append(secrets, string(raw))
	}
	var walk func(v any)
	walk = func(v any) {
		switch v := v.(type) {
		case string:
			if v != "" {
				secrets = append(secrets, v)
			}
		case map[string]any:
			for _, e := range v {
				walk(e)
			}
		case []any:
			for _, e := range v {
				walk(e)
			}
		case float64, bool:
			secrets = append(secrets, fmt.Sprint(v))
		}
	}
	walk(obj)
	// Longest first, so that a value containing another is cut whole.
	slices.SortFunc(secrets, func(a, b string) int { return len(b) - len(a) })
	for _, s := range secrets {
		if len(s) >= 3 {
			msg = strings.ReplaceAll(msg, s, "[redacted]")
		}
	}
	return msg
}

func clone(m map[string]string) map[string]string {
	if len(m) == 0 {
		return nil
	}
	out := make(map[string]string, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}
