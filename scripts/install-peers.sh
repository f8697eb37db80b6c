#!/usr/bin/env bash
# Installs the third-party SIP peers the end-to-end tests run against (Debian/Ubuntu):
#   sipp (sip-tester), kamailio (+ extra and utils modules), baresip (baresip-core), sipsak.
# Idempotent: does nothing when everything is present; runs `apt-get update` only when a
# package is missing. Needs root (CI runs as root) or sudo.
# If the install started a kamailio service it is stopped and disabled: it would listen on
# port 5060 of every address.
set -euo pipefail

log() { echo "install-peers: $*"; }

# package -> the binary that proves it is installed; empty: a module package, checked with dpkg-query
declare -A probe=(
	[sip-tester]=sipp
	[kamailio]=kamailio
	[kamailio-extra-modules]=
	[kamailio-utils-modules]=
	[baresip-core]=baresip
	[sipsak]=sipsak
)
order=(sip-tester kamailio kamailio-extra-modules kamailio-utils-modules baresip-core sipsak)

installed() { # package
	dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q '^install ok installed$'
}

missing=()
for pkg in "${order[@]}"; do
	bin=${probe[$pkg]}
	if [ -n "$bin" ]; then
		if command -v "$bin" >/dev/null 2>&1 || [ -x "/usr/sbin/$bin" ]; then
			continue
		fi
	elif ! command -v dpkg-query >/dev/null 2>&1 || installed "$pkg"; then
		continue # module packages: checked where dpkg exists
	fi
	missing+=("$pkg")
done

if [ ${#missing[@]} -eq 0 ]; then
	log "all peers present: sipp kamailio baresip sipsak (nothing to do)"
	exit 0
fi

log "missing: ${missing[*]}"
if ! command -v apt-get >/dev/null 2>&1; then
	log "apt-get not found: install ${missing[*]} with your package manager" >&2
	exit 1
fi

SUDO=
if [ "$(id -u)" != 0 ]; then
	if command -v sudo >/dev/null 2>&1; then
		SUDO="sudo"
	else
		log "not root and no sudo: cannot install ${missing[*]}" >&2
		exit 1
	fi
fi

export DEBIAN_FRONTEND=noninteractive
# tshark may be pulled in by a dependency on some releases: never ask about setuid dumpcap
if command -v debconf-set-selections >/dev/null 2>&1; then
	echo "wireshark-common wireshark-common/install-setuid boolean false" | $SUDO debconf-set-selections
	log "preseeded wireshark-common/install-setuid=false"
fi
log "apt-get update"
$SUDO apt-get update -q
log "apt-get install --no-install-recommends ${missing[*]}"
$SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}"

# A kamailio service started by the package would take port 5060.
if [ -d /run/systemd/system ] && command -v systemctl >/dev/null 2>&1; then
	if systemctl is-active --quiet kamailio 2>/dev/null || systemctl is-enabled --quiet kamailio 2>/dev/null; then
		$SUDO systemctl disable --now kamailio
		log "stopped and disabled the kamailio systemd service (it would take port 5060)"
	fi
else
	# no systemd: the package's init script runs kamailio with this pid file (other
	# kamailio processes, e.g. a test lab's, are left alone)
	pidfile=/run/kamailio/kamailio.pid
	if [ -x /etc/init.d/kamailio ] && [ -s "$pidfile" ] && kill -0 "$(cat "$pidfile")" 2>/dev/null; then
		$SUDO /etc/init.d/kamailio stop || true
		log "stopped the kamailio init.d service (it would take port 5060)"
	fi
fi

for b in sipp kamailio baresip sipsak; do
	if ! command -v "$b" >/dev/null 2>&1 && ! [ -x "/usr/sbin/$b" ]; then
		log "$b still missing after the install" >&2
		exit 1
	fi
done
log "installed: ${missing[*]}"
