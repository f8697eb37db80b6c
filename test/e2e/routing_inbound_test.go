package e2e

import (
	"fmt"
	"testing"
	"time"
)

// Inbound routing (docs/routing.md "Inbound calls"): where the DID is read
// (did_source), inbound rules with office-hours schedules, and ring groups. A
// provider SIPp calls in from its own loopback address without credentials
// (route_uac_trunk.xml); extensions 1002 and 1003 are SIPp UASs registered from
// 127.0.0.1.

// inboundPBX starts Trunkline with extensions 1001, 1002 and 1003.
func inboundPBX(t *testing.T) *instance {
	t.Helper()
	inst := newPBX(t)
	inst.API.createExtension(t, "1003", pw1003, "Callee 1003")
	return inst
}

// callIDAt is the Call-ID of call n of a SIPp run bound to ip (-cid_str "...-%u@%s").
func callIDAt(s *sippRun, n int, ip string) string { return fmt.Sprintf("%s-%d@%s", s.CallID, n, ip) }

// inboundCall places one call from a provider at ip and returns its CDR after
// checking the call was answered by the extension want.
func inboundCall(t *testing.T, inst *instance, name, ip, ruri, to, trunk, want, what string) cdr {
	t.Helper()
	const from = "+4915112345678"
	run := trunkCaller(inst, name, ip, ruri, to, from, 300*time.Millisecond)
	expectCalls(t, runSIPp(t, run), 1, what)
	c := inst.API.cdrByCallID(t, callIDAt(run, 1, ip))
	checkCDR(t, c, cdrWant{Caller: from, Callee: want, Disposition: "answered", HangupBy: "caller",
		SIPCode: 200, Answered: true, Direction: "inbound"})
	if got := cdrTrunk(c); got != trunk {
		t.Errorf("%s: CDR trunk = %q, expected %q (CDR: %s)", what, got, trunk, c.Raw)
	}
	return c
}

// TestDIDSources: trunk prov-a reads the DID from the Request-URI, trunk prov-b from
// To. Each call carries the other place's number as a decoy (prov-a: To = prov-b's
// DID; prov-b: Request-URI = a number nobody owns), so a trunk that read the wrong
// header would refuse the call (404) or ring the wrong extension.
func TestDIDSources(t *testing.T) {
	t.Parallel()
	requirePeer(t, "sipp")
	inst := inboundPBX(t)
	u2 := extensionUAS(t, inst.SIPAddr(), "1002", pw1002, "uas.xml", 5, 0)
	u3 := extensionUAS(t, inst.SIPAddr(), "1003", pw1003, "uas.xml", 5, 0)
	const ipA, ipB = "127.0.0.31", "127.0.0.32"
	const didA, didB = "+15551230001", "+15551230002"
	inst.API.createTrunk(t, ipTrunk("prov-a", ipA, 0, map[string]any{
		"did_source": "request_uri", "dids": []map[string]any{{"number": didA, "extension": "1002"}}}))
	inst.API.createTrunk(t, ipTrunk("prov-b", ipB, 0, map[string]any{
		"did_source": "to", "dids": []map[string]any{{"number": didB, "extension": "1003"}}}))

	inboundCall(t, inst, "prov-a-caller", ipA, didA, didB, "prov-a", "1002",
		"call from prov-a (did_source request_uri), Request-URI "+didA+", To "+didB+": must ring 1002 and be answered")
	inboundCall(t, inst, "prov-b-caller", ipB, "+15559999999", didB, "prov-b", "1003",
		"call from prov-b (did_source to), Request-URI +15559999999, To "+didB+": must ring 1003 and be answered")

	inv2, inv3 := tracedInvites(stopTrace(t, u2)), tracedInvites(stopTrace(t, u3))
	expectInvites(t, "1002", inv2, 1, "prov-a's call (DID "+didA+" in the Request-URI)")
	expectInvites(t, "1003", inv3, 1, "prov-b's call (DID "+didB+" in To)")
}

// hhmm formats a time of day for a schedule.
func hhmm(t time.Time) string { return t.Format("15:04") }

var allDays = []string{"mon", "tue", "wed", "thu", "fri", "sat", "sun"}

