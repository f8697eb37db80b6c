package e2e

import (
	"net/http"
	"testing"
	"time"
)

// Two branches: Trunkline A (SIP on 127.0.0.1) and Trunkline B (SIP on 127.0.0.2).
//
// How they recognise each other: B issues credentials to A with an accept_register
// trunk "branch-a" (user gw-a); A has a register trunk "to-b" that registers there.
// A's INVITEs to B are challenged (A's source address is no trunk of B's) and
// answered with gw-a's credentials, which B maps to trunk branch-a. B must not share
// A's address: A identifies a register trunk by its host's address too, and A's
// extensions call from 127.0.0.1.
const (
	ipBranchB   = "127.0.0.2"
	ipProviderA = "127.0.0.61"
	ipProviderB = "127.0.0.62"
	branchUser  = "gw-a"
	branchPass  = "branch-secret-1"
	pw2001      = "secret-2001"
)

// TestBranches: A's 1001 calls B's 2001 through A's outbound rule 2XXX (trunk to-b):
// answered by the SIPp registered at B as 2001. Then A's external rule routes
// +44... over [provider-a (answers 503), to-b]: the call fails over to B, and B
// sends it out over its own provider (a transit call: an external number arriving
// on a trunk, routed by B's outbound rules through an inbound rule with destination
// "dialed").
func TestBranches(t *testing.T) {
	t.Parallel()
	requirePeer(t, "sipp")
	a := routingPBX(t) // 1001, international allowed
	b := startTrunkline(t, withSIPHost(ipBranchB))
	bAddr := sipAddrAt(b, ipBranchB)

	// Branch B: extension 2001, the trunk A registers to, its own provider.
	b.API.createExtension(t, "2001", pw2001, "Branch B 2001")
	b.API.createTrunk(t, map[string]any{
		"name": "branch-a", "kind": "accept_register", "username": branchUser, "password": branchPass,
		"dids": []map[string]any{{"number": "2001", "extension": "2001"}},
	})
	provB := providerUAS(t, "provider-b", "uas.xml", ipProviderB, 10, 0)
	b.API.createTrunk(t, ipTrunk("provider-b", ipProviderB, provB.Port, nil))
	b.API.createOutboundRule(t, map[string]any{
		"name": "external", "priority": 10,
		"match":  map[string]any{"patterns": []string{"+44."}},
		"routes": []map[string]any{{"trunk": "provider-b"}},
	})
	u2001 := extensionUAS(t, bAddr, "2001", pw2001, "uas.xml", 5, 0)

	// Branch A: the trunk to B (registers as gw-a), a provider that answers 503.
	provA := providerUAS(t, "provider-a", "route_uas_503.xml", ipProviderA, 10, 0)
	a.API.createTrunk(t, map[string]any{
		"name": "to-b", "kind": "register", "host": ipBranchB, "port": b.SIPPort,
		"username": branchUser, "password": branchPass, "options_interval": -1,
	})
	a.API.createTrunk(t, ipTrunk("provider-a", ipProviderA, provA.Port, map[string]any{"invite_timeout_ms": 1000}))
	a.API.createOutboundRule(t, map[string]any{
		"name": "branch", "priority": 10,
		"match":  map[string]any{"patterns": []string{"2XXX"}},
		"routes": []map[string]any{{"trunk": "to-b"}},
	})
	a.API.createOutboundRule(t, map[string]any{
		"name": "external", "priority": 20,
		"match":  map[string]any{"patterns": []string{"+44."}},
		"routes": []map[string]any{{"trunk": "provider-a"}, {"trunk": "to-b"}},
	})
	a.API.waitTrunk(t, "to-b", "registration registered (A registered to B as "+branchUser+")",
		func(s trunkState) bool { return s.Registration == "registered" })

	// 1. A's 1001 -> B's 2001.
	run1 := caller(a, "uac_auth.xml", "2001", 500*time.Millisecond)
	run1.Name = "a-1001-to-2001"
	expectCalls(t, runSIPp(t, run1), 1, "A's 1001 -> 2001 (rule 2XXX, trunk to-b) -> B's 2001: answered")
	ca := a.API.cdrByCallID(t, run1.CallIDOf(1))
	expectTrunkCDR(t, ca, cdrWant{Caller: "1001", Callee: "2001", Disposition: "answered", HangupBy: "caller",
		SIPCode: 200, Answered: true, Direction: "outbound"}, "to-b")
	cb := b.API.waitCDR(t, "B's inbound call to 2001", func(c cdr) bool { return c.Direction == "inbound" && c.Callee == "2001" })
	t.Logf("B's CDR of the branch call: %s", compactJSON(cb.Raw))
	if cb.Disposition != "answered" || cdrTrunk(cb) != "branch-a" {
		t.Errorf("B's CDR of the branch call: expected answered on trunk branch-a, got %s on %q (CDR: %s)",
			cb.Disposition, cdrTrunk(cb), cb.Raw)
	}

	// 2. A's 1001 -> +44...: provider-a 503, failover to B, out over B's provider.
	// B needs an inbound path for external numbers arriving from branch-a: an inbound
	// rule whose destination is the number A dialed ("dialed").
	rule := map[string]any{"name": "from-branch-a", "priority": 10, "trunk": "branch-a",
		"destination": map[string]any{"type": "dialed"}}
	code, body, err := b.API.do("POST", "/api/v1/inbound-rules", rule)
	if err != nil {
		t.Fatalf("POST /api/v1/inbound-rules on B: %v", err)
	}
	if code != http.StatusCreated {
		t.Errorf("PRODUCT GAP: B cannot route an external number arriving on a trunk. POST /api/v1/inbound-rules %v: status %d, expected 201; body: %s",
			rule, code, body)
	}
	dec := b.API.routeTest(t, map[string]any{"trunk": "branch-a", "did": intlNumber})
	t.Logf("B's dry run for %s arriving on branch-a: %s", intlNumber, compactJSON(dec.Raw))

	run2 := caller(a, "uac_auth.xml", intlNumber, 500*time.Millisecond)
	run2.Name = "a-1001-external"
	expectCalls(t, runSIPp(t, run2), 1, "A's 1001 -> "+intlNumber+": provider-a answers 503, failover to B (to-b), B sends it out over provider-b, answered")
	ca2 := a.API.cdrByCallID(t, run2.CallIDOf(1))
	expectTrunkCDR(t, ca2, cdrWant{Caller: "1001", Callee: intlNumber, Disposition: "answered", HangupBy: "caller",
		SIPCode: 200, Answered: true, Direction: "outbound"}, "to-b")
	for _, c := range b.API.cdrs(t) {
		t.Logf("B's CDR: %s", compactJSON(c.Raw))
	}

	inv2001 := tracedInvites(stopTrace(t, u2001))
	invA, invB := tracedInvites(stopTrace(t, provA)), tracedInvites(stopTrace(t, provB))
	expectInvites(t, "B's 2001", inv2001, 1, "the branch call")
	expectInvites(t, "provider-a (503)", invA, 1, "the external call, first route")
	expectInvites(t, "provider-b (B's provider)", invB, 1, "the external call, after A failed over to B")
	if len(invB) == 1 {
		t.Logf("provider-b's INVITE: %s, From %v, P-Asserted-Identity %v", invB[0].First, invB[0].Get("from"), invB[0].Get("p-asserted-identity"))
		if u := ruriUser(invB[0].sipMsg); u != intlNumber {
			t.Errorf("provider-b's INVITE: Request-URI user %q, expected %q:\n%s", u, intlNumber, invB[0].sipMsg)
		}
	}
}
