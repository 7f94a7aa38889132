package heartbeat

import (
	"net"
	"strconv"
)

// zoneIndex returns the interface index of an IPv6 zone: a number, or an
// interface name.
func zoneIndex(zone string) (uint32, error) {
	if n, err := strconv.ParseUint(zone, 10, 32); err == nil {
		return uint32(n), nil
	}
	ifi, err := net.InterfaceByName(zone)
	if err != nil {
		return 0, err
	}
	return uint32(ifi.Index), nil
}