// TestOfficeHours: an inbound rule sends the DID to 1002 in open hours and to 1003
// (after_hours) outside them. Trunkline reads the real clock (it cannot be
// injected), so the schedule is computed around time.Now() in UTC: open from 2 h
// ago to 2 h ahead (a period may run past midnight: to before from), then open only
// from 2 h to 4 h ahead (closed now), then open now but today a holiday (yesterday,
// today and tomorrow are listed, so a call near midnight is covered too).
func TestOfficeHours(t *testing.T) {
	t.Parallel()
	requirePeer(t, "sipp")
	inst := inboundPBX(t)
	u2 := extensionUAS(t, inst.SIPAddr(), "1002", pw1002, "uas.xml", 5, 0)
	u3 := extensionUAS(t, inst.SIPAddr(), "1003", pw1003, "uas.xml", 5, 0)
	const ip, did = "127.0.0.41", "+15551230009"
	inst.API.createTrunk(t, ipTrunk("prov", ip, 0, map[string]any{
		"did_source": "request_uri", "dids": []map[string]any{{"number": did}}}))

	rule := func(hours []map[string]any, holidays []string) map[string]any {
		sched := map[string]any{"time_zone": "UTC", "hours": hours}
		if holidays != nil {
			sched["holidays"] = holidays
		}
		return map[string]any{
			"name": "office", "priority": 10, "trunk": "prov", "did": did,
			"destination": map[string]any{"type": "extension", "target": "1002"},
			"schedule":    sched,
			"after_hours": map[string]any{"type": "extension", "target": "1003"},
		}
	}
	now := time.Now().UTC()
	openNow := []map[string]any{{"days": allDays, "from": hhmm(now.Add(-2 * time.Hour)), "to": hhmm(now.Add(2 * time.Hour))}}
	closedNow := []map[string]any{{"days": allDays, "from": hhmm(now.Add(2 * time.Hour)), "to": hhmm(now.Add(4 * time.Hour))}}
	holidays := []string{now.AddDate(0, 0, -1).Format("2006-01-02"), now.Format("2006-01-02"), now.AddDate(0, 0, 1).Format("2006-01-02")}

	steps := []struct {
		name     string
		hours    []map[string]any
		holidays []string
		want     string
	}{
		{"open hours around now", openNow, nil, "1002"},
		{"open hours later today", closedNow, nil, "1003"},
		{"open hours around now, today a holiday", openNow, holidays, "1003"},
	}
	var id int64
	for i, st := range steps {
		body := rule(st.hours, st.holidays)
		if i == 0 {
			id = inst.API.createInboundRule(t, body)
		} else {
			inst.API.updateInboundRule(t, id, body)
		}
		t.Logf("step %d (%s): schedule %v, holidays %v", i+1, st.name, st.hours, st.holidays)
		dec := inst.API.routeTest(t, map[string]any{"trunk": "prov", "did": did, "caller": "+4915112345678"})
		t.Logf("dry run: %s", compactJSON(dec.Raw))
		if len(dec.Targets) != 1 || dec.Targets[0].Extension != st.want {
			t.Errorf("step %d (%s): dry run expected one target, extension %s; got reject %d %q, targets %+v",
				i+1, st.name, st.want, dec.RejectCode, dec.Reason, dec.Targets)
		}
		inboundCall(t, inst, fmt.Sprintf("prov-caller-%d", i+1), ip, did, did, "prov", st.want,
			fmt.Sprintf("step %d (%s): call to %s must be answered by %s", i+1, st.name, did, st.want))
	}

	inv2, inv3 := tracedInvites(stopTrace(t, u2)), tracedInvites(stopTrace(t, u3))
	expectInvites(t, "1002 (open hours)", inv2, 1, "the call in open hours")
	expectInvites(t, "1003 (after hours)", inv3, 2, "the call outside the hours and the call on a holiday")
}

