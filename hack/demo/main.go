// Command demo is what `make demo` runs: it starts a local control plane (envtest's etcd
// and kube-apiserver), the CSMS emulator with two regions and the manager, applies
// config/samples/demo, waits until every ManagedSecret is Ready, changes a source value
// and shows the new version reach CSMS, rotates the secret of the sample with a target
// through the SDK and shows the target Secret's keys (never values) and its Deployment's
// restart mark before and after, prints the cluster's and the cloud's view, and stops
// everything. It exits non-zero, with the reason, on any failure.
//
// With --keep (make demo DEMO_KEEP=1, or make dev) it keeps everything running after the
// walkthrough and prints the KUBECONFIG to use; Ctrl-C stops it all.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/controller-runtime/pkg/client"
	ctrllog "sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"

	"github.com/csms-operator/csms-operator/internal/localenv"
)

const (
	primaryRegion = "cn-north-4"
	replicaRegion = "ap-southeast-3"
)

var msGVK = struct{ group, version, kind string }{"secrets.csms-operator.io", "v1alpha1", "ManagedSecret"}

type options struct {
	keep       bool
	timeout    time.Duration
	skipBuild  bool
	dir        string
	samplesDir string
}

func main() {
	var o options
	flag.BoolVar(&o.keep, "keep", false, "keep everything running after the walkthrough until Ctrl-C")
	flag.DurationVar(&o.timeout, "timeout", 3*time.Minute, "how long to wait for the ManagedSecrets to become Ready")
	flag.BoolVar(&o.skipBuild, "skip-build", false, "use bin/manager and bin/csms-emulator as they are")
	flag.StringVar(&o.dir, "dir", ".local/demo", "state and logs directory (wiped at start, kept at exit)")
	flag.StringVar(&o.samplesDir, "samples", "config/samples/demo", "manifests to apply")
	flag.Parse()

	// envtest logs through controller-runtime's logger; its output is not ours to show.
	ctrllog.SetLogger(zap.New(zap.WriteTo(io.Discard)))
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, o); err != nil {
		fmt.Fprintf(os.Stderr, "\ndemo FAILED: %v\n", err)
		os.Exit(1)
	}
}

func step(format string, args ...any) {
	fmt.Printf("\n==> "+format+"\n", args...)
}

func info(format string, args ...any) {
	fmt.Printf("    "+format+"\n", args...)
}

