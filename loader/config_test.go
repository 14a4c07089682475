package loader

import (
	"strings"
	"testing"
)

// TestConfigDefaults: the defaults are applied once, by withDefaults, and
// validate refuses what no capture can use.
func TestConfigDefaults(t *testing.T) {
	cfg := Config{}.withDefaults()
	if cfg.RingSize != DefaultRingSize || cfg.Backend != Auto || cfg.FlowStates != DefaultFlowStates {
		t.Errorf("defaults: %+v", cfg)
	}
	if err := cfg.validate(); err != nil {
		t.Errorf("defaults refused: %v", err)
	}
	set := Config{RingSize: 1 << 20, Backend: Socket, FlowStates: 7}
	if got := set.withDefaults(); got.RingSize != set.RingSize || got.Backend != set.Backend || got.FlowStates != set.FlowStates {
		t.Errorf("values given were replaced: %+v", got)
	}
	for _, tc := range []struct {
		cfg  Config
		want string
	}{
		{Config{RingSize: 3 << 20}, "must be a power of two"},
		{Config{RingSize: 1024}, "must be a power of two"},
		{Config{Backend: "nonsense"}, `unknown backend "nonsense"`},
	} {
		if err := tc.cfg.withDefaults().validate(); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%+v: %v, want %q", tc.cfg, err, tc.want)
		}
	}
}
