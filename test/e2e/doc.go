// Package e2e holds Trunkline's end-to-end tests: the real binary (built once by
// TestMain) against real SIP peers - SIPp and baresip, later Kamailio - on loopback
// only, with every port chosen at run time.
//
// Run one test:
//
//	go test -race -count=1 -run TestCallRTP -v ./test/e2e/
//
// A missing peer skips a test ("not installed (CI unset)"); with CI=true it fails it.
// scripts/install-peers.sh installs the peers (Debian). SIPp scenarios and the pcap they
// play are in testdata/sipp, the baresip configuration templates in testdata/baresip.
package e2e
