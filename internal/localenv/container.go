package localenv

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	authenticationv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/client-go/kubernetes"
	"k8s.io/utils/ptr"
)

// ServiceAccountMountPath is where the kubelet mounts a pod's ServiceAccount token, CA and
// namespace, and where client-go's in-cluster configuration reads them.
const ServiceAccountMountPath = "/var/run/secrets/kubernetes.io/serviceaccount"

// containerDirLabel marks the containers an environment started with its directory, so a
// later start in the same directory can remove what a crashed run left.
const containerDirLabel = "io.csms-operator.localenv.dir"

// ContainerOptions configures StartManagerContainer.
type ContainerOptions struct {
	// Engine is the container engine command line, e.g. {"podman"} or {"docker"}. Required.
	Engine []string
	// Image is the image to run. Required; it must exist locally (it is never pulled).
	Image string
	// Deployment is the rendered install Deployment. Its pod is what runs: the container's
	// command, args, env, security contexts, resource limits and probes, and the pod's
	// ServiceAccount, whose token is mounted as the kubelet would.
	Deployment *appsv1.Deployment
	// Container names the container of the pod to run; default: the first.
	Container string
	// Name names the log file (logs/<Name>.log); default "manager".
	Name string
}

// ContainerManager is a manager running inside its image as a container.
type ContainerManager struct {
	*Manager
	// ContainerName is the engine's name of the container.
	ContainerName string
	// Ports maps each container port the pod binds (its --*-bind-address args) to the
	// loopback address it is served on.
	Ports map[int32]string
	// RunArgs are the engine's arguments that started it (after the engine command).
	RunArgs []string
	// ProbeURLs are the pod's HTTP probes ("readiness", "liveness", "startup") as URLs.
	ProbeURLs map[string]string

	engine []string
}

// StartManagerContainer runs the Deployment's container from opts.Image on the host network
// with in-cluster configuration: KUBERNETES_SERVICE_HOST/PORT name the environment's API
// server, and the pod's ServiceAccount token, the API server's CA and the namespace are
// mounted at ServiceAccountMountPath. Every --*-bind-address is moved to a free loopback
// port (on the host network the manifest's ports could be taken). It waits until the
// readiness probe answers 200.
func (e *Env) StartManagerContainer(ctx context.Context, o ContainerOptions) (*ContainerManager, error) {
	if len(o.Engine) == 0 || o.Image == "" || o.Deployment == nil {
		return nil, errors.New("localenv: ContainerOptions.Engine, Image and Deployment are required")
	}
	if o.Name == "" {
		o.Name = "manager"
	}
	cname := containerName(o.Name, e.Dir)
	e.removeContainers(ctx, o.Engine)

	imageUser, err := engineOutput(ctx, o.Engine, "image", "inspect", "--format", "{{.Config.User}}", o.Image)
	if err != nil {
		return nil, fmt.Errorf("image %s (build it with make docker-build): %w", o.Image, err)
	}
	api, err := url.Parse(e.Config.Host)
	if err != nil {
		return nil, fmt.Errorf("parsing the API server address %q: %w", e.Config.Host, err)
	}
	saDir := filepath.Join(e.Dir, "containers", o.Name, "serviceaccount")
	plan, err := planContainer(containerInput{
		deployment: o.Deployment, container: o.Container, image: o.Image, imageUser: imageUser,
		name: cname, dirLabel: e.Dir, apiHost: api.Hostname(), apiPort: api.Port(),
		serviceAccountDir: saDir, podman: filepath.Base(o.Engine[0]) == "podman",
	}, FreePorts)
	if err != nil {
		return nil, err
	}
	if plan.mountToken {
		if err := e.writeServiceAccountDir(ctx, saDir, plan.namespace, plan.serviceAccount); err != nil {
			return nil, err
		}
	}

	args := append(append([]string(nil), o.Engine[1:]...), plan.args...)
	p, err := startProcess(o.Name, filepath.Join(e.Dir, "logs", o.Name+".log"), nil, o.Engine[0], args...)
	if err != nil {
		return nil, err
	}
	if err := e.track(p); err != nil {
		return nil, err
	}
	// The engine's client may die without stopping the container (SIGKILL, a crash of
	// ours): a watcher outside the reaper's list stops and removes it when our end of its
	// pipe closes, which Stop does first and the kernel does when we die.
	stop, err := startContainerWatcher(o.Engine, cname, plan.stopTimeout)
	if err != nil {
		return nil, err
	}
	p.onStop = stop

	m := &ContainerManager{
		Manager:       &Manager{Process: p, ProbeURL: plan.probeBase},
		ContainerName: cname,
		Ports:         plan.ports,
		RunArgs:       plan.args,
		ProbeURLs:     plan.probes,
		engine:        o.Engine,
	}
	e.logf("started %s in container %s from %s (engine pid %d): probes %s, log %s", o.Name, cname, o.Image, p.Pid(), plan.probeBase, p.LogPath)
	ready := plan.probes["readiness"]
	if ready == "" {
		ready = plan.probeBase + "/readyz"
	}
	if err := waitHTTP(ctx, p, ready, 120*time.Second); err != nil {
		return nil, err
	}
	return m, nil
}

