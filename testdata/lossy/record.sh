#!/usr/bin/env bash
# record.sh records the captures in testdata/lossy: real libzmq 4.3 streams
# (testpeers/zmqpeer, cgo) long enough to cut and thin out, for the
# accuracy tests in accuracy/ (which drop segments from them, or start them
# mid-connection, and check what zmtpdump still decodes).
#
# Unlike testdata/record.sh (which records on lo, where a segment can be
# 64 KB), the traffic here crosses a veth pair with an Ethernet MTU (1500),
# so every TCP segment is at most 1448 payload bytes (MSS 1460 less the
# 12-byte timestamp option), as on a real network: a loss then costs what it
# costs there. The script makes two network namespaces of its own and a veth
# pair between them, and nothing else:
#
#   namespace zl-bind-PID     veth zlb-PID  10.99.0.1/30   the binding peer
#   namespace zl-conn-PID     veth zlc-PID  10.99.0.2/30   the connecting peer
#
# Both ends have segmentation and receive offloads turned off (ethtool -K
# ... gro off gso off tso off tx off): the packets tcpdump sees on zlb-PID
# are the ones on the wire, with their checksums computed. The addresses
# exist only inside the two namespaces, no route leads out of them, and the
# namespaces are deleted on exit (also on failure). tcpdump runs in the
# binding namespace on its veth end, snap length 0 (whole packets),
# Ethernet link type, a pcap file per scenario.
#
# Scenarios (each one connection: SYN, greetings, handshake, messages, FINs):
#
#   scenario    file             port   traffic
#   null_mixed  null_mixed.pcap  17101  NULL, PUSH -> PULL, heartbeats every
#                                       50ms (PING from the PUSH, PONG back);
#                                       800 messages in bursts of 8 every 2ms:
#                                       small single-frame bodies (the
#                                       counter), 40-1500-byte ones, two-frame
#                                       messages ("hello" + body) and, as
#                                       messages 400 and 800, a 70000-byte
#                                       frame (-mix, see below)
#   curve       curve.pcap       17102  CURVE, PUSH -> PULL (-curve-server /
#                                       -curve-serverkey, a fresh keypair),
#                                       1000 messages, bursts of 30 every 3ms,
#                                       small and multipart ones mixed
#   pubsub31    pubsub31.pcap    17103  PUB <- SUB, both ZMTP 3.1: the SUB
#                                       subscribes to "weather." and "news."
#                                       (SUBSCRIBE commands), the PUB waits
#                                       500ms, sends 2000 messages
#                                       "weather.N..." (9 to 200 bytes) in
#                                       bursts of 50 every 3ms, the SUB then
#                                       cancels both (CANCEL) and leaves
#
# A -mix list cycles message shapes: N is a body of N bytes (0: just the
# decimal counter; else the counter padded with 'x'), "mN" the same after a
# "hello" frame with MORE. null_mixed's list is a 16-shape pattern of small
# and medium messages cycled to 399 entries, then 70000: messages 400 and 800
# are the large ones.
#
# Requirements: root (namespaces, veth, tcpdump), iproute2, ethtool
# (apt-get install -y ethtool), tcpdump, go, gcc, pkg-config, libzmq3-dev.
#
# Re-run from anywhere, for every scenario or only the ones named:
#
#   bash testdata/lossy/record.sh
#   bash testdata/lossy/record.sh curve
#
# It overwrites the captures it records. Contents repeat except CURVE's keys,
# nonces and ciphertext; timestamps, ephemeral ports, sequence numbers, the
# heartbeats' places and how bursts fall into segments change from one
# recording to the next, so the accuracy figures move a little too. Set
# ZMQPEER to the path of an already built peer
# (go build -o /tmp/zmqpeer ./testpeers/zmqpeer) instead of building one
# into a temporary directory.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"
work="$(mktemp -d)"
ns_bind="zl-bind-$$"
ns_conn="zl-conn-$$"
veth_bind="zlb-$$"
veth_conn="zlc-$$"
addr_bind=10.99.0.1
addr_conn=10.99.0.2
tcpdump_pid=""
peer_pids=()

