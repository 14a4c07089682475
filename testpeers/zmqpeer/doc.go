// Command zmqpeer is a small libzmq-based ZeroMQ peer used to generate real
// ZMTP traffic for zmtpdump's tests and captures (see testdata/record.sh).
//
// It is built separately and links against the system libzmq through cgo:
//
//	go build -o bin/zmqpeer ./testpeers/zmqpeer
//
// The zmtpdump binary never imports this package.
//
// One process is one socket. It either binds or connects, then plays the
// role that goes with its socket type:
//
//	push, pub, xpub   send -count messages
//	pull, sub, xsub   receive -count messages, then exit
//	req, dealer       for each of -count messages: send it, receive the reply
//	rep               for each of -count messages: receive it, echo it back
//	router            for each of -count messages: receive it, echo it back
//	                  to the sender (the routing id frame is kept)
//	                  (rep and router wait -reply-delay D before each reply)
//	pair              sends when it connects, receives when it binds
//	                  (override with -mode send|recv)
//
// A message body is the decimal counter "1", "2", "3", ... or, with -size N,
// N bytes of 'x'. With -multipart every message is sent as two frames: "hello"
// (with MORE) followed by the body.
//
// With -mix SPEC the messages take the shapes of SPEC in turn, one per
// message, cycled: SPEC is a comma-separated list of body sizes, 0 for the
// decimal counter, N > 0 for N bytes (the counter, then 'x' up to N), each
// with an optional "m" prefix to send that message as two frames like
// -multipart ("0,0,m0,300,m1000,70000"). With -burst N the sender pauses
// -interval only before every N'th message, sending the ones between back
// to back (default 1: a pause before each).
//
// With -prefix P, every body starts with P (a PUB's topic, say). With -hold D
// the socket stays open (idle) for D after its last send or receive. With
// -reconnect-ivl D a connecting socket retries every D (ZMQ_RECONNECT_IVL);
// with -rcvbuf N the kernel receive buffer is N bytes (ZMQ_RCVBUF), so that a
// stopped receiver's window closes after little data.
//
// With -print, every message the application receives is written to stdout,
// one per line, its frames as text joined by "|" (a ROUTER leaves out the
// routing id frame). Errors go to stderr; the exit status is 0 on success and
// 1 on any failure, including a receive that runs past -timeout.
//
// Security mechanisms (libzmq's default is NULL):
//
//	-plain-user U -plain-pass P   PLAIN client (ZMQ_PLAIN_USERNAME/PASSWORD)
//	-plain-server                 PLAIN server (ZMQ_PLAIN_SERVER); it also runs
//	                              a ZAP handler (RFC 27) on the same context that
//	                              accepts exactly -zap-user/-zap-pass and answers
//	                              400 to anything else (libzmq drops every PLAIN
//	                              connection when no ZAP handler is bound)
//	-curve-server                 CURVE server with secret key -curve-secret
//	                              (Z85); without it, a fresh keypair is made and
//	                              its public key printed on stderr
//	-curve-serverkey K            CURVE client of the server whose public key is
//	                              K (Z85); the client's own keypair is made fresh
//	-curve-keygen                 print a new keypair as "public secret" (Z85)
//	                              and exit
//
// Load generation (for bench/; see load.go): with -report, -connections N or
// -rate R the peer sends or receives -count messages as fast as libzmq goes
// (or at R messages per second in all), every body -size bytes of 'x',
// round-robin over N sockets that each -connect to the endpoint, and prints
// on exit one line on stderr:
//
//	zmqpeer: report: received 2000000 messages, 128000000 bytes in 0.91 s: 2192130 msgs/s, 133.8 MiB/s
//
// A receiver's time runs from its first message to its last (the
// application's throughput); a sender's from its first send to the last send
// returning (libzmq queues, so it can run ahead). Give a sender of large
// messages a long -linger: whatever is queued when it closes must still go.
//
// Heartbeats (ZMTP 3.1 PING/PONG): -heartbeat-ivl D sets ZMQ_HEARTBEAT_IVL;
// -heartbeat-timeout (default 3×D) and -heartbeat-ttl (default 10×D, sent in
// each PING in deciseconds) go with it.
//
// Examples:
//
//	zmqpeer -type pull -bind tcp://127.0.0.1:7001 -count 3 -print
//	zmqpeer -type push -connect tcp://127.0.0.1:7001 -count 3 -interval 100ms
//	zmqpeer -type sub -connect tcp://[::1]:7002 -subscribe a -unsubscribe-after
//	zmqpeer -type pull -bind tcp://127.0.0.1:7003 -plain-server -zap-user u -zap-pass p
//	zmqpeer -type push -connect tcp://127.0.0.1:7003 -plain-user u -plain-pass p
//	zmqpeer -type pull -bind tcp://127.0.0.1:7004 -count 2000000 -report
//	zmqpeer -type push -connect tcp://127.0.0.1:7004 -count 2000000 -size 64 -connections 100 -linger 60s -report
//
// Files: main.go (flags and the run), zmq.go (the cgo wrapper of libzmq
// sockets and frames), roles.go (the send/receive pattern of each socket
// type), zap.go (the ZAP handler of a PLAIN server), load.go (load
// generation for bench/).
//
// Imports: none of our packages (it links libzmq through cgo); only the
// tests and bench build it, and nothing imports it.
package main