// PID returns the host PID of the container's main process.
func (m *ContainerManager) PID(ctx context.Context) (int, error) {
	out, err := engineOutput(ctx, m.engine, "inspect", "--format", "{{.State.Pid}}", m.ContainerName)
	if err != nil {
		return 0, err
	}
	pid, err := strconv.Atoi(out)
	if err != nil || pid <= 0 {
		return 0, fmt.Errorf("container %s has no running process (pid %q)", m.ContainerName, out)
	}
	return pid, nil
}

// Inspect returns a field of the engine's inspect output (a Go template, e.g.
// "{{.HostConfig.ReadonlyRootfs}}").
func (m *ContainerManager) Inspect(ctx context.Context, format string) (string, error) {
	return engineOutput(ctx, m.engine, "inspect", "--format", format, m.ContainerName)
}

func engineOutput(ctx context.Context, engine []string, args ...string) (string, error) {
	cmd := exec.CommandContext(ctx, engine[0], append(append([]string(nil), engine[1:]...), args...)...)
	out, err := cmd.Output()
	if err != nil {
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			return "", fmt.Errorf("%s: %w: %s", strings.Join(cmd.Args, " "), err, strings.TrimSpace(string(ee.Stderr)))
		}
		return "", fmt.Errorf("%s: %w", strings.Join(cmd.Args, " "), err)
	}
	return strings.TrimSpace(string(out)), nil
}

// containerName is unique per environment directory, so two environments never collide
// and a rerun in the same directory finds its predecessor's container.
func containerName(name, dir string) string {
	h := fnv.New32a()
	_, _ = h.Write([]byte(dir))
	return fmt.Sprintf("localenv-%s-%08x", name, h.Sum32())
}

// removeContainers removes containers a previous run in e.Dir left behind.
func (e *Env) removeContainers(ctx context.Context, engine []string) {
	out, err := engineOutput(ctx, engine, "ps", "-aq", "--filter", "label="+containerDirLabel+"="+e.Dir)
	if err != nil || out == "" {
		return
	}
	ids := strings.Fields(out)
	e.logf("removing %d container(s) left by an earlier run in %s", len(ids), e.Dir)
	_, _ = engineOutput(ctx, engine, append([]string{"rm", "-f"}, ids...)...)
}

