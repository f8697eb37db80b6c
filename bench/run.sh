#!/usr/bin/env bash
# Trunkline load benchmarks against a peer in the same run (docs/benchmarks.md).
#   bench/run.sh                      everything (micro P1 P2 P3 P4 P5 P6), ~25 min at the defaults
#   PHASES="p1 p2" bench/run.sh       a subset
#   QUICK=1 bench/run.sh              short steps and small counts, to check the harness
# Knobs (environment): USERS (P1/P4 users, default 100000, created by the bulk import),
# STEP_S (seconds per load step, 10), P1_RATES, P2_RATES (steps), HOLD_MS (P2 call length, 1000),
# P1_RESTART=1 (restart Trunkline before each P1 step: the old work-around for the digest
# nonce-table lockout fixed in cd28dca; off by default so the nonce table is exercised),
# TL_RTP_PORTS (Trunkline's --rtp-ports, 10000-60000: wide enough that P2's ceiling is CPU, not
# the port quarantine), PHASE_IDLE_WAIT_S (before each phase wait up to this for load <
# PHASE_IDLE_LOAD (0.4) and no other SIPp/Kamailio/Trunkline/go test processes, 150),
# KAM_AUTHDB=1 (P1 peer with auth_db over db_text instead of an htable: its cost grows with USERS),
# P3_CALLS (concurrent media calls, 200), P3_HOLD_S (20), P5_CALLS (1000), P6_N (50),
# P6_TIMEOUT_MS (invite_timeout_ms of the silent trunk, 1000), REG_PER_PROC (70),
# CPS_PER_PROC (50), IDLE_WAIT_S (wait up to this for load < 0.3 and no other SIPp/Kamailio/
# Trunkline/go test processes before starting, 120), REQUIRE_IDLE=1 (give up if still busy).
# Raw data: bench/results/<timestamp>/ (ignored by git); summary: .../summary.md (printed).
set -Eeuo pipefail
BENCH_ROOT=$(cd "$(dirname "$0")" && pwd)
REPO=$(cd "$BENCH_ROOT/.." && pwd)
source "$BENCH_ROOT/lib.sh"

QUICK=${QUICK:-0}
PHASES=${PHASES:-"micro p4 p1 p2 p5 p3 p6"}
if [ "$QUICK" = 1 ]; then
  USERS=${USERS:-1000}; STEP_S=${STEP_S:-3}; P1_RATES=${P1_RATES:-"100 200 400"}; PHASE_IDLE_WAIT_S=${PHASE_IDLE_WAIT_S:-0}
  P2_RATES=${P2_RATES:-"50 100 200"}; P3_CALLS=${P3_CALLS:-20}; P3_HOLD_S=${P3_HOLD_S:-6}
  P5_CALLS=${P5_CALLS:-200}; P6_N=${P6_N:-5}; IDLE_WAIT_S=${IDLE_WAIT_S:-0}; BENCHTIME=${BENCHTIME:-100ms}
fi
USERS=${USERS:-100000}; STEP_S=${STEP_S:-10}
P1_RATES=${P1_RATES:-"500 1000 2000 3000 4000 5000 6000 8000"}
P1_RESTART=${P1_RESTART:-0}
P2_RATES=${P2_RATES:-"50 100 200 300 400 600 800 1000"}
TL_RTP_PORTS=${TL_RTP_PORTS:-10000-60000}   # read by tl_start/tl_restart (bench/lib.sh)
PHASE_IDLE_WAIT_S=${PHASE_IDLE_WAIT_S:-150}; PHASE_IDLE_LOAD=${PHASE_IDLE_LOAD:-0.4}
HOLD_MS=${HOLD_MS:-1000}
P3_CALLS=${P3_CALLS:-200}; P3_HOLD_S=${P3_HOLD_S:-20}
P4_RATE=${P4_RATE:-500}
P5_CALLS=${P5_CALLS:-1000}; P5_RATE=${P5_RATE:-100}
P6_N=${P6_N:-50}; P6_TIMEOUT_MS=${P6_TIMEOUT_MS:-1000}
REG_PER_PROC=${REG_PER_PROC:-70}; CPS_PER_PROC=${CPS_PER_PROC:-50}
IDLE_WAIT_S=${IDLE_WAIT_S:-120}; BENCHTIME=${BENCHTIME:-1s}

STAMP=$(date -u +%Y%m%dT%H%M%SZ)
RES=$BENCH_ROOT/results/$STAMP
RUN=$RES/raw
mkdir -p "$RUN"
SUM=$RES/summary.md
TSV=$RES/figures.tsv
: > "$TSV"
trap cleanup_all EXIT INT TERM
trap 'log "ERROR: rc $? at line $LINENO: $BASH_COMMAND"' ERR
exec > >(tee -a "$RES/run.log") 2>&1

fig() { printf '%s\t%s\t%s\t%s\n' "$1" "$2" "$3" "$4" >> "$TSV"; log "FIGURE $1 | $2 | $3 | $4"; }
has_phase() { [[ " $PHASES " == *" $1 "* ]]; }
ceil_div() { echo $(( ($1 + $2 - 1) / $2 )); }
calc() { awk "BEGIN{printf \"%.${2:-2}f\", $1}"; }

