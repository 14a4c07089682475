#!/usr/bin/env bash
# record.sh - re-record the real ZMTP captures in this directory.
#
# Every capture is live traffic between two ZeroMQ peers over the loopback
# interface, captured by tcpdump. The peers, built here with go build:
#
#   testpeers/zmqpeer   libzmq (the system's, through cgo; 4.3.4 on Debian 12)
#   testpeers/gozmq     github.com/go-zeromq/zmq4 v0.17.0, pure Go, ZMTP 3.0
#   testpeers/rawpeer   a hand-written ZMTP 2.0 or 1.0 PULL (net package only)
#
# For each scenario the script:
#
#   1. starts   tcpdump -i lo -s 0 -U --immediate-mode -w FILE "tcp port P"
#      (its own port P) and waits until tcpdump reports it is listening.
#      --immediate-mode matters: without it libpcap's TPACKET_V3 ring holds
#      packets for up to a second and a SIGINT loses them (empty captures);
#   2. starts the side that binds (it exits by itself after -count messages,
#      or after -hold), waits until it listens (ss -ltn), then runs the side
#      that connects (it waits -wait, 200ms by default, for the handshake
#      before its first send);
#   3. waits for both peers, lets the FINs go by, stops tcpdump with SIGINT
#      and waits for it to flush and exit;
#   4. checks that the capture holds packets (and, where there is one, the
#      ASCII command name or text that the scenario is about), then moves it
#      into testdata/. A scenario whose peers fail or whose check fails is
#      tried again, up to 3 times (a loaded machine can stretch the timing).
#
# Scenarios (name: file, port, what runs; B = binds, C = connects):
#
#   push_pull_null       push_pull_null.pcap       17001  zmqpeer B pull, C push -count 3 -interval 100ms ("1","2","3")
#   push_pull_multipart  push_pull_multipart.pcap  17002  same, -count 2 -multipart -size 300
#   push_pull_ipv6       push_pull_ipv6.pcap       17003  same as push_pull_null over tcp://[::1]
#   push_pull_large      push_pull_large.pcap      17004  same, -count 1 -size 100000
#   pcapng               push_pull_null.pcapng     push_pull_null.pcap converted with
#                                                  `editcap -F pcapng` (Debian's tshark/
#                                                  wireshark-common; skipped with a
#                                                  warning when editcap is missing)
#   plain_ok             plain_ok.pcap             17010  zmqpeer B pull -plain-server (ZAP: admin/secret),
#                                                         C push -plain-user admin -plain-pass secret, 2 messages
#   plain_rejected       plain_rejected.pcap       17011  same, client password "wrong", no message: ZAP
#                                                         says 400, the server sends ERROR, both close
#   curve                curve.pcap                17012  zmqpeer B pull -curve-server, C push -curve-serverkey,
#                                                         2 messages (keypair from zmqpeer -curve-keygen)
#   heartbeat            heartbeat.pcap            17013  zmqpeer B pull, C push -heartbeat-ivl 100ms -wait 350ms:
#                                                         PINGs from the push, PONGs back, then 2 messages
#   pubsub               pubsub.pcap               17014  zmqpeer B pub -prefix weather., C sub -subscribe weather.
#                                                         -unsubscribe-after: SUBSCRIBE, 2 messages, CANCEL
#   pubsub_zmq4_sub      pubsub_zmq4_sub.pcap      17015  zmqpeer B pub, gozmq C sub: the same over ZMTP 3.0,
#                                                         subscriptions as 0x01/0x00+topic messages
#   reqrep               reqrep.pcap               17016  zmqpeer B rep, C req -count 2 -interval 100ms
#   router_dealer        router_dealer.pcap        17017  zmqpeer B router (echo), C dealer -routing-id dealer-1
#   zmq4_push_pull       zmq4_push_pull.pcap       17018  gozmq B pull, gozmq C push -count 2 -interval 100ms
#   downgrade_zmtp20     downgrade_zmtp20.pcap     17019  rawpeer B zmtp20-pull, zmqpeer C push, 2 messages
#   downgrade_zmtp10     downgrade_zmtp10.pcap     17020  rawpeer B zmtp10-pull, zmqpeer C push, 2 messages
#   large_ipv6           large_ipv6.pcap           17021  zmqpeer B pull, C push -size 70000 over tcp://[::1]
#
# The problem captures (issue 16; named after their file, problem_X.pcap or
# healthy_X.pcap; README.md says what each shows):
#
#   problem_socket_type        17030  zmqpeer B pub, C push: incompatible socket types, closed
#   problem_socket_type_zmq4   17038  gozmq B pub, zmqpeer C push: the same, both READYs on the wire
#   problem_mechanism          17031  zmqpeer B pull -curve-server, C push (NULL)
#   problem_curve_wrong_key    17032  zmqpeer B pull -curve-server, C push -curve-serverkey of another key
#   problem_connect_refused    17033  zmqpeer C push -reconnect-ivl 100ms for 1.5s, nothing bound
#   problem_heartbeat_timeout  17034  zmqpeer B pull, C push -heartbeat-ivl 100ms; B SIGSTOPped after 0.4s
#   problem_duplicate_identity 17039  zmqpeer B router, C1 and C2 dealer -routing-id worker-1, overlapping
#   problem_unsupported_version 17040 rawpeer B zmtp20-pull, gozmq C push (3.0 only: no downgrade)
#   problem_stalled            17035  zmqpeer B pull -rcvbuf 4096, C push 30 x 2000 bytes every 40ms;
#                                     B SIGSTOPped 0.4s after its start, SIGCONTed 1s later
#   healthy_push_pull          17036  zmqpeer B pull, C push -heartbeat-ivl 100ms -multipart, 5 messages
#   healthy_reqrep_delay       17037  zmqpeer B rep -reply-delay 20ms, C req -count 10 -interval 10ms
#
# Security is NULL (libzmq's default) unless the scenario says otherwise.
#
# Requirements: root (or capture rights on lo), tcpdump, go, gcc, pkg-config,
# libzmq3-dev; optionally editcap
#   (DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends tshark).
#
# Re-run from anywhere, for every scenario or only the ones named:
#
#   bash testdata/record.sh
#   bash testdata/record.sh plain_ok curve
#
# It is idempotent: it overwrites the captures it records (the packet contents
# repeat, except CURVE's keys, nonces and ciphertext; timestamps, ephemeral
# ports and TCP sequence numbers change). Set ZMQPEER, GOZMQ or RAWPEER to
# the path of an already built peer instead of building one into a temporary
# directory.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/.." && pwd)"
work="$(mktemp -d)"
tcpdump_pid=""
peer_pids=()

