#!/usr/bin/env bash
# record.sh - re-record the real ZMTP captures in this directory.
#
# Every capture is live traffic between two libzmq peers (testpeers/zmqpeer,
# built here with cgo against the system libzmq) over the loopback interface,
# captured by tcpdump. For each scenario the script:
#
#   1. starts   tcpdump -i lo -s 0 -U --immediate-mode -w FILE "tcp port P"
#      (its own port P) and waits until tcpdump reports it is listening.
#      --immediate-mode matters: without it libpcap's TPACKET_V3 ring holds
#      packets for up to a second and a SIGINT loses them (empty captures);
#   2. starts the receiver (PULL, binds tcp://ADDR:P, exits by itself after
#      -count messages), then runs the sender (PUSH, connects, waits 200ms for
#      the handshake, sends the messages);
#   3. waits for both peers, lets the FINs go by, stops tcpdump with SIGINT
#      and waits for it to flush and exit;
#   4. moves the finished capture into testdata/.
#
# Scenarios (file: port, endpoint, sender flags):
#
#   push_pull_null.pcap       17001  tcp://127.0.0.1  -count 3 -interval 100ms     ("1","2","3")
#   push_pull_multipart.pcap  17002  tcp://127.0.0.1  -count 2 -interval 100ms -multipart -size 300
#   push_pull_ipv6.pcap       17003  tcp://[::1]      -count 3 -interval 100ms
#   push_pull_large.pcap      17004  tcp://127.0.0.1  -count 1 -size 100000       (one 100000-byte message)
#   push_pull_null.pcapng     push_pull_null.pcap converted with `editcap -F pcapng`
#                             (editcap is in Debian's tshark/wireshark-common;
#                             the file is skipped with a warning when it is missing)
#
# All peers use the NULL security mechanism (libzmq's default).
#
# Requirements: root (or capture rights on lo), tcpdump, go, gcc, pkg-config,
# libzmq3-dev; optionally editcap
#   (DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends tshark).
#
# Re-run from anywhere:
#
#   bash testdata/record.sh
#
# It is idempotent: it overwrites the captures (the packet contents repeat;
# only timestamps, ephemeral ports and TCP sequence numbers change). Set
# ZMQPEER=/path/to/zmqpeer to use an already built peer instead of building
# one into a temporary directory.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/.." && pwd)"
work="$(mktemp -d)"
tcpdump_pid=""

cleanup() {
	if [[ -n "$tcpdump_pid" ]] && kill -0 "$tcpdump_pid" 2>/dev/null; then
		kill -INT "$tcpdump_pid" 2>/dev/null || true
		wait "$tcpdump_pid" 2>/dev/null || true
	fi
	rm -rf "$work"
}
trap cleanup EXIT

log() { printf 'record.sh: %s\n' "$*" >&2; }
die() { log "$*"; exit 1; }

command -v tcpdump >/dev/null || die "tcpdump not found"

peer="${ZMQPEER:-}"
if [[ -z "$peer" ]]; then
	peer="$work/zmqpeer"
	log "building $peer"
	(cd "$root" && go build -o "$peer" ./testpeers/zmqpeer)
fi

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

# record NAME PORT HOST COUNT [SENDER FLAGS...]: one PUSH->PULL capture.
record() {
	local name="$1" port="$2" host="$3" count="$4"
	shift 4
	local ep="tcp://$host:$port" tmp="$work/$name"
	log "recording $name ($ep)"

	start_capture "$tmp" "$port"
	"$peer" -type pull -bind "$ep" -count "$count" -timeout 10s >/dev/null &
	local pull_pid=$!
	sleep 0.1 # let the receiver bind before the sender connects
	if ! "$peer" -type push -connect "$ep" -count "$count" -timeout 10s "$@"; then
		kill "$pull_pid" 2>/dev/null || true
		die "$name: sender failed"
	fi
	wait "$pull_pid" || die "$name: receiver failed"
	sleep 0.3 # let the FIN/ACK exchange reach the capture
	stop_capture

	mv -f "$tmp" "$here/$name"
}

record push_pull_null.pcap 17001 127.0.0.1 3 -interval 100ms
record push_pull_multipart.pcap 17002 127.0.0.1 2 -multipart -size 300 -interval 100ms
record push_pull_ipv6.pcap 17003 '[::1]' 3 -interval 100ms
record push_pull_large.pcap 17004 127.0.0.1 1 -size 100000

if command -v editcap >/dev/null; then
	log "converting push_pull_null.pcap to push_pull_null.pcapng"
	editcap -F pcapng "$here/push_pull_null.pcap" "$work/push_pull_null.pcapng"
	mv -f "$work/push_pull_null.pcapng" "$here/push_pull_null.pcapng"
else
	log "editcap not found: push_pull_null.pcapng not re-recorded" \
		"(apt-get install -y --no-install-recommends tshark)"
fi

log "done"