func run(ctx context.Context, o options) (err error) {
	start := time.Now()
	root, err := localenv.FindRoot()
	if err != nil {
		return err
	}
	dir := o.dir
	if !filepath.IsAbs(dir) {
		dir = filepath.Join(root, dir)
	}
	samplesDir := o.samplesDir
	if !filepath.IsAbs(samplesDir) {
		samplesDir = filepath.Join(root, samplesDir)
	}

	// Read the samples first: the emulator's account is derived from them, so the
	// credentials Secret and the emulator agree by construction.
	samples, err := localenv.ReadManifests(samplesDir)
	if err != nil {
		return err
	}
	acct, err := accountFromSamples(samples)
	if err != nil {
		return fmt.Errorf("%s: %w", samplesDir, err)
	}

	if !o.skipBuild {
		step("Building bin/manager and bin/csms-emulator (cached by go)")
		if err := localenv.Build(ctx, root, "manager", "./cmd/manager", "csms-emulator", "./cmd/csms-emulator"); err != nil {
			return err
		}
	}

	step("Starting the local control plane (envtest etcd + kube-apiserver)")
	env, err := localenv.Start(ctx, localenv.Options{Dir: dir, Root: root, Logf: info})
	if err != nil {
		return err
	}
	defer func() {
		step("Stopping everything the demo started")
		if serr := env.Stop(); serr != nil {
			err = errors.Join(err, fmt.Errorf("stopping: %w", serr))
			return
		}
		info("stopped; logs and state kept in %s", dir)
	}()

	step("Installing the CRDs from config/crd/bases")
	crds, err := localenv.ReadManifests(filepath.Join(root, "config", "crd", "bases"))
	if err != nil {
		return err
	}
	if err := env.Apply(ctx, crds...); err != nil {
		return err
	}
	for _, c := range crds {
		info("%s", c.GetName())
	}

	step("Starting the CSMS emulator (regions %s and %s)", primaryRegion, replicaRegion)
	em, err := env.StartEmulator(ctx, localenv.EmulatorOptions{
		Region:         primaryRegion,
		ReplicaRegions: []string{replicaRegion},
		Credentials:    []string{acct.credentialsFlag()},
		ExtraArgs:      []string{"--replication-delay=2s"},
	})
	if err != nil {
		return err
	}

	step("Starting the manager")
	mgr, err := env.StartManager(ctx, localenv.ManagerOptions{})
	if err != nil {
		return err
	}

	step("Applying %s", relPath(root, samplesDir))
	for _, s := range samples {
		if s.GetKind() == "ClusterProviderConfig" || s.GetKind() == "ProviderConfig" {
			if err := unstructured.SetNestedField(s.Object, em.URL, "spec", "endpoint"); err != nil {
				return fmt.Errorf("setting the endpoint of %s: %w", s.GetName(), err)
			}
		}
	}
	if err := env.Apply(ctx, samples...); err != nil {
		return err
	}
	var managed []client.ObjectKey
	for _, s := range samples {
		info("%s %s", strings.ToLower(s.GetKind()), key(s))
		if s.GetKind() == msGVK.kind {
			managed = append(managed, client.ObjectKey{Namespace: s.GetNamespace(), Name: s.GetName()})
		}
	}
	if len(managed) == 0 {
		return fmt.Errorf("%s holds no ManagedSecret", samplesDir)
	}

	step("Waiting for %d ManagedSecrets to become Ready (timeout %s)", len(managed), o.timeout)
	if err := waitAllReady(ctx, env, managed, o.timeout, mgr); err != nil {
		return err
	}
	kubectlGet(env)

	// Show that a change of the source Secret reaches CSMS as a new version at once.
	target, srcName, srcKey, err := findSecretKeyRef(samples)
	if err != nil {
		return err
	}
	before, err := getMS(ctx, env, target)
	if err != nil {
		return err
	}
	oldVersion, _, _ := unstructured.NestedString(before.Object, "status", "currentVersionID")
	step("Changing key %q of Secret %s/%s (used by ManagedSecret %s)", srcKey, target.Namespace, srcName, target.Name)
	src := &corev1.Secret{}
	if err := env.Client.Get(ctx, client.ObjectKey{Namespace: target.Namespace, Name: srcName}, src); err != nil {
		return fmt.Errorf("reading source Secret: %w", err)
	}
	if src.Data == nil {
		src.Data = map[string][]byte{}
	}
	src.Data[srcKey] = []byte(fmt.Sprintf("rotated-by-demo-%d", time.Now().UnixNano()))
	if err := env.Client.Update(ctx, src); err != nil {
		return fmt.Errorf("updating source Secret: %w", err)
	}
	var newVersion string
	err = localenv.Poll(ctx, o.timeout, func(ctx context.Context) (bool, string, error) {
		ms, err := getMS(ctx, env, target)
		if err != nil {
			return false, err.Error(), nil
		}
		newVersion, _, _ = unstructured.NestedString(ms.Object, "status", "currentVersionID")
		ready, why := readyStatus(ms)
		if newVersion != "" && newVersion != oldVersion && ready {
			return true, "", nil
		}
		return false, fmt.Sprintf("%s still at version %q (%s)", target.Name, newVersion, why), nil
	})
	if err != nil {
		return fmt.Errorf("the source change did not reach CSMS: %w%s", err, logHint(mgr.Process))
	}
	info("%s: CSMS version %s -> %s", target, oldVersion, newVersion)

	// Show the way back: a rotation in CSMS reaches the target Secret and restarts the
	// Deployment that reads it.
	ts, err := findTarget(samples)
	if err != nil {
		return err
	}
	if err := showTargetRotation(ctx, env, em, acct, ts, o.timeout, mgr); err != nil {
		return err
	}
	kubectlGet(env)

	step("The cloud's view (read from the emulator through the Huawei Cloud SDK; values are never shown)")
	if err := printCloud(ctx, em, acct); err != nil {
		return err
	}

	if exited, werr := mgr.Exited(); exited {
		return fmt.Errorf("the manager exited during the demo (%v)%s", werr, logHint(mgr.Process))
	}
	step("Demo succeeded in %s: every ManagedSecret is Ready", time.Since(start).Round(time.Second))

	if o.keep {
		step("Everything keeps running until Ctrl-C. In another shell:")
		fmt.Printf("\n    export KUBECONFIG=%s\n", env.Kubeconfig)
		fmt.Printf("    kubectl get managedsecrets -A -o wide\n")
		fmt.Printf("    kubectl describe managedsecret -n demo payments-api\n\n")
		info("CSMS emulator: %s (%s), %s (%s); admin API %s", em.RegionURLs[primaryRegion], primaryRegion, em.RegionURLs[replicaRegion], replicaRegion, em.AdminURL)
		info("logs: %s", filepath.Join(dir, "logs"))
		<-ctx.Done()
		fmt.Println()
		info("interrupted")
		return nil
	}
	return nil
}

