// Package heartbeat is wackamole's failure-detection transport: small
// fixed-size heartbeats over one UDP socket per node, sealed with the
// group's keys, checked against replay, sent to many peers with one system
// call and received without allocating.
//
// # Why beside memberlist
//
// hashicorp/memberlist keeps the roster, gossips the metadata, joins and
// merges; it stays. Its packet path is built for gossip, not for
// heartbeats every few milliseconds: it allocates a 64 KB buffer for every
// packet it receives, builds the AES-GCM cipher again for every packet,
// resolves the address and calls sendto once per message, and a heartbeat
// sent through it carried the full metadata every time. At a 25 ms
// interval that cost about 5 % of a core per node in a 3-node group. This
// package does the one job a failure detector needs, at the cost of the
// system calls themselves:
//
//   - one socket (IPv4 or IPv6) and fixed-size beats (256 bytes): buffers
//     are allocated once, and the steady paths (seal and send a beat to
//     any number of peers; receive, open, check and hand one over; a
//     metadata request and its reply) allocate nothing;
//   - recvmmsg(2) and sendmmsg(2) on Linux: a beat is sealed once and sent
//     to every peer in one system call;
//   - the AEAD built once per key, at SetKeys;
//   - a beat carries a metadata version, not the metadata: a receiver
//     that holds an older version asks for it (MetaRequest, MetaReply);
//   - the sending and receiving threads can be locked and given a
//     realtime policy (LockThread, Config.Sched), and sleep in the kernel
//     rather than on Go timers (Pacer), so a busy host does not delay its
//     own beats.
//
// # Use
//
// Listen opens the transport and starts its receive goroutine, which
// calls the Handler for every message it accepts. A heartbeat loop runs on
// a goroutine of its own:
//
//	if err := heartbeat.LockThread(sched); err != nil { ... }
//	pace, _ := heartbeat.NewPacer(interval)
//	for {
//		late := pace.Wait()   // a late wake-up is this host's own slowness
//		// fill in beat: metadata version, flags, late list
//		err := t.SendBeat(&beat, peers)
//	}
//
// With Config.Polled there is no receive goroutine: the loop calls Poll
// before it sends, and the node wakes once per interval instead of once
// per datagram (see Cost).
//
// # Wire format
//
// All integers are big-endian. Every packet starts with a 36-byte header,
// sent in clear text and authenticated (it is AES-GCM's additional data):
//
//	offset size
//	  0     1   format version: 1
//	  1     1   type: 1 beat, 2 metadata request, 3 metadata reply
//	  2     1   seal: 0 clear text, 1 AES-GCM
//	  3     1   reserved, 0
//	  4     4   label tag: SHA-256("wackamole heartbeat label" 0x00 label)[:4]
//	  8     4   salt: random, drawn once per process     } AES-GCM nonce,
//	 12     8   counter: per process, only increases     } 12 bytes
//	 20     8   sender ID: SHA-256(member name)[:8] (see ID)
//	 28     8   process: Unix nanoseconds of the sender's start
//
// and ends with a 16-byte trailer: the AES-GCM tag, or in clear text the
// CRC-32C (Castagnoli) of the label followed by the packet up to the
// trailer, then 12 zero bytes. What lies between is the body, encrypted
// with AES-GCM. A beat, always 256 bytes:
//
//	 36     8   metadata version
//	 44     2   the sender's heartbeat interval, milliseconds
//	 46     1   flags, eight booleans of the package's user
//	 47     1   late count, 0 to 16
//	 48     1   late flags: bit 0 overflow (more than 16 are late; the
//	            count is then 16); other bits 0
//	 49     3   reserved, 0
//	 52   160   16 late entries of 10 bytes: member ID (8), silence in
//	            milliseconds (2, at most 65535); unused entries 0
//	212    28   reserved, 0
//	240    16   trailer
//
// A metadata request, always 64 bytes:
//
//	36     8   the metadata version the requester learnt of
//	44     4   reserved, 0
//	48    16   trailer
//
// A metadata reply, 80 to 1104 bytes (1104 fits the IPv6 minimum MTU with
// its headers: no packet is ever fragmented):
//
//	36     8   metadata version
//	44     8   echo: the request's process    } proves the reply was made
//	52     8   echo: the request's counter    } after the request
//	60     2   metadata length n, at most 1024
//	62     2   reserved, 0
//	64     n   metadata
//	64+n  16   trailer
//
// A receiver accepts only what a sender writes: the exact size for the
// type, zero reserved bytes and unused entries; anything else is
// malformed. FuzzOpen checks that every accepted packet is exactly what
// marshalling and sealing its message again produces.
//
// # Keys and labels
//
// The keys are memberlist's: raw AES keys of 16, 24 or 32 bytes; the first
// seals, every key is tried on receive, and SetKeys rotates them with
// memberlist's steps (add the new key, make it primary, drop the old one).
// The AES-GCM key is not the raw key K but HKDF-SHA256(K, info =
// "wackamole heartbeat v1" 0x00 label) (RFC 5869), as long as K. So the
// whole label is bound to every packet, as its key: two groups sharing a
// key and a network cannot open each other's packets, whatever their
// label tags say (the tag only lets a receiver count a packet of another
// group as such). And this protocol's nonces are kept apart from
// memberlist's, which uses the same raw key with random nonces of its own.
// In clear text (no keys) the checksum catches corruption, not forgery:
// anyone on the network can then speak for any member.
//
// What is not encrypted: the header (who sent it, when its process
// started, how many packets it sent). The source address tells as much.
//
// # Nonces
//
// AES-GCM fails badly if a nonce repeats under a key. The nonce is the
// salt and the counter. A process never repeats its own: the counter only
// increases, and the transport stops sealing (ErrCounterExhausted) before
// it could wrap. Processes share the group key, so they must not meet
// either: each draws its salt (32 bits) and the starting point of its
// counter (uniform below 2^62) at random, independently. Two processes'
// nonces can only meet if they drew the same salt (2^-32) and their
// counter ranges overlap ((n+m)/2^62 for n and m packets). For a key used
// by 10^4 processes over its life, each sealing 2^35 packets (1000 a
// second for a year), the chance that any two meet is below
// (10^4)^2/2 * 2^-32 * 2^36/2^62 = 1.7e-10, within the 2^-32 that NIST SP
// 800-38D (8.3) asks of random nonces.
//
// # Replay window
//
// Every packet names its sender's process and counter. For each sender ID
// a receiver keeps the newest process it accepted and, for that process,
// the newest counter of each message type. It accepts a packet only if
// its process is newer (a restarted sender: the window starts over), or
// the same and its counter is newer than the newest of its type. So no
// packet is accepted twice or out of order (a reordered older packet is
// dropped, which a heartbeat can afford), and an older process is refused
// for good. Types have windows of their own so that a reply sent from the
// receive goroutine and a beat sent from the sender's thread at the same
// moment, which may leave in either order, both count; the type is
// authenticated, so a packet of one type cannot pass for another.
//
// The limits:
//
//   - A receiver that restarts remembers nothing. It accepts the first
//     packet it gets of a sender's current process, then only newer ones:
//     someone who recorded that process's packets can replay them to it,
//     in order, each once, until the receiver hears a genuine packet newer
//     than all of them, which a live sender sends within an interval. For
//     a live sender this is harmless: a replayed beat says the sender was
//     alive, and held a metadata version, at a time when it was and did;
//     nothing in it is forged, it is only old by the replay's delay. For a
//     sender that has since died, a recording could keep it alive in that
//     one restarted receiver's eyes. Beat.Proven closes this: a reply that
//     echoes a request of the receiver's own process proves the sender's
//     process alive after the receiver started, and every later packet of
//     that process is Proven. A receiver that must not be fooled about
//     who is alive right after its own start (when it votes on who is
//     silent, say) counts a sender as heard only from Proven beats; it
//     asks every sender for its metadata at start anyway, as it has none.
//   - A sender whose clock went back across a restart (its new process
//     claims an earlier start) is refused by receivers that heard the old
//     one, until they Forget it: call Forget when a member joins again or
//     leaves.
//   - Members share the key, so any member can speak for any other, as
//     with memberlist. Sender IDs are 64-bit hashes: check that the
//     group's names do not collide.
//   - In clear text, anyone can make up senders: Config.MaxSenders bounds
//     the table, and Config.ReplyRate the replies a forged request can
//     draw.
//
// # Threads and starvation
//
// With Config.Sched (SCHED_FIFO or SCHED_RR), the receive goroutine is
// locked to its thread and waits in ppoll(2), so the kernel wakes that
// thread itself when a datagram arrives, without the Go scheduler; a
// heartbeat loop does the same with LockThread and sleeps in the kernel
// with a Pacer. That is not enough on its own: a locked goroutine that the
// runtime preempts, or that waits, is handed back to its thread by another
// of the runtime's threads, so ScheduleProcess gives every thread of the
// process a realtime policy, and OnOrdinaryThread starts the programs the
// process runs at the normal one. Without, the receive goroutine is an ordinary one that
// waits in the Go runtime's poller: a goroutine that waits in a system
// call the runtime sees keeps a P "in a system call", and the runtime's
// monitor thread (sysmon) then never goes to its deep sleep; it woke
// about 390 times a second on an idle lan node, half of the node's CPU.
// Config.Coalesce lets that goroutine read dense traffic in batches.
// Handlers run on the receive goroutine (or Poll's caller)
// and must not block. LockMemory (mlockall) keeps the process in RAM.
// Realtime scheduling needs CAP_SYS_NICE (or RLIMIT_RTPRIO) and a unit
// that allows it (systemd: RestrictRealtime=no); memory locking needs
// CAP_IPC_LOCK or a large RLIMIT_MEMLOCK. Both fail with errors that say
// so.
//
// # Cost
//
// On the 2-core VM this was measured on, sealing a beat takes 0.2-0.5 us
// and opening one 0.3-0.9 us; sending one datagram over loopback, the
// receiver's kernel side included, 2-4 us. The rest is waking threads:
// 30-60 us of CPU per wake-up of a sleeping thread there, more when the
// host is idle. So what a node costs depends on how often it wakes: with
// the receive goroutine, once per datagram received (at most about once
// per Config.Coalesce while they arrive densely) and once per interval
// to send; with Config.Polled, once per interval. BenchmarkNodeCPU (one
// process per node, all-to-all on loopback, AES-256) measured per node,
// before the receive goroutine waited in the poller and coalesced (a
// realtime one still waits as it did then):
//
//	                      receive goroutine   Polled
//	3 nodes, 5 ms         2.0-4.7 %           1.6-2.0 %
//	3 nodes, 25 ms        0.8-1.3 %           0.6-0.7 %
//	50 nodes, 25 ms       3.6-3.9 %           1.5-1.8 %
//	50 nodes, 200 ms      0.5-1.1 %           0.2-0.25 %
//
// of one core, the spread being that of the host's load. Bare-metal hosts
// wake threads several times more cheaply.
package heartbeat
