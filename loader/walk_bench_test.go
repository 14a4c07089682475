package loader

import (
	"fmt"
	"net"
	"os"
	"testing"
	"time"

	"github.com/cilium/ebpf"
	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"

	"github.com/zmtpdump/zmtpdump/bpf"
	"github.com/zmtpdump/zmtpdump/internal/skip"
)

// BenchmarkWalk runs the TCX ingress program on one packet of 21 ZMTP 3.x
// messages of 64 bytes (1,386 payload bytes), each run from the same
// framing state (written before it: a walk in the middle of a stream),
// and reports the program's own time (BPF_PROG_TEST_RUN's, which leaves
// the syscall out) per run and per frame, for each way the walk runs:
// marks only, kernel-side framing (FrameKeep 64, as --json), and count
// mode leaving the messages out (as -q). A test run's packet is linear,
// so this leaves out what a load costs on lo's paged packets: live, the
// program's run time comes from kernel.bpf_stats_enabled on a blast (see
// README, "Kernel counting"). The cost per frame is the slope between msgs=1
// and msgs=21: each run also pays the packet's fixed cost.
func BenchmarkWalk(b *testing.B) {
	if os.Geteuid() != 0 {
		skip.Unavailable(b, "loading BPF programs needs root")
	}
	for _, msgs := range []int{1, 21} {
		b.Run(fmt.Sprintf("msgs=%d", msgs), func(b *testing.B) { benchmarkWalk(b, msgs) })
	}
}

func benchmarkWalk(b *testing.B, msgs int) {
	const size = 64
	z := &zmtpStream{}
	for k := range msgs {
		z.frame(0, pattern(size, k))
	}
	// As buildFrame makes it (which wants a *testing.T).
	ip := &layers.IPv4{Version: 4, IHL: 5, TTL: 64, Protocol: layers.IPProtocolTCP, SrcIP: net.IP{192, 0, 2, 1}, DstIP: net.IP{192, 0, 2, 2}}
	tcp := &layers.TCP{SrcPort: 40000, DstPort: 7001, Seq: framingISN, Ack: 2000, Window: 512, ACK: true, PSH: true}
	_ = tcp.SetNetworkLayerForChecksum(ip)
	buf := gopacket.NewSerializeBuffer()
	if err := gopacket.SerializeLayers(buf, gopacket.SerializeOptions{FixLengths: true, ComputeChecksums: true},
		&layers.Ethernet{SrcMAC: net.HardwareAddr{2, 0, 0, 0, 0, 1}, DstMAC: net.HardwareAddr{2, 0, 0, 0, 0, 2}, EthernetType: layers.EthernetTypeIPv4},
		ip, tcp, gopacket.Payload(z.b)); err != nil {
		b.Fatal(err)
	}
	frame := buf.Bytes()
	k, err := joinKey(countDir)
	if err != nil {
		b.Fatal(err)
	}
	for _, c := range []struct {
		name string
		cfg  Config
	}{
		{"marks", Config{Marks: true}},
		{"keep64", Config{FrameKeep: 64}},
		{"count", Config{FrameKeep: 64, CountOnly: true}},
	} {
		b.Run(c.name, func(b *testing.B) {
			c.cfg.Ports = []uint16{7001}
			p := loadTestProgram(b, c.cfg, true, 14, 0, 1<<22)
			st := bpf.CaptureFlowState{Expect: framingISN, Mode: modeFrames, Quiet: 1}
			var total time.Duration
			for i := 0; i < b.N; i++ {
				if err := p.objs.Flowstate.Update(&k, &st, ebpf.UpdateAny); err != nil {
					b.Fatal(err)
				}
				_, d, err := p.objs.CaptureIngress.Benchmark(frame, 1, nil)
				if err != nil {
					b.Fatal(err)
				}
				total += d
				for {
					if _, ok := p.rd.peek(); !ok {
						break
					}
				}
			}
			b.ReportMetric(float64(total.Nanoseconds())/float64(b.N), "prog-ns/run")
			b.ReportMetric(float64(total.Nanoseconds())/float64(b.N)/float64(msgs), "prog-ns/frame")
		})
	}
}
