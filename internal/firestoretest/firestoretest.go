// Package firestoretest runs tests against the Firestore emulator: it
// starts one for a test binary unless FIRESTORE_EMULATOR_HOST names a
// running one, and hands each test a client on a project of its own.
//
// Use it from TestMain:
//
//	func TestMain(m *testing.M) { firestoretest.Main(m) }
//
// Tests that need the emulator fail, never skip, when there is none.
package firestoretest

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"cloud.google.com/go/firestore"
	"google.golang.org/api/option"
)

// EnvHost is the variable the Firestore client library reads to talk to an
// emulator instead of Google.
const EnvHost = "FIRESTORE_EMULATOR_HOST"

const (
	startTimeout = 90 * time.Second
	stopTimeout  = 10 * time.Second
)

const howTo = `the Firestore emulator is needed. Either:
  - start one and export its address: eval "$(bash .ci/firestore-emulator.sh start)"
    (bash .ci/firestore-emulator.sh stop to end it), or
  - have gcloud on PATH with the emulator and Java 21 installed (17 runs, but
    the emulator warns that its support ends), and the tests start one
    themselves: apt-get install google-cloud-cli
    google-cloud-cli-firestore-emulator openjdk-21-jre-headless
    (the first two from Google's Cloud SDK apt repository).`

const shortHowTo = `run eval "$(bash .ci/firestore-emulator.sh start)" or install gcloud's Firestore emulator and Java 21`

// startErr is why Main could not provide an emulator; set once before the
// tests run.
var startErr error

// Main runs the tests of a package with an emulator and exits. It uses the
// emulator FIRESTORE_EMULATOR_HOST names if set; otherwise it starts one
// with gcloud on a free local port, points FIRESTORE_EMULATOR_HOST at it
// and stops it after the tests. If it cannot, it still runs the tests
// (Client fails those that need the emulator) and exits non-zero.
func Main(m *testing.M) {
	os.Exit(run(m))
}

func run(m *testing.M) int {
	if os.Getenv(EnvHost) != "" {
		return m.Run()
	}
	emu, err := start()
	if err != nil {
		startErr = err
		fmt.Fprintf(os.Stderr, "FAIL: firestoretest: %v\n%s\n", err, howTo)
		m.Run()
		return 1
	}
	defer emu.stop()
	os.Setenv(EnvHost, emu.host)
	return m.Run()
}

// Client returns a client of the emulator on a new project, so the test
// sees no data but its own and may run in parallel with others, in this
// binary or another sharing the emulator. The project's data is deleted
// and the client closed when the test ends. It fails the test if there is
// no emulator.
func Client(t testing.TB, opts ...option.ClientOption) *firestore.Client {
	t.Helper()
	return Clients(t, 1, opts...)[0]
}

// Clients returns n clients of the emulator on one new project: n
// instances of an app sharing a database, each with its own connection.
// Otherwise it is like Client.
func Clients(t testing.TB, n int, opts ...option.ClientOption) []*firestore.Client {
	t.Helper()
	project := Project(t) // its cleanup runs after the clients'
	cs := make([]*firestore.Client, n)
	for i := range cs {
		c, err := firestore.NewClient(context.Background(), project, opts...)
		if err != nil {
			t.Fatalf("firestore client for the emulator at %s: %v", os.Getenv(EnvHost), err)
		}
		t.Cleanup(func() {
			if err := c.Close(); err != nil {
				t.Errorf("close firestore client: %v", err)
			}
		})
		cs[i] = c
	}
	return cs
}

// Project returns a new project on the emulator for code that makes its
// own client (an App built from its configuration, say), and deletes its
// data when the test ends. It fails the test if there is no emulator.
func Project(t testing.TB) string {
	t.Helper()
	host := emulatorHost(t)
	project := newProject(t)
	t.Cleanup(func() {
		if err := reset(host, project); err != nil {
			t.Logf("clear emulator project %s: %v", project, err)
		}
	})
	return project
}

// emulatorHost returns the emulator's address, or fails the test.
func emulatorHost(t testing.TB) string {
	t.Helper()
	host := os.Getenv(EnvHost)
	if host == "" {
		if startErr != nil {
			t.Fatalf("no Firestore emulator: %v; %s", startErr, shortHowTo)
		}
		t.Fatalf("no Firestore emulator: %s is not set and the package's TestMain does not call firestoretest.Main; %s", EnvHost, shortHowTo)
	}
	return host
}

