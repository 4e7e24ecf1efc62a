package localenv

import (
	"fmt"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/utils/ptr"
)

// shippedLike is a Deployment shaped like config/manager/manager.yaml.
func shippedLike() *appsv1.Deployment {
	d := &appsv1.Deployment{}
	d.Name, d.Namespace = "csms-operator-controller-manager", "csms-system"
	d.Spec.Template.Spec = corev1.PodSpec{
		ServiceAccountName:            "csms-operator-controller-manager",
		TerminationGracePeriodSeconds: ptr.To(int64(10)),
		SecurityContext: &corev1.PodSecurityContext{
			RunAsNonRoot:   ptr.To(true),
			SeccompProfile: &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeRuntimeDefault},
		},
		Containers: []corev1.Container{{
			Name:    "manager",
			Command: []string{"/manager"},
			Args:    []string{"--leader-elect", "--health-probe-bind-address=:8081", "--metrics-bind-address=:8443"},
			Ports:   []corev1.ContainerPort{{Name: "metrics", ContainerPort: 8443}, {Name: "probes", ContainerPort: 8081}},
			Env: []corev1.EnvVar{{Name: "A", Value: "b"}, {Name: "NS", ValueFrom: &corev1.EnvVarSource{
				FieldRef: &corev1.ObjectFieldSelector{FieldPath: "metadata.namespace"}}}},
			SecurityContext: &corev1.SecurityContext{
				AllowPrivilegeEscalation: ptr.To(false),
				ReadOnlyRootFilesystem:   ptr.To(true),
				Capabilities:             &corev1.Capabilities{Drop: []corev1.Capability{"ALL"}},
			},
			LivenessProbe:  &corev1.Probe{ProbeHandler: corev1.ProbeHandler{HTTPGet: &corev1.HTTPGetAction{Path: "/healthz", Port: intstr.FromInt32(8081)}}},
			ReadinessProbe: &corev1.Probe{ProbeHandler: corev1.ProbeHandler{HTTPGet: &corev1.HTTPGetAction{Path: "/readyz", Port: intstr.FromString("probes")}}},
			Resources: corev1.ResourceRequirements{Limits: corev1.ResourceList{
				corev1.ResourceCPU: resource.MustParse("500m"), corev1.ResourceMemory: resource.MustParse("256Mi")}},
		}},
	}
	return d
}

func sequentialPorts() func(int) ([]string, error) {
	next := 20000
	return func(n int) ([]string, error) {
		var out []string
		for i := 0; i < n; i++ {
			next++
			out = append(out, fmt.Sprintf("127.0.0.1:%d", next))
		}
		return out, nil
	}
}

func input(d *appsv1.Deployment, imageUser string) containerInput {
	return containerInput{deployment: d, container: "manager", image: "img:dev", imageUser: imageUser, name: "c1",
		dirLabel: "/d", apiHost: "127.0.0.1", apiPort: "6443", serviceAccountDir: "/d/sa", podman: true}
}

func TestPlanContainerShipped(t *testing.T) {
	plan, err := planContainer(input(shippedLike(), "65532:65532"), sequentialPorts())
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"run", "--rm", "--pull=never", "--name=c1", "--network=host",
		"--hostname=csms-operator-controller-manager", "--label=" + containerDirLabel + "=/d",
		"--read-only", "--read-only-tmpfs=false", "--security-opt=no-new-privileges", "--cap-drop=ALL",
		"--memory=268435456", "--cpus=0.500",
		"--env=KUBERNETES_SERVICE_HOST=127.0.0.1", "--env=KUBERNETES_SERVICE_PORT=6443", "--env=A=b", "--env=NS=csms-system",
		"--volume=/d/sa:" + ServiceAccountMountPath + ":ro",
		"--entrypoint=/manager", "img:dev",
		"--leader-elect", "--health-probe-bind-address=127.0.0.1:20001", "--metrics-bind-address=127.0.0.1:20002"}
	if d := cmp.Diff(want, plan.args); d != "" {
		t.Errorf("run args (-want +got):\n%s", d)
	}
	if d := cmp.Diff(map[int32]string{8081: "127.0.0.1:20001", 8443: "127.0.0.1:20002"}, plan.ports); d != "" {
		t.Errorf("ports (-want +got):\n%s", d)
	}
	if d := cmp.Diff(map[string]string{"liveness": "http://127.0.0.1:20001/healthz", "readiness": "http://127.0.0.1:20001/readyz"}, plan.probes); d != "" {
		t.Errorf("probes (-want +got):\n%s", d)
	}
	if plan.namespace != "csms-system" || plan.serviceAccount != "csms-operator-controller-manager" || !plan.mountToken || plan.stopTimeout != 10 {
		t.Errorf("plan = ns %q sa %q mount %v stop %d", plan.namespace, plan.serviceAccount, plan.mountToken, plan.stopTimeout)
	}
}

