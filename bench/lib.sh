# Helpers for bench/run.sh (sourced). Loopback only; every process started here is
# tracked by pid and stopped by pid.
# Address plan (bench-reserved, apart from the shared lab's 127.0.0.2-9 and the e2e tests'
# 127.0.0.1):
#   127.0.10.1  Trunkline (SIP + HTTP)        127.0.10.2  Kamailio (registrar / proxy)
#   127.0.10.3  SIPp UAS "trunk 1"            127.0.10.4  SIPp UAS "trunk 2" (failover)
#   127.0.10.5  rtpengine (ng + media)        127.0.11.N  SIPp UAC sources (one per process)
# Ports are picked at run time (free on UDP and TCP).

TL_IP=127.0.10.1
KAM_IP=127.0.10.2
UAS_IP=127.0.10.3
UAS2_IP=127.0.10.4
RTPE_IP=127.0.10.5
UAC_NET=127.0.11
CLK_TCK=$(getconf CLK_TCK)
BENCH_PIDS=()

log() { printf '%s %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
die() { log "FATAL: $*"; exit 1; }

# free_port IP -> a port free for UDP and TCP on IP (never 5060-5099)
free_port() {
  python3 - "$1" <<'EOF'
import socket, sys, random
ip = sys.argv[1]
for _ in range(200):
    p = random.randint(21000, 59000)
    if 5060 <= p < 5100: continue
    ok = True
    for t in (socket.SOCK_DGRAM, socket.SOCK_STREAM):
        s = socket.socket(socket.AF_INET, t)
        try: s.bind((ip, p))
        except OSError: ok = False
        finally: s.close()
    if ok: print(p); sys.exit(0)
sys.exit(1)
EOF
}

# cpu_ticks PID... -> utime+stime (clock ticks) summed over the pids (dead pids count 0)
cpu_ticks() {
  local t=0 p f
  for p in "$@"; do
    f=$(cat /proc/$p/stat 2>/dev/null) || continue
    f=${f##*) }                       # fields from 3 on (comm may contain spaces)
    set -- $f
    t=$((t + ${12} + ${13}))          # fields 14, 15 of stat
  done
  echo $t
}
# ticks -> seconds with 3 decimals
ticks_s() { awk -v t="$1" -v h="$CLK_TCK" 'BEGIN{printf "%.3f", t/h}'; }

rss_kb() { awk '/^VmRSS:/{print $2}' /proc/$1/status 2>/dev/null || echo 0; }
# summed RSS over pids (Kamailio: shared memory is counted once per process touching it,
# so for Kamailio prefer kamcmd core.shmmem; see docs/benchmarks.md)
rss_sum() { local s=0 p; for p in "$@"; do s=$((s + $(rss_kb $p))); done; echo $s; }

other_procs() {   # sipp/kamailio/trunkline/rtpengine/go test processes that are not ours
  ps -eo pid,ppid,args --no-headers | grep -E 'sipp|kamailio|trunkline|rtpengine|go test|\.test ' \
    | { grep -v -E 'grep' || true; } | { grep -v -F "$BENCH_ROOT" || true; } | wc -l
}
machine_state() { echo "load=$(cut -d' ' -f1-3 /proc/loadavg) other_sip_or_test_procs=$(other_procs)"; }

# wait_idle MAXSEC: wait until the 1-min load < IDLE_LOAD (default 0.3) and no other
# SIP/test processes run, or MAXSEC passed
wait_idle() {
  local max=$1 i
  for ((i = 0; i < max; i += 5)); do
    awk -v l="$(cut -d' ' -f1 /proc/loadavg)" -v m="${IDLE_LOAD:-0.3}" 'BEGIN{exit !(l < m)}' \
      && [ "$(other_procs)" = 0 ] && return 0
    sleep 5
  done
  return 1
}

stop_pid() {   # stop_pid PID [SIGNAL]: TERM, then KILL after 5 s; only our own children
  local p=$1 sig=${2:-TERM} i
  kill -0 "$p" 2>/dev/null || return 0
  [ "$(ps -o ppid= -p "$p" 2>/dev/null | tr -d ' ')" = "$$" ] || return 0   # exited, pid reused
  kill -"$sig" "$p" 2>/dev/null || true
  for i in $(seq 50); do kill -0 "$p" 2>/dev/null || return 0; sleep 0.1; done
  kill -KILL "$p" 2>/dev/null || true
  wait "$p" 2>/dev/null || true
}

cleanup_all() {
  local p
  for p in "${BENCH_PIDS[@]}"; do stop_pid "$p"; done
  BENCH_PIDS=()
}

# ---------------------------------------------------------------- Trunkline
# tl_start DIR -> sets TL_PID TL_SIP_PORT TL_HTTP TL_TOKEN
tl_start() {
  local dir=$1
  rm -rf "$dir"; mkdir -p "$dir"; TL_DATA=$dir
  TL_SIP_PORT=$(free_port $TL_IP); local hp; hp=$(free_port $TL_IP)
  TL_HTTP=http://$TL_IP:$hp
  TL_TOKEN=bench-$(od -An -tx8 -N8 /dev/urandom | tr -d ' ')
  TRUNKLINE_ADMIN_TOKEN=$TL_TOKEN GOMAXPROCS=${TL_GOMAXPROCS:-} \
    "$BENCH_ROOT/.bin/trunkline" serve --data-dir "$dir" --sip-listen $TL_IP:$TL_SIP_PORT \
      --http-listen $TL_IP:$hp --rtp-ports "${TL_RTP_PORTS:-30000-45999}" --external-ip $TL_IP \
      --log-level "${TL_LOG_LEVEL:-warn}" > "$dir/trunkline.log" 2>&1 &
  TL_PID=$!; BENCH_PIDS+=($TL_PID)
  local i
  for i in $(seq 100); do
    curl -fsS -o /dev/null -H "Authorization: Bearer $TL_TOKEN" "$TL_HTTP/api/v1/health" 2>/dev/null && return 0
    kill -0 $TL_PID 2>/dev/null || { tail -20 "$dir/trunkline.log"; die "trunkline exited"; }
    sleep 0.1
  done
  die "trunkline did not answer on $TL_HTTP"
}
# tl_restart: stop and start Trunkline on the same data dir, ports and token (bindings and
# configuration persist in its database; in-memory state such as the digest nonce-count
# table starts empty)
tl_restart() {
  local dir=$TL_DATA hp=${TL_HTTP##*:}
  stop_pid "$TL_PID"
  TRUNKLINE_ADMIN_TOKEN=$TL_TOKEN GOMAXPROCS=${TL_GOMAXPROCS:-} \
    "$BENCH_ROOT/.bin/trunkline" serve --data-dir "$dir" --sip-listen $TL_IP:$TL_SIP_PORT \
      --http-listen $TL_IP:$hp --rtp-ports "${TL_RTP_PORTS:-30000-45999}" --external-ip $TL_IP \
      --log-level "${TL_LOG_LEVEL:-warn}" >> "$dir/trunkline.log" 2>&1 &
  TL_PID=$!; BENCH_PIDS+=($TL_PID)
  local i
  for i in $(seq 100); do
    curl -fsS -o /dev/null -H "Authorization: Bearer $TL_TOKEN" "$TL_HTTP/api/v1/health" 2>/dev/null && return 0
    kill -0 $TL_PID 2>/dev/null || { tail -20 "$dir/trunkline.log"; die "trunkline exited"; }
    sleep 0.1
  done
  die "trunkline did not answer on $TL_HTTP after a restart"
}
tl_api() {  # tl_api METHOD PATH [JSON]
  curl -fsS -X "$1" -H "Authorization: Bearer $TL_TOKEN" -H 'Content-Type: application/json' \
    ${3:+-d "$3"} "$TL_HTTP$2"
}
tl_stop() { [ -n "${TL_PID:-}" ] && stop_pid "$TL_PID"; TL_PID=; }

# ---------------------------------------------------------------- Kamailio
# kam_start CFG DIR [-A DEFINE...] -> KAM_PID (main), KAM_PORT; all its pids: kam_pids
kam_start() {
  local cfg=$1 dir=$2; shift 2
  rm -rf "$dir"; mkdir -p "$dir"
  KAM_PORT=$(free_port $KAM_IP)
  local cmd=(kamailio -f "$BENCH_ROOT/kamailio/$cfg" -A "KAM_IP=$KAM_IP" -A "KAM_PORT=$KAM_PORT"
             -A "CHILDREN=${KAM_CHILDREN:-2}" -A "CTL_SOCK=\"unix:$dir/ctl\"" "$@"
             -DD -E -P "$dir/kamailio.pid" -Y "$dir" -w "$dir" -m "${KAM_SHM_MB:-1024}" -M 16)
  "${cmd[@]}" -c > "$dir/check.log" 2>&1 || { cat "$dir/check.log"; die "kamailio config check failed"; }
  ( ulimit -c 0; exec "${cmd[@]}" ) > "$dir/kamailio.log" 2>&1 < /dev/null &
  KAM_PID=$!; BENCH_PIDS+=($KAM_PID); KAM_DIR=$dir
  local i
  for i in $(seq 100); do
    [ -S "$dir/ctl" ] && { sleep 0.3; return 0; }
    kill -0 $KAM_PID 2>/dev/null || { tail -20 "$dir/kamailio.log"; die "kamailio exited"; }
    sleep 0.1
  done
  die "kamailio did not start"
}
kam_pids() { echo $KAM_PID $(ps -o pid= --ppid $KAM_PID); }
kam_cmd() { kamcmd -s "unix:$KAM_DIR/ctl" "$@"; }
kam_stop() { [ -n "${KAM_PID:-}" ] && stop_pid "$KAM_PID"; KAM_PID=; }

# ---------------------------------------------------------------- SIPp
# uas_start NAME IP PORT SCENARIO [extra args] -> pid in UAS_PIDS[NAME]; runs in $RUN/NAME
declare -A UAS_PIDS
uas_start() {
  local name=$1 ip=$2 port=$3 sf=$4; shift 4
  local d=$RUN/$name; mkdir -p "$d"
  ss -uanH "src $ip:$port" | grep -q . && die "UDP $ip:$port busy (ss -uanp)"
  ( cd "$d" && exec sipp -sf "$BENCH_ROOT/sipp/$sf" -i $ip -p $port -nostdin -buff_size 4194304 \
      -trace_err -trace_screen "$@" ) > "$d/stdout" 2>&1 < /dev/null &
  UAS_PIDS[$name]=$!; BENCH_PIDS+=($!)
  sleep 0.3
  kill -0 ${UAS_PIDS[$name]} 2>/dev/null || { cat "$d/stdout"; die "UAS $name did not start"; }
}
uas_stop() {   # SIGUSR1 makes SIPp write its final screen, then stop_pid
  local p=${UAS_PIDS[$1]:-}
  if [ -n "$p" ] && [ "$(ps -o ppid= -p "$p" 2>/dev/null | tr -d ' ')" = "$$" ]; then
    kill -USR1 "$p" 2>/dev/null || true; stop_pid "$p"
  fi
  UAS_PIDS[$1]=
}

# uac_multi TAG TARGET SCENARIO PROCS RATE COUNT TIMEOUT_S [extra sipp args]
# PROCS SIPp processes, process k on 127.0.11.k, each at RATE/PROCS calls/s and COUNT/PROCS
# calls (Trunkline rate-limits every source address to 200 requests/s, so the load is
# spread over several addresses; the peer gets the very same spread). Per-process CSV
# inputs: if UAC_INF_DIR is set, process k reads $UAC_INF_DIR/users.k.csv.
# Waits for all; their output is in $RUN/TAG/k/.
uac_multi() {
  local tag=$1 target=$2 sf=$3 procs=$4 rate=$5 count=$6 tmo=$7; shift 7
  local k pids=() d r m
  for ((k = 1; k <= procs; k++)); do
    d=$RUN/$tag/$k; mkdir -p "$d"; ln -sf "$BENCH_ROOT/.work/pcma.raw" "$d/pcma.raw"
    r=$(awk -v r=$rate -v p=$procs 'BEGIN{printf "%.3f", r/p}')
    m=$(( count / procs + (k <= count % procs ? 1 : 0) ))
    local inf=(); [ -n "${UAC_INF_DIR:-}" ] && inf=(-inf "$UAC_INF_DIR/users.$k.csv")
    ( cd "$d" && exec timeout -s USR1 $((tmo + 30)) sipp "$target" -sf "$BENCH_ROOT/sipp/$sf" \
        -i $UAC_NET.$k -r "$r" -m $m -timeout ${tmo}s -nostdin -buff_size 4194304 \
        -trace_stat -fd 1 -stf stat.csv -trace_counts -trace_rtt -rtt_freq 1 -trace_err -trace_screen \
        "${inf[@]}" "$@" ) > "$d/stdout" 2>&1 < /dev/null &
    pids+=($!)
  done
  local rc=0; for k in "${pids[@]}"; do wait $k || rc=1; done
  return $rc
}
