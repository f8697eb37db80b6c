package routing

import (
	"slices"
	"strings"
	"testing"
	"time"
	_ "time/tzdata" // schedules in tests do not depend on the system's zoneinfo

	"github.com/trunkline/trunkline/internal/model"
)

// ukSnapshot: a UK office with two trunks (primary and backup), an emergency
// trunk, outbound and inbound rules and ring groups.
func ukSnapshot() *Snapshot { return NewSnapshot(ukConfig()) }

func ukConfig() Config {
	return Config{
		DialPlan: planUK,
		Extensions: []model.Extension{
			{Number: "1001", CallerID: "+442071234500"},
			{Number: "1002", Permissions: []string{"internal", "national", "mobile", "international"}},
			{Number: "1003", CallerID: "+15550000000", Permissions: []string{"national", "mobile", "international", "premium"}},
			{Number: "1004", Disabled: true},
			{Number: "1005", Permissions: []string{}},
			{Number: "2001"}, {Number: "2002"},
		},
		Trunks: []model.Trunk{
			{Name: "primary", Enabled: true, NumberFormat: model.FormatE164Plus, DefaultCallerID: "+442071234599",
				DIDs: []model.TrunkDID{{Number: "+442071234500", Extension: "1001"}, {Number: "442071234501"}, {Number: "+442071234520"}}},
			{Name: "backup", Enabled: true, NumberFormat: model.FormatNational, CallerIDPolicy: model.CallerIDReject,
				DIDs: []model.TrunkDID{{Number: "+442071234502"}}},
			{Name: "tech", Enabled: true, NumberFormat: model.FormatTechPrefix, TechPrefix: "1234*"},
			{Name: "off", Enabled: false},
		},
		RingGroups: []model.RingGroup{
			{Name: "sales", Strategy: model.RingSimultaneous, Members: []string{"2001", "1004", "2002"}, Enabled: true},
			{Name: "support", Strategy: model.RingSequential, Members: []string{"2001", "2002"}, MemberTimeout: 15, Enabled: true},
			{Name: "empty", Members: []string{"1004"}, Enabled: true},
			{Name: "closed", Members: []string{"2001"}},
		},
		OutboundRules: []model.OutboundRule{
			{ID: 3, Name: "uk", Priority: 10, Enabled: true,
				Match:  model.OutboundMatch{Patterns: []string{"0[1-9].", "+44."}},
				Routes: []model.OutboundRoute{{Trunk: "primary"}, {Trunk: "off"}, {Trunk: "backup", Strip: 1, Prepend: "9"}}},
			{ID: 1, Name: "intl", Priority: 20, Enabled: true, Permission: model.ClassInternational,
				Match:  model.OutboundMatch{Patterns: []string{"00.", `^\+`}},
				Routes: []model.OutboundRoute{{Trunk: "backup"}, {Trunk: "tech", CallerID: "+15550000001", Anonymous: true}}},
			{ID: 2, Name: "weighted", Priority: 5, Enabled: true, Strategy: model.StrategyWeighted,
				Match:  model.OutboundMatch{Patterns: []string{"0800XXXXXX"}},
				Routes: []model.OutboundRoute{{Trunk: "primary", Weight: 1}, {Trunk: "tech", Weight: 5}, {Trunk: "backup", Weight: 5}}},
			{ID: 4, Name: "sales-only", Priority: 1, Enabled: true,
				Match:  model.OutboundMatch{Patterns: []string{"0845."}, CallerExtensions: []string{"2000-2099"}},
				Routes: []model.OutboundRoute{{Trunk: "tech"}}},
			{ID: 5, Name: "disabled", Priority: 0, Enabled: false, Routes: []model.OutboundRoute{{Trunk: "tech"}}},
			{ID: 6, Name: "emergency", Priority: 99, Enabled: true, Emergency: true,
				Match:  model.OutboundMatch{Patterns: []string{"999", "112"}},
				Routes: []model.OutboundRoute{{Trunk: "backup"}, {Trunk: "primary"}}},
			{ID: 7, Name: "long", Priority: 30, Enabled: true, Match: model.OutboundMatch{MinLength: 12, MaxLength: 12},
				Routes: []model.OutboundRoute{{Trunk: "primary"}}},
			{ID: 8, Name: "broken", Priority: 2, Enabled: true, Match: model.OutboundMatch{Patterns: []string{"[9"}},
				Routes: []model.OutboundRoute{{Trunk: "tech"}}},
		},
		InboundRules: []model.InboundRule{
			{ID: 1, Name: "office", Priority: 10, Enabled: true, DID: "+442071234502",
				Destination: model.Destination{Type: model.DestRingGroup, Target: "sales"},
				Schedule: &model.Schedule{TimeZone: "Europe/London",
					Hours:    []model.OpenHours{{Days: []string{"mon", "tue", "wed", "thu", "fri"}, From: "09:00", To: "17:00"}},
					Holidays: []string{"2026-12-25"}},
				AfterHours: &model.Destination{Type: model.DestExtension, Target: "2002"}},
			{ID: 2, Name: "vip", Priority: 5, Enabled: true, DID: "02071234502", CallerMask: "+4477009001XX",
				Destination: model.Destination{Type: model.DestExtension, Target: "1001"}},
			{ID: 3, Name: "range", Priority: 20, Enabled: true, Trunk: "backup", DID: "442071234510-442071234519",
				Destination: model.Destination{Type: model.DestRingGroup, Target: "support"}},
			{ID: 4, Name: "forward", Priority: 20, Enabled: true, DID: "02071234520",
				Destination: model.Destination{Type: model.DestExternal, Target: "07700900555"}},
			{ID: 5, Name: "spam", Priority: 1, Enabled: true, CallerMask: "^\\+?449",
				Destination: model.Destination{Type: model.DestReject, RejectCode: 603}},
			{ID: 6, Name: "night-only", Priority: 30, Enabled: true, DID: "^0?2071234530$|^\\+?442071234530$",
				Destination: model.Destination{Type: model.DestExtension, Target: "2001"},
				Schedule:    &model.Schedule{Hours: []model.OpenHours{{Days: []string{"mon"}, From: "22:00", To: "06:00"}}}},
			{ID: 7, Name: "missing", Priority: 40, Enabled: true, DID: "+442071234540",
				Destination: model.Destination{Type: model.DestRingGroup, Target: "empty"}},
			{ID: 8, Name: "gone", Priority: 40, Enabled: true, DID: "+442071234541",
				Destination: model.Destination{Type: model.DestExtension, Target: "1004"}},
			{ID: 9, Name: "closed-group", Priority: 40, Enabled: true, DID: "+442071234542",
				Destination: model.Destination{Type: model.DestRingGroup, Target: "closed"}},
		},
	}
}

