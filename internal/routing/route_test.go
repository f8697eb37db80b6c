package routing

import (
	"testing"

	"github.com/trunkline/trunkline/internal/model"
)

func testSnapshot() *Snapshot {
	return NewSnapshot(Config{
		Extensions: []model.Extension{
			// Without a dial plan every +number is international, which default
			// permissions refuse: these two may.
			{Number: "1001", CallerID: "+4930100100", Permissions: []string{"internal", "national", "international"}},
			{Number: "1002", Permissions: []string{"internal", "international"}},
			{Number: "1003", Disabled: true},
		},
		Trunks: []model.Trunk{
			{Name: "itsp1", Kind: model.TrunkRegister, Enabled: true, DefaultOutbound: true,
				NumberFormat: model.FormatE164Plus, DefaultCallerID: "+4930100199",
				DIDs: []model.TrunkDID{{Number: "+4930100100", Extension: "1001"}, {Number: "4930100101"}, {Number: "4930100102", Extension: "1003"}}},
			{Name: "ipco", Kind: model.TrunkIP, Enabled: true,
				DIDs: []model.TrunkDID{{Number: "4930500500", Extension: "1002"}}},
			{Name: "gw", Kind: model.TrunkAcceptRegister, Enabled: true, Username: "gw1", Password: "gwsecret1"},
			{Name: "off", Kind: model.TrunkAcceptRegister, Enabled: false, Username: "gw2", Password: "gwsecret2"},
		},
	})
}

func TestRoute(t *testing.T) {
	s := testSnapshot()
	tests := []struct {
		name    string
		req     Request
		dir     string
		reject  int
		kind    TargetKind
		dest    string // extension or trunk
		number  string
		callerI string
	}{
		{"internal", Request{FromExtension: "1002", Dialed: "1001"}, "internal", 0, TargetExtension, "1001", "1001", "1002"},
		{"disabled extension", Request{FromExtension: "1002", Dialed: "1003"}, "internal", 404, "", "", "", ""},
		{"unknown short", Request{FromExtension: "1002", Dialed: "abc"}, "internal", 404, "", "", "", ""},
		{"outbound e164", Request{FromExtension: "1001", Dialed: "+442071234567"}, "outbound", 0, TargetTrunk, "itsp1", "+442071234567", "+4930100100"},
		{"outbound 00 prefix", Request{FromExtension: "1001", Dialed: "00442071234567"}, "outbound", 0, TargetTrunk, "itsp1", "+442071234567", "+4930100100"},
		{"outbound trunk default caller id", Request{FromExtension: "1002", Dialed: "+15551234567"}, "outbound", 0, TargetTrunk, "itsp1", "+15551234567", "+4930100199"},
		{"inbound DID with plus", Request{FromTrunk: "itsp1", Dialed: "4930100100", CallerNumber: "+15550001"}, "inbound", 0, TargetExtension, "1001", "1001", "+15550001"},
		{"inbound DID given with plus", Request{FromTrunk: "itsp1", Dialed: "+4930100100"}, "inbound", 0, TargetExtension, "1001", "1001", ""},
		{"inbound DID without destination", Request{FromTrunk: "itsp1", Dialed: "4930100101"}, "inbound", 404, "", "", "", ""},
		{"inbound DID to disabled extension", Request{FromTrunk: "itsp1", Dialed: "4930100102"}, "inbound", 404, "", "", "", ""},
		{"inbound DID of another trunk", Request{FromTrunk: "ipco", Dialed: "4930100100"}, "inbound", 404, "", "", "", ""},
		{"inbound unknown DID", Request{FromTrunk: "ipco", Dialed: "4999"}, "inbound", 404, "", "", "", ""},
		{"inbound ip trunk", Request{FromTrunk: "ipco", Dialed: "4930500500"}, "inbound", 0, TargetExtension, "1002", "1002", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := s.Route(tt.req)
			if d.Direction != tt.dir {
				t.Errorf("direction %q, want %q", d.Direction, tt.dir)
			}
			if d.RejectCode != tt.reject {
				t.Fatalf("reject %d (%s), want %d", d.RejectCode, d.Reason, tt.reject)
			}
			if tt.reject != 0 {
				if d.Reason == "" || len(d.Targets) != 0 {
					t.Errorf("a rejection needs a reason and no targets: %+v", d)
				}
				return
			}
			if len(d.Targets) != 1 {
				t.Fatalf("targets %+v", d.Targets)
			}
			tg := d.Targets[0]
			dest := tg.Extension
			if tg.Kind == TargetTrunk {
				dest = tg.Trunk
			}
			if tg.Kind != tt.kind || dest != tt.dest || tg.Number != tt.number || tg.CallerID != tt.callerI {
				t.Errorf("target %+v, want %s %s number %s caller id %s", tg, tt.kind, tt.dest, tt.number, tt.callerI)
			}
		})
	}
}

func TestRouteNoOutboundTrunk(t *testing.T) {
	s := NewSnapshot(Config{Extensions: []model.Extension{{Number: "1001"}}})
	d := s.Route(Request{FromExtension: "1001", Dialed: "+442071234567"})
	if d.RejectCode != 404 || d.Reason == "" {
		t.Fatalf("got %+v", d)
	}
}

func TestFormatNumber(t *testing.T) {
	tests := []struct {
		dialed, format, prefix, want string
	}{
		{"+442071234567", model.FormatE164Plus, "", "+442071234567"},
		{"00442071234567", model.FormatE164Plus, "", "+442071234567"},
		{"+442071234567", model.FormatE164, "", "442071234567"},
		{"+12125551234", model.FormatTechPrefix, "1234*", "1234*12125551234"},
		{"02071234567", model.FormatNational, "", "02071234567"},
		{"", model.FormatE164Plus, "", ""},
	}
	for _, tt := range tests {
		tr := &model.Trunk{NumberFormat: tt.format, TechPrefix: tt.prefix}
		if got := FormatNumber(tt.dialed, tr); got != tt.want {
			t.Errorf("FormatNumber(%q, %s) = %q, want %q", tt.dialed, tt.format, got, tt.want)
		}
	}
}

func TestAccounts(t *testing.T) {
	tab := NewTable()
	tab.Store(testSnapshot())
	a := Accounts{Table: tab}
	if e, ok := a.Extension("gw1"); !ok || e.Password != "gwsecret1" {
		t.Errorf("accept-register trunk account: %+v %v", e, ok)
	}
	if _, ok := a.Extension("gw2"); ok {
		t.Error("disabled trunk account must not authenticate")
	}
	if _, ok := a.Extension("1003"); ok {
		t.Error("disabled extension must not authenticate")
	}
	if n, ok := a.TrunkOfUser("gw1"); !ok || n != "gw" {
		t.Errorf("TrunkOfUser = %q %v", n, ok)
	}
	if _, ok := a.TrunkOfUser("1001"); ok {
		t.Error("an extension is not a trunk")
	}
}

func FuzzFormatNumber(f *testing.F) {
	for _, s := range []string{"+442071234567", "00", "0", "+", "1234*5", ""} {
		f.Add(s, "e164_plus")
	}
	f.Fuzz(func(t *testing.T, dialed, format string) {
		tr := &model.Trunk{NumberFormat: format, TechPrefix: "99*"}
		_ = FormatNumber(dialed, tr)
		_ = digits(dialed)
		_ = isDialString(dialed)
	})
}
