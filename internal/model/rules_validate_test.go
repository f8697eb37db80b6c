package model

import (
	"testing"
	_ "time/tzdata"
)

func TestRuleValidatorsAccept(t *testing.T) {
	trunks := map[string]bool{"a": true, "b": true}
	out := OutboundRule{Name: "uk", Routes: []OutboundRoute{{Trunk: "a", Strip: 1, Prepend: "+9", CallerID: "+4420"}, {Trunk: "b"}},
		Match:      OutboundMatch{Patterns: []string{"0[1-9].", `^\+44`}, MinLength: 3, MaxLength: 15, CallerExtensions: []string{"1000-1099", "2001"}},
		Permission: ClassInternational, Emergency: true}
	out.Defaults()
	if err := ValidateOutboundRule(&out, trunks); err != nil || out.Strategy != StrategyOrdered {
		t.Errorf("outbound: %v, strategy %q", err, out.Strategy)
	}
	in := InboundRule{Name: "office", Trunk: "a", DID: "4930100100-4930100199", CallerMask: "+44.",
		Destination: Destination{Type: DestRingGroup, Target: "sales"},
		Schedule: &Schedule{TimeZone: "America/New_York", Hours: []OpenHours{{Days: []string{"sat"}, From: "22:00", To: "06:00"},
			{Days: []string{"mon"}, From: "00:00", To: "24:00"}}, Holidays: []string{"2026-07-04"}},
		AfterHours: &Destination{Type: DestReject, RejectCode: 486}}
	if err := ValidateInboundRule(&in, trunks); err != nil {
		t.Errorf("inbound: %v", err)
	}
	for _, d := range []Destination{{Type: DestExtension, Target: "1001"}, {Type: DestExternal, Target: "+15551234"}, {Type: DestReject}} {
		if err := validateDestination("d", &d); err != nil {
			t.Errorf("%+v: %v", d, err)
		}
	}
	if (Destination{Type: DestReject}).RejectStatus() != 403 {
		t.Error("default reject status")
	}
	g := RingGroup{Name: "sales", Members: []string{"1001", "1002"}}
	g.Defaults()
	if err := ValidateRingGroup(&g); err != nil || g.Strategy != RingSimultaneous || g.MemberTimeout != 20 {
		t.Errorf("ring group %+v: %v", g, err)
	}
	for _, p := range []DialPlan{{}, {CountryCode: "1"}, {CountryCode: "44", NationalPrefix: "0", MobilePrefixes: []string{}}} {
		p.Defaults()
		if err := ValidateDialPlan(&p); err != nil {
			t.Errorf("dial plan %+v: %v", p, err)
		}
	}
	us := DialPlan{CountryCode: "1"}
	us.Defaults()
	if us.InternationalPrefix != "011" || len(us.EmergencyNumbers) != 3 {
		t.Errorf("US defaults %+v", us)
	}
	if err := ValidateExtension(&Extension{Number: "1", Password: "secret1", Permissions: []string{"national", "national"}}, true); err == nil {
		t.Error("duplicate permission accepted")
	}
	for s, want := range map[string]int{"00:00": 0, "09:30": 570, "24:00": 1440, "24:01": -1, "9:30": -1, "12:60": -1} {
		got, ok := ClockMinutes(s)
		if !ok {
			got = -1
		}
		if got != want {
			t.Errorf("ClockMinutes(%q) = %d; want %d", s, got, want)
		}
	}
}