// TestRingGroup: a simultaneous group rings 1002 and 1003 at once; 1002 answers
// after 1 s and 1003, still ringing, gets CANCEL. A sequential group [1003, 1002]
// with member_timeout 2 rings 1003 (no answer) for 2 s, then 1002, which answers.
func TestRingGroup(t *testing.T) {
	t.Parallel()
	requirePeer(t, "sipp")

	// setup: a PBX with the group behind an inbound rule for did on a trunk at ip.
	setup := func(t *testing.T, ip, did string, group map[string]any) *instance {
		inst := inboundPBX(t)
		inst.API.createTrunk(t, ipTrunk("prov", ip, 0, map[string]any{"did_source": "request_uri"}))
		inst.API.createRingGroup(t, group)
		inst.API.createInboundRule(t, map[string]any{
			"name": "group", "priority": 10, "trunk": "prov", "did": did,
			"destination": map[string]any{"type": "ring_group", "target": group["name"]},
		})
		dec := inst.API.routeTest(t, map[string]any{"trunk": "prov", "did": did, "caller": "+4915112345678"})
		t.Logf("dry run: %s", compactJSON(dec.Raw))
		return inst
	}

	t.Run("simultaneous", func(t *testing.T) {
		t.Parallel()
		const ip, did = "127.0.0.51", "+15551230010"
		inst := setup(t, ip, did, map[string]any{"name": "sales", "strategy": "simultaneous", "members": []string{"1002", "1003"}})
		u2 := extensionUAS(t, inst.SIPAddr(), "1002", pw1002, "route_uas_answer_delay.xml", 1, time.Second)
		u3 := extensionUAS(t, inst.SIPAddr(), "1003", pw1003, "uas_noanswer.xml", 1, 0)

		inboundCall(t, inst, "prov-caller", ip, did, did, "prov", "1002",
			"call to the simultaneous group sales [1002, 1003]: answered by 1002 after 1 s")
		r2, r3 := u2.Wait(20*time.Second), u3.Wait(20*time.Second)
		expectCalls(t, r2, 1, "1002: INVITE, 180, answers after 1 s, BYE")
		expectCalls(t, r3, 1, "1003: INVITE, 180, then CANCEL when 1002 answered, 487, ACK")

		m2, m3 := readSIPpTrace(t, r2.MessageLog), readSIPpTrace(t, r3.MessageLog)
		inv2, inv3 := tracedInvites(m2), tracedInvites(m3)
		expectInvites(t, "1002", inv2, 1, "the group call")
		expectInvites(t, "1003", inv3, 1, "the group call")
		ok2, has200 := tracedFirst(m2, func(m tracedMsg) bool { return !m.Received && m.StatusCode() == 200 && m.Method() == "INVITE" })
		cancel, hasCancel := tracedFirst(m3, func(m tracedMsg) bool { return m.Received && m.StatusCode() == 0 && m.Method() == "CANCEL" })
		if !hasCancel {
			t.Errorf("1003: expected a CANCEL after 1002 answered, got none")
		}
		if len(inv2) == 1 && len(inv3) == 1 && has200 {
			t.Logf("simultaneous: INVITE to 1002 at %s, to 1003 at %s (%s apart); 1002 answered at %s; CANCEL to 1003 at %s",
				inv2[0].At.Format("15:04:05.000"), inv3[0].At.Format("15:04:05.000"), ms(inv3[0].At.Sub(inv2[0].At)),
				ok2.At.Format("15:04:05.000"), cancel.At.Format("15:04:05.000"))
			if !inv3[0].At.Before(ok2.At) {
				t.Errorf("simultaneous group: 1003's INVITE (%s) came after 1002 answered (%s); expected both members to ring at once",
					inv3[0].At.Format("15:04:05.000000"), ok2.At.Format("15:04:05.000000"))
			}
		}
	})

	t.Run("sequential", func(t *testing.T) {
		t.Parallel()
		const ip, did = "127.0.0.52", "+15551230011"
		const memberTimeout = 2 * time.Second
		inst := setup(t, ip, did, map[string]any{"name": "support", "strategy": "sequential",
			"members": []string{"1003", "1002"}, "member_timeout": int(memberTimeout.Seconds())})
		u2 := extensionUAS(t, inst.SIPAddr(), "1002", pw1002, "route_uas_answer_delay.xml", 1, 500*time.Millisecond)
		u3 := extensionUAS(t, inst.SIPAddr(), "1003", pw1003, "uas_noanswer.xml", 1, 0)

		inboundCall(t, inst, "prov-caller", ip, did, did, "prov", "1002",
			"call to the sequential group support [1003, 1002], member_timeout 2: 1003 does not answer, 1002 does")
		r2, r3 := u2.Wait(20*time.Second), u3.Wait(20*time.Second)
		expectCalls(t, r2, 1, "1002: INVITE after 1003's member timeout, answers")
		expectCalls(t, r3, 1, "1003: INVITE, 180, CANCEL after the member timeout, 487, ACK")

		m2, m3 := readSIPpTrace(t, r2.MessageLog), readSIPpTrace(t, r3.MessageLog)
		inv2, inv3 := tracedInvites(m2), tracedInvites(m3)
		expectInvites(t, "1002", inv2, 1, "the group call, second")
		expectInvites(t, "1003", inv3, 1, "the group call, first")
		cancel, hasCancel := tracedFirst(m3, func(m tracedMsg) bool { return m.Received && m.StatusCode() == 0 && m.Method() == "CANCEL" })
		if !hasCancel {
			t.Errorf("1003: expected a CANCEL when its member timeout ran out, got none")
		}
		if len(inv2) == 1 && len(inv3) == 1 {
			gap := inv2[0].At.Sub(inv3[0].At)
			t.Logf("sequential: INVITE to 1003 at %s, to 1002 at %s: %s later (member_timeout %v); CANCEL to 1003 at +%s",
				inv3[0].At.Format("15:04:05.000"), inv2[0].At.Format("15:04:05.000"), ms(gap), memberTimeout,
				ms(cancel.At.Sub(inv3[0].At)))
			// Correctness, not speed: the second member must not ring before the first
			// one's member timeout (100 ms for the two SIPps' logging).
			if gap < memberTimeout-100*time.Millisecond {
				t.Errorf("sequential group: 1002's INVITE came %s after 1003's; expected 1003 to ring for its member_timeout (%v) first",
					ms(gap), memberTimeout)
			}
		}
	})
}