// writeServiceAccountDir writes what the kubelet projects into a pod: a TokenRequest token
// of the ServiceAccount, the API server's CA and the namespace, readable by any UID (the
// kubelet's default mode 0644), since the container does not run as our user.
func (e *Env) writeServiceAccountDir(ctx context.Context, dir, namespace, sa string) error {
	cs, err := kubernetes.NewForConfig(e.Config)
	if err != nil {
		return fmt.Errorf("creating clientset: %w", err)
	}
	tr, err := cs.CoreV1().ServiceAccounts(namespace).CreateToken(ctx, sa, &authenticationv1.TokenRequest{
		Spec: authenticationv1.TokenRequestSpec{ExpirationSeconds: ptr.To(int64(3600))},
	}, metav1.CreateOptions{})
	if err != nil {
		return fmt.Errorf("requesting a token for ServiceAccount %s/%s: %w", namespace, sa, err)
	}
	if len(e.Config.CAData) == 0 {
		return errors.New("the environment's API server has no CA data to mount")
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("creating %s: %w", dir, err)
	}
	for name, data := range map[string][]byte{
		"token":     []byte(tr.Status.Token),
		"ca.crt":    e.Config.CAData,
		"namespace": []byte(namespace),
	} {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, data, 0o644); err != nil {
			return fmt.Errorf("writing %s: %w", p, err)
		}
		// WriteFile's mode is masked by the umask; the container's UID must read it.
		if err := os.Chmod(p, 0o644); err != nil {
			return fmt.Errorf("writing %s: %w", p, err)
		}
	}
	return nil
}

const watcherScript = `trap '' INT TERM HUP
read -r _ || true
n="$1"; t="$2"; shift 2
"$@" stop -t "$t" "$n" >/dev/null 2>&1
"$@" rm -f "$n" >/dev/null 2>&1
exit 0`

// startContainerWatcher starts the shell that stops and removes container name when its
// stdin closes, and returns the function that closes it and waits (Process.Stop calls it).
func startContainerWatcher(engine []string, name string, timeout int64) (func(), error) {
	r, w, err := os.Pipe()
	if err != nil {
		return nil, fmt.Errorf("creating container watcher pipe: %w", err)
	}
	args := append([]string{"-c", watcherScript, "localenv-container-watcher", name, strconv.FormatInt(timeout, 10)}, engine...)
	cmd := exec.Command("/bin/sh", args...)
	cmd.Stdin = r
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		_ = r.Close()
		_ = w.Close()
		return nil, fmt.Errorf("starting container watcher: %w", err)
	}
	_ = r.Close()
	done := false
	return func() {
		if done {
			return
		}
		done = true
		_ = w.Close()
		_ = cmd.Wait()
	}, nil
}

// containerInput is what planContainer translates into an engine command line.
type containerInput struct {
	deployment        *appsv1.Deployment
	container         string
	image             string
	imageUser         string // the image's configured USER
	name              string // container name
	dirLabel          string
	apiHost, apiPort  string
	serviceAccountDir string
	podman            bool
}

// containerPlan is an engine "run" command line and what the caller needs to reach it.
type containerPlan struct {
	args           []string
	ports          map[int32]string
	probeBase      string
	probes         map[string]string
	namespace      string
	serviceAccount string
	mountToken     bool
	stopTimeout    int64
}

var bindAddressFlag = regexp.MustCompile(`^--?[a-z0-9-]*bind-address$`)

