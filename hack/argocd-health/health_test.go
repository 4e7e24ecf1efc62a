// Package argocdhealth tests the Argo CD health check of ManagedSecret
// (docs/argocd/managedsecret-health.lua) with gopher-lua, the Lua interpreter Argo CD
// itself embeds, set up the way Argo CD runs health scripts: the live object as the
// global obj, only the safe standard libraries, and the returned table read as
// {status, message}.
package argocdhealth

import (
	"encoding/json"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"strconv"
	"strings"
	"testing"

	lua "github.com/yuin/gopher-lua"
	"sigs.k8s.io/yaml"
)

const (
	scriptFile     = "../../docs/argocd/managedsecret-health.lua"
	conditionsFile = "../../api/v1alpha1/conditions.go"
)

type health struct {
	status, message string
}

// run executes the health script against obj, like Argo CD's ExecuteHealthLua.
func run(t *testing.T, obj map[string]any) health {
	t.Helper()
	script, err := os.ReadFile(scriptFile)
	if err != nil {
		t.Fatal(err)
	}
	l := lua.NewState(lua.Options{SkipOpenLibs: true})
	defer l.Close()
	for _, lib := range []struct {
		name string
		fn   lua.LGFunction
	}{{lua.BaseLibName, lua.OpenBase}, {lua.TabLibName, lua.OpenTable}, {lua.StringLibName, lua.OpenString}, {lua.MathLibName, lua.OpenMath}} {
		l.Push(l.NewFunction(lib.fn))
		l.Push(lua.LString(lib.name))
		l.Call(1, 0)
	}
	l.SetGlobal("obj", toLua(l, obj))
	if err := l.DoString(string(script)); err != nil {
		t.Fatalf("health script failed: %v", err)
	}
	ret, ok := l.Get(-1).(*lua.LTable)
	if !ok {
		t.Fatalf("health script returned %s, want a table", l.Get(-1).Type())
	}
	h := health{status: lua.LVAsString(ret.RawGetString("status")), message: lua.LVAsString(ret.RawGetString("message"))}
	switch h.status {
	case "Healthy", "Progressing", "Degraded", "Suspended", "Missing", "Unknown":
	default:
		t.Fatalf("health status %q is not one Argo CD knows", h.status)
	}
	return h
}

// toLua converts a decoded JSON value as Argo CD's decodeValue does: objects and arrays
// become tables (arrays 1-based), numbers LNumber.
func toLua(l *lua.LState, v any) lua.LValue {
	switch v := v.(type) {
	case nil:
		return lua.LNil
	case bool:
		return lua.LBool(v)
	case string:
		return lua.LString(v)
	case float64:
		return lua.LNumber(v)
	case []any:
		t := l.NewTable()
		for _, e := range v {
			t.Append(toLua(l, e))
		}
		return t
	case map[string]any:
		t := l.NewTable()
		for k, e := range v {
			t.RawSetString(k, toLua(l, e))
		}
		return t
	default:
		panic(fmt.Sprintf("unexpected %T", v))
	}
}

func object(t *testing.T, y string) map[string]any {
	t.Helper()
	j, err := yaml.YAMLToJSON([]byte(y))
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(j, &m); err != nil {
		t.Fatal(err)
	}
	return m
}

// withReady is a ManagedSecret at generation 4 whose Ready condition has the given
// status, reason and observedGeneration, plus an optional Synced condition.
func withReady(t *testing.T, status, reason string, observed int, synced string) map[string]any {
	t.Helper()
	y := fmt.Sprintf(`
apiVersion: secrets.csms-operator.io/v1alpha1
kind: ManagedSecret
metadata: {name: db, namespace: payments, generation: 4}
spec: {value: {generate: {}}}
status:
  observedGeneration: %d
  conditions:
  - {type: Ready, status: %q, reason: %s, message: "msg of %s", observedGeneration: %d, lastTransitionTime: "2026-01-01T00:00:00Z"}
`, observed, status, reason, reason, observed)
	if synced != "" {
		y += fmt.Sprintf(`  - {type: Synced, status: "False", reason: %s, message: "synced msg", observedGeneration: %d, lastTransitionTime: "2026-01-01T00:00:00Z"}
`, synced, observed)
	}
	return object(t, y)
}

// withStalled adds a Stalled=True condition with that reason.
func withStalled(t *testing.T, obj map[string]any, reason string) map[string]any {
	return withStalledStatus(t, obj, "True", reason)
}

func withStalledStatus(t *testing.T, obj map[string]any, status, reason string) map[string]any {
	t.Helper()
	st := obj["status"].(map[string]any)
	st["conditions"] = append(st["conditions"].([]any), map[string]any{
		"type": "Stalled", "status": status, "reason": reason, "message": "stalled msg", "observedGeneration": float64(4),
	})
	return obj
}