// account is the demo's CSMS account, read from the samples.
type account struct {
	ak, sk   string
	projects map[string]string // region -> project ID
}

func (a account) credentialsFlag() string {
	var parts []string
	for _, r := range []string{primaryRegion, replicaRegion} {
		if p, ok := a.projects[r]; ok {
			parts = append(parts, r+"="+p)
		}
	}
	return a.ak + ":" + a.sk + ":" + strings.Join(parts, ",")
}

func accountFromSamples(objs []*unstructured.Unstructured) (account, error) {
	a := account{projects: map[string]string{}}
	var secretNS, secretName string
	for _, o := range objs {
		if o.GetKind() == "ClusterProviderConfig" && o.GetName() == "default" {
			region, _, _ := unstructured.NestedString(o.Object, "spec", "region")
			pid, _, _ := unstructured.NestedString(o.Object, "spec", "projectID")
			if region != primaryRegion {
				return a, fmt.Errorf("the default ClusterProviderConfig must use region %s, has %q", primaryRegion, region)
			}
			a.projects[region] = pid
			secretNS, _, _ = unstructured.NestedString(o.Object, "spec", "credentials", "secretRef", "namespace")
			secretName, _, _ = unstructured.NestedString(o.Object, "spec", "credentials", "secretRef", "name")
		}
		if o.GetKind() == msGVK.kind {
			reps, _, _ := unstructured.NestedSlice(o.Object, "spec", "replicas")
			for _, r := range reps {
				rm, _ := r.(map[string]any)
				region, _ := rm["region"].(string)
				pid, _ := rm["projectID"].(string)
				if region != "" && pid != "" {
					a.projects[region] = pid
				}
			}
		}
	}
	if secretName == "" {
		return a, errors.New("no ClusterProviderConfig named default with a credentials secretRef")
	}
	for _, o := range objs {
		if o.GetKind() == "Secret" && o.GetNamespace() == secretNS && o.GetName() == secretName {
			a.ak, _, _ = unstructured.NestedString(o.Object, "stringData", "accessKeyID")
			a.sk, _, _ = unstructured.NestedString(o.Object, "stringData", "secretAccessKey")
		}
	}
	if a.ak == "" || a.sk == "" {
		return a, fmt.Errorf("credentials Secret %s/%s with stringData accessKeyID and secretAccessKey not found", secretNS, secretName)
	}
	return a, nil
}

func findSecretKeyRef(objs []*unstructured.Unstructured) (client.ObjectKey, string, string, error) {
	for _, o := range objs {
		if o.GetKind() != msGVK.kind {
			continue
		}
		name, ok1, _ := unstructured.NestedString(o.Object, "spec", "value", "secretKeyRef", "name")
		k, ok2, _ := unstructured.NestedString(o.Object, "spec", "value", "secretKeyRef", "key")
		if ok1 && ok2 {
			return client.ObjectKey{Namespace: o.GetNamespace(), Name: o.GetName()}, name, k, nil
		}
	}
	return client.ObjectKey{}, "", "", errors.New("no ManagedSecret with a secretKeyRef in the samples")
}

func getMS(ctx context.Context, env *localenv.Env, k client.ObjectKey) (*unstructured.Unstructured, error) {
	u := &unstructured.Unstructured{}
	u.SetAPIVersion(msGVK.group + "/" + msGVK.version)
	u.SetKind(msGVK.kind)
	if err := env.Client.Get(ctx, k, u); err != nil {
		return nil, fmt.Errorf("reading ManagedSecret %s: %w", k, err)
	}
	return u, nil
}

// readyStatus reports whether Ready is True for the current generation, and otherwise
// why not, from the conditions.
func readyStatus(u *unstructured.Unstructured) (bool, string) {
	conds, _, _ := unstructured.NestedSlice(u.Object, "status", "conditions")
	var parts []string
	ready := false
	for _, c := range conds {
		cm, _ := c.(map[string]any)
		t, _ := cm["type"].(string)
		st, _ := cm["status"].(string)
		reason, _ := cm["reason"].(string)
		msg, _ := cm["message"].(string)
		og, _, _ := unstructured.NestedInt64(cm, "observedGeneration")
		if t == "Ready" && st == "True" && og == u.GetGeneration() {
			ready = true
		}
		parts = append(parts, fmt.Sprintf("%s=%s %s: %s", t, st, reason, msg))
	}
	if len(parts) == 0 {
		return false, "no conditions yet (is the controller running?)"
	}
	return ready, strings.Join(parts, "; ")
}

