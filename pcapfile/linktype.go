package pcapfile

import "github.com/gopacket/gopacket/layers"

// linkTypeOf reads the per-packet link type pcapgo puts in AncillaryData.
func linkTypeOf(v any) (int, bool) {
	lt, ok := v.(layers.LinkType)
	return int(lt), ok
}
