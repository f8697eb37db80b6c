package media

import (
	"fmt"
	"log/slog"
	"net/netip"
	"time"
)

// Defaults for zero Config fields.
const (
	DefaultPortMin    = 10000
	DefaultPortMax    = 20000
	DefaultQuarantine = 10 * time.Second
)

// Config configures a Manager. The zero value of each field means its default;
// call Defaults before Validate.
type Config struct {
	// BindIP is the local address the RTP/RTCP sockets bind to, e.g.
	// 127.0.0.1 or 0.0.0.0. Required.
	BindIP netip.Addr
	// AdvertiseIP is the address written into SDP (c= and o=), e.g. the
	// external address behind a NAT. Zero = BindIP; required when BindIP is
	// unspecified (0.0.0.0 or ::), since "c=IN IP4 0.0.0.0" means hold.
	AdvertiseIP netip.Addr
	// PortMin and PortMax bound the RTP/RTCP ports, inclusive. RTP ports are
	// even and RTCP = RTP+1 must also be in range. 0 = 10000 and 20000.
	PortMin, PortMax int
	// Quarantine is how long a released port pair stays unused, so late
	// packets of an ended call never reach (and are never latched by) a new
	// one. 0 = 10s, which outlasts the retransmissions of a BYE on a
	// healthy network (Timer E caps at T2 = 4s); negative disables it.
	// Round-robin allocation adds to this: a pair is reused only after the
	// rest of the range has been tried.
	Quarantine time.Duration
	// Log receives latching and allocation events. nil = discard.
	Log *slog.Logger
}

// Defaults fills zero fields with their defaults.
func (c *Config) Defaults() {
	if c.PortMin == 0 {
		c.PortMin = DefaultPortMin
	}
	if c.PortMax == 0 {
		c.PortMax = DefaultPortMax
	}
	if c.Quarantine == 0 {
		c.Quarantine = DefaultQuarantine
	}
	if !c.AdvertiseIP.IsValid() {
		c.AdvertiseIP = c.BindIP
	}
	if c.Log == nil {
		c.Log = slog.New(slog.DiscardHandler)
	}
}

// Validate reports the first problem with c. Call Defaults first.
func (c *Config) Validate() error {
	switch {
	case !c.BindIP.IsValid():
		return fmt.Errorf("media: bind IP is required")
	case c.BindIP.Zone() != "":
		return fmt.Errorf("media: bind IP %s: zones are not supported", c.BindIP)
	case !c.AdvertiseIP.IsValid() || c.AdvertiseIP.IsUnspecified():
		return fmt.Errorf("media: advertise IP is required when binding to %s", c.BindIP)
	case c.AdvertiseIP.Unmap().Is4() != c.BindIP.Unmap().Is4():
		return fmt.Errorf("media: advertise IP %s and bind IP %s differ in family", c.AdvertiseIP, c.BindIP)
	case c.PortMin < 1 || c.PortMax > 65535 || c.PortMin > c.PortMax:
		return fmt.Errorf("media: bad port range %d-%d", c.PortMin, c.PortMax)
	case firstRTP(c.PortMin)+1 > c.PortMax:
		return fmt.Errorf("media: port range %d-%d holds no RTP/RTCP pair", c.PortMin, c.PortMax)
	}
	return nil
}

// firstRTP is the lowest even port >= min.
func firstRTP(min int) int { return min + min%2 }

// lastRTP is the highest even port whose RTCP port (+1) is <= max.
func lastRTP(max int) int {
	p := max - 1
	return p - p%2
}