// wantTarget is a compact expectation: "trunk:primary:+442071234567:+442071234500"
// or "ext:2001".
func targetString(t Target) string {
	if t.Kind == TargetTrunk {
		s := "trunk:" + t.Trunk + ":" + t.Number + ":" + t.CallerID
		if t.Anonymous {
			s += ":anon"
		}
		if t.Emergency {
			s += ":sos"
		}
		return s
	}
	s := "ext:" + strings.Join(append([]string{t.Extension}, t.Extensions...), ",")
	if t.RingTimeout != 0 {
		s += ":" + t.RingTimeout.String()
	}
	return s
}

func TestOutboundRules(t *testing.T) {
	s := ukSnapshot()
	tests := []struct {
		name, from, dialed string
		reject             int
		rule               string
		targets            []string
	}{
		{"national with failover, disabled trunk skipped, caller id rejected on backup", "1001", "02079460000", 0, "uk",
			[]string{"trunk:primary:+442079460000:+442071234500"}},
		{"caller id replaced by trunk default", "1002", "020 7946 0000", 0, "uk",
			[]string{"trunk:primary:+442079460000:+442071234599", "trunk:backup:92079460000:+442071234502"}},
		{"+44 form matches the same rule", "1001", "+447700900123", 0, "uk",
			[]string{"trunk:primary:+447700900123:+442071234500"}},
		{"default permissions refuse international", "1001", "0012125551234", 403, "intl", nil},
		{"rule permission", "1002", "+12125551234", 0, "intl",
			[]string{"trunk:backup:0012125551234:+442071234502", "trunk:tech:1234*12125551234:+15550000001:anon"}},
		{"caller id override on route, backup rejects foreign caller id", "1003", "0012125551234", 0, "intl",
			[]string{"trunk:tech:1234*12125551234:+15550000001:anon"}},
		{"weighted: highest weight first, ties in order", "1001", "0800123456", 0, "weighted",
			[]string{"trunk:tech:1234*44800123456:+442071234500", "trunk:primary:+44800123456:+442071234500"}},
		{"caller extension range", "2001", "08451234567", 0, "sales-only",
			[]string{"trunk:tech:1234*448451234567:"}},
		{"caller extension range miss falls through", "1001", "08451234567", 0, "uk",
			[]string{"trunk:primary:+448451234567:+442071234500"}},
		{"emergency bypasses permissions, emergency rule first, caller id kept", "1005", "999", 0, "emergency",
			[]string{"trunk:backup:999:+442071234502:sos", "trunk:primary:999:+442071234599:sos"}},
		{"112 too", "1001", "112", 0, "emergency",
			[]string{"trunk:backup:112:+442071234502:sos", "trunk:primary:112:+442071234500:sos"}},
		{"no permissions at all", "1005", "02079460000", 403, "uk", nil},
		{"premium refused by default", "1001", "09098790000", 403, "uk", nil},
		{"premium allowed", "1003", "09098790000", 0, "uk", nil},
		{"length rule", "1002", "123456789012", 0, "long", []string{"trunk:primary:123456789012:+442071234599"}},
		{"nothing matches, no default trunk", "1001", "12345", 404, "", nil},
		{"internal", "1001", "2001", 0, "", []string{"ext:2001"}},
		{"internal refused without permission", "1005", "2001", 403, "", nil},
		{"internal call to disabled extension", "1001", "1004", 404, "", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := s.Route(Request{FromExtension: tt.from, Dialed: tt.dialed})
			if d.RejectCode != tt.reject {
				t.Fatalf("reject %d %q; want %d\n%s", d.RejectCode, d.Reason, tt.reject, story(d))
			}
			if d.Rule != tt.rule {
				t.Errorf("rule %q; want %q\n%s", d.Rule, tt.rule, story(d))
			}
			if tt.targets == nil {
				return
			}
			var got []string
			for _, tg := range d.Targets {
				got = append(got, targetString(tg))
			}
			if !slices.Equal(got, tt.targets) {
				t.Errorf("targets %q; want %q\n%s", got, tt.targets, story(d))
			}
		})
	}
}

