package session

import (
	"errors"
	"fmt"
	"os"
	"syscall"
)

// ErrSymlink is the error of CreateFile for a name that is a symbolic link.
var ErrSymlink = errors.New("refusing to write through a symbolic link")

// ErrNotOurs is the error of CreateFile for an existing regular file that
// another user owns.
var ErrNotOurs = errors.New("refusing to write into another user's file")

// CreateFile creates (or truncates) the output file name for -w,
// --stats-file and --cpu-profile: mode 0600 when it is new, never through
// a symbolic link.
// zmtpdump usually runs as root, often in a directory others can write to
// (/tmp): a symlink planted at name would otherwise have root truncate and
// overwrite whatever it points to. A directory's symlinks along the path
// are followed; only the last component is refused. An existing file keeps
// its mode, as with tcpdump -w, but one that another user owns is refused
// untouched (planted in /tmp, mode 0666, it would hand them the capture and
// its secrets); a FIFO or a device (/dev/null) is opened as it is.
func CreateFile(name string) (*os.File, error) {
	f, err := os.OpenFile(name, os.O_WRONLY|os.O_CREATE|syscall.O_NOFOLLOW, 0o600)
	if errors.Is(err, syscall.ELOOP) {
		if fi, lerr := os.Lstat(name); lerr == nil && fi.Mode()&os.ModeSymlink != 0 {
			return nil, fmt.Errorf("%s is a symbolic link: %w (remove it, or name the file it points to)", name, ErrSymlink)
		}
	}
	if err != nil {
		return nil, err
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, err
	}
	if !fi.Mode().IsRegular() {
		return f, nil
	}
	if st, ok := fi.Sys().(*syscall.Stat_t); ok && int(st.Uid) != os.Geteuid() {
		f.Close()
		return nil, fmt.Errorf("%s is owned by uid %d: %w (remove it, or choose another name)", name, st.Uid, ErrNotOurs)
	}
	if err := f.Truncate(0); err != nil {
		f.Close()
		return nil, fmt.Errorf("truncate %s: %w", name, err)
	}
	return f, nil
}
