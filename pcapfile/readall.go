package pcapfile

import (
	"errors"
	"io"

	"github.com/zmtpdump/zmtpdump/segment"
)

// ReadAll reads r to its end and returns every segment, each payload
// copied (its capacity its length): for captures small enough to hold in
// memory, such as tests and tools. On an error it returns the segments
// read before it.
func ReadAll(r *Reader) ([]segment.Segment, error) {
	var segs []segment.Segment
	for {
		var seg segment.Segment
		err := r.Next(&seg)
		if errors.Is(err, io.EOF) {
			return segs, nil
		}
		if err != nil {
			return segs, err
		}
		seg.Payload = append(make([]byte, 0, len(seg.Payload)), seg.Payload...)
		segs = append(segs, seg)
	}
}

// ReadFile opens the capture file name and reads all of it (see ReadAll).
func ReadFile(name string) ([]segment.Segment, error) {
	r, err := Open(name)
	if err != nil {
		return nil, err
	}
	defer r.Close()
	return ReadAll(r)
}
