package firestoretest

import (
	"io"
	"net"
	"os"
	"sync"
	"testing"
)

// Outage stands between clients and the emulator and can cut them off:
// while it is down, every connection is closed and new ones are refused,
// as when Firestore is unreachable.
type Outage struct {
	ln     net.Listener
	target string

	mu    sync.Mutex
	down  bool
	conns map[net.Conn]struct{}
}

// NewOutage starts an Outage in front of the emulator, up.
func NewOutage(t testing.TB) *Outage {
	t.Helper()
	target := os.Getenv(EnvHost)
	if target == "" {
		t.Fatalf("no Firestore emulator: %s", shortHowTo)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	o := &Outage{ln: ln, target: target, conns: map[net.Conn]struct{}{}}
	go o.serve()
	t.Cleanup(func() {
		_ = ln.Close()
		o.Down()
	})
	return o
}

// Addr is the Outage's address: set FIRESTORE_EMULATOR_HOST to it for
// the clients that should go through it.
func (o *Outage) Addr() string { return o.ln.Addr().String() }

// Down cuts every connection and refuses new ones.
func (o *Outage) Down() {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.down = true
	for c := range o.conns {
		_ = c.Close()
	}
	clear(o.conns)
}

// Up lets connections through again.
func (o *Outage) Up() {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.down = false
}

func (o *Outage) serve() {
	for {
		c, err := o.ln.Accept()
		if err != nil {
			return
		}
		go o.relay(c)
	}
}

func (o *Outage) relay(c net.Conn) {
	o.mu.Lock()
	if o.down {
		o.mu.Unlock()
		_ = c.Close()
		return
	}
	o.mu.Unlock()
	up, err := net.Dial("tcp", o.target)
	if err != nil {
		_ = c.Close()
		return
	}
	o.mu.Lock()
	if o.down {
		o.mu.Unlock()
		_ = c.Close()
		_ = up.Close()
		return
	}
	o.conns[c], o.conns[up] = struct{}{}, struct{}{}
	o.mu.Unlock()
	go func() { _, _ = io.Copy(up, c); _ = up.Close() }()
	_, _ = io.Copy(c, up)
	_ = c.Close()
}
