package config

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"
)

func env(m map[string]string) func(string) string { return func(k string) string { return m[k] } }

func TestLoadPrecedence(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "t.yaml")
	if err := os.WriteFile(file, []byte("sip_listen: 127.0.0.1:5070\nhttp_listen: 127.0.0.1:9000\nrealm: fromfile\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	c, err := Load([]string{"--config", file, "--http-listen", "127.0.0.1:9100"},
		env(map[string]string{"TRUNKLINE_HTTP_LISTEN": "127.0.0.1:9200", "TRUNKLINE_REALM": "fromenv", "TRUNKLINE_ADMIN_TOKEN": "tok", "TRUNKLINE_DRAIN_TIMEOUT": "5s"}))
	if err != nil {
		t.Fatal(err)
	}
	if c.SIPListen != "127.0.0.1:5070" {
		t.Errorf("file value lost: %q", c.SIPListen)
	}
	if c.HTTPListen != "127.0.0.1:9100" {
		t.Errorf("flag must beat env and file: %q", c.HTTPListen)
	}
	if c.Realm != "fromenv" {
		t.Errorf("env must beat file: %q", c.Realm)
	}
	if c.AdminToken != "tok" || c.DrainTimeout != 5*time.Second {
		t.Errorf("token %q drain %v", c.AdminToken, c.DrainTimeout)
	}
	if c.DataDir != "./data" {
		t.Errorf("default lost: %q", c.DataDir)
	}
}

func TestLoadErrorsNameField(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.yaml")
	os.WriteFile(bad, []byte("sip_listn: 1\n"), 0o600)
	tests := []struct {
		name  string
		args  []string
		env   map[string]string
		field string
	}{
		{"bad sip listen", []string{"--sip-listen", "nope"}, nil, "sip_listen"},
		{"bad port", []string{"--http-listen", "127.0.0.1:99999"}, nil, "http_listen"},
		{"rtp no dash", []string{"--rtp-ports", "10000"}, nil, "rtp_ports"},
		{"rtp reversed", []string{"--rtp-ports", "20000-10000"}, nil, "rtp_ports"},
		{"rtp low", []string{"--rtp-ports", "80-90"}, nil, "rtp_ports"},
		{"external ip", []string{"--external-ip", "example.com"}, nil, "external_ip"},
		{"log level", nil, map[string]string{"TRUNKLINE_LOG_LEVEL": "loud"}, "log_level"},
		{"log format", []string{"--log-format", "xml"}, nil, "log_format"},
		{"drain", []string{"--drain-timeout", "soon"}, nil, "drain_timeout"},
		{"rtp timeout", []string{"--rtp-timeout", "later"}, nil, "rtp_timeout"},
		{"rtp timeout too short", []string{"--rtp-timeout", "10ms"}, nil, "rtp_timeout"},
		{"tls half", []string{"--tls-cert", "a.pem"}, nil, "tls_cert"},
		{"unknown yaml key", []string{"--config", bad}, nil, "config"},
		{"missing file", []string{"--config", filepath.Join(dir, "none.yaml")}, nil, "config"},
		{"stray arg", []string{"extra"}, nil, "arguments"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Load(tt.args, env(tt.env))
			var ce *Error
			if !errors.As(err, &ce) {
				t.Fatalf("want *config.Error naming %s, got %v", tt.field, err)
			}
			if ce.Field != tt.field {
				t.Fatalf("field %q, want %q (%v)", ce.Field, tt.field, err)
			}
		})
	}
}

func TestDefaultsValid(t *testing.T) {
	c := Defaults()
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
}