func story(d Decision) string {
	var b strings.Builder
	for _, st := range d.Explain {
		b.WriteString("  " + st.Stage + " " + st.Name + " " + map[bool]string{true: "ok", false: "no"}[st.OK] + ": " + st.Detail + "\n")
	}
	return b.String()
}

func TestOutboundTargetsInRuleOrder(t *testing.T) {
	// A mobile number from 1002 (no caller ID): primary with its default, then
	// backup (national format, strip 1, prepend 9) with its own number; the
	// disabled trunk between them is skipped.
	s := ukSnapshot()
	d := s.Route(Request{FromExtension: "1002", Dialed: "07700900123"})
	got := []string{}
	for _, tg := range d.Targets {
		got = append(got, targetString(tg)+"@"+tg.Route)
	}
	want := []string{"trunk:primary:+447700900123:+442071234599@uk/1", "trunk:backup:97700900123:+442071234502@uk/3"}
	if !slices.Equal(got, want) {
		t.Fatalf("targets %q; want %q\n%s", got, want, story(d))
	}
	// Trunks without numbers: no caller ID at all.
	s2 := NewSnapshot(Config{DialPlan: planUK,
		Extensions: []model.Extension{{Number: "1"}},
		Trunks:     []model.Trunk{{Name: "a", Enabled: true}, {Name: "b", Enabled: true, NumberFormat: model.FormatNational}},
		OutboundRules: []model.OutboundRule{{Name: "all", Enabled: true,
			Routes: []model.OutboundRoute{{Trunk: "a"}, {Trunk: "b", Strip: 1, Prepend: "9"}}}}})
	d = s2.Route(Request{FromExtension: "1", Dialed: "07700900123"})
	got = got[:0]
	for _, tg := range d.Targets {
		got = append(got, targetString(tg)+"@"+tg.Route)
	}
	want = []string{"trunk:a:+447700900123:@all/1", "trunk:b:97700900123:@all/2"}
	if !slices.Equal(got, want) {
		t.Fatalf("targets %q; want %q\n%s", got, want, story(d))
	}
}

