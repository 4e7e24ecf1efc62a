package emulator_test

import (
	"bufio"
	"bytes"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/huaweicloud/huaweicloud-sdk-go-v3/core/auth/basic"
	"github.com/huaweicloud/huaweicloud-sdk-go-v3/core/config"
	csms "github.com/huaweicloud/huaweicloud-sdk-go-v3/services/csms/v1"
	"github.com/huaweicloud/huaweicloud-sdk-go-v3/services/csms/v1/model"
)

const (
	durAK      = "dur-ak"
	durSK      = "dur-sk"
	durProject = "abcdefabcdefabcdefabcdefabcdef12"
)

type proc struct {
	cmd    *exec.Cmd
	addr   string
	stderr *lockedBuf
}

func buildEmulator(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "csms-emulator")
	out, err := exec.Command("go", "build", "-o", bin, "github.com/csms-operator/csms-operator/cmd/csms-emulator").CombinedOutput()
	if err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

func startProc(t *testing.T, bin, dataDir string) *proc {
	t.Helper()
	cmd := exec.Command(bin, "--listen", "127.0.0.1:0", "--admin-listen", "127.0.0.1:0", "--data", dataDir,
		"--credentials", durAK+":"+durSK+":"+durProject)
	stdout, err := cmd.StdoutPipe()
	mustOK(t, err)
	p := &proc{cmd: cmd, stderr: &lockedBuf{}}
	cmd.Stderr = p.stderr
	mustOK(t, cmd.Start())
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	line, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil {
		t.Fatalf("emulator did not report its address: %v; stderr: %s", err, p.stderr.String())
	}
	var admin string
	if _, err := fmt.Sscanf(line, "LISTEN %s ADMIN %s", &p.addr, &admin); err != nil {
		t.Fatalf("bad address line %q", line)
	}
	return p
}

func durClient(t *testing.T, addr string) *csms.CsmsClient {
	t.Helper()
	cred, err := basic.NewCredentialsBuilder().WithAk(durAK).WithSk(durSK).WithProjectId(durProject).SafeBuild()
	mustOK(t, err)
	hc, err := csms.CsmsClientBuilder().WithEndpoints([]string{"http://" + addr}).
		WithCredential(cred).WithHttpConfig(config.DefaultHttpConfig().WithTimeout(10 * time.Second)).SafeBuild()
	mustOK(t, err)
	return csms.NewCsmsClient(hc)
}

// TestKill9Durability kills the real binary in the middle of a write burst, restarts it
// on the same data directory and expects every acknowledged write; the raw store and
// the logs must not contain the canary value.
func TestKill9Durability(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	bin := buildEmulator(t)
	dataDir := t.TempDir()
	p := startProc(t, bin, dataDir)
	c := durClient(t, p.addr)
	canary := "CANARY-" + fmt.Sprint(time.Now().UnixNano())

	var mu sync.Mutex
	acked := map[string]string{}    // name → latest acknowledged value
	inFlight := map[string]string{} // name → a later write whose answer may be lost in the kill
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for g := 0; g < 4; g++ {
		wg.Add(1)
		go func(g int) {
			defer wg.Done()
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				name := fmt.Sprintf("burst-%d-%d", g, i)
				value := canary + "-" + name
				if _, err := c.CreateSecret(&model.CreateSecretRequest{Body: &model.CreateSecretRequestBody{Name: name, SecretString: &value}}); err != nil {
					return // the process is gone
				}
				mu.Lock()
				acked[name] = value
				mu.Unlock()
				v2 := value + "-v2"
				mu.Lock()
				inFlight[name] = v2
				mu.Unlock()
				if _, err := c.CreateSecretVersion(&model.CreateSecretVersionRequest{SecretName: name, Body: &model.CreateSecretVersionRequestBody{SecretString: &v2}}); err != nil {
					return
				}
				mu.Lock()
				acked[name] = v2
				mu.Unlock()
			}
		}(g)
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		mu.Lock()
		n := len(acked)
		mu.Unlock()
		if n >= 40 || time.Now().After(deadline) {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	mustOK(t, p.cmd.Process.Kill()) // SIGKILL while the writers are still going
	_ = p.cmd.Wait()
	close(stop)
	wg.Wait()
	if len(acked) == 0 {
		t.Fatalf("no write acknowledged before the kill; stderr: %s", p.stderr.String())
	}

	p2 := startProc(t, bin, dataDir)
	c2 := durClient(t, p2.addr)
	for name, want := range acked {
		resp, err := c2.ShowSecretVersion(&model.ShowSecretVersionRequest{SecretName: name, VersionId: "latest"})
		if err != nil {
			t.Fatalf("acknowledged %s lost after kill -9: %v", name, err)
		}
		// A write can commit and lose its answer in the kill: the newer value is fine,
		// an older one would be a lost acknowledged write.
		if got := *resp.Version.SecretString; got != want && got != inFlight[name] {
			t.Fatalf("%s: acknowledged value lost after restart", name)
		}
	}
	t.Logf("%d acknowledged secrets survived kill -9", len(acked))

	// Values are encrypted at rest and never logged.
	err := filepath.WalkDir(dataDir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		raw, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		if bytes.Contains(raw, []byte(canary)) {
			t.Errorf("canary value found in %s", path)
		}
		return nil
	})
	mustOK(t, err)
	info, err := os.Stat(filepath.Join(dataDir, "master.key"))
	mustOK(t, err)
	if info.Mode().Perm() != 0o600 {
		t.Errorf("master.key mode %v", info.Mode().Perm())
	}
	for _, logs := range []string{p.stderr.String(), p2.stderr.String()} {
		if strings.Contains(logs, canary) {
			t.Errorf("canary value found in the logs")
		}
	}
	if !strings.Contains(p.stderr.String(), `"op":"CreateSecret"`) {
		t.Errorf("logs do not record requests: %.300s", p.stderr.String())
	}
}
