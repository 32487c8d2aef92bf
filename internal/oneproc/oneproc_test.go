package oneproc

import (
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"testing"
)

// procsAfterInit is GOMAXPROCS right after the package's initialisation
// (this file's init runs after oneproc.go's), before any test called
// Restore: the test can run more than once (-count).
var procsAfterInit int

func init() { procsAfterInit = runtime.GOMAXPROCS(0) }

// TestOneProcessor: the package's initialisation left the process on one
// processor (GOMAXPROCS is not set for this test), and Restore gives it
// the runtime's default back.
func TestOneProcessor(t *testing.T) {
	if _, set := os.LookupEnv("GOMAXPROCS"); set {
		t.Skip("GOMAXPROCS is set in the environment (TestEnvironmentWins covers that)")
	}
	if n := procsAfterInit; n != 1 {
		t.Fatalf("GOMAXPROCS is %d after initialisation, want 1", n)
	}
	Restore()
	Restore() // a second call changes nothing
	runtime.SetDefaultGOMAXPROCS()
	want := runtime.GOMAXPROCS(0)
	Restore()
	if n := runtime.GOMAXPROCS(0); n != want {
		t.Errorf("GOMAXPROCS is %d after Restore, want the default %d", n, want)
	}
}

// TestEnvironmentWins: with GOMAXPROCS set, initialisation leaves it
// alone (checked in a child process of this test binary).
func TestEnvironmentWins(t *testing.T) {
	if os.Getenv("ONEPROC_CHILD") == "1" {
		if n := runtime.GOMAXPROCS(0); n != 3 {
			t.Fatalf("GOMAXPROCS is %d, want 3 from the environment", n)
		}
		return
	}
	c := exec.Command(os.Args[0], "-test.run=^TestEnvironmentWins$")
	c.Env = append(os.Environ(), "ONEPROC_CHILD=1", "GOMAXPROCS="+strconv.Itoa(3))
	if out, err := c.CombinedOutput(); err != nil {
		t.Fatalf("child: %v\n%s", err, out)
	}
}