// planContainer translates the pod of a Deployment into an engine command line, as the
// kubelet would run it, for what the shipped manifests use. Anything it cannot reproduce
// faithfully is an error rather than silently dropped, so a manifest change cannot make
// the test run something other than what users apply.
func planContainer(in containerInput, freePorts func(int) ([]string, error)) (*containerPlan, error) {
	d := in.deployment
	pod := d.Spec.Template.Spec
	if len(pod.Containers) == 0 {
		return nil, fmt.Errorf("deployment %s has no containers", d.Name)
	}
	c := pod.Containers[0]
	if in.container != "" {
		found := false
		for _, cc := range pod.Containers {
			if cc.Name == in.container {
				c, found = cc, true
			}
		}
		if !found {
			return nil, fmt.Errorf("deployment %s has no container %q", d.Name, in.container)
		}
	}
	if err := unsupported(pod, c); err != nil {
		return nil, fmt.Errorf("deployment %s, container %s: %w", d.Name, c.Name, err)
	}

	plan := &containerPlan{ports: map[int32]string{}, probes: map[string]string{}, namespace: d.Namespace, stopTimeout: 30}
	if plan.namespace == "" {
		plan.namespace = "default"
	}
	plan.serviceAccount = pod.ServiceAccountName
	if plan.serviceAccount == "" {
		plan.serviceAccount = "default"
	}
	if pod.TerminationGracePeriodSeconds != nil {
		plan.stopTimeout = *pod.TerminationGracePeriodSeconds
	}
	plan.mountToken = pod.AutomountServiceAccountToken == nil || *pod.AutomountServiceAccountToken

	// Bind addresses move to free loopback ports.
	args, err := remapBindAddresses(c.Args, plan.ports, freePorts)
	if err != nil {
		return nil, err
	}
	command, err := remapBindAddresses(c.Command, plan.ports, freePorts)
	if err != nil {
		return nil, err
	}

	run := []string{"run", "--rm", "--pull=never", "--name=" + in.name, "--network=host",
		"--hostname=" + d.Name, "--label=" + containerDirLabel + "=" + in.dirLabel}

	sec, err := securityArgs(pod.SecurityContext, c.SecurityContext, in.imageUser, in.podman)
	if err != nil {
		return nil, fmt.Errorf("deployment %s, container %s: %w", d.Name, c.Name, err)
	}
	run = append(run, sec...)

	if q, ok := c.Resources.Limits[corev1.ResourceMemory]; ok {
		run = append(run, "--memory="+strconv.FormatInt(q.Value(), 10))
	}
	if q, ok := c.Resources.Limits[corev1.ResourceCPU]; ok {
		run = append(run, "--cpus="+strconv.FormatFloat(float64(q.MilliValue())/1000, 'f', 3, 64))
	}

	// The kubelet's service environment for the API server, which in-cluster
	// configuration reads, then the container's own.
	run = append(run, "--env=KUBERNETES_SERVICE_HOST="+in.apiHost, "--env=KUBERNETES_SERVICE_PORT="+in.apiPort)
	for _, ev := range c.Env {
		v, err := envValue(ev, d, plan)
		if err != nil {
			return nil, fmt.Errorf("deployment %s, container %s: %w", d.Name, c.Name, err)
		}
		run = append(run, "--env="+ev.Name+"="+v)
	}
	if plan.mountToken {
		run = append(run, "--volume="+in.serviceAccountDir+":"+ServiceAccountMountPath+":ro")
	}
	if c.WorkingDir != "" {
		run = append(run, "--workdir="+c.WorkingDir)
	}

	// command replaces the image's ENTRYPOINT and args its CMD, as in a pod.
	if len(command) > 0 {
		run = append(run, "--entrypoint="+command[0], in.image)
		run = append(run, command[1:]...)
	} else {
		run = append(run, in.image)
	}
	run = append(run, args...)
	plan.args = run

	for kind, p := range map[string]*corev1.Probe{"readiness": c.ReadinessProbe, "liveness": c.LivenessProbe, "startup": c.StartupProbe} {
		if p == nil {
			continue
		}
		if p.HTTPGet == nil {
			return nil, fmt.Errorf("deployment %s, container %s: the %s probe is not httpGet; localenv checks only HTTP probes", d.Name, c.Name, kind)
		}
		port, err := containerPort(c, p.HTTPGet.Port)
		if err != nil {
			return nil, fmt.Errorf("deployment %s, container %s, %s probe: %w", d.Name, c.Name, kind, err)
		}
		addr, ok := plan.ports[port]
		if !ok {
			return nil, fmt.Errorf("deployment %s, container %s: the %s probe's port %d is bound by no --*-bind-address argument", d.Name, c.Name, kind, port)
		}
		scheme := "http"
		if p.HTTPGet.Scheme == corev1.URISchemeHTTPS {
			scheme = "https"
		}
		plan.probes[kind] = scheme + "://" + addr + p.HTTPGet.Path
		if kind == "readiness" || plan.probeBase == "" {
			plan.probeBase = scheme + "://" + addr
		}
	}
	if plan.probeBase == "" {
		return nil, fmt.Errorf("deployment %s, container %s has no HTTP probe to wait for", d.Name, c.Name)
	}
	return plan, nil
}

