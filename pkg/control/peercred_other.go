//go:build !linux

package control

import (
	"errors"
	"net"
)

func peerCred(c net.Conn) (peer, error) {
	return peer{}, errors.New("peer credentials are only implemented on Linux")
}