all_scenarios=(null_mixed curve pubsub31)

log() { printf 'lossy/record.sh: %s\n' "$*" >&2; }
die() { log "$*"; exit 1; }

cleanup() {
	local pid
	for pid in "${peer_pids[@]}"; do
		kill "$pid" 2>/dev/null || true
	done
	if [[ -n "$tcpdump_pid" ]] && kill -0 "$tcpdump_pid" 2>/dev/null; then
		kill -INT "$tcpdump_pid" 2>/dev/null || true
		wait "$tcpdump_pid" 2>/dev/null || true
	fi
	# Deleting a namespace deletes the veth end in it, and so its peer.
	ip netns del "$ns_bind" 2>/dev/null || true
	ip netns del "$ns_conn" 2>/dev/null || true
	rm -rf "$work"
}
trap cleanup EXIT

scenarios=("$@")
if [[ ${#scenarios[@]} -eq 0 ]]; then
	scenarios=("${all_scenarios[@]}")
fi
for s in "${scenarios[@]}"; do
	[[ " ${all_scenarios[*]} " == *" $s "* ]] ||
		die "unknown scenario $s (want one of: ${all_scenarios[*]})"
done

[[ $EUID -eq 0 ]] || die "needs root (network namespaces, veth, tcpdump)"
for tool in ip ethtool tcpdump; do
	command -v "$tool" >/dev/null || die "$tool not found"
done

if [[ -n "${ZMQPEER:-}" ]]; then
	peer="$ZMQPEER"
else
	log "building $work/zmqpeer"
	(cd "$root" && go build -o "$work/zmqpeer" ./testpeers/zmqpeer) || die "go build ./testpeers/zmqpeer failed"
	peer="$work/zmqpeer"
fi

# The namespace pair: one veth, MTU 1500, offloads off on both ends.
log "creating namespaces $ns_bind, $ns_conn and veth $veth_bind <-> $veth_conn"
ip netns add "$ns_bind"
ip netns add "$ns_conn"
ip link add "$veth_bind" netns "$ns_bind" type veth peer name "$veth_conn" netns "$ns_conn"
for side in "$ns_bind $veth_bind $addr_bind" "$ns_conn $veth_conn $addr_conn"; do
	read -r ns dev addr <<<"$side"
	ip -n "$ns" link set lo up
	ip -n "$ns" link set "$dev" mtu 1500
	ip -n "$ns" addr add "$addr/30" dev "$dev"
	ip -n "$ns" link set "$dev" up
	ip netns exec "$ns" ethtool -K "$dev" gro off gso off tso off tx off >/dev/null
done

in_bind() { ip netns exec "$ns_bind" "$@"; }
in_conn() { ip netns exec "$ns_conn" "$@"; }

# start_capture FILE PORT: tcpdump on the binding end, wait until ready.
start_capture() {
	local file="$1" port="$2"
	# Not through in_bind: a function run in the background is a subshell,
	# and a SIGINT sent to it would not reach tcpdump.
	ip netns exec "$ns_bind" tcpdump -i "$veth_bind" -s 0 -U -n --immediate-mode -Z root -w "$file" "tcp port $port" \
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

# wait_listening PORT PID: wait (up to 5s) until the binding peer listens.
wait_listening() {
	local port="$1" pid="$2"
	for _ in $(seq 100); do
		[[ -n "$(in_bind ss -Hltn "sport = :$port")" ]] && return
		kill -0 "$pid" 2>/dev/null || return
		sleep 0.05
	done
}

# session NAME PORT BINDER... -- CONNECTOR...: capture port PORT into
# $work/NAME while BINDER runs in the binding namespace and CONNECTOR, once
# BINDER listens, in the connecting one. Fails if either peer fails.
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
	ip netns exec "$ns_bind" "${binder[@]}" >/dev/null &
	local binder_pid=$!
	peer_pids=("$binder_pid")
	wait_listening "$port" "$binder_pid"
	local ok=1
	if ! in_conn "$@" >/dev/null; then
		log "$name: connecting peer failed"
		kill "$binder_pid" 2>/dev/null || true
		ok=0
	fi
	if ! wait "$binder_pid"; then
		log "$name: binding peer failed"
		ok=0
	fi
	peer_pids=()
	sleep 0.3 # let the FIN/ACK exchange reach the capture
	stop_capture
	[[ $ok -eq 1 ]]
}

# check NAME TEXT...: the capture has packets, one SYN, no TCP payload over
# 1448 bytes (offloads really off), and each TEXT in its payloads' ASCII.
check() {
	local name="$1" text ascii max syns
	shift
	ascii="$(tcpdump -nn -A -r "$work/$name" 2>/dev/null)" || { log "$name: unreadable"; return 1; }
	[[ -n "$ascii" ]] || { log "$name: no packets"; return 1; }
	syns="$(tcpdump -nn -r "$work/$name" 'tcp[tcpflags] == tcp-syn' 2>/dev/null | wc -l)"
	[[ "$syns" -eq 1 ]] || { log "$name: $syns SYNs, want 1 (one connection)"; return 1; }
	max="$(tcpdump -nn -r "$work/$name" 2>/dev/null | sed -n 's/.* length \([0-9]*\)$/\1/p' | sort -n | tail -1)"
	if [[ "${max:-0}" -gt 1448 ]]; then
		log "$name: a $max-byte TCP payload: segmentation offload still on?"
		return 1
	fi
	for text in "$@"; do
		if [[ "$ascii" != *"$text"* ]]; then
			log "$name: no \"$text\" in the capture"
			return 1
		fi
	done
	log "$name: $(tcpdump -nn -r "$work/$name" 2>/dev/null | wc -l) packets, largest payload ${max} bytes, $(stat -c %s "$work/$name") bytes"
}

scenario_null_mixed() {
	local ep=tcp://$addr_bind:17101 pattern=(0 0 m0 40 0 m300 0 0 120 m0 0 700 0 0 m40 0) mix="" i
	for i in $(seq 0 398); do
		mix+="${pattern[i % ${#pattern[@]}]},"
	done
	mix+=70000
	session null_mixed.pcap 17101 \
		"$peer" -type pull -bind "$ep" -count 800 -hold 600ms -timeout 20s \
		-- "$peer" -type push -connect "$ep" -count 800 -mix "$mix" -burst 8 -interval 2ms \
		-heartbeat-ivl 50ms -wait 200ms -hold 200ms -timeout 20s &&
		check null_mixed.pcap PING PONG hello 400xxx 800xxx
}

scenario_curve() {
	local ep=tcp://$addr_bind:17102 public secret
	read -r public secret < <("$peer" -curve-keygen)
	session curve.pcap 17102 \
		"$peer" -type pull -bind "$ep" -count 1000 -hold 400ms -timeout 20s -curve-server -curve-secret "$secret" \
		-- "$peer" -type push -connect "$ep" -count 1000 -mix 0,0,m0,40,0,m200,0,100 -burst 30 -interval 3ms \
		-hold 100ms -timeout 20s -curve-serverkey "$public" &&
		check curve.pcap HELLO WELCOME INITIATE READY MESSAGE
}

scenario_pubsub31() {
	local ep=tcp://$addr_bind:17103
	session pubsub31.pcap 17103 \
		"$peer" -type pub -bind "$ep" -count 2000 -prefix weather. -mix 0,0,0,30,0,0,90,0,200,0 -burst 50 -interval 3ms \
		-wait 500ms -hold 700ms -timeout 20s \
		-- "$peer" -type sub -connect "$ep" -count 2000 -subscribe weather. -subscribe news. \
		-unsubscribe-after -timeout 20s &&
		check pubsub31.pcap SUBSCRIBEweather. SUBSCRIBEnews. CANCELweather. weather.1 weather.2000
}

for s in "${scenarios[@]}"; do
	file="$s.pcap"
	for attempt in 1 2 3; do
		log "recording $file (attempt $attempt)"
		rm -f "$work/$file"
		if "scenario_$s"; then
			break
		fi
		[[ $attempt -lt 3 ]] || die "$s: failed 3 times"
	done
	mv -f "$work/$file" "$here/$file"
done

log "done"
