package deploy

import (
	"context"
	"maps"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/compose-spec/compose-go/v2/cli"
	"github.com/compose-spec/compose-go/v2/types"
)

// loadCompose reads a compose file with Compose's own loader (the machines
// have no Docker Compose), with no profile active, as `docker compose up`
// would.
func loadCompose(t *testing.T, file string) *types.Project {
	t.Helper()
	wd, err := filepath.Abs(moduleRoot)
	if err != nil {
		t.Fatal(err)
	}
	opts, err := cli.NewProjectOptions([]string{filepath.Join(wd, file)}, cli.WithWorkingDirectory(wd), cli.WithName("lindungi"))
	if err != nil {
		t.Fatal(err)
	}
	p, err := opts.LoadProject(context.Background())
	if err != nil {
		t.Fatalf("%s: %v", file, err)
	}
	return p
}

func env(s types.ServiceConfig, k string) string {
	if v := s.Environment[k]; v != nil {
		return *v
	}
	return ""
}

// What an operator's `docker compose up` starts, for both files: the
// gateway starts with no profile (the default service used to sit behind
// a profile), the simulator is off, secrets are the files `lindungi
// secrets init` writes, and on PostgreSQL only the proxy is published.
func TestComposeFiles(t *testing.T) {
	created := map[string]bool{"data_key": true, "pg_password": true, "database_url": true}
	checkCommon := func(t *testing.T, p *types.Project) types.ServiceConfig {
		gw, ok := p.Services["lindungi"]
		if !ok {
			t.Fatalf("`up` starts %v, not the gateway", slices.Sorted(maps.Keys(p.Services)))
		}
		if env(gw, "LINDUNGI_SIMULATOR") != "false" {
			t.Errorf("LINDUNGI_SIMULATOR=%q, want false (the simulator lets any operator token write as a citizen)", env(gw, "LINDUNGI_SIMULATOR"))
		}
		if !gw.ReadOnly {
			t.Error("the gateway's root file system is writable")
		}
		if env(gw, "LINDUNGI_DATA_KEY_FILE") != "/run/secrets/data_key" {
			t.Errorf("LINDUNGI_DATA_KEY_FILE=%q", env(gw, "LINDUNGI_DATA_KEY_FILE"))
		}
		for name, s := range p.Secrets {
			rel, _ := filepath.Rel(p.WorkingDir, s.File)
			if rel != filepath.Join("secrets", name) || !created[name] {
				t.Errorf("secret %s from %s: `lindungi secrets init` writes secrets/{%s}", name, rel, strings.Join(slices.Sorted(maps.Keys(created)), ","))
			}
		}
		return gw
	}

	t.Run("sqlite", func(t *testing.T) {
		p := loadCompose(t, "docker-compose.yml")
		gw := checkCommon(t, p)
		if len(gw.Ports) != 1 || gw.Ports[0].Target != 8080 {
			t.Errorf("ports %+v, want 8080", gw.Ports)
		}
		var data bool
		for _, v := range gw.Volumes {
			data = data || (v.Type == types.VolumeTypeVolume && v.Target == "/data")
		}
		if !data {
			t.Error("/data is not on a named volume")
		}
	})

	t.Run("postgres", func(t *testing.T) {
		p := loadCompose(t, "docker-compose.postgres.yml")
		gw := checkCommon(t, p)
		if gw.Deploy == nil || gw.Deploy.Replicas == nil || *gw.Deploy.Replicas < 2 {
			t.Error("fewer than two gateway replicas")
		}
		var published []string
		for name, s := range p.Services {
			if len(s.Ports) > 0 {
				published = append(published, name)
			}
		}
		sort.Strings(published)
		if strings.Join(published, ",") != "proxy" {
			t.Fatalf("services publishing ports: %v, want only the proxy", published)
		}
		proxy := p.Services["proxy"]
		if !strings.HasPrefix(proxy.Image, "caddy:") {
			t.Errorf("proxy image %s, want the official caddy image", proxy.Image)
		}
		var caddyfile string
		for _, v := range proxy.Volumes {
			if v.Target == "/etc/caddy/Caddyfile" {
				caddyfile = v.Source
			}
		}
		b, err := os.ReadFile(caddyfile)
		if err != nil {
			t.Fatalf("the proxy's Caddyfile: %v", err)
		}
		if !regexp.MustCompile(`dynamic a lindungi 8080\b`).Match(b) || !regexp.MustCompile(`(?m)^:8080 \{`).Match(b) {
			t.Errorf("the Caddyfile does not spread :8080 over every address of the lindungi service:\n%s", b)
		}
		var subnet string
		for _, n := range p.Networks {
			for _, pool := range n.Ipam.Config {
				subnet = pool.Subnet
			}
		}
		if subnet == "" || env(gw, "LINDUNGI_TRUSTED_PROXIES") != subnet {
			t.Errorf("trusted proxies %q, network %q: the proxy's X-Forwarded-For would be ignored or anyone's trusted", env(gw, "LINDUNGI_TRUSTED_PROXIES"), subnet)
		}
		if env(gw, "LINDUNGI_DATABASE_URL_FILE") != "/run/secrets/database_url" {
			t.Errorf("LINDUNGI_DATABASE_URL_FILE=%q", env(gw, "LINDUNGI_DATABASE_URL_FILE"))
		}
	})
}
