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