func TestCallerIDPolicyRejectEverywhere(t *testing.T) {
	s := NewSnapshot(Config{DialPlan: planUK,
		Extensions: []model.Extension{{Number: "1", CallerID: "+15550000000"}},
		Trunks: []model.Trunk{{Name: "a", Enabled: true, CallerIDPolicy: model.CallerIDReject,
			DIDs: []model.TrunkDID{{Number: "+442071234500"}}}},
		OutboundRules: []model.OutboundRule{{Name: "all", Enabled: true, Routes: []model.OutboundRoute{{Trunk: "a"}}}}})
	d := s.Route(Request{FromExtension: "1", Dialed: "02079460000"})
	if d.RejectCode != 403 || !strings.Contains(d.Reason, "caller ID +15550000000") {
		t.Fatalf("got %d %q", d.RejectCode, d.Reason)
	}
	// The national form of an owned number is the same number.
	s = NewSnapshot(Config{DialPlan: planUK,
		Extensions: []model.Extension{{Number: "1", CallerID: "02071234500"}},
		Trunks: []model.Trunk{{Name: "a", Enabled: true, CallerIDPolicy: model.CallerIDReject,
			DIDs: []model.TrunkDID{{Number: "+442071234500"}}}},
		OutboundRules: []model.OutboundRule{{Name: "all", Enabled: true, Routes: []model.OutboundRoute{{Trunk: "a"}}}}})
	if d := s.Route(Request{FromExtension: "1", Dialed: "02079460000"}); d.RejectCode != 0 || d.Targets[0].CallerID != "02071234500" {
		t.Fatalf("got %+v", d)
	}
	// Every route on a disabled or missing trunk: 503.
	s = NewSnapshot(Config{Extensions: []model.Extension{{Number: "1", Permissions: []string{"international"}}},
		Trunks:        []model.Trunk{{Name: "a"}},
		OutboundRules: []model.OutboundRule{{Name: "all", Enabled: true, Routes: []model.OutboundRoute{{Trunk: "a"}, {Trunk: "gone"}}}}})
	if d := s.Route(Request{FromExtension: "1", Dialed: "+4930123456"}); d.RejectCode != 503 {
		t.Fatalf("got %d %q", d.RejectCode, d.Reason)
	}
}