// remapBindAddresses returns args with every --*-bind-address=[host]:port (port not 0)
// moved to a free 127.0.0.1 port, recording container port → new address in ports.
func remapBindAddresses(args []string, ports map[int32]string, freePorts func(int) ([]string, error)) ([]string, error) {
	out := make([]string, 0, len(args))
	for i := 0; i < len(args); i++ {
		a := args[i]
		flagName, value, hasValue := strings.Cut(a, "=")
		if !bindAddressFlag.MatchString(flagName) {
			out = append(out, a)
			continue
		}
		if !hasValue {
			if i+1 >= len(args) {
				return nil, fmt.Errorf("%s has no value", a)
			}
			i++
			value = args[i]
		}
		_, portText, err := splitHostPort(value)
		if err != nil {
			return nil, fmt.Errorf("%s=%s: %w", flagName, value, err)
		}
		if portText == "0" {
			out = append(out, flagName+"="+value)
			continue
		}
		port, err := strconv.ParseInt(portText, 10, 32)
		if err != nil {
			return nil, fmt.Errorf("%s=%s: port %q is not a number", flagName, value, portText)
		}
		addrs, err := freePorts(1)
		if err != nil {
			return nil, err
		}
		ports[int32(port)] = addrs[0]
		out = append(out, flagName+"="+addrs[0])
	}
	return out, nil
}

// splitHostPort accepts ":8080", "host:8080" and the bare "0" that means "off".
func splitHostPort(v string) (string, string, error) {
	if v == "0" {
		return "", "0", nil
	}
	i := strings.LastIndexByte(v, ':')
	if i < 0 {
		return "", "", errors.New("want [host]:port")
	}
	return v[:i], v[i+1:], nil
}

func containerPort(c corev1.Container, p intstr.IntOrString) (int32, error) {
	if p.Type == intstr.Int {
		return p.IntVal, nil
	}
	for _, cp := range c.Ports {
		if cp.Name == p.StrVal {
			return cp.ContainerPort, nil
		}
	}
	return 0, fmt.Errorf("no container port named %q", p.StrVal)
}

func envValue(ev corev1.EnvVar, d *appsv1.Deployment, plan *containerPlan) (string, error) {
	if ev.ValueFrom == nil {
		return ev.Value, nil
	}
	if f := ev.ValueFrom.FieldRef; f != nil {
		switch f.FieldPath {
		case "metadata.namespace":
			return plan.namespace, nil
		case "metadata.name":
			return d.Name, nil
		case "spec.serviceAccountName":
			return plan.serviceAccount, nil
		}
		return "", fmt.Errorf("env %s: fieldRef %s is not supported by localenv", ev.Name, f.FieldPath)
	}
	return "", fmt.Errorf("env %s: only value and fieldRef (metadata.namespace, metadata.name, spec.serviceAccountName) are supported by localenv", ev.Name)
}

// unsupported rejects pod features the container runner does not reproduce.
func unsupported(pod corev1.PodSpec, c corev1.Container) error {
	var what []string
	if len(c.VolumeMounts) > 0 {
		what = append(what, "volumeMounts")
	}
	if len(c.EnvFrom) > 0 {
		what = append(what, "envFrom")
	}
	if len(pod.InitContainers) > 0 {
		what = append(what, "initContainers")
	}
	if s := pod.SecurityContext; s != nil {
		if s.SELinuxOptions != nil || s.WindowsOptions != nil || len(s.Sysctls) > 0 || s.AppArmorProfile != nil {
			what = append(what, "pod securityContext seLinuxOptions/windowsOptions/sysctls/appArmorProfile")
		}
	}
	if s := c.SecurityContext; s != nil {
		if s.SELinuxOptions != nil || s.WindowsOptions != nil || s.AppArmorProfile != nil || s.ProcMount != nil {
			what = append(what, "container securityContext seLinuxOptions/windowsOptions/appArmorProfile/procMount")
		}
		if s.Privileged != nil && *s.Privileged {
			what = append(what, "privileged")
		}
	}
	if len(what) > 0 {
		return fmt.Errorf("localenv cannot run a pod with %s (extend internal/localenv/container.go)", strings.Join(what, ", "))
	}
	return nil
}