func TestHealth(t *testing.T) {
	for _, tc := range []struct {
		name        string
		obj         map[string]any
		wantStatus  string
		wantMessage string
	}{
		{"new resource without status", object(t, `{apiVersion: secrets.csms-operator.io/v1alpha1, kind: ManagedSecret, metadata: {name: db, generation: 1}, spec: {}}`),
			"Progressing", "Waiting for csms-operator"},
		{"status without conditions", object(t, `{metadata: {generation: 1}, status: {}}`), "Progressing", "Waiting for csms-operator"},
		{"ready and current", withReady(t, "True", "Available", 4, ""), "Healthy", "msg of Available"},
		{"ready but about an older spec", withReady(t, "True", "Available", 3, ""), "Progressing", "generation 4 (Ready describes generation 3)"},
		{"ready while throttled", withReady(t, "True", "Available", 4, "Throttled"), "Healthy", "retrying: Throttled"},
		{"refused but about an older spec", withReady(t, "False", "AlreadyExists", 3, "AlreadyExists"), "Progressing", "generation 4"},
		{"ready unknown", withReady(t, "Unknown", "Creating", 4, ""), "Progressing", "Creating: msg of Creating"},
		{"a reason this script does not know", withReady(t, "False", "SomethingNew", 4, ""), "Degraded", "SomethingNew: msg of SomethingNew"},
		{"stalled wins over a progressing Ready reason", withStalled(t, withReady(t, "False", "Updating", 4, "VersionLimitReached"), "VersionLimitReached"),
			"Degraded", "VersionLimitReached: stalled msg"},
		{"stalled False is not a failure", withStalledStatus(t, withReady(t, "True", "Available", 4, ""), "False", "Whatever"), "Healthy", "msg of Available"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := run(t, tc.obj)
			if h.status != tc.wantStatus || !strings.Contains(h.message, tc.wantMessage) {
				t.Fatalf("got %s %q, want %s with %q", h.status, h.message, tc.wantStatus, tc.wantMessage)
			}
		})
	}
}

// wantForReason is the health of a current Ready=False condition with that reason. Every
// reason declared in api/v1alpha1/conditions.go must be listed, so that a new reason
// gets a deliberate decision here and in the script.
var wantForReason = map[string]string{
	"Available":              "Degraded", // never False in practice; an unknown combination is surfaced
	"ReconcileSuccess":       "Degraded", // a Synced reason; never on Ready
	"Creating":               "Progressing",
	"Updating":               "Progressing",
	"ReplicasSyncing":        "Progressing",
	"ReplicaFailed":          "Degraded",
	"PendingDeletion":        "Degraded",
	"Deleting":               "Progressing",
	"SourceNotFound":         "Degraded",
	"ProviderConfigNotReady": "Degraded",
	"CredentialsNotFound":    "Degraded",
	"Unauthorized":           "Degraded",
	"EndpointUnreachable":    "Degraded", // a provider-config reason; a person checks the endpoint
	"EnvironmentNotAllowed":  "Degraded",
	"PolicyDenied":           "Degraded",
	"AlreadyExists":          "Degraded",
	"OwnedByAnotherResource": "Degraded",
	"OwnershipLost":          "Degraded",
	"VersionLimitReached":    "Degraded",
	"SecretNotFound":         "Progressing",
	"TargetConflict":         "Degraded",
	"TemplateError":          "Degraded",
	"TargetsDisabled":        "Degraded",
	"InvalidSpec":            "Degraded",
	"Throttled":              "Progressing",
	"ReconcileError":         "Degraded",
}

func TestHealthForEveryReason(t *testing.T) {
	reasons := declaredReasons(t)
	for _, r := range reasons {
		want, ok := wantForReason[r]
		if !ok {
			t.Errorf("reason %s is declared in conditions.go but has no expected health here: decide it and update the script", r)
			continue
		}
		h := run(t, withReady(t, "False", r, 4, r))
		if h.status != want {
			t.Errorf("Ready=False %s: got %s, want %s", r, h.status, want)
		}
		if !strings.Contains(h.message, r+": msg of "+r) {
			t.Errorf("Ready=False %s: message %q does not carry the reason and message", r, h.message)
		}
	}
	if len(reasons) != len(wantForReason) {
		t.Errorf("conditions.go declares %d reasons, the test expects %d", len(reasons), len(wantForReason))
	}
}

// declaredReasons returns the values of the Reason* constants in conditions.go.
func declaredReasons(t *testing.T) []string {
	t.Helper()
	f, err := parser.ParseFile(token.NewFileSet(), conditionsFile, nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	ast.Inspect(f, func(n ast.Node) bool {
		vs, ok := n.(*ast.ValueSpec)
		if !ok || len(vs.Names) != 1 || len(vs.Values) != 1 || !strings.HasPrefix(vs.Names[0].Name, "Reason") {
			return true
		}
		if lit, ok := vs.Values[0].(*ast.BasicLit); ok {
			v, err := strconv.Unquote(lit.Value)
			if err != nil {
				t.Fatal(err)
			}
			out = append(out, v)
		}
		return true
	})
	if len(out) == 0 {
		t.Fatal("no Reason constants found")
	}
	return out
}

// TestGuideShowsTheTestedScript keeps the copy in docs/guides/argocd.md identical to the
// file this package tests.
func TestGuideShowsTheTestedScript(t *testing.T) {
	script, err := os.ReadFile(scriptFile)
	if err != nil {
		t.Fatal(err)
	}
	guide, err := os.ReadFile("../../docs/guides/argocd.md")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(guide), "```lua\n"+string(script)+"```\n") {
		t.Fatal("docs/guides/argocd.md does not show docs/argocd/managedsecret-health.lua verbatim; copy the file into its lua block")
	}
}
