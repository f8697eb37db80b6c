// Package config is the process configuration of Trunkline: where it listens, where it
// keeps data, how it logs. Telephony configuration (extensions, trunks, rules) is not
// here: it lives in the store and changes through the API.
//
// Precedence: command-line flags > TRUNKLINE_* environment variables > YAML file >
// Defaults(). Unknown YAML keys are rejected.
package config

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
)

// Config is the whole process configuration. The zero value of a field means "use the
// default" only where Defaults says so; Load always starts from Defaults.
type Config struct {
	// DataDir holds the SQLite database and the generated admin token. Default "./data".
	DataDir string `yaml:"data_dir"`
	// SIPListen is HOST:PORT for SIP over UDP and TCP. Default "0.0.0.0:5060".
	SIPListen string `yaml:"sip_listen"`
	// SIPTLSListen is HOST:PORT for SIP over TLS; used only with TLSCert and TLSKey.
	// Default "0.0.0.0:5061".
	SIPTLSListen string `yaml:"sip_tls_listen"`
	TLSCert      string `yaml:"tls_cert"`
	TLSKey       string `yaml:"tls_key"`
	// HTTPListen is HOST:PORT of the REST API, /metrics and the console.
	// Default "127.0.0.1:8080".
	HTTPListen string `yaml:"http_listen"`
	// RTPPorts is the inclusive "LOW-HIGH" range for relayed media. Default "10000-20000".
	RTPPorts string `yaml:"rtp_ports"`
	// ExternalIP is written into SDP and Contact instead of the listen address (NAT).
	// Empty = the SIP listen address, or the first non-loopback address when that is a
	// wildcard.
	ExternalIP string `yaml:"external_ip"`
	// Realm of digest challenges. Default "trunkline".
	Realm string `yaml:"realm"`
	// LogLevel is debug, info, warn or error. Default info.
	LogLevel string `yaml:"log_level"`
	// LogFormat is text or json. Default text.
	LogFormat string `yaml:"log_format"`
	// DrainTimeout bounds how long SIGTERM waits for active calls. Default 30s.
	DrainTimeout time.Duration `yaml:"drain_timeout"`
	// RTPTimeout hangs up an answered call whose relayed RTP stopped both ways for
	// this long (not while on hold; never for calls that had no RTP). Default 60s;
	// 0 turns it off.
	RTPTimeout time.Duration `yaml:"rtp_timeout"`
	// AdminToken authorises the API. Only from TRUNKLINE_ADMIN_TOKEN (never a flag: it
	// would show in ps); when empty, one is generated into DataDir/admin.token.
	AdminToken string `yaml:"-"`
}

// Defaults returns the configuration used when nothing is set.
func Defaults() Config {
	return Config{
		DataDir:      "./data",
		SIPListen:    "0.0.0.0:5060",
		SIPTLSListen: "0.0.0.0:5061",
		HTTPListen:   "127.0.0.1:8080",
		RTPPorts:     "10000-20000",
		Realm:        "trunkline",
		LogLevel:     "info",
		LogFormat:    "text",
		DrainTimeout: 30 * time.Second,
		RTPTimeout:   60 * time.Second,
	}
}

// Error names the field that is wrong.
type Error struct {
	Field  string
	Reason string
}

func (e *Error) Error() string { return fmt.Sprintf("config: %s: %s", e.Field, e.Reason) }

// RTPRange parses RTPPorts.
func (c *Config) RTPRange() (low, high int, err error) {
	lo, hi, ok := strings.Cut(c.RTPPorts, "-")
	if !ok {
		return 0, 0, &Error{"rtp_ports", "want LOW-HIGH, e.g. 10000-20000"}
	}
	low, err1 := strconv.Atoi(strings.TrimSpace(lo))
	high, err2 := strconv.Atoi(strings.TrimSpace(hi))
	switch {
	case err1 != nil || err2 != nil:
		return 0, 0, &Error{"rtp_ports", "ports must be numbers"}
	case low < 1024 || high > 65535:
		return 0, 0, &Error{"rtp_ports", "ports must be within 1024-65535"}
	case high-low < 3:
		return 0, 0, &Error{"rtp_ports", "range must hold at least 4 ports (two RTP/RTCP pairs)"}
	}
	return low, high, nil
}

// Validate checks every field and returns the first problem, naming the field.
func (c *Config) Validate() error {
	if c.DataDir == "" {
		return &Error{"data_dir", "required"}
	}
	for _, f := range []struct{ name, v string }{
		{"sip_listen", c.SIPListen}, {"http_listen", c.HTTPListen}, {"sip_tls_listen", c.SIPTLSListen},
	} {
		if err := checkHostPort(f.v); err != nil {
			return &Error{f.name, err.Error()}
		}
	}
	if (c.TLSCert == "") != (c.TLSKey == "") {
		return &Error{"tls_cert", "tls_cert and tls_key go together"}
	}
	if _, _, err := c.RTPRange(); err != nil {
		return err
	}
	if c.ExternalIP != "" {
		if _, err := netip.ParseAddr(c.ExternalIP); err != nil {
			return &Error{"external_ip", "not an IP address"}
		}
	}
	if c.Realm == "" {
		return &Error{"realm", "required"}
	}
	switch c.LogLevel {
	case "debug", "info", "warn", "error":
	default:
		return &Error{"log_level", "want debug, info, warn or error"}
	}
	switch c.LogFormat {
	case "text", "json":
	default:
		return &Error{"log_format", "want text or json"}
	}
	if c.DrainTimeout < 0 {
		return &Error{"drain_timeout", "must not be negative"}
	}
	if c.RTPTimeout < 0 || (c.RTPTimeout > 0 && c.RTPTimeout < time.Second) {
		return &Error{"rtp_timeout", "0 (off) or at least 1s"}
	}
	return nil
}

