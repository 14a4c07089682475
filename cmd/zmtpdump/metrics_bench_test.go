package main

import "testing"

// The pipeline with --metrics (the registry made, nothing listened on: no
// scrape comes): against BenchmarkPipelineQuiet and BenchmarkPipelineReqRep,
// the difference is what --metrics costs per message (a round trip's check
// after each event; the counts are read at scrapes, not kept per message).
func BenchmarkPipelineQuietMetrics(b *testing.B) {
	benchPipeline(b, "-q", "--metrics", "127.0.0.1:0")
}

func BenchmarkPipelineReqRepMetrics(b *testing.B) {
	benchReqRep(b, "-q", "--metrics", "127.0.0.1:0")
}
