package registrytest

import (
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/unboxlab/unbox/internal/kit"
	"github.com/unboxlab/unbox/internal/kit/kittest"
)

// Bin is Debian's registry binary.
const Bin = "/usr/bin/docker-registry"

// NeedPrograms is the need for the peer programs a test runs: the
// registry, skopeo, podman, umoci.
func NeedPrograms(names ...string) kit.Need {
	return kit.Need{
		Name: strings.Join(names, ", "),
		Check: func() error {
			for _, n := range names {
				if _, err := exec.LookPath(n); err != nil {
					return err
				}
			}
			return nil
		},
		Fix: "sudo apt-get install docker-registry skopeo podman umoci (.ci/run installs them)",
	}
}

// Registry is one running registry.
type Registry struct {
	Host string // 127.0.0.1:port
	Dir  string // its storage
}

// Options configure a registry.
type Options struct {
	// User and Password, if set, protect it with htpasswd (basic auth).
	User, Password string
	// Proxy makes it a pull-through mirror of the registry at this URL.
	Proxy string
}

// Start starts a registry for t and stops it (SIGINT, then SIGKILL) when
// t ends; a test without the registry binary skips, or fails under
// UNBOX_REQUIRE_PRIVILEGED=1.
func Start(t *testing.T, o Options) Registry {
	t.Helper()
	kittest.Require(t, NeedPrograms(Bin))
	dir := t.TempDir()
	r := Registry{Host: FreeAddr(t), Dir: filepath.Join(dir, "data")}
	conf := fmt.Sprintf("version: 0.1\nlog:\n  level: error\n  accesslog:\n    disabled: true\n"+
		"storage:\n  filesystem:\n    rootdirectory: %s\n  delete:\n    enabled: true\n"+
		"http:\n  addr: %s\n  secret: unbox-test\n", r.Dir, r.Host)
	if o.User != "" {
		// The registry reads bcrypt entries only (htpasswd -B); made here
		// rather than with apache2-utils' htpasswd, one package fewer.
		hash, err := bcrypt.GenerateFromPassword([]byte(o.Password), bcrypt.MinCost)
		if err != nil {
			t.Fatal(err)
		}
		pw := filepath.Join(dir, "htpasswd")
		if err := os.WriteFile(pw, []byte(o.User+":"+string(hash)+"\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		conf += fmt.Sprintf("auth:\n  htpasswd:\n    realm: unbox-test\n    path: %s\n", pw)
	}
	if o.Proxy != "" {
		conf += fmt.Sprintf("proxy:\n  remoteurl: %s\n", o.Proxy)
	}
	confPath := filepath.Join(dir, "config.yml")
	if err := os.WriteFile(confPath, []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	log, err := os.Create(filepath.Join(dir, "log"))
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(Bin, "serve", confPath)
	cmd.Stdout, cmd.Stderr = log, log
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { cmd.Wait(); log.Close(); close(done) }()
	t.Cleanup(func() {
		cmd.Process.Signal(os.Interrupt)
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			cmd.Process.Kill()
			<-done
		}
	})
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		resp, err := http.Get("http://" + r.Host + "/v2/")
		if err == nil {
			resp.Body.Close()
			return r
		}
		select {
		case <-done:
			b, _ := os.ReadFile(log.Name())
			t.Fatalf("docker-registry exited: %s", b)
		default:
		}
		if time.Now().After(deadline) {
			b, _ := os.ReadFile(log.Name())
			t.Fatalf("docker-registry did not answer on %s: %v\n%s", r.Host, err, b)
		}
	}
}

// FreeAddr is a loopback address with a port nothing listens on now.
func FreeAddr(t testing.TB) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}
