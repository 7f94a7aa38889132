package control

import (
	"fmt"
	"net"
	"unsafe"

	"golang.org/x/sys/unix"
)

// peerCred returns the credentials of the process at the other end of c as
// the kernel recorded them when it connected: uid and gid (SO_PEERCRED)
// and supplementary groups (SO_PEERGROUPS, Linux 4.13 and later; without
// it only the primary group counts).
func peerCred(c net.Conn) (peer, error) {
	uc, ok := c.(*net.UnixConn)
	if !ok {
		return peer{}, fmt.Errorf("not a unix socket connection (%T)", c)
	}
	rc, err := uc.SyscallConn()
	if err != nil {
		return peer{}, err
	}
	var p peer
	var credErr error
	err = rc.Control(func(fd uintptr) {
		var cred *unix.Ucred
		cred, credErr = unix.GetsockoptUcred(int(fd), unix.SOL_SOCKET, unix.SO_PEERCRED)
		if credErr != nil {
			return
		}
		p = peer{PID: int(cred.Pid), UID: cred.Uid, GID: cred.Gid}
		p.Groups, _ = peerGroups(int(fd))
	})
	if err != nil {
		return peer{}, err
	}
	if credErr != nil {
		return peer{}, fmt.Errorf("SO_PEERCRED: %w", credErr)
	}
	return p, nil
}

// peerGroups reads SO_PEERGROUPS. x/sys has no wrapper for it (the value
// is an array of gid_t), so it calls getsockopt itself.
func peerGroups(fd int) ([]uint32, error) {
	buf := make([]uint32, 64)
	for range 3 {
		size := uint32(len(buf) * 4)
		_, _, errno := unix.Syscall6(unix.SYS_GETSOCKOPT, uintptr(fd), unix.SOL_SOCKET, unix.SO_PEERGROUPS,
			uintptr(unsafe.Pointer(&buf[0])), uintptr(unsafe.Pointer(&size)), 0)
		switch errno {
		case 0:
			return buf[:size/4], nil
		case unix.ERANGE:
			// size now holds what is needed.
			buf = make([]uint32, size/4+1)
		default:
			return nil, errno
		}
	}
	return nil, unix.ERANGE
}
