package livetest_test

import (
	"reflect"
	"testing"

	"github.com/zmtpdump/zmtpdump/internal/livetest"
	"github.com/zmtpdump/zmtpdump/output"
)

// TestStatsRoundTrip ties the writer of the stats line (output.Stats) to
// its reader here: every field of output.Stats, set to a value of its own,
// comes back in the field of livetest.Stats of the same name. A key renamed
// on one side fails here, not only in a live test.
func TestStatsRoundTrip(t *testing.T) {
	var in output.Stats
	v := reflect.ValueOf(&in).Elem()
	for i := range v.NumField() {
		switch f := v.Field(i); f.Kind() {
		case reflect.Uint64:
			f.SetUint(uint64(1000 + i))
		case reflect.Bool:
			f.SetBool(true)
		default:
			t.Fatalf("output.Stats.%s: a %s, which the stats line does not carry", v.Type().Field(i).Name, f.Kind())
		}
	}
	got, err := livetest.ParseStats(in.AppendJSON(nil))
	if err != nil {
		t.Fatalf("%v: %s", err, in.AppendJSON(nil))
	}
	g := reflect.ValueOf(got)
	if g.NumField() != v.NumField() {
		t.Errorf("livetest.Stats has %d fields, output.Stats %d", g.NumField(), v.NumField())
	}
	for i := range v.NumField() {
		name := v.Type().Field(i).Name
		gf := g.FieldByName(name)
		if !gf.IsValid() {
			t.Errorf("livetest.Stats has no field %s", name)
			continue
		}
		if !reflect.DeepEqual(gf.Interface(), v.Field(i).Interface()) {
			t.Errorf("%s: wrote %v, read %v", name, v.Field(i).Interface(), gf.Interface())
		}
	}
}