func TestInboundRules(t *testing.T) {
	s := ukSnapshot()
	// Mon 2026-06-01 10:00 BST (09:00 UTC) is open; 18:00 BST is not.
	open := time.Date(2026, 6, 1, 9, 0, 0, 0, time.UTC)
	closed := time.Date(2026, 6, 1, 17, 0, 0, 0, time.UTC)
	tests := []struct {
		name, trunk, did, caller string
		now                      time.Time
		reject                   int
		rule                     string
		targets                  []string
	}{
		{"office hours ring group, disabled member skipped", "primary", "+442071234502", "+441311234567", open, 0, "office", []string{"ext:2001,2001,2002"}},
		{"after hours", "primary", "442071234502", "+441311234567", closed, 0, "office", []string{"ext:2002"}},
		{"national form of the DID", "backup", "02071234502", "+441311234567", open, 0, "office", []string{"ext:2001,2001,2002"}},
		{"no clock: open hours assumed", "backup", "02071234502", "+441311234567", time.Time{}, 0, "office", []string{"ext:2001,2001,2002"}},
		{"holiday", "primary", "+442071234502", "", time.Date(2026, 12, 25, 11, 0, 0, 0, time.UTC), 0, "office", []string{"ext:2002"}},
		{"caller mask wins by priority", "primary", "+442071234502", "07700900150", open, 0, "vip", []string{"ext:1001"}},
		{"reject by caller", "primary", "+442071234502", "+449001", open, 603, "spam", nil},
		{"range on its trunk, sequential group", "backup", "+442071234515", "", open, 0, "range", []string{"ext:2001:15s", "ext:2002:15s"}},
		{"range on another trunk: DID fallback fails", "primary", "+442071234515", "", open, 404, "", nil},
		{"external forward via outbound rules", "primary", "02071234520", "+441311234567", open, 0, "forward",
			[]string{"trunk:primary:+447700900555:+442071234520"}},
		{"overnight schedule, monday late", "primary", "02071234530", "", time.Date(2026, 6, 1, 23, 0, 0, 0, time.UTC), 0, "night-only", []string{"ext:2001"}},
		{"overnight schedule, tuesday early", "primary", "+442071234530", "", time.Date(2026, 6, 2, 5, 59, 0, 0, time.UTC), 0, "night-only", []string{"ext:2001"}},
		{"overnight schedule closed, no after hours: falls through", "primary", "+442071234530", "", time.Date(2026, 6, 2, 6, 0, 0, 0, time.UTC), 404, "", nil},
		{"ring group without available member", "primary", "+442071234540", "", open, 480, "missing", nil},
		{"disabled extension", "primary", "+442071234541", "", open, 404, "gone", nil},
		{"disabled ring group", "primary", "+442071234542", "", open, 404, "closed-group", nil},
		{"built-in DID", "primary", "442071234500", "", open, 0, "", []string{"ext:1001"}},
		{"built-in DID without destination", "primary", "442071234501", "", open, 404, "", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := s.Route(Request{FromTrunk: tt.trunk, Dialed: tt.did, CallerNumber: tt.caller, Now: tt.now})
			if d.Direction != "inbound" {
				t.Errorf("direction %q", d.Direction)
			}
			if d.RejectCode != tt.reject {
				t.Fatalf("reject %d %q; want %d\n%s", d.RejectCode, d.Reason, tt.reject, story(d))
			}
			if d.Rule != tt.rule {
				t.Errorf("rule %q; want %q\n%s", d.Rule, tt.rule, story(d))
			}
			var got []string
			for _, tg := range d.Targets {
				got = append(got, targetString(tg))
			}
			if tt.targets != nil && !slices.Equal(got, tt.targets) {
				t.Errorf("targets %q; want %q\n%s", got, tt.targets, story(d))
			}
		})
	}
}

func TestScheduleDST(t *testing.T) {
	sc, err := compileSchedule(&model.Schedule{TimeZone: "America/New_York",
		Hours: []model.OpenHours{{Days: []string{"mon", "tue", "wed", "thu", "fri"}, From: "09:00", To: "17:00"},
			{Days: []string{"sat"}, From: "10:00", To: "24:00"}}})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		at   time.Time
		open bool
	}{
		// Fri 2026-03-06, EST (UTC-5): 09:00 local = 14:00 UTC.
		{time.Date(2026, 3, 6, 13, 59, 0, 0, time.UTC), false},
		{time.Date(2026, 3, 6, 14, 0, 0, 0, time.UTC), true},
		// Mon 2026-03-09, after the switch to EDT (UTC-4) on Sun 03-08: 09:00 local = 13:00 UTC.
		{time.Date(2026, 3, 9, 13, 0, 0, 0, time.UTC), true},
		{time.Date(2026, 3, 9, 12, 59, 0, 0, time.UTC), false},
		{time.Date(2026, 3, 9, 21, 0, 0, 0, time.UTC), false}, // 17:00 EDT
		// Sunday closed.
		{time.Date(2026, 3, 8, 15, 0, 0, 0, time.UTC), false},
		// Saturday until 24:00 local: 23:59 EDT = 03:59 UTC Sunday.
		{time.Date(2026, 3, 15, 3, 59, 0, 0, time.UTC), true},
		{time.Date(2026, 3, 15, 4, 0, 0, 0, time.UTC), false},
	}
	for _, tt := range tests {
		if got, why := sc.open(tt.at); got != tt.open {
			t.Errorf("open(%s) = %v (%s); want %v", tt.at, got, why, tt.open)
		}
	}
}