# ---------------------------------------------------------------- setup
install_deps() {
  local need=()
  command -v sipp >/dev/null || need+=(sip-tester)
  command -v kamailio >/dev/null || need+=(kamailio kamailio-extra-modules)
  command -v rtpengine >/dev/null || need+=(rtpengine-daemon)
  command -v curl >/dev/null || need+=(curl)
  if [ ${#need[@]} -gt 0 ]; then
    log "installing ${need[*]}"
    [ "$(id -u)" = 0 ] || die "need root to apt-get install ${need[*]}"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need[@]}" \
      || log "WARNING: apt-get install ${need[*]} failed (P3 peer needs rtpengine-daemon)"
  fi
  # the rtpengine package tries to start its service; we run our own instance
  command -v sipp >/dev/null && command -v kamailio >/dev/null || die "sipp/kamailio missing"
}

install_deps
mkdir -p "$BENCH_ROOT/.bin" "$BENCH_ROOT/.work"
log "building trunkline"
(cd "$REPO" && CGO_ENABLED=0 go build -o "$BENCH_ROOT/.bin/trunkline" ./cmd/trunkline)
python3 -c "open('$BENCH_ROOT/.work/pcma.raw','wb').write(bytes([0xd5, 0x55]) * 8000)"   # 2 s of A-law

if [ "$IDLE_WAIT_S" -gt 0 ] && ! wait_idle "$IDLE_WAIT_S"; then
  log "WARNING: machine not idle after ${IDLE_WAIT_S}s: $(machine_state)"
  [ "${REQUIRE_IDLE:-0}" = 1 ] && die "REQUIRE_IDLE=1: not measuring on a busy machine"
fi
START_STATE=$(machine_state)
log "start: $START_STATE"
{
  echo "date_utc=$STAMP"
  echo "machine=nproc $(nproc), $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')"
  echo "start_state=$START_STATE"
  echo "trunkline=$(cd "$REPO" && git rev-parse --short HEAD)$(cd "$REPO" && git diff --quiet HEAD -- . ':!bench' ':!docs/benchmarks.md' ':!Makefile' || echo '+dirty')"
  echo "kamailio=$(kamailio -v 2>/dev/null | head -1)"
  echo "sipp=$( (sipp -v 2>/dev/null || true) | grep -o 'SIPp v[^ ]*' | head -1)"
  echo "rtpengine=$(rtpengine --version 2>&1 | head -1)"
  echo "go=$(go version)"
  echo "knobs=QUICK=$QUICK PHASES='$PHASES' USERS=$USERS STEP_S=$STEP_S P1_RATES='$P1_RATES' P1_RESTART=$P1_RESTART P2_RATES='$P2_RATES' HOLD_MS=$HOLD_MS TL_RTP_PORTS=$TL_RTP_PORTS P3_CALLS=$P3_CALLS P3_HOLD_S=$P3_HOLD_S P5_CALLS=$P5_CALLS P6_N=$P6_N"
} > "$RES/env.txt"
cat "$RES/env.txt"

# ---------------------------------------------------------------- SUT set-up
UAS_T_PORT=; UAS_K_PORT=
setup_trunkline() {
  tl_start "$RUN/tl-data"
  UAS_T_PORT=$(free_port $UAS_IP)
  tl_api POST /api/v1/trunks '{"name":"callers","kind":"ip","associated_ips":["127.0.11.0/24"],"options_interval":-1}' >/dev/null
  tl_api POST /api/v1/trunks "{\"name\":\"uas1\",\"kind\":\"ip\",\"host\":\"$UAS_IP\",\"port\":$UAS_T_PORT,\"options_interval\":-1,\"default_outbound\":true}" >/dev/null
  tl_api POST /api/v1/inbound-rules '{"name":"transit","priority":10,"trunk":"callers","destination":{"type":"dialed"}}' >/dev/null
  log "trunkline pid $TL_PID sip $TL_IP:$TL_SIP_PORT http $TL_HTTP"
}
kam_registrar() {
  KAM_R_DIR=$RUN/kam-reg
  local authdb=(); [ "${KAM_AUTHDB:-0}" = 1 ] && authdb=(-A WITH_AUTHDB)
  kam_start registrar.cfg "$KAM_R_DIR" -A "DB_URL=\"text://$RUN/users/kamdb\"" "${authdb[@]}"
  KAM_R_PID=$KAM_PID; KAM_R_PORT=$KAM_PORT
}
kam_proxy() {   # kam_proxy DIR [defines...]
  local dir=$1; shift
  UAS_K_PORT=$(free_port $UAS_IP)
  kam_start proxy.cfg "$dir" -A "UAS_URI=\"sip:$UAS_IP:$UAS_K_PORT\"" "$@"
}
tl_metric() { curl -fsS "$TL_HTTP/metrics" | awk -v m="$1" '$1==m{printf "%.0f\n", $2}'; }
tl_gc() { curl -fsS -o /dev/null -H "Authorization: Bearer $TL_TOKEN" "$TL_HTTP/debug/pprof/heap?gc=1"; }  # forces a GC
tl_profile() {  # tl_profile SECONDS OUT: CPU profile from the running Trunkline (/debug/pprof, token)
  curl -fsS -H "Authorization: Bearer $TL_TOKEN" -o "$2.pb.gz" "$TL_HTTP/debug/pprof/profile?seconds=$1" \
    && go tool pprof -top -nodecount=30 "$BENCH_ROOT/.bin/trunkline" "$2.pb.gz" > "$2.top.txt" 2>/dev/null \
    && go tool pprof -top -cum -nodecount=60 "$BENCH_ROOT/.bin/trunkline" "$2.pb.gz" > "$2.cum.txt" 2>/dev/null \
    && log "profile: $2.top.txt"
}

# phase_gate NAME: before each phase, wait (up to PHASE_IDLE_WAIT_S) until the 1-min load is
# below PHASE_IDLE_LOAD and no foreign SIPp/Kamailio/Trunkline/go test process runs (ours are
# idle between phases); the state at each phase start goes to phases.txt and the summary
phase_gate() {
  if [ "$PHASE_IDLE_WAIT_S" -gt 0 ] && ! IDLE_LOAD=$PHASE_IDLE_LOAD wait_idle "$PHASE_IDLE_WAIT_S"; then
    log "WARNING: phase $1 starts on a busy machine after ${PHASE_IDLE_WAIT_S}s"
  fi
  local st; st=$(machine_state)
  log "phase $1 start: $st"; echo "$1: $st" >> "$RES/phases.txt"
}
# wal_watch_start / wal_watch_stop: sample the size of Trunkline's SQLite WAL
# ($TL_DATA/trunkline.db-wal) every 0.5 s; wal_watch_stop sets WAL_MAX_KB and WAL_END_KB
WAL_WATCH=
wal_watch_start() {
  echo 0 > "$RUN/wal.max"
  ( m=0; while :; do
      s=$(stat -c %s "$TL_DATA/trunkline.db-wal" 2>/dev/null || echo 0)
      [ "$s" -gt "$m" ] && { m=$s; echo $m > "$RUN/wal.max"; }
      sleep 0.5
    done ) & WAL_WATCH=$!; BENCH_PIDS+=($WAL_WATCH)
}
wal_watch_stop() {
  [ -n "$WAL_WATCH" ] && stop_pid "$WAL_WATCH"; WAL_WATCH=
  WAL_MAX_KB=$(( $(cat "$RUN/wal.max" 2>/dev/null || echo 0) / 1024 ))
  WAL_END_KB=$(( $(stat -c %s "$TL_DATA/trunkline.db-wal" 2>/dev/null || echo 0) / 1024 ))
}

# ---------------------------------------------------------------- micro
if has_phase micro; then
  phase_gate micro
  log "== micro-benchmarks (go test -bench, benchtime $BENCHTIME)"
  (cd "$REPO" && go test -run '^$' -bench . -benchmem -benchtime "$BENCHTIME" ./internal/... ) > "$RES/micro.txt" 2>&1 || log "WARNING: go test -bench failed"
  grep -E '^Benchmark' "$RES/micro.txt" | while read -r name n rest; do
    fig "micro" "$name" "$(echo "$rest" | awk '{for (i = 1; i < NF; i += 2) printf "%s%s %s", (i > 1 ? ", " : ""), $i, $(i+1)}')" "$n iterations"
  done
  # CPU profiles of the hot-path micro-benchmarks
  (cd "$REPO" && go test -run '^$' -bench 'BenchmarkRegisterDigest$' -benchtime "$BENCHTIME" \
      -cpuprofile "$RES/micro-register.pb.gz" -o "$RUN/sipedge.test" ./internal/sipedge/ >/dev/null 2>&1 \
    && go tool pprof -top -nodecount=25 "$RUN/sipedge.test" "$RES/micro-register.pb.gz" > "$RES/micro-register.top.txt" 2>/dev/null) || true
fi

# users for P1/P4 (SIPp CSVs per process, Kamailio subscriber table)
MAXP1=0; for r in $P1_RATES $P4_RATE; do [ "$r" -gt "$MAXP1" ] && MAXP1=$r; done
REG_PROCS=$(ceil_div "$MAXP1" "$REG_PER_PROC")
procs_for_reg() { ceil_div "$1" "$REG_PER_PROC"; }
procs_for_cps() { ceil_div "$1" "$CPS_PER_PROC"; }

if has_phase p1 || has_phase p4; then
  python3 "$BENCH_ROOT/tools/provision.py" --users "$USERS" --procs 1 --out "$RUN/users"
fi
# per-step CSVs: N users spread over P files (regenerated per step, cheap)
split_users() {  # split_users N P DIR
  mkdir -p "$3"
  python3 - "$RUN/users/users.1.csv" "$1" "$2" "$3" <<'EOF'
import sys
src, n, p, out = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
lines = open(src).read().splitlines()[1:]
fs = [open(f"{out}/users.{k}.csv", "w") for k in range(1, p + 1)]
for f in fs: f.write("SEQUENTIAL\n")
for i in range(n): fs[i % p].write(lines[i % len(lines)] + "\n")
EOF
}

# reg_step SUT TAG TARGET RATE COUNT PIDS... -> sets S_* (stats) and CPU_S
reg_step() {
  local sut=$1 tag=$2 target=$3 rate=$4 count=$5; shift 5
  local procs; procs=$(procs_for_reg "$rate")
  split_users "$count" "$procs" "$RUN/$tag/csv"
  local c0 c1
  c0=$(cpu_ticks "$@")
  UAC_INF_DIR=$RUN/$tag/csv uac_multi "$tag/sipp" "$target" register_auth.xml "$procs" "$rate" "$count" \
    $(( count / rate * 3 + 30 )) || true
  c1=$(cpu_ticks "$@")
  CPU_S=$(ticks_s $((c1 - c0)))
  eval "S_$(python3 "$BENCH_ROOT/tools/sippstat.py" "$RUN/$tag/sipp" | sed 's/ / S_/g')"
  log "$sut $tag: rate $rate x $count over $procs procs: ok $S_ok failed $S_failed retrans $S_retrans stale401 $S_stale401 rate $S_rate p50 $S_p50 p99 $S_p99 cpu ${CPU_S}s"
}
step_pass() {  # step_pass RATE: 0 failures and >= 95 % of the asked rate
  [ "$S_failed" = 0 ] && [ "$S_ok" -gt 0 ] && awk -v a="$S_rate" -v r="$1" 'BEGIN{exit !(a >= 0.95*r)}'
}
per1k() { [ "$S_ok" -gt 0 ] && calc "$CPU_S * 1000 / $S_ok" 3 || echo NA; }

TL_UP=0; KR_UP=0
ensure_tl() { [ "$TL_UP" = 1 ] || { setup_trunkline; TL_UP=1; }; }

# ---------------------------------------------------------------- P4: RSS per 10k registrations
if has_phase p4 || has_phase p1; then
  phase_gate p4
  ensure_tl
  log "== P4/P1 initial registration of $USERS users (both fresh), $P4_RATE reg/s"
  python3 "$BENCH_ROOT/tools/provision.py" --users "$USERS" --procs 1 --out "$RUN/users" \
     --api "$TL_HTTP" --token "$TL_TOKEN" | tee "$RES/provision.txt"
  fig P1 "provisioning: POST /api/v1/extensions/import, $USERS extensions in batches of 20000" \
      "$(awk '/^created/{print $5" s"}' "$RES/provision.txt")" "$(cat "$RES/provision.txt"); not part of any other figure"
  sleep 3   # extensions reach the registrar's snapshot asynchronously
  kam_registrar; KR_UP=1
  sleep 1
  wal_watch_start
  rss0=$(rss_kb $TL_PID); g0=$(tl_metric go_goroutines || true)
  tl_gc; heap0=$(tl_metric go_memstats_heap_inuse_bytes)
  reg_step trunkline p4-tl "$TL_IP:$TL_SIP_PORT" "$P4_RATE" "$USERS" $TL_PID
  S_OK_P4=$S_ok
  sleep 2; rss1=$(rss_kb $TL_PID); nreg=$(tl_metric trunkline_registrations || echo "?")
  fig P4 "trunkline RSS per 10k registrations" "$(calc "($rss1 - $rss0) / ($S_ok / 10000)" 0) KB" \
      "RSS $rss0 -> $rss1 KB, $S_ok new bindings ($nreg in location), $(calc "($rss1-$rss0)*1024/$S_ok" 0) B each; target <= 1 KB each"
  # Steady state: the REGISTER transactions are kept for Timer J (64*T1 = 32 s) after
  # their final response; after that and a forced GC, what stays is the bindings.
  sleep 35; tl_gc; heap1=$(tl_metric go_memstats_heap_inuse_bytes)
  curl -fsS -H "Authorization: Bearer $TL_TOKEN" -o "$RES/heap-p4.pb.gz" "$TL_HTTP/debug/pprof/heap?gc=1" \
    && go tool pprof -top -inuse_space -nodecount=25 "$BENCH_ROOT/.bin/trunkline" "$RES/heap-p4.pb.gz" > "$RES/heap-p4.top.txt" 2>/dev/null
  fig P4 "trunkline live heap per registration (after Timer J and a GC)" "$(calc "($heap1 - $heap0) / $S_ok" 0) B" \
      "heap in use $(calc "$heap0/1048576" 1) -> $(calc "$heap1/1048576" 1) MB after GC, $S_ok bindings; RSS does not shrink as fast (the Go runtime returns pages lazily)"
  fig P1 "trunkline initial REGISTER (new bindings) CPU per 1k" "$(per1k) CPU-s" "$P4_RATE/s, failed $S_failed"
  ktot0=$(kam_cmd core.shmmem | awk '/real_used/{print $2}')
  KR_PIDS=$(kam_pids); krss0=$(rss_sum $KR_PIDS)
  reg_step kamailio p4-kam "$KAM_IP:$KAM_R_PORT" "$P4_RATE" "$USERS" $KR_PIDS
  ktot1=$(kam_cmd core.shmmem | awk '/real_used/{print $2}')
  fig P4 "kamailio shm real_used per 10k registrations" "$(calc "($ktot1 - $ktot0) / 1024 / ($S_ok / 10000)" 0) KB" \
      "$(calc "($ktot1-$ktot0)/$S_ok" 0) B each (q_malloc incl. overhead)"
  fig P1 "kamailio initial REGISTER CPU per 1k" "$(per1k) CPU-s" "$P4_RATE/s, failed $S_failed"
fi

# ---------------------------------------------------------------- P1: stepped registration rate
if has_phase p1; then
  phase_gate p1
  log "== P1 stepped REGISTER rate (re-registrations of the same users), ${STEP_S}s steps, alternating, restart before each Trunkline step: $P1_RESTART"
  KR_PIDS=$(kam_pids)
  t_ok=1; k_ok=1; t_max=0; k_max=0; i=0; best_common=""; stale_tot=0; tl_regs=${S_OK_P4:-0}
  echo -e "rate\tsut\tok\tfailed\tretrans\tstale401\tachieved\tp50_ms\tp99_ms\tcpu_s\tcpu_per_1k" > "$RES/p1.tsv"
  for rate in $P1_RATES; do
    count=$(( rate * STEP_S )); i=$((i + 1))
    order="tl kam"; [ $((i % 2)) = 0 ] && order="kam tl"
    declare -A P1C=()
    for s in $order; do
      if [ $s = tl ] && [ $t_ok = 1 ]; then
        # P1_RESTART=1: restart (same database: bindings persist) so that the digest
        # nonce-count table starts empty. Needed before cd28dca, when a full table (65,536
        # nonces per 5-10 min) refused every new nonce; now a full generation starts a new
        # one, so by default Trunkline runs through all steps (and the profile) unrestarted.
        [ "$P1_RESTART" = 1 ] && tl_restart
        reg_step trunkline p1-tl-$rate "$TL_IP:$TL_SIP_PORT" "$rate" "$count" $TL_PID
        stale_tot=$((stale_tot + S_stale401)); tl_regs=$((tl_regs + S_ok))
        echo -e "$rate\ttrunkline\t$S_ok\t$S_failed\t$S_retrans\t$S_stale401\t$S_rate\t$S_p50\t$S_p99\t$CPU_S\t$(per1k)" >> "$RES/p1.tsv"
        if step_pass $rate; then t_max=$rate; P1C[tl]=$(per1k); TL_P1_LAST=$(per1k); else t_ok=0; fi
      elif [ $s = kam ] && [ $k_ok = 1 ]; then
        reg_step kamailio p1-kam-$rate "$KAM_IP:$KAM_R_PORT" "$rate" "$count" $KR_PIDS
        echo -e "$rate\tkamailio\t$S_ok\t$S_failed\t$S_retrans\t$S_stale401\t$S_rate\t$S_p50\t$S_p99\t$CPU_S\t$(per1k)" >> "$RES/p1.tsv"
        if step_pass $rate; then k_max=$rate; P1C[kam]=$(per1k); else k_ok=0; fi
      fi
    done
    if [ -n "${P1C[tl]:-}" ] && [ -n "${P1C[kam]:-}" ]; then
      best_common="$rate ${P1C[tl]} ${P1C[kam]}"
    fi
    [ $t_ok = 0 ] && [ $k_ok = 0 ] && break
  done
  fig P1 "trunkline max REGISTER/s, 0 failures" "$t_max" "steps: $P1_RATES, ${STEP_S}s each (>= 95 % of the rate)"
  fig P1 "kamailio max REGISTER/s, 0 failures" "$k_max" "same steps"
  if [ -n "$best_common" ]; then
    set -- $best_common
    fig P1 "ratio reg per CPU-s trunkline/kamailio" "$(calc "$3 / $2" 2)x" \
        "at $1 reg/s (highest step both passed): trunkline $2, kamailio $3 CPU-s per 1k; target >= 1.0x"
  fi
  if [ "$t_max" -gt 0 ]; then
    # profile Trunkline at its highest passing rate
    [ "$P1_RESTART" = 1 ] && tl_restart
    ( sleep 1; tl_profile $((STEP_S > 4 ? STEP_S - 2 : 2)) "$RES/profile-p1" ) & prof=$!
    # allocations over the profile step: the difference of two allocs snapshots
    curl -fsS -H "Authorization: Bearer $TL_TOKEN" -o "$RES/allocs-p1-before.pb.gz" "$TL_HTTP/debug/pprof/allocs" || true
    reg_step trunkline p1-tl-profile "$TL_IP:$TL_SIP_PORT" "$t_max" $(( t_max * STEP_S )) $TL_PID
    wait $prof || true
    curl -fsS -H "Authorization: Bearer $TL_TOKEN" -o "$RES/allocs-p1-after.pb.gz" "$TL_HTTP/debug/pprof/allocs" \
      && go tool pprof -top -sample_index=alloc_space -nodecount=30 -base "$RES/allocs-p1-before.pb.gz" \
           "$BENCH_ROOT/.bin/trunkline" "$RES/allocs-p1-after.pb.gz" > "$RES/allocs-p1.top.txt" 2>/dev/null || true
    stale_tot=$((stale_tot + S_stale401)); tl_regs=$((tl_regs + S_ok))
    fig P1 "trunkline profile step at $t_max reg/s" "$(per1k) CPU-s per 1k" \
        "ok $S_ok failed $S_failed stale401 $S_stale401 (profile-p1.top.txt; pprof itself costs a little)"
  fi
  fig P1 "trunkline stale=true 401s answered again (nonce table)" "$stale_tot" \
      "over $tl_regs registrations by one process (P1_RESTART=$P1_RESTART); a generation holds 131,072 nonces"
  kam_stop
fi
if [ -n "$WAL_WATCH" ]; then
  wal_watch_stop
  fig P1 "trunkline SQLite WAL size during P4+P1 (max / at the end)" "$(calc "$WAL_MAX_KB / 1024" 1) / $(calc "$WAL_END_KB / 1024" 1) MB" \
      "sampled every 0.5 s"
fi
if [ "$TL_UP" = 1 ] && { has_phase p2 || has_phase p5 || has_phase p3 || has_phase p6; }; then
  # a fresh Trunkline for calls (no USERS bindings in the way of the call figures)
  tl_stop; TL_UP=0
fi

# ---------------------------------------------------------------- P2: call setup
# call_step SUT TAG TARGET UASPORT RATE COUNT HOLD_MS PIDS... (fresh UAS per step)
call_step() {
  local sut=$1 tag=$2 target=$3 uport=$4 rate=$5 count=$6 hold=$7; shift 7
  local procs; procs=$(procs_for_cps "$rate")
  uas_start "$tag-uas" $UAS_IP "$uport" uas.xml
  local c0 c1
  c0=$(cpu_ticks "$@")
  uac_multi "$tag/sipp" "$target" uac.xml "$procs" "$rate" "$count" $(( count / rate * 3 + hold / 1000 + 30 )) \
    -s +4930555 -d "$hold" || true
  c1=$(cpu_ticks "$@")
  [ -n "$prof" ] && wait $prof
  uas_stop "$tag-uas"
  CPU_S=$(ticks_s $((c1 - c0)))
  eval "S_$(python3 "$BENCH_ROOT/tools/sippstat.py" "$RUN/$tag/sipp" "$(calc "$hold / 1000" 3)" | sed 's/ / S_/g')"
  log "$sut $tag: $rate cps x $count over $procs procs: ok $S_ok failed $S_failed retrans $S_retrans unexp $S_unexpected rate $S_rate p50 $S_p50 p99 $S_p99 cpu ${CPU_S}s"
}

if has_phase p2; then
  phase_gate p2
  log "== P2 stepped call rate, ${STEP_S}s steps, ${HOLD_MS} ms calls, alternating, rtp ports $TL_RTP_PORTS"
  ensure_tl
  read -r rlo rhi < <(echo "$TL_RTP_PORTS" | tr '-' ' ')
  fig P2 "RTP port quarantine ceiling (pairs / (2 x (call + 10 s)))" \
      "$(calc "(($rhi - $rlo + 1) / 2) / (2 * ($HOLD_MS / 1000 + 10))" 0) cps" \
      "--rtp-ports $TL_RTP_PORTS, $HOLD_MS ms calls, media.DefaultQuarantine 10 s; above it calls get 503 no media ports"
  wal_watch_start
  kam_proxy "$RUN/kam-proxy"; KP_PIDS=$(kam_pids)
  echo -e "rate\tsut\tok\tfailed\tretrans\tunexpected\tachieved\tp50_ms\tp99_ms\tcpu_s\tcpu_per_1k" > "$RES/p2.tsv"
  t_ok=1; k_ok=1; t_max=0; k_max=0; i=0; best_common=""
  declare -A P2P99=()
  for rate in $P2_RATES; do
    count=$(( rate * STEP_S )); i=$((i + 1))
    order="tl kam"; [ $((i % 2)) = 0 ] && order="kam tl"
    declare -A P2C=()
    for s in $order; do
      if [ $s = tl ] && [ $t_ok = 1 ]; then
        call_step trunkline p2-tl-$rate "$TL_IP:$TL_SIP_PORT" "$UAS_T_PORT" "$rate" "$count" "$HOLD_MS" $TL_PID
        echo -e "$rate\ttrunkline\t$S_ok\t$S_failed\t$S_retrans\t$S_unexpected\t$S_rate\t$S_p50\t$S_p99\t$CPU_S\t$(per1k)" >> "$RES/p2.tsv"
        if step_pass $rate; then t_max=$rate; P2C[tl]=$(per1k); P2P99[$rate]="$S_p50 $S_p99"; else
          t_ok=0   # why: the newest CDRs by disposition and cause
          tl_api GET "/api/v1/cdrs?limit=500" > "$RUN/p2-tl-$rate-cdrs.json" 2>/dev/null || true
          log "P2 trunkline $rate cps failed; newest 500 CDRs: $(python3 -c 'import collections,json,sys; print(dict(collections.Counter((c.get("disposition"), c.get("sip_code"), c.get("hangup_cause")) for c in json.load(open(sys.argv[1])).get("cdrs") or []).most_common(5)))' "$RUN/p2-tl-$rate-cdrs.json" 2>&1)"
        fi
      elif [ $s = kam ] && [ $k_ok = 1 ]; then
        call_step kamailio p2-kam-$rate "$KAM_IP:$KAM_PORT" "$UAS_K_PORT" "$rate" "$count" "$HOLD_MS" $KP_PIDS
        echo -e "$rate\tkamailio\t$S_ok\t$S_failed\t$S_retrans\t$S_unexpected\t$S_rate\t$S_p50\t$S_p99\t$CPU_S\t$(per1k)" >> "$RES/p2.tsv"
        if step_pass $rate; then k_max=$rate; P2C[kam]=$(per1k); else k_ok=0; fi
      fi
    done
    [ -n "${P2C[tl]:-}" ] && [ -n "${P2C[kam]:-}" ] && best_common="$rate ${P2C[tl]} ${P2C[kam]}"
    [ $t_ok = 0 ] && [ $k_ok = 0 ] && break
  done
  kam_stop
  fig P2 "trunkline max calls/s, 0 failures" "$t_max" "steps: $P2_RATES, ${STEP_S}s, ${HOLD_MS} ms calls"
  fig P2 "kamailio proxy max calls/s, 0 failures" "$k_max" "same steps (t_relay + record_route, no dialog module)"
  if [ -n "$best_common" ]; then
    set -- $best_common
    fig P2 "ratio calls per CPU-s trunkline/kamailio" "$(calc "$3 / $2" 2)x" \
        "at $1 cps: trunkline $2, kamailio $3 CPU-s per 1k calls; target >= 0.5x"
  fi
  if [ "$t_max" -gt 0 ]; then
    # p50/p99 at the step closest to half the max rate, against SIPp -> SIPp direct at that rate
    half=$(( t_max / 2 )); pick=""; for r in "${!P2P99[@]}"; do
      if [ -z "$pick" ] || [ $(( (r-half)*(r-half) )) -lt $(( (pick-half)*(pick-half) )) ]; then pick=$r; fi; done
    set -- ${P2P99[$pick]}
    call_step direct p2-direct-$pick "$UAS_IP:$UAS_T_PORT" "$UAS_T_PORT" "$pick" $(( pick * STEP_S )) "$HOLD_MS" $$
    fig P2 "trunkline INVITE->200 p50/p99 at $pick cps (~half max)" "$1 / $2 ms" \
        "direct SIPp->SIPp at the same rate: $S_p50 / $S_p99 ms (SIPp clock: 4 ms ticks); target p99 added < 10 ms"
    ( sleep 1; tl_profile $((STEP_S > 4 ? STEP_S - 2 : 2)) "$RES/profile-p2" ) & prof=$!
    call_step trunkline p2-tl-profile "$TL_IP:$TL_SIP_PORT" "$UAS_T_PORT" "$t_max" $(( t_max * STEP_S )) "$HOLD_MS" $TL_PID
    wait $prof || true
  fi
  wal_watch_stop
  fig P2 "trunkline SQLite WAL size during P2 (max / at the end)" "$(calc "$WAL_MAX_KB / 1024" 1) / $(calc "$WAL_END_KB / 1024" 1) MB" "CDR writes; sampled every 0.5 s"
fi

# ---------------------------------------------------------------- P5: RSS per 1k relayed calls
if has_phase p5; then
  phase_gate p5
  log "== P5 $P5_CALLS concurrent calls at $P5_RATE cps (signalling + relay ports, no RTP), on a restarted Trunkline"
  ensure_tl
  # a fresh process (same data): after P2 the heap is warm and new calls would reuse it
  tl_restart; sleep 3; rss0=$(rss_kb $TL_PID)
  hold=$(( (P5_CALLS / P5_RATE + 10) * 1000 ))
  uas_start p5-uas $UAS_IP "$UAS_T_PORT" uas.xml
  ( uac_multi p5/sipp "$TL_IP:$TL_SIP_PORT" uac.xml "$(procs_for_cps $P5_RATE)" "$P5_RATE" "$P5_CALLS" \
      $(( hold / 1000 + P5_CALLS / P5_RATE + 30 )) -s +4930555 -d "$hold" || true ) & p5job=$!
  up=0; peak=0; act=0
  for ((t = 0; t < P5_CALLS / P5_RATE + 9; t++)); do
    sleep 1
    act=$(tl_metric trunkline_calls_active || echo 0); r=$(rss_kb $TL_PID)
    [ "$r" -gt "$peak" ] && peak=$r
    [ "${act%.*}" -ge "$P5_CALLS" ] && { up=1; sleep 1; r=$(rss_kb $TL_PID); [ "$r" -gt "$peak" ] && peak=$r; break; }
  done
  gr=$(tl_metric go_goroutines || echo "?")
  wait $p5job || true
  uas_stop p5-uas
  eval "S_$(python3 "$BENCH_ROOT/tools/sippstat.py" "$RUN/p5/sipp" | sed 's/ / S_/g')"
  fig P5 "trunkline RSS per 1k concurrent relayed calls" "$(calc "($peak - $rss0) / ($P5_CALLS / 1000)" 0) KB" \
      "RSS $rss0 -> $peak KB with ${act%.*} calls up ($P5_CALLS asked, ok $S_ok, failed $S_failed), goroutines $gr; includes transactions retained 32 s; target <= 32 KB per call"
fi

# ---------------------------------------------------------------- P3: media
p3_run() {  # p3_run SUT TAG TARGET UASPORT PIDS...  -> CPU_S, sets S_*
  local sut=$1 tag=$2 target=$3 uport=$4; shift 4
  local rate=$(( P3_CALLS / 5 > 0 ? P3_CALLS / 5 : 1 ))   # all calls up within 5 s
  [ $rate -gt 40 ] && rate=40
  local ramp=$(( P3_CALLS / rate + 1 ))
  uas_start "$tag-uas" $UAS_IP "$uport" uas.xml -rtp_echo -mi $UAS_IP -mp $(free_port $UAS_IP)
  local c0 c1 prof=
  c0=$(cpu_ticks "$@")
  # Trunkline's CPU profile over the middle of the hold, when every call is up
  [ "$sut" = trunkline ] && { ( sleep $(( ramp + 2 )); tl_profile $(( P3_HOLD_S > 8 ? P3_HOLD_S - 6 : 2 )) "$RES/profile-p3" ) & prof=$!; }
  uac_multi "$tag/sipp" "$target" uac_rtp.xml "$(procs_for_cps $rate)" "$rate" "$P3_CALLS" \
    $(( ramp + P3_HOLD_S + 40 )) -s +4930555 -d $(( P3_HOLD_S * 1000 )) -mi $UAC_NET.1 || true
  c1=$(cpu_ticks "$@")
  [ -n "$prof" ] && wait $prof
  uas_stop "$tag-uas"
  CPU_S=$(ticks_s $((c1 - c0)))
  eval "S_$(python3 "$BENCH_ROOT/tools/sippstat.py" "$RUN/$tag/sipp" | sed 's/ / S_/g')"
}
if has_phase p3; then
  phase_gate p3
  log "== P3 media: $P3_CALLS concurrent G.711 calls, ${P3_HOLD_S}s, RTP UAC -> relay -> UAS echo -> relay -> UAC"
  ensure_tl
  m0=$(tl_metric trunkline_rtp_packets_relayed_total); d0=$(tl_metric trunkline_rtp_dropped_total)
  cdr0=$(tl_api GET "/api/v1/cdrs?limit=1" | python3 -c 'import json,sys; c=json.load(sys.stdin)["cdrs"]; print(c[0]["id"] if c else 0)')
  p3_run trunkline p3-tl "$TL_IP:$TL_SIP_PORT" "$UAS_T_PORT" $TL_PID
  m1=$(tl_metric trunkline_rtp_packets_relayed_total); d1=$(tl_metric trunkline_rtp_dropped_total)
  pk=$(calc "$m1 - $m0" 0)
  read -r fwd back ncdr < <(python3 "$BENCH_ROOT/tools/cdrsum.py" "$TL_HTTP" "$TL_TOKEN" "$cdr0")
  loss=$(calc "($fwd > 0) ? 100 * ($fwd - $back) / $fwd : -1" 4)
  fig P3 "trunkline packets relayed per CPU-s" "$(calc "$pk / $CPU_S" 0)" \
      "$pk packets in ${CPU_S} CPU-s (whole process, signalling included), calls ok $S_ok failed $S_failed"
  fig P3 "trunkline CPU-s per 1M packets" "$(calc "$CPU_S * 1000000 / $pk" 1)" ""
  fig P3 "trunkline RTP loss (echo loop, CDR counters)" "$loss %" \
      "caller->callee $fwd, callee->caller $back over $ncdr CDRs; latching drops $(calc "$d1 - $d0" 0); target < 0.01 %"
  TL_PPS=$(calc "$pk / $CPU_S" 0)
  if command -v rtpengine >/dev/null; then
    RTPE_DIR=$RUN/rtpengine; mkdir -p "$RTPE_DIR"
    ng=$(free_port $RTPE_IP); hp=$(free_port $RTPE_IP)
    rtpengine --table=-1 --interface=$RTPE_IP --listen-ng=$RTPE_IP:$ng --listen-http=$RTPE_IP:$hp \
      --port-min=46000 --port-max=49999 --foreground --log-stderr --log-level=4 --num-threads=2 \
      --delete-delay=0 --pidfile="$RTPE_DIR/pid" > "$RTPE_DIR/log" 2>&1 < /dev/null &
    RTPE_PID=$!; BENCH_PIDS+=($RTPE_PID); sleep 1
    rtpe_pk() { curl -fsS "http://$RTPE_IP:$hp/metrics" | awk '/^rtpengine_packets_total\{type="userspace"\}/{print $2}'; }
    if kill -0 $RTPE_PID 2>/dev/null; then
      kam_proxy "$RUN/kam-rtpe" -A WITH_RTPENGINE -A "RTPENGINE_SOCK=\"udp:$RTPE_IP:$ng\""
      rp0=$(rtpe_pk || echo 0)
      p3_run rtpengine p3-rtpe "$KAM_IP:$KAM_PORT" "$UAS_K_PORT" $RTPE_PID
      rp1=$(rtpe_pk || echo 0)
      curl -fsS "http://$RTPE_IP:$hp/metrics" > "$RTPE_DIR/metrics.txt" 2>&1 || true
      kcpu=$CPU_S
      # packets: rtpengine's own counter (rtpengine_packets_total, userspace) from --listen-http /metrics
      rpk=$(calc "$rp1 - $rp0" 0)
      if [ "${rpk:-0}" -gt 0 ]; then
        fig P3 "rtpengine (userspace) packets relayed per CPU-s" "$(calc "$rpk / $kcpu" 0)" \
            "$rpk packets in $kcpu CPU-s (rtpengine process only), calls ok $S_ok failed $S_failed"
        fig P3 "ratio packets per CPU-s trunkline/rtpengine" "$(calc "$TL_PPS / ($rpk / $kcpu)" 2)x" "target >= 1.2x"
      else
        fig P3 "rtpengine" "no packet totals" "see raw/rtpengine/ (calls ok $S_ok failed $S_failed, cpu $kcpu s)"
      fi
      kam_stop
    else
      fig P3 "rtpengine" "did not start" "$(tail -3 "$RTPE_DIR/log" | tr '\n' ' ')"
    fi
    stop_pid $RTPE_PID
  else
    fig P3 "rtpengine" "not installed" "apt-get install rtpengine-daemon failed"
  fi
fi

# ---------------------------------------------------------------- P6: failover latency
if has_phase p6; then
  phase_gate p6
  log "== P6 failover: $P6_N calls each, 503 and silence (invite_timeout_ms $P6_TIMEOUT_MS)"
  ensure_tl
  F1=$(free_port $UAS_IP); F2=$(free_port $UAS2_IP)
  tl_api POST /api/v1/trunks "{\"name\":\"fo1\",\"kind\":\"ip\",\"host\":\"$UAS_IP\",\"port\":$F1,\"options_interval\":-1,\"invite_timeout_ms\":$P6_TIMEOUT_MS}" >/dev/null
  tl_api POST /api/v1/trunks "{\"name\":\"fo2\",\"kind\":\"ip\",\"host\":\"$UAS2_IP\",\"port\":$F2,\"options_interval\":-1}" >/dev/null
  tl_api POST /api/v1/outbound-rules '{"name":"failover","priority":1,"match":{"patterns":["+4940."]},"routes":[{"trunk":"fo1"},{"trunk":"fo2"}],"strategy":"ordered"}' >/dev/null
  for mode in 503 silence; do
    sf=uas_503_noretry.xml; [ $mode = silence ] && sf=uas_blackhole.xml
    uas_start p6-$mode-a $UAS_IP $F1 $sf -trace_msg
    uas_start p6-$mode-b $UAS2_IP $F2 uas.xml -trace_msg
    rate=5; [ $mode = silence ] && rate=2
    uac_multi p6-$mode/sipp "$TL_IP:$TL_SIP_PORT" uac.xml 1 $rate "$P6_N" $(( P6_N / rate * 2 + 60 )) \
      -s +4940555 -d 200 || true
    uas_stop p6-$mode-a; uas_stop p6-$mode-b
    eval "S_$(python3 "$BENCH_ROOT/tools/sippstat.py" "$RUN/p6-$mode/sipp" | sed 's/ / S_/g')"
    out=$(python3 "$BENCH_ROOT/tools/failover.py" "$mode" "$RUN/p6-$mode-a" "$RUN/p6-$mode-b" "$P6_TIMEOUT_MS")
    if [ $mode = 503 ]; then
      fig P6 "failover after a 503: 503 sent by trunk 1 -> INVITE at trunk 2" "$out" "$P6_N calls, calls ok $S_ok failed $S_failed; target <= 50 ms"
    else
      fig P6 "failover after silence: INVITE at trunk 2 minus (INVITE at trunk 1 + invite_timeout_ms $P6_TIMEOUT_MS)" "$out" "overshoot past the timeout; $P6_N calls, calls ok $S_ok failed $S_failed"
    fi
  done
fi

# ---------------------------------------------------------------- table
{
  echo "# Trunkline benchmark run $STAMP"
  echo
  sed 's/^/    /' "$RES/env.txt"
  echo
  [ "$QUICK" = 1 ] && { echo "**QUICK run: short steps and small counts, harness check only, not a measurement.**"; echo; }
  echo "| part | figure | value | notes |"
  echo "|---|---|---|---|"
  awk -F'\t' '{printf "| %s | %s | %s | %s |\n", $1, $2, $3, $4}' "$TSV"
  for f in p1 p2; do
    [ -f "$RES/$f.tsv" ] || continue
    echo; echo "$f steps:"; echo; echo '```'; column -t -s $'\t' "$RES/$f.tsv"; echo '```'
  done
  [ -f "$RES/phases.txt" ] && { echo; echo "machine state at each phase start:"; echo; sed 's/^/    /' "$RES/phases.txt"; }
  echo; echo "end state: $(machine_state)"
} > "$SUM"
echo; cat "$SUM"
log "results: $RES"