func checkHostPort(v string) error {
	host, port, err := net.SplitHostPort(v)
	if err != nil {
		return errors.New("want HOST:PORT")
	}
	if host != "" {
		if _, err := netip.ParseAddr(host); err != nil && host != "localhost" {
			return errors.New("host must be an IP address")
		}
	}
	p, err := strconv.Atoi(port)
	if err != nil || p < 0 || p > 65535 {
		return errors.New("port must be 0-65535")
	}
	return nil
}

// Load builds the configuration from args (without the program and subcommand
// names), the environment (getenv) and an optional YAML file named by --config or
// TRUNKLINE_CONFIG. It validates the result.
func Load(args []string, getenv func(string) string) (Config, error) {
	c := Defaults()
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	var file string
	fs.StringVar(&file, "config", "", "YAML configuration file")
	type binding struct {
		flag, env string
		dst       *string
		usage     string
	}
	var fromFlags Config
	var drain, rtpTimeout string
	binds := []binding{
		{"data-dir", "TRUNKLINE_DATA_DIR", &fromFlags.DataDir, "data directory (database, admin token)"},
		{"sip-listen", "TRUNKLINE_SIP_LISTEN", &fromFlags.SIPListen, "SIP UDP+TCP HOST:PORT"},
		{"sip-tls-listen", "TRUNKLINE_SIP_TLS_LISTEN", &fromFlags.SIPTLSListen, "SIP TLS HOST:PORT"},
		{"tls-cert", "TRUNKLINE_TLS_CERT", &fromFlags.TLSCert, "TLS certificate file (enables SIP over TLS)"},
		{"tls-key", "TRUNKLINE_TLS_KEY", &fromFlags.TLSKey, "TLS key file"},
		{"http-listen", "TRUNKLINE_HTTP_LISTEN", &fromFlags.HTTPListen, "API, console and /metrics HOST:PORT"},
		{"rtp-ports", "TRUNKLINE_RTP_PORTS", &fromFlags.RTPPorts, "RTP port range LOW-HIGH"},
		{"external-ip", "TRUNKLINE_EXTERNAL_IP", &fromFlags.ExternalIP, "address written into SDP/Contact (NAT)"},
		{"realm", "TRUNKLINE_REALM", &fromFlags.Realm, "digest realm"},
		{"log-level", "TRUNKLINE_LOG_LEVEL", &fromFlags.LogLevel, "debug|info|warn|error"},
		{"log-format", "TRUNKLINE_LOG_FORMAT", &fromFlags.LogFormat, "text|json"},
		{"drain-timeout", "TRUNKLINE_DRAIN_TIMEOUT", &drain, "how long SIGTERM waits for calls, e.g. 30s"},
		{"rtp-timeout", "TRUNKLINE_RTP_TIMEOUT", &rtpTimeout, "hang up calls whose RTP stopped this long, e.g. 60s; 0 = off"},
	}
	for _, b := range binds {
		fs.StringVar(b.dst, b.flag, "", b.usage+" (env "+b.env+")")
	}
	if err := fs.Parse(args); err != nil {
		return c, err
	}
	if fs.NArg() > 0 {
		return c, &Error{"arguments", fmt.Sprintf("unexpected %q", fs.Arg(0))}
	}
	if file == "" {
		file = getenv("TRUNKLINE_CONFIG")
	}
	if file != "" {
		if err := loadFile(&c, file); err != nil {
			return c, err
		}
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	// Resolve each field: flag if given, else env if set, else what file/defaults said.
	dst := map[string]*string{
		"data-dir": &c.DataDir, "sip-listen": &c.SIPListen, "sip-tls-listen": &c.SIPTLSListen,
		"tls-cert": &c.TLSCert, "tls-key": &c.TLSKey, "http-listen": &c.HTTPListen,
		"rtp-ports": &c.RTPPorts, "external-ip": &c.ExternalIP, "realm": &c.Realm,
		"log-level": &c.LogLevel, "log-format": &c.LogFormat,
	}
	var drainStr, rtpStr string
	for _, b := range binds {
		var v string
		var ok bool
		if set[b.flag] {
			v, ok = *b.dst, true
		} else if e := getenv(b.env); e != "" {
			v, ok = e, true
		}
		if !ok {
			continue
		}
		switch b.flag {
		case "drain-timeout":
			drainStr = v
			continue
		case "rtp-timeout":
			rtpStr = v
			continue
		}
		*dst[b.flag] = v
	}
	if drainStr != "" {
		d, err := time.ParseDuration(drainStr)
		if err != nil {
			return c, &Error{"drain_timeout", "not a duration such as 30s"}
		}
		c.DrainTimeout = d
	}
	if rtpStr != "" {
		d, err := time.ParseDuration(rtpStr)
		if err != nil {
			return c, &Error{"rtp_timeout", "not a duration such as 60s"}
		}
		c.RTPTimeout = d
	}
	c.AdminToken = getenv("TRUNKLINE_ADMIN_TOKEN")
	return c, c.Validate()
}

func loadFile(c *Config, path string) error {
	f, err := os.Open(path)
	if err != nil {
		return &Error{"config", err.Error()}
	}
	defer f.Close()
	dec := yaml.NewDecoder(f)
	dec.KnownFields(true)
	if err := dec.Decode(c); err != nil && !errors.Is(err, io.EOF) { // io.EOF: empty file
		return &Error{"config", fmt.Sprintf("%s: %v", path, err)}
	}
	return nil
}
