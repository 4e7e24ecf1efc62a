package csms

import (
	"bytes"
	"encoding/json"
	"fmt"
	"log/slog"
	"strings"
	"testing"

	"github.com/go-logr/logr/funcr"
	"github.com/google/go-cmp/cmp"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"
)

// canary is a value that must never show up in any output.
const canary = "canary-VALUE-9b1f4e2d"

// holder has Values in exported and unexported fields, as a reconciler might.
type holder struct {
	Exported   Value
	unexported Value
	Ptr        *Value
	List       []Value
	Map        map[string]Value
}

func TestValueNeverPrints(t *testing.T) {
	for _, v := range []Value{StringValue(canary), BinaryValue([]byte(canary))} {
		h := holder{Exported: v, unexported: v, Ptr: &v, List: []Value{v}, Map: map[string]Value{"k": v}}
		in := CreateSecretInput{Name: "n", Value: v}
		outputs := map[string]string{}
		for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%q", "%x", "%X", "%d", "%T"} {
			outputs["value "+verb] = fmt.Sprintf(verb, v)
			outputs["ptr "+verb] = fmt.Sprintf(verb, &v)
			outputs["holder "+verb] = fmt.Sprintf(verb, h)
			outputs["holderptr "+verb] = fmt.Sprintf(verb, &h)
			outputs["input "+verb] = fmt.Sprintf(verb, in)
		}
		outputs["Sprint"] = fmt.Sprint(v, h, in)
		outputs["Sprintln"] = fmt.Sprintln(v, &h)
		outputs["String"] = v.String()
		outputs["GoString"] = v.GoString()
		js, err := json.Marshal(h)
		if err != nil {
			t.Fatalf("json.Marshal: %v", err)
		}
		outputs["json holder"] = string(js)
		js, _ = json.Marshal(in)
		outputs["json input"] = string(js)
		txt, _ := v.MarshalText()
		outputs["text"] = string(txt)
		outputs["error"] = fmt.Errorf("push %v failed: %w", v, ErrInvalid).Error()

		var buf bytes.Buffer
		slog.New(slog.NewJSONHandler(&buf, nil)).Info("Pushing", "value", v, "input", in, "holder", h)
		slog.New(slog.NewTextHandler(&buf, nil)).Info("Pushing", "value", v, "input", in)
		outputs["slog"] = buf.String()

		var fr strings.Builder
		flog := funcr.New(func(prefix, args string) { fr.WriteString(prefix + args + "\n") }, funcr.Options{})
		flog.Info("Pushing", "value", v, "input", in, "holder", h)
		outputs["logr funcr"] = fr.String()

		var zb bytes.Buffer
		zlog := zap.New(zap.WriteTo(&zb), zap.UseDevMode(false))
		zlog.Info("Pushing", "value", v, "input", in, "holder", h)
		zlog = zap.New(zap.WriteTo(&zb), zap.UseDevMode(true))
		zlog.Info("Pushing", "value", v, "input", in)
		outputs["controller-runtime zap"] = zb.String()

		for name, out := range outputs {
			if strings.Contains(out, canary) || strings.Contains(out, fmt.Sprintf("%x", canary)) {
				t.Errorf("%s leaks the value: %s", name, out)
			}
		}
		// The placeholder is shown where the Value itself is printed.
		for _, name := range []string{"value %v", "value %#v", "json holder", "slog", "logr funcr", "controller-runtime zap"} {
			if !strings.Contains(outputs[name], redacted) {
				t.Errorf("%s does not show %q: %s", name, redacted, outputs[name])
			}
		}
	}
}

func TestValueAccessorsAndEqual(t *testing.T) {
	s := StringValue(canary)
	b := BinaryValue([]byte(canary))
	if got, ok := s.Text(); !ok || got != canary {
		t.Errorf("Text() = %v, %v", ok, got == canary)
	}
	if _, ok := s.Binary(); ok {
		t.Error("a text value has no binary form")
	}
	if got, ok := b.Binary(); !ok || string(got) != canary {
		t.Errorf("Binary() ok=%v", ok)
	}
	if !b.IsBinary() || s.IsBinary() || s.IsZero() || !(Value{}).IsZero() {
		t.Error("kind flags wrong")
	}
	// Binary copies its input: changing the caller's slice must not change the Value.
	raw := []byte("abc")
	bv := BinaryValue(raw)
	raw[0] = 'X'
	if got, _ := bv.Binary(); string(got) != "abc" {
		t.Errorf("BinaryValue did not copy its input")
	}

	tests := []struct {
		name string
		a, b Value
		want bool
	}{
		{"same text", StringValue("x"), StringValue("x"), true},
		{"different text", StringValue("x"), StringValue("y"), false},
		{"different length", StringValue("x"), StringValue("xx"), false},
		{"text vs binary same bytes", StringValue("x"), BinaryValue([]byte("x")), false},
		{"same binary", BinaryValue([]byte{0, 1}), BinaryValue([]byte{0, 1}), true},
		{"zero vs zero", Value{}, Value{}, true},
		{"zero vs empty text", Value{}, StringValue(""), false},
		{"empty vs empty", StringValue(""), StringValue(""), true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.a.Equal(tt.b); got != tt.want {
				t.Errorf("Equal = %v, want %v", got, tt.want)
			}
			if got := cmp.Equal(tt.a, tt.b); got != tt.want {
				t.Errorf("cmp.Equal = %v, want %v", got, tt.want)
			}
		})
	}
}
