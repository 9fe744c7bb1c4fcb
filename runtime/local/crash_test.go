package local_test

import (
	"bufio"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/flinkplane/flinkplane"
	"github.com/flinkplane/flinkplane/runtime/local/localtest"
)

// TestHelperControlPlane is not a test: TestCrash runs the test binary with
// it as a stand-in control plane that starts a cluster, prints its handle
// and waits to be killed.
func TestHelperControlPlane(t *testing.T) {
	dataDir := os.Getenv("FLINKPLANE_HELPER_DATA_DIR")
	if dataDir == "" {
		t.Skip("helper process only")
	}
	d := localtest.NewDriver(t, dataDir)
	h, err := d.Start(context.Background(), flinkplane.ClusterSpec{ApplicationID: "crash", Runtime: flinkplane.RuntimeFlink22, Parallelism: 1, ParallelismPerKPU: 1})
	if err != nil {
		os.Stdout.WriteString("ERROR " + err.Error() + "\n")
		os.Exit(1)
	}
	b, _ := json.Marshal(h)
	os.Stdout.WriteString("HANDLE " + string(b) + "\n")
	time.Sleep(10 * time.Minute)
}

// TestCrash kills the control plane with SIGKILL while its cluster runs:
// the cluster survives (no parent-death signal), a restarted control plane
// re-adopts it from the stored handle, and Sweep without owned handles
// kills it.
func TestCrash_AdoptThenSweep(t *testing.T) {
	localtest.RequireRuntime(t, flinkplane.RuntimeFlink22)
	dataDir := t.TempDir()
	cmd := exec.Command(os.Args[0], "-test.run=^TestHelperControlPlane$", "-test.timeout=15m")
	cmd.Env = append(os.Environ(), "FLINKPLANE_HELPER_DATA_DIR="+dataDir)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true} // its own group: killing it spares ours
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var h flinkplane.ClusterHandle
	sc := bufio.NewScanner(out)
	for sc.Scan() {
		line := sc.Text()
		if s, ok := strings.CutPrefix(line, "HANDLE "); ok {
			if err := json.Unmarshal([]byte(s), &h); err != nil {
				t.Fatal(err)
			}
			break
		}
		if strings.HasPrefix(line, "ERROR ") {
			t.Fatal(line)
		}
	}
	d := localtest.NewDriver(t, dataDir)
	t.Cleanup(func() { d.StopAll(context.Background()) })
	if h.ID == "" {
		cmd.Process.Kill()
		t.Fatal("helper printed no handle")
	}
	cmd.Process.Kill() // the control plane crashes
	cmd.Wait()

	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if n := len(d.ClusterProcesses(h)); n != 2 {
		t.Fatalf("%d JVMs after the crash, want 2 (JM + TM)", n)
	}
	alive, err := d.Adopt(ctx, h)
	if err != nil || !alive {
		t.Fatalf("adopt after crash = %v, %v", alive, err)
	}
	stopped, err := d.Sweep(ctx, nil)
	if err != nil || len(stopped) != 1 {
		t.Fatalf("sweep = %v, %v", stopped, err)
	}
	if n := len(d.ClusterProcesses(h)); n != 0 {
		t.Fatalf("%d JVMs survive the sweep", n)
	}
}