all_scenarios=(
	push_pull_null push_pull_multipart push_pull_ipv6 push_pull_large pcapng
	plain_ok plain_rejected curve heartbeat pubsub pubsub_zmq4_sub reqrep
	router_dealer zmq4_push_pull downgrade_zmtp20 downgrade_zmtp10 large_ipv6
	problem_socket_type problem_socket_type_zmq4 problem_mechanism problem_curve_wrong_key problem_connect_refused
	problem_heartbeat_timeout problem_stalled problem_duplicate_identity problem_unsupported_version healthy_push_pull healthy_reqrep_delay
)

cleanup() {
	local pid
	for pid in "${peer_pids[@]}"; do
		kill "$pid" 2>/dev/null || true
	done
	if [[ -n "$tcpdump_pid" ]] && kill -0 "$tcpdump_pid" 2>/dev/null; then
		kill -INT "$tcpdump_pid" 2>/dev/null || true
		wait "$tcpdump_pid" 2>/dev/null || true
	fi
	rm -rf "$work"
}
trap cleanup EXIT

log() { printf 'record.sh: %s\n' "$*" >&2; }
die() { log "$*"; exit 1; }

scenarios=("$@")
if [[ ${#scenarios[@]} -eq 0 ]]; then
	scenarios=("${all_scenarios[@]}")
fi
for s in "${scenarios[@]}"; do
	[[ " ${all_scenarios[*]} " == *" $s "* ]] ||
		die "unknown scenario $s (want one of: ${all_scenarios[*]})"
done

command -v tcpdump >/dev/null || die "tcpdump not found"

# build VAR PKG: use $VAR if set, else build ./testpeers/PKG into $work.
build() {
	local var="$1" pkg="$2"
	if [[ -n "${!var:-}" ]]; then
		printf '%s' "${!var}"
		return
	fi
	log "building $work/$pkg"
	(cd "$root" && go build -o "$work/$pkg" "./testpeers/$pkg") || die "go build ./testpeers/$pkg failed"
	printf '%s' "$work/$pkg"
}
peer="$(build ZMQPEER zmqpeer)"
gozmq="$(build GOZMQ gozmq)"
rawpeer="$(build RAWPEER rawpeer)"

# tcpdump drops root privileges to its own user by default; keep root so it
# can write into our private work directory.
tcpdump_user=()
if [[ $EUID -eq 0 ]]; then
	tcpdump_user=(-Z root)
fi

# start_capture FILE PORT: start tcpdump in the background, wait until ready.
start_capture() {
	local file="$1" port="$2"
	tcpdump -i lo -s 0 -U -n --immediate-mode "${tcpdump_user[@]}" -w "$file" "tcp port $port" \
		2>"$work/tcpdump.err" &
	tcpdump_pid=$!
	for _ in $(seq 100); do
		grep -q 'listening on' "$work/tcpdump.err" 2>/dev/null && return 0
		kill -0 "$tcpdump_pid" 2>/dev/null || break
		sleep 0.05
	done
	cat "$work/tcpdump.err" >&2
	die "tcpdump did not start capturing on port $port"
}

# stop_capture: SIGINT tcpdump and wait for it to flush and exit.
stop_capture() {
	kill -INT "$tcpdump_pid"
	wait "$tcpdump_pid" || true
	tcpdump_pid=""
	sed 's/^/  tcpdump: /' "$work/tcpdump.err" >&2
}

# wait_listening PORT PID: wait (up to 5s) until process PID listens on TCP
# port PORT, so that the connecting peer's first SYN already finds it (on a
# busy machine a fixed pause is not enough and the capture starts with
# refused SYNs); without ss(8), just pause 100ms.
wait_listening() {
	local port="$1" pid="$2"
	if ! command -v ss >/dev/null; then
		sleep 0.1
		return
	fi
	for _ in $(seq 100); do
		[[ -n "$(ss -Hltn "sport = :$port")" ]] && return
		kill -0 "$pid" 2>/dev/null || return
		sleep 0.05
	done
}

# session NAME PORT BINDER... -- CONNECTOR...: capture port PORT into
# $work/NAME while BINDER runs in the background and CONNECTOR in the
# foreground once BINDER listens. Fails if either peer fails.
session() {
	local name="$1" port="$2"
	shift 2
	local binder=()
	while [[ $# -gt 0 && "$1" != "--" ]]; do
		binder+=("$1")
		shift
	done
	[[ $# -gt 0 ]] || die "session $name: no -- before the connecting peer"
	shift

	start_capture "$work/$name" "$port"
	"${binder[@]}" >/dev/null &
	local binder_pid=$!
	peer_pids=("$binder_pid")
	wait_listening "$port" "$binder_pid"
	local ok=1
	if ! "$@" >/dev/null; then
		log "$name: ${1##*/} (connecting) failed"
		kill "$binder_pid" 2>/dev/null || true
		ok=0
	fi
	if ! wait "$binder_pid"; then
		log "$name: ${binder[0]##*/} (binding) failed"
		ok=0
	fi
	peer_pids=()
	sleep 0.3 # let the FIN/ACK exchange reach the capture
	stop_capture
	[[ $ok -eq 1 ]]
}

# check NAME TEXT...: the capture has packets, and each TEXT appears in the
# ASCII rendering of their payloads.
check() {
	local name="$1" text ascii
	shift
	ascii="$(tcpdump -nn -A -r "$work/$name" 2>/dev/null)" || { log "$name: unreadable"; return 1; }
	[[ -n "$ascii" ]] || { log "$name: no packets"; return 1; }
	for text in "$@"; do
		if [[ "$ascii" != *"$text"* ]]; then
			log "$name: no \"$text\" in the capture"
			return 1
		fi
	done
}

# record NAME PORT HOST COUNT [SENDER FLAGS...]: one zmqpeer PUSH->PULL capture.
record() {
	local name="$1" port="$2" host="$3" count="$4"
	shift 4
	local ep="tcp://$host:$port"
	session "$name" "$port" \
		"$peer" -type pull -bind "$ep" -count "$count" -timeout 10s \
		-- "$peer" -type push -connect "$ep" -count "$count" -timeout 10s "$@" &&
		check "$name"
}

lo4=tcp://127.0.0.1

scenario_push_pull_null() { record push_pull_null.pcap 17001 127.0.0.1 3 -interval 100ms; }
scenario_push_pull_multipart() { record push_pull_multipart.pcap 17002 127.0.0.1 2 -multipart -size 300 -interval 100ms; }
scenario_push_pull_ipv6() { record push_pull_ipv6.pcap 17003 '[::1]' 3 -interval 100ms; }
scenario_push_pull_large() { record push_pull_large.pcap 17004 127.0.0.1 1 -size 100000; }
scenario_large_ipv6() { record large_ipv6.pcap 17021 '[::1]' 1 -size 70000; }

scenario_pcapng() {
	if ! command -v editcap >/dev/null; then
		log "editcap not found: push_pull_null.pcapng not re-recorded" \
			"(apt-get install -y --no-install-recommends tshark)"
		return 0
	fi
	log "converting push_pull_null.pcap to push_pull_null.pcapng"
	editcap -F pcapng "$here/push_pull_null.pcap" "$work/push_pull_null.pcapng"
}

scenario_plain_ok() {
	local ep=$lo4:17010
	session plain_ok.pcap 17010 \
		"$peer" -type pull -bind $ep -count 2 -plain-server -zap-user admin -zap-pass secret \
		-- "$peer" -type push -connect $ep -count 2 -interval 100ms -plain-user admin -plain-pass secret &&
		check plain_ok.pcap HELLO WELCOME INITIATE READY
}

scenario_plain_rejected() {
	# No message can pass: both peers just stay up for a while (-count 0
	# -hold); a long reconnect interval keeps the client from trying again.
	# libzmq 4.3.4 writes the ERROR command's name as "\x5eRROR" (its C
	# literal "\x05ERROR" is one hex escape too many), hence "RROR".
	local ep=$lo4:17011
	session plain_rejected.pcap 17011 \
		"$peer" -type pull -bind $ep -count 0 -hold 800ms -plain-server -zap-user admin -zap-pass secret \
		-- "$peer" -type push -connect $ep -count 0 -hold 500ms -reconnect-ivl 10s \
		-plain-user admin -plain-pass wrong &&
		check plain_rejected.pcap HELLO RROR
}

scenario_curve() {
	local ep=$lo4:17012 public secret
	read -r public secret < <("$peer" -curve-keygen)
	session curve.pcap 17012 \
		"$peer" -type pull -bind $ep -count 2 -curve-server -curve-secret "$secret" \
		-- "$peer" -type push -connect $ep -count 2 -interval 100ms -curve-serverkey "$public" &&
		check curve.pcap HELLO WELCOME INITIATE READY MESSAGE
}

scenario_heartbeat() {
	local ep=$lo4:17013
	session heartbeat.pcap 17013 \
		"$peer" -type pull -bind $ep -count 2 \
		-- "$peer" -type push -connect $ep -count 2 -interval 100ms -wait 350ms -heartbeat-ivl 100ms &&
		check heartbeat.pcap PING PONG
}

scenario_pubsub() {
	local ep=$lo4:17014
	session pubsub.pcap 17014 \
		"$peer" -type pub -bind $ep -count 2 -interval 100ms -wait 300ms -hold 600ms -prefix weather. \
		-- "$peer" -type sub -connect $ep -count 2 -subscribe weather. -unsubscribe-after &&
		check pubsub.pcap SUBSCRIBEweather. CANCELweather. weather.1 weather.2
}

scenario_pubsub_zmq4_sub() {
	local ep=$lo4:17015
	session pubsub_zmq4_sub.pcap 17015 \
		"$peer" -type pub -bind $ep -count 2 -interval 100ms -wait 300ms -hold 600ms -prefix weather. \
		-- "$gozmq" -type sub -connect $ep -count 2 -subscribe weather. -unsubscribe-after &&
		check pubsub_zmq4_sub.pcap weather.1 weather.2
}

scenario_reqrep() {
	local ep=$lo4:17016
	session reqrep.pcap 17016 \
		"$peer" -type rep -bind $ep -count 2 \
		-- "$peer" -type req -connect $ep -count 2 -interval 100ms &&
		check reqrep.pcap READY REQ REP
}

scenario_router_dealer() {
	local ep=$lo4:17017
	session router_dealer.pcap 17017 \
		"$peer" -type router -bind $ep -count 2 \
		-- "$peer" -type dealer -connect $ep -count 2 -interval 100ms -routing-id dealer-1 &&
		check router_dealer.pcap Identity dealer-1 ROUTER DEALER
}

scenario_zmq4_push_pull() {
	local ep=$lo4:17018
	session zmq4_push_pull.pcap 17018 \
		"$gozmq" -type pull -bind $ep -count 2 \
		-- "$gozmq" -type push -connect $ep -count 2 -interval 100ms &&
		check zmq4_push_pull.pcap READY PUSH PULL
}

scenario_downgrade_zmtp20() {
	session downgrade_zmtp20.pcap 17019 \
		"$rawpeer" -mode zmtp20-pull -bind 127.0.0.1:17019 -count 2 \
		-- "$peer" -type push -connect $lo4:17019 -count 2 -interval 100ms &&
		check downgrade_zmtp20.pcap
}

scenario_downgrade_zmtp10() {
	session downgrade_zmtp10.pcap 17020 \
		"$rawpeer" -mode zmtp10-pull -bind 127.0.0.1:17020 -count 2 \
		-- "$peer" -type push -connect $lo4:17020 -count 2 -interval 100ms &&
		check downgrade_zmtp10.pcap
}

# --- The problem captures (issue 16): each shows one problem kind that
# zmtpdump's diagnosis names; healthy_push_pull.pcap shows none.

# bg VAR CMD...: start CMD in the background (stdout discarded), its pid in
# VAR and in peer_pids (killed on exit).
bg() {
	local var="$1"
	shift
	"$@" >/dev/null &
	printf -v "$var" '%s' "$!"
	peer_pids+=("$!")
}

# finish NAME OK PID...: wait for the peers PID..., let the FINs go by, stop
# tcpdump; succeeds if OK is 1 and every peer exited 0.
finish() {
	local name="$1" ok="$2" pid
	shift 2
	for pid in "$@"; do
		if ! wait "$pid"; then
			log "$name: peer $pid failed"
			ok=0
		fi
	done
	peer_pids=()
	sleep 0.3
	stop_capture
	[[ $ok -eq 1 ]]
}

scenario_problem_socket_type() {
	# PUSH connecting to a PUB (both libzmq). Each side sends its READY
	# once the greetings are done, unless it has already read the peer's:
	# libzmq 4.3.4 checks the first READY it reads and, on an incompatible
	# Socket-Type, closes at once (no ERROR) without sending its own. So a
	# recording holds both READYs, or only the PUSH's, or only the PUB's,
	# as the timing falls; then FINs. A long reconnect interval keeps the
	# PUSH from trying again.
	local ep=$lo4:17030 ascii
	session problem_socket_type.pcap 17030 \
		"$peer" -type pub -bind $ep -count 0 -hold 800ms \
		-- "$peer" -type push -connect $ep -count 0 -hold 500ms -reconnect-ivl 10s &&
		check problem_socket_type.pcap READY Socket-Type || return 1
	ascii="$(tcpdump -nn -A -r "$work/problem_socket_type.pcap" 2>/dev/null)"
	[[ "$ascii" == *PUSH* || "$ascii" == *PUB* ]] || { log "problem_socket_type.pcap: no socket type"; return 1; }
}

scenario_problem_socket_type_zmq4() {
	# The same with a go-zeromq/zmq4 PUB, which sends its READY without
	# waiting for the peer's: both READYs (PUSH, PUB) are on the wire, then
	# libzmq's PUSH closes at once.
	local ep=$lo4:17038
	session problem_socket_type_zmq4.pcap 17038 \
		"$gozmq" -type pub -bind $ep -count 0 -hold 800ms \
		-- "$peer" -type push -connect $ep -count 0 -hold 500ms -reconnect-ivl 10s &&
		check problem_socket_type_zmq4.pcap READY PUSH PUB
}

scenario_problem_mechanism() {
	# A NULL PUSH connecting to a CURVE PULL. libzmq sends its greeting in
	# two writes (the 10-byte signature, then the rest, with the mechanism,
	# once the peer's version byte is in) and closes as soon as it reads a
	# mechanism that is not its own, without sending the rest of its own
	# greeting: only ONE of NULL and CURVE is on the wire (which one varies
	# from run to run), the other side's greeting stops after 10 or 11
	# bytes, then both FINs.
	local ep=$lo4:17031 public secret ascii
	read -r public secret < <("$peer" -curve-keygen)
	session problem_mechanism.pcap 17031 \
		"$peer" -type pull -bind $ep -count 0 -hold 800ms -curve-server -curve-secret "$secret" \
		-- "$peer" -type push -connect $ep -count 0 -hold 500ms -reconnect-ivl 10s &&
		check problem_mechanism.pcap || return 1
	ascii="$(tcpdump -nn -A -r "$work/problem_mechanism.pcap" 2>/dev/null)"
	[[ "$ascii" == *NULL* || "$ascii" == *CURVE* ]] || { log "problem_mechanism.pcap: no mechanism name"; return 1; }
}

scenario_problem_curve_wrong_key() {
	# A CURVE client given another server's public key: its HELLO cannot
	# be opened, the server sends no WELCOME and closes.
	local ep=$lo4:17032 public secret other _
	read -r public secret < <("$peer" -curve-keygen)
	read -r other _ < <("$peer" -curve-keygen)
	session problem_curve_wrong_key.pcap 17032 \
		"$peer" -type pull -bind $ep -count 0 -hold 800ms -curve-server -curve-secret "$secret" \
		-- "$peer" -type push -connect $ep -count 0 -hold 500ms -reconnect-ivl 10s -curve-serverkey "$other" &&
		check problem_curve_wrong_key.pcap CURVE HELLO &&
		! tcpdump -nn -A -r "$work/problem_curve_wrong_key.pcap" 2>/dev/null | grep -q WELCOME
}

scenario_problem_connect_refused() {
	# A PUSH connecting to a port nobody listens on, retrying every 100ms
	# for 1.5s: each SYN is answered by an RST.
	local ep=$lo4:17033 pid
	if [[ -n "$(ss -Hltn 'sport = :17033' 2>/dev/null)" ]]; then
		log "problem_connect_refused: something listens on 17033"
		return 1
	fi
	start_capture "$work/problem_connect_refused.pcap" 17033
	bg pid "$peer" -type push -connect $ep -count 0 -hold 1500ms -reconnect-ivl 100ms
	finish problem_connect_refused.pcap 1 "$pid" &&
		[[ "$(tcpdump -nn -r "$work/problem_connect_refused.pcap" 2>/dev/null | grep -c 'Flags \[R')" -ge 5 ]]
}

scenario_problem_heartbeat_timeout() {
	# A PUSH heartbeating every 100ms (timeout 300ms) to a PULL that is
	# stopped (SIGSTOP) 400ms after the connection: the kernel still ACKs
	# the PINGs, no PONG comes back, and after its timeout the PUSH closes.
	# The PULL is continued (SIGCONT) once the PUSH has gone.
	local ep=$lo4:17034 server client
	start_capture "$work/problem_heartbeat_timeout.pcap" 17034
	bg server "$peer" -type pull -bind $ep -count 0 -hold 2s
	wait_listening 17034 "$server"
	bg client "$peer" -type push -connect $ep -count 0 -hold 1200ms -reconnect-ivl 10s -heartbeat-ivl 100ms
	sleep 0.4
	kill -STOP "$server"
	local ok=1
	wait "$client" || ok=0
	kill -CONT "$server"
	finish problem_heartbeat_timeout.pcap "$ok" "$server" &&
		check problem_heartbeat_timeout.pcap PING PONG
}

scenario_problem_stalled() {
	# A PUSH sending 30 messages of 2000 bytes every 40ms to a PULL with a
	# small receive buffer (-rcvbuf 4096) that is stopped (SIGSTOP) for 1s
	# after the first few: its window closes to zero while the PUSH still
	# has data, the PUSH's kernel probes, and after SIGCONT the window opens
	# and everything arrives.
	local ep=$lo4:17035 server client
	start_capture "$work/problem_stalled.pcap" 17035
	bg server "$peer" -type pull -bind $ep -count 30 -timeout 10s -rcvbuf 4096
	wait_listening 17035 "$server"
	bg client "$peer" -type push -connect $ep -count 30 -size 2000 -interval 40ms -linger 5s
	sleep 0.4
	kill -STOP "$server"
	sleep 1
	kill -CONT "$server"
	finish problem_stalled.pcap 1 "$server" "$client" &&
		tcpdump -nn -r "$work/problem_stalled.pcap" 2>/dev/null | grep -q 'win 0,'
}

scenario_problem_duplicate_identity() {
	# Two DEALERs announcing one routing id (ZMQ_ROUTING_ID "worker-1") to
	# one ROUTER, the second while the first is still connected: libzmq's
	# ROUTER (ZMQ_ROUTER_HANDOVER off) keeps the first and drops the
	# second's messages; on the wire both READYs carry Identity=worker-1.
	local ep=$lo4:17039 server first second
	start_capture "$work/problem_duplicate_identity.pcap" 17039
	bg server "$peer" -type router -bind $ep -count 0 -hold 1500ms
	wait_listening 17039 "$server"
	bg first "$peer" -type dealer -connect $ep -count 0 -hold 1000ms -routing-id worker-1
	sleep 0.3
	bg second "$peer" -type dealer -connect $ep -count 0 -hold 300ms -routing-id worker-1
	finish problem_duplicate_identity.pcap 1 "$server" "$first" "$second" &&
		check problem_duplicate_identity.pcap READY worker-1
}

scenario_problem_unsupported_version() {
	# A ZMTP 2.0 PULL (rawpeer) and go-zeromq/zmq4's PUSH, which speaks 3.0
	# only: it sends its whole 3.0 greeting instead of downgrading, the 2.0
	# peer reads "NULL" as an identity frame's flags and gives up, and zmq4
	# fails the handshake. The PUSH exits 1: the failure is the point.
	local ep=127.0.0.1:17040 server client
	start_capture "$work/problem_unsupported_version.pcap" 17040
	bg server "$rawpeer" -mode zmtp20-pull -bind $ep -count 1 -timeout 2s
	wait_listening 17040 "$server"
	"$gozmq" -type push -connect tcp://$ep -count 1 >/dev/null 2>&1 && { log "zmq4 talked to a ZMTP 2.0 peer"; return 1; }
	wait "$server" 2>/dev/null
	finish problem_unsupported_version.pcap 1 &&
		check problem_unsupported_version.pcap NULL
}

scenario_healthy_push_pull() {
	# A healthy pair: PUSH with heartbeats (100ms) sending 5 messages,
	# 100ms apart, PINGs answered by PONGs; the PULL stays 300ms more, so
	# that the PUSH closes first and both FINs go by (no RST).
	local ep=$lo4:17036
	session healthy_push_pull.pcap 17036 \
		"$peer" -type pull -bind $ep -count 5 -hold 300ms \
		-- "$peer" -type push -connect $ep -count 5 -interval 100ms -heartbeat-ivl 100ms -multipart &&
		check healthy_push_pull.pcap PING PONG hello
}

scenario_healthy_reqrep_delay() {
	# REQ/REP, 10 round trips, the REP waiting 20ms (-reply-delay) before
	# each reply: every round trip takes about 20ms.
	local ep=$lo4:17037
	session healthy_reqrep_delay.pcap 17037 \
		"$peer" -type rep -bind $ep -count 10 -reply-delay 20ms \
		-- "$peer" -type req -connect $ep -count 10 -interval 10ms &&
		check healthy_reqrep_delay.pcap REQ REP
}

# file_of SCENARIO: the file a scenario writes.
file_of() {
	case "$1" in
	pcapng) echo push_pull_null.pcapng ;;
	*) echo "$1.pcap" ;;
	esac
}

for s in "${scenarios[@]}"; do
	file="$(file_of "$s")"
	for attempt in 1 2 3; do
		log "recording $file (scenario $s, attempt $attempt)"
		rm -f "$work/$file"
		if "scenario_$s"; then
			break
		fi
		[[ $attempt -lt 3 ]] || die "$s: failed 3 times"
	done
	if [[ -f "$work/$file" ]]; then
		mv -f "$work/$file" "$here/$file"
	fi
done

log "done"
