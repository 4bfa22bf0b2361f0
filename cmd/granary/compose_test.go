package main

import (
	"context"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/compose-spec/compose-go/v2/loader"
	"github.com/compose-spec/compose-go/v2/types"

	"github.com/granary-fs/granary/internal/hadoopconf"
)

// loadCompose loads docker-compose.yml as `docker compose` does and returns
// it with its absolute path.
func loadCompose(t *testing.T) (*types.Project, string) {
	t.Helper()
	path, _ := filepath.Abs("../../docker-compose.yml")
	project, err := loader.LoadWithContext(context.Background(), types.ConfigDetails{
		WorkingDir: filepath.Dir(path), ConfigFiles: []types.ConfigFile{{Filename: path}}, Environment: types.Mapping{},
	}, func(o *loader.Options) { o.SetProjectName("granary", true) })
	if err != nil {
		t.Fatalf("loading docker-compose.yml: %v", err)
	}
	return project, path
}

// TestComposeFile loads docker-compose.yml with the compose specification's
// own library (there is no Docker engine here) and checks what `docker
// compose up` would run: the services, images, commands (each a real
// granary command line with valid flags), ports, volumes, health checks and
// start-up order.
func TestComposeFile(t *testing.T) {
	project, path := loadCompose(t)
	var names []string
	for name := range project.Services {
		names = append(names, name)
	}
	slices.Sort(names)
	want := []string{"coordinator", "datanode1", "datanode2", "datanode3", "issuer", "metadata", "nats", "postgres", "secrets"}
	if !slices.Equal(names, want) {
		t.Fatalf("services %v, want %v", names, want)
	}
	pg := project.Services["postgres"]
	if !strings.HasPrefix(pg.Image, "postgres:") || pg.HealthCheck == nil || !hasVolume(pg, "pgdata", "/var/lib/postgresql/data") {
		t.Fatalf("postgres service: image %q, health check %v, volumes %+v", pg.Image, pg.HealthCheck, pg.Volumes)
	}
	nats := project.Services["nats"]
	if !slices.Contains(nats.Command, "-js") || !slices.Contains(nats.Command, "-sd") || nats.HealthCheck == nil ||
		!slices.Contains(nats.Command, "/secrets/nats-server.conf") || !hasVolume(nats, "secrets", "/secrets") {
		t.Fatalf("nats service: command %v (JetStream with a store dir and the secrets' config wanted), health check %v", nats.Command, nats.HealthCheck)
	}
	// The one-shot secrets service fills the secrets volume first.
	sec := project.Services["secrets"]
	if err := validateCommand(sec.Command); err != nil || sec.Command[0] != "secure-init" || !hasVolume(sec, "secrets", "/secrets") || sec.Restart != "no" {
		t.Fatalf("secrets service: %v %v restart %q volumes %+v", sec.Command, err, sec.Restart, sec.Volumes)
	}
	ports := map[string]string{"issuer": "9871", "metadata": "9870", "coordinator": "9880", "datanode1": "9864", "datanode2": "9865", "datanode3": "9866"}
	dependsOn := map[string][]string{"issuer": {"secrets"}, "metadata": {"issuer", "nats", "postgres"}, "coordinator": {"metadata"}, "datanode1": {"coordinator"}, "datanode2": {"coordinator"}, "datanode3": {"coordinator"}}
	for name, port := range ports {
		s := project.Services[name]
		if s.Build == nil || s.Build.Context != filepath.Dir(path) || s.Image != "granary:dev" || s.Restart != "unless-stopped" {
			t.Fatalf("%s: build %+v image %q restart %q", name, s.Build, s.Image, s.Restart)
		}
		if name != "issuer" {
			// ./conf is the services' HADOOP_CONF_DIR, and it holds a
			// configuration they read.
			mounted := false
			for _, v := range s.Volumes {
				mounted = mounted || v.Type == types.VolumeTypeBind && v.Source == filepath.Join(filepath.Dir(path), "conf") && v.Target == "/etc/hadoop/conf" && v.ReadOnly
			}
			if dir := s.Environment["HADOOP_CONF_DIR"]; !mounted || dir == nil || *dir != "/etc/hadoop/conf" {
				t.Fatalf("%s: ./conf mounted read-only at /etc/hadoop/conf %v, HADOOP_CONF_DIR %v", name, mounted, dir)
			}
			hc := hadoopconf.New()
			if err := hc.AddFile(filepath.Join(filepath.Dir(path), "conf", "hdfs-site.xml")); err != nil || hc.Value("dfs.heartbeat.interval") == "" {
				t.Fatalf("conf/hdfs-site.xml: %v", err)
			}
		}
		if err := validateCommand(s.Command); err != nil {
			t.Fatalf("%s runs `granary %s`: %v", name, strings.Join(s.Command, " "), err)
		}
		if len(s.Ports) != 1 || s.Ports[0].Published != port || s.Ports[0].Target != uint32(mustAtoi(port)) {
			t.Fatalf("%s ports %+v, want %s:%s", name, s.Ports, port, port)
		}
		if !slices.Contains(s.Command, ":"+port) {
			t.Fatalf("%s does not listen on its published port %s: %v", name, port, s.Command)
		}
		hc := s.HealthCheck
		if hc == nil || len(hc.Test) < 3 || hc.Test[0] != "CMD" || hc.Test[1] != "/usr/local/bin/granary" {
			t.Fatalf("%s health check %+v", name, hc)
		}
		if err := validateCommand(hc.Test[2:]); err != nil || !strings.Contains(hc.Test[3], ":"+port+"/readyz") {
			t.Fatalf("%s health check %v: %v", name, hc.Test, err)
		}
		var deps []string
		for dep, d := range s.DependsOn {
			want := types.ServiceConditionHealthy
			if dep == "secrets" {
				want = types.ServiceConditionCompletedSuccessfully
			}
			if d.Condition != want {
				t.Fatalf("%s depends on %s with condition %q", name, dep, d.Condition)
			}
			deps = append(deps, dep)
		}
		slices.Sort(deps)
		if !slices.Equal(deps, dependsOn[name]) {
			t.Fatalf("%s depends on %v, want %v", name, deps, dependsOn[name])
		}
		if strings.HasPrefix(name, "datanode") && !hasVolume(s, name, "/data") {
			t.Fatalf("%s volumes %+v", name, s.Volumes)
		}
		// Secured: every granary service runs in token mode over HTTPS,
		// and all but the issuer speak to NATS with their own nkey.
		if !hasVolume(s, "secrets", "/secrets") || !slices.Contains(s.Command, "/secrets/tls/cert.pem") || !strings.HasPrefix(hc.Test[3], "https://") {
			t.Fatalf("%s is not secured: %v", name, s.Command)
		}
		if name != "issuer" && (!slices.Contains(s.Command, "token") || !slices.Contains(s.Command, "-nats-nkey-file")) {
			t.Fatalf("%s runs without token authentication or an nkey: %v", name, s.Command)
		}
	}
	if env := project.Services["metadata"].Environment["GRANARY_DATABASE_URL"]; env == nil || !strings.Contains(*env, "@postgres:5432/") {
		t.Fatalf("metadata's database URL %v", env)
	}
	for _, v := range []string{"secrets", "pgdata", "natsdata", "datanode1", "datanode2", "datanode3"} {
		if _, ok := project.Volumes[v]; !ok {
			t.Fatalf("named volume %s is not declared", v)
		}
	}
	// A command that is not a granary command line is caught.
	if err := validateCommand([]string{"datanode", "-no-such-flag"}); err == nil {
		t.Fatal("validateCommand accepted an unknown flag")
	}
}

func hasVolume(s types.ServiceConfig, source, target string) bool {
	for _, v := range s.Volumes {
		if v.Type == types.VolumeTypeVolume && v.Source == source && v.Target == target {
			return true
		}
	}
	return false
}

func mustAtoi(s string) int {
	n, err := strconv.Atoi(s)
	if err != nil {
		panic(err)
	}
	return n
}