func newProject(t testing.TB) string {
	b := make([]byte, 8)
	if _, err := rand.Read(b); err != nil {
		t.Fatalf("project id: %v", err)
	}
	return "test-" + hex.EncodeToString(b)
}

// reset deletes every document of project, which frees the emulator's
// memory when many test binaries share it.
func reset(host, project string) error {
	u := "http://" + host + "/emulator/v1/projects/" + project + "/databases/(default)/documents"
	req, err := http.NewRequest(http.MethodDelete, u, nil)
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("DELETE %s: %s", u, resp.Status)
	}
	return nil
}

// emulator is a running gcloud emulator process group.
type emulator struct {
	host     string
	cmd      *exec.Cmd
	exited   chan struct{} // closed when the gcloud process has exited
	out      *tail
	watchdog io.WriteCloser
}

// start launches the emulator and waits until it answers.
func start() (*emulator, error) {
	gcloud, err := exec.LookPath("gcloud")
	if err != nil {
		return nil, fmt.Errorf("%s is not set and gcloud is not on PATH", EnvHost)
	}
	host, err := freeHostPort()
	if err != nil {
		return nil, fmt.Errorf("pick a port for the emulator: %w", err)
	}
	e := &emulator{host: host, exited: make(chan struct{}), out: &tail{max: 16 << 10}}
	e.cmd = exec.Command(gcloud, "emulators", "firestore", "start", "--host-port="+host)
	e.cmd.Stdout, e.cmd.Stderr = e.out, e.out
	// gcloud starts bash which starts java: a process group of their own
	// lets one signal reach them all.
	e.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := e.cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", strings.Join(e.cmd.Args, " "), err)
	}
	go func() {
		e.cmd.Wait()
		close(e.exited)
	}()
	e.startWatchdog()

	if err := e.waitReady(); err != nil {
		e.stop()
		return nil, fmt.Errorf("firestore emulator at %s: %w\n%s", host, err, e.out.String())
	}
	return e, nil
}

// startWatchdog starts a shell that kills the emulator's process group
// when its standard input closes without "stop": that happens when the
// test binary dies without running its cleanup (a test timeout panics),
// and keeps the emulator from outliving it.
func (e *emulator) startWatchdog() {
	cmd := exec.Command("sh", "-c", `read -r line; [ "$line" = stop ] || kill -KILL "-$1"`, "watchdog", fmt.Sprint(e.cmd.Process.Pid))
	w, err := cmd.StdinPipe()
	if err != nil {
		return
	}
	if err := cmd.Start(); err != nil {
		return
	}
	go cmd.Wait()
	e.watchdog = w
}

func (e *emulator) waitReady() error {
	client := &http.Client{Timeout: time.Second}
	deadline := time.Now().Add(startTimeout)
	for time.Now().Before(deadline) {
		resp, err := client.Get("http://" + e.host + "/")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		select {
		case <-e.exited:
			return fmt.Errorf("gcloud exited before the emulator was ready (%v)", e.cmd.ProcessState)
		case <-time.After(200 * time.Millisecond):
		}
	}
	return fmt.Errorf("not ready after %v", startTimeout)
}

// stop ends the emulator's process group: politely, then by force.
func (e *emulator) stop() {
	if e.watchdog != nil {
		io.WriteString(e.watchdog, "stop\n")
		e.watchdog.Close()
	}
	pgid := -e.cmd.Process.Pid
	syscall.Kill(pgid, syscall.SIGTERM)
	select {
	case <-e.exited:
	case <-time.After(stopTimeout):
	}
	// The java grandchild may outlive gcloud.
	if err := syscall.Kill(pgid, syscall.SIGKILL); err != nil && !errors.Is(err, syscall.ESRCH) {
		fmt.Fprintf(os.Stderr, "firestoretest: kill emulator process group %d: %v\n", -pgid, err)
	}
	<-e.exited
}

func freeHostPort() (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer l.Close()
	return l.Addr().String(), nil
}

// tail keeps the last max bytes written to it.
type tail struct {
	mu  sync.Mutex
	max int
	b   []byte
}

func (t *tail) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.b = append(t.b, p...)
	if over := len(t.b) - t.max; over > 0 {
		t.b = bytes.Clone(t.b[over:])
	}
	return len(p), nil
}

func (t *tail) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return string(t.b)
}