func waitAllReady(ctx context.Context, env *localenv.Env, keys []client.ObjectKey, timeout time.Duration, mgr *localenv.Manager) error {
	reported := map[client.ObjectKey]bool{}
	err := localenv.Poll(ctx, timeout, func(ctx context.Context) (bool, string, error) {
		if exited, werr := mgr.Exited(); exited {
			return false, "", fmt.Errorf("the manager exited (%v)%s", werr, logHint(mgr.Process))
		}
		var notReady []string
		for _, k := range keys {
			ms, err := getMS(ctx, env, k)
			if err != nil {
				notReady = append(notReady, err.Error())
				continue
			}
			ok, why := readyStatus(ms)
			if !ok {
				notReady = append(notReady, k.String()+": "+why)
				continue
			}
			if !reported[k] {
				reported[k] = true
				v, _, _ := unstructured.NestedString(ms.Object, "status", "currentVersionID")
				id, _, _ := unstructured.NestedString(ms.Object, "status", "secretID")
				info("%s Ready (secret ID %s, version %s)", k, id, v)
			}
		}
		if len(notReady) == 0 {
			return true, "", nil
		}
		return false, "not Ready: " + strings.Join(notReady, " | "), nil
	})
	if err != nil {
		return fmt.Errorf("waiting for Ready: %w%s", err, logHint(mgr.Process))
	}
	return nil
}

func logHint(p *localenv.Process) string {
	return fmt.Sprintf("\n--- last lines of %s ---\n%s", p.LogPath, p.LogTail(25))
}

func kubectlGet(env *localenv.Env) {
	kubectl, err := exec.LookPath("kubectl")
	if err != nil {
		info("(kubectl not found; skipping `kubectl get managedsecrets -A -o wide`)")
		return
	}
	fmt.Printf("\n$ kubectl get managedsecrets -A -o wide\n")
	cmd := exec.Command(kubectl, "--kubeconfig", env.Kubeconfig, "get", "managedsecrets", "-A", "-o", "wide")
	cmd.Stdout, cmd.Stderr = os.Stdout, os.Stderr
	if err := cmd.Run(); err != nil {
		info("(kubectl failed: %v)", err)
	}
}

func printCloud(ctx context.Context, em *localenv.Emulator, a account) error {
	tw := tabwriter.NewWriter(os.Stdout, 0, 4, 2, ' ', 0)
	_, _ = fmt.Fprintln(tw, "\nREGION\tNAME\tSTATE\tTYPE\tVERSIONS\tREPLICAS\tTAGS")
	for _, region := range []string{primaryRegion, replicaRegion} {
		pid, ok := a.projects[region]
		if !ok {
			continue
		}
		secrets, err := localenv.CloudView(ctx, localenv.CloudAccount{
			Region: region, Endpoint: em.RegionURLs[region], AccessKey: a.ak, SecretKey: a.sk, ProjectID: pid,
		})
		if err != nil {
			return fmt.Errorf("reading the cloud's view: %w", err)
		}
		for _, s := range secrets {
			_, _ = fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", s.Region, s.Name, s.State, dash(s.ReplicaType),
				dash(strings.Join(s.Versions, " ")), dash(strings.Join(s.Replicas, " ")), dash(tagString(s.Tags)))
		}
	}
	return tw.Flush()
}

func tagString(tags map[string]string) string {
	var parts []string
	for _, k := range []string{"managed-by", "team"} {
		if v, ok := tags[k]; ok {
			parts = append(parts, k+"="+v)
		}
	}
	if n := len(tags) - len(parts); n > 0 {
		parts = append(parts, fmt.Sprintf("+%d", n))
	}
	return strings.Join(parts, ",")
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func key(o *unstructured.Unstructured) string {
	if o.GetNamespace() == "" {
		return o.GetName()
	}
	return o.GetNamespace() + "/" + o.GetName()
}

func relPath(root, p string) string {
	if r, err := filepath.Rel(root, p); err == nil {
		return r
	}
	return p
}