func TestPlanContainerUserAndDocker(t *testing.T) {
	d := shippedLike()
	d.Spec.Template.Spec.SecurityContext.RunAsUser = ptr.To(int64(1000))
	d.Spec.Template.Spec.Containers[0].SecurityContext.RunAsGroup = ptr.To(int64(2000))
	in := input(d, "")
	in.podman = false
	plan, err := planContainer(in, sequentialPorts())
	if err != nil {
		t.Fatal(err)
	}
	joined := strings.Join(plan.args, " ")
	if !strings.Contains(joined, "--user=1000:2000") {
		t.Errorf("args %q lack --user=1000:2000", joined)
	}
	if strings.Contains(joined, "--read-only-tmpfs") {
		t.Errorf("docker has no --read-only-tmpfs: %q", joined)
	}
}

func TestPlanContainerRefuses(t *testing.T) {
	cases := map[string]struct {
		mutate    func(*appsv1.Deployment)
		imageUser string
		want      string
	}{
		"root image under runAsNonRoot": {func(*appsv1.Deployment) {}, "", "would run as root"},
		"uid 0 image":                   {func(*appsv1.Deployment) {}, "0:0", "would run as root"},
		"named image user":              {func(*appsv1.Deployment) {}, "nonroot", "cannot verify"},
		"volume mounts": {func(d *appsv1.Deployment) {
			d.Spec.Template.Spec.Containers[0].VolumeMounts = []corev1.VolumeMount{{Name: "cert", MountPath: "/certs"}}
		}, "65532", "volumeMounts"},
		"privileged": {func(d *appsv1.Deployment) {
			d.Spec.Template.Spec.Containers[0].SecurityContext.Privileged = ptr.To(true)
		}, "65532", "privileged"},
		"probe port not bound": {func(d *appsv1.Deployment) {
			d.Spec.Template.Spec.Containers[0].Args = []string{"--leader-elect", "--metrics-bind-address=:8443"}
		}, "65532", "bound by no --*-bind-address"},
		"exec probe": {func(d *appsv1.Deployment) {
			d.Spec.Template.Spec.Containers[0].LivenessProbe = &corev1.Probe{ProbeHandler: corev1.ProbeHandler{Exec: &corev1.ExecAction{Command: []string{"true"}}}}
		}, "65532", "not httpGet"},
		"unsupported env": {func(d *appsv1.Deployment) {
			d.Spec.Template.Spec.Containers[0].Env = []corev1.EnvVar{{Name: "X", ValueFrom: &corev1.EnvVarSource{
				SecretKeyRef: &corev1.SecretKeySelector{Key: "k"}}}}
		}, "65532", "env X"},
		"localhost seccomp": {func(d *appsv1.Deployment) {
			d.Spec.Template.Spec.SecurityContext.SeccompProfile = &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeLocalhost}
		}, "65532", "seccompProfile Localhost"},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			d := shippedLike()
			c.mutate(d)
			_, err := planContainer(input(d, c.imageUser), sequentialPorts())
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("err = %v, want one containing %q", err, c.want)
			}
		})
	}
}

func TestRemapBindAddresses(t *testing.T) {
	ports := map[int32]string{}
	got, err := remapBindAddresses([]string{"--metrics-bind-address", ":8443", "--health-probe-bind-address=0", "--x=1"}, ports, sequentialPorts())
	if err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff([]string{"--metrics-bind-address=127.0.0.1:20001", "--health-probe-bind-address=0", "--x=1"}, got); d != "" {
		t.Errorf("(-want +got):\n%s", d)
	}
	if ports[8443] != "127.0.0.1:20001" || len(ports) != 1 {
		t.Errorf("ports = %v", ports)
	}
}