func TestBrokenRules(t *testing.T) {
	s := NewSnapshot(Config{
		Extensions: []model.Extension{{Number: "1", Permissions: []string{"international"}}},
		Trunks:     []model.Trunk{{Name: "a", Enabled: true, DefaultOutbound: true}},
		OutboundRules: []model.OutboundRule{{Name: "bad", Enabled: true, Match: model.OutboundMatch{Patterns: []string{"[1"}},
			Routes: []model.OutboundRoute{{Trunk: "a"}}}},
		InboundRules: []model.InboundRule{{Name: "tz", Enabled: true, Schedule: &model.Schedule{TimeZone: "Mars/Olympus"},
			Destination: model.Destination{Type: model.DestExtension, Target: "1"}}},
	})
	if w := s.Warnings(); len(w) != 2 {
		t.Fatalf("warnings %q", w)
	}
	d := s.Route(Request{FromExtension: "1", Dialed: "+4930123"})
	if d.Rule != "" || len(d.Targets) != 1 || d.Targets[0].Route != "default_outbound" {
		t.Fatalf("broken rule must not match: %+v", d)
	}
	if !strings.Contains(story(d), "broken, never matches") {
		t.Errorf("explain: %s", story(d))
	}
}

func TestExplain(t *testing.T) {
	s := ukSnapshot()
	d := s.Route(Request{FromExtension: "1001", Dialed: "020 7946 0000"})
	want := []string{
		"number  ok: 020 7946 0000: +442079460000, class national",
		"rule disabled no: priority 0: disabled",
		"rule sales-only no: priority 1: no pattern matches 02079460000 or 442079460000 or +442079460000",
		"rule broken no: priority 2: broken, never matches: pattern \"[9\": unclosed '[' at position 1",
		"rule weighted no: priority 5: no pattern matches 02079460000 or 442079460000 or +442079460000",
		"rule uk ok: priority 10: pattern 0[1-9]. matches 02079460000",
		"permission 1001 ok: extension 1001 may call national numbers",
		"route primary ok: uk/1: trunk primary, number +442079460000 (format e164_plus → +442079460000), caller ID +442071234500 (a number of the trunk)",
		"route off no: uk/2: trunk off is disabled",
		"route backup no: uk/3: caller ID +442071234500 is not a number of trunk backup (caller_id_policy reject)",
	}
	var got []string
	for _, st := range d.Explain {
		got = append(got, strings.TrimSpace(strings.Join([]string{st.Stage, st.Name, map[bool]string{true: "ok", false: "no"}[st.OK]}, " "))+": "+st.Detail)
	}
	if !slices.Equal(got, want) {
		t.Errorf("explain:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if d.Number.E164 != "442079460000" || d.Number.Class != model.ClassNational {
		t.Errorf("number %+v", d.Number)
	}
}

// TestInboundDialed: a branch trunk's calls go where the dialed number leads, as if
// one of our extensions had dialed it (extension, else outbound rules: transit).
func TestInboundDialed(t *testing.T) {
	cfg := ukConfig()
	cfg.InboundRules = append(append([]model.InboundRule(nil), cfg.InboundRules...), model.InboundRule{
		ID: 10, Name: "branch-a", Priority: 50, Enabled: true, Trunk: "tech",
		Destination: model.Destination{Type: model.DestDialed}})
	s := NewSnapshot(cfg)
	tests := []struct {
		name, trunk, dialed string
		reject              int
		kind                TargetKind
	}{
		{"extension of this branch", "tech", "2001", 0, TargetExtension},
		{"external number leaves through our trunks", "tech", "02079460000", 0, TargetTrunk},
		{"other trunks do not get transit", "primary", "02079460000", 404, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := s.Route(Request{FromTrunk: tt.trunk, Dialed: tt.dialed, CallerNumber: "+442071234500", Now: time.Date(2026, 6, 1, 9, 0, 0, 0, time.UTC)})
			if d.RejectCode != tt.reject {
				t.Fatalf("reject %d %q, want %d\n%s", d.RejectCode, d.Reason, tt.reject, story(d))
			}
			if tt.reject == 0 && (len(d.Targets) == 0 || d.Targets[0].Kind != tt.kind) {
				t.Fatalf("targets %+v, want first of kind %s\n%s", d.Targets, tt.kind, story(d))
			}
		})
	}
}