// securityArgs translates the pod's and the container's security contexts (the
// container's fields win) into engine flags, and checks runAsNonRoot against the user the
// container will run as, as the kubelet does.
func securityArgs(podSC *corev1.PodSecurityContext, sc *corev1.SecurityContext, imageUser string, podman bool) ([]string, error) {
	if podSC == nil {
		podSC = &corev1.PodSecurityContext{}
	}
	if sc == nil {
		sc = &corev1.SecurityContext{}
	}
	runAsUser := firstInt64(sc.RunAsUser, podSC.RunAsUser)
	runAsGroup := firstInt64(sc.RunAsGroup, podSC.RunAsGroup)
	runAsNonRoot := sc.RunAsNonRoot
	if runAsNonRoot == nil {
		runAsNonRoot = podSC.RunAsNonRoot
	}
	seccomp := sc.SeccompProfile
	if seccomp == nil {
		seccomp = podSC.SeccompProfile
	}

	var args []string
	if runAsUser != nil || runAsGroup != nil {
		uid := ""
		if runAsUser != nil {
			uid = strconv.FormatInt(*runAsUser, 10)
		} else {
			u, ok := numericUser(imageUser)
			if !ok {
				return nil, fmt.Errorf("runAsGroup without runAsUser needs a numeric image user, have %q", imageUser)
			}
			uid = strconv.FormatInt(u, 10)
		}
		if runAsGroup != nil {
			uid += ":" + strconv.FormatInt(*runAsGroup, 10)
		}
		args = append(args, "--user="+uid)
	}
	if runAsNonRoot != nil && *runAsNonRoot {
		// An image without USER runs as root (uid 0).
		var uid int64
		if runAsUser != nil {
			uid = *runAsUser
		} else if u, ok := numericUser(imageUser); ok {
			uid = u
		} else if imageUser != "" {
			return nil, fmt.Errorf("runAsNonRoot with the non-numeric image user %q: the kubelet cannot verify it is not root", imageUser)
		}
		if uid == 0 {
			return nil, errors.New("runAsNonRoot, but the container would run as root (the image has no numeric non-root USER and no runAsUser is set)")
		}
	}
	for _, g := range podSC.SupplementalGroups {
		args = append(args, "--group-add="+strconv.FormatInt(g, 10))
	}
	if sc.ReadOnlyRootFilesystem != nil && *sc.ReadOnlyRootFilesystem {
		args = append(args, "--read-only")
		if podman {
			// podman would add writable tmpfs on /tmp, /var/tmp and /run; a pod has none.
			args = append(args, "--read-only-tmpfs=false")
		}
	}
	if sc.AllowPrivilegeEscalation != nil && !*sc.AllowPrivilegeEscalation {
		args = append(args, "--security-opt=no-new-privileges")
	}
	if caps := sc.Capabilities; caps != nil {
		for _, c := range caps.Drop {
			args = append(args, "--cap-drop="+string(c))
		}
		for _, c := range caps.Add {
			args = append(args, "--cap-add="+string(c))
		}
	}
	if seccomp != nil {
		switch seccomp.Type {
		case corev1.SeccompProfileTypeRuntimeDefault:
			// The engine's default profile.
		case corev1.SeccompProfileTypeUnconfined:
			args = append(args, "--security-opt=seccomp=unconfined")
		default:
			return nil, fmt.Errorf("seccompProfile %s is not supported by localenv", seccomp.Type)
		}
	}
	return args, nil
}

func firstInt64(a, b *int64) *int64 {
	if a != nil {
		return a
	}
	return b
}

// numericUser parses an image USER of the form "uid" or "uid:gid".
func numericUser(u string) (int64, bool) {
	uid, _, _ := strings.Cut(u, ":")
	n, err := strconv.ParseInt(uid, 10, 64)
	return n, err == nil
}
