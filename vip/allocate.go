package vip

import (
	"cmp"
	"slices"
	"strings"
)

// Spec describes one VIP to the allocator.
type Spec struct {
	// Name identifies the VIP. Names are unique; a duplicate is ignored.
	Name string
	// Prefer lists members that should hold the VIP when eligible, in order.
	Prefer []string
}

// Member is one member of the group as the allocator sees it.
type Member struct {
	// Name identifies the member. Entries with the same name are merged.
	Name string
	// Eligible members may be given VIPs: alive, mature, not draining,
	// healthy and configured like this node. The caller decides.
	Eligible bool
	// Holds are the VIPs the member says it holds. Unknown names are ignored.
	Holds []string
	// Leaving are the VIPs the member is handing over: it still serves them
	// until the new owner has announced them. Leaving implies Holds.
	Leaving []string
}

// Input is everything the allocator decides from.
type Input struct {
	// VIPs are the configured VIPs, in any order.
	VIPs []Spec
	// Members are the members of the view, this node included, in any order.
	Members []Member
	// Quorum reports whether this node sees enough live members to take
	// orphaned VIPs and rebalance.
	Quorum bool
	// MaxMoves bounds the hand-overs between eligible members under way at
	// once. 0 means no bound.
	MaxMoves int
}

// Reason says why a VIP has the owner a plan gives it.
type Reason uint8

// Reasons, as Assignment.Reason reports them.
const (
	// Unowned: nobody may take the VIP (no quorum, or no eligible member)
	// and nobody holds it.
	Unowned Reason = iota
	// Kept: the VIP stays with the member that holds it.
	Kept
	// Contested: several members hold the VIP; the rendezvous winner keeps it.
	Contested
	// Preferred: the VIP moves to a preferred member.
	Preferred
	// Rebalanced: the VIP moves from an eligible member to even out the load.
	Rebalanced
	// Vacated: the VIP's holders are alive but not eligible (draining,
	// unhealthy, not yet mature, or configured differently).
	Vacated
	// Orphaned: nobody in the view holds the VIP.
	Orphaned
	// Deferred: the VIP would move, but MaxMoves hand-overs are under way.
	Deferred
)

var reasonNames = [...]string{
	Unowned:    "unowned",
	Kept:       "kept",
	Contested:  "contested",
	Preferred:  "preferred",
	Rebalanced: "rebalanced",
	Vacated:    "vacated",
	Orphaned:   "orphaned",
	Deferred:   "deferred",
}

// String returns the reason's name as logs and the control socket show it.
func (r Reason) String() string {
	if int(r) < len(reasonNames) {
		return reasonNames[r]
	}
	return "unknown"
}

// Holder is a member that claims a VIP.
type Holder struct {
	Name     string
	Eligible bool
	Leaving  bool
}

// Assignment is the plan for one VIP.
type Assignment struct {
	VIP string
	// Owner is the member that should hold the VIP, "" for nobody.
	Owner  string
	Reason Reason
	// Holders are the members that claim the VIP now, in name order.
	Holders []Holder
}

// Plan is the allocator's answer: the target owner of every VIP.
type Plan struct {
	// Quorum is Input.Quorum, kept for Diff.
	Quorum bool
	// Assignments has one entry per VIP, in VIP name order.
	Assignments []Assignment
}

// Lookup returns the assignment of the named VIP.
func (p *Plan) Lookup(vip string) (Assignment, bool) {
	i, ok := slices.BinarySearchFunc(p.Assignments, vip, func(a Assignment, name string) int {
		return strings.Compare(a.VIP, name)
	})
	if !ok {
		return Assignment{}, false
	}
	return p.Assignments[i], true
}

// Owned returns the names of the VIPs the plan gives to member, in order.
func (p *Plan) Owned(member string) []string {
	var names []string
	for _, a := range p.Assignments {
		if a.Owner == member {
			names = append(names, a.VIP)
		}
	}
	return names
}

// claim is one member's claim on a VIP, by member index.
type claim struct {
	member  int32
	leaving bool
}

// candidate kinds, in the order a member over its share gives them up.
const (
	kindKeepLeaving uint8 = iota
	kindKeep
	kindPrefer
)

// allocation is the working state of one Allocate call, indexed by VIP and
// member position in name order.
type allocation struct {
	vips    []Spec
	members []Member
	hv, hm  []uint64 // name hashes for rendezvous scores
	claims  [][]claim
	owner   []int32 // -1: nobody
	reason  []Reason
}

// Allocate computes the target owner of every VIP from a view of the group.
// It is a pure function: the same input, in any order, gives the same plan.
func Allocate(in Input) Plan {
	a := newAllocation(in)
	var eligible []int32
	for j := range a.members {
		if a.members[j].Eligible {
			eligible = append(eligible, int32(j))
		}
	}
	if !in.Quorum || len(eligible) == 0 {
		a.keepHolders()
	} else {
		a.balance(eligible, in.MaxMoves)
	}
	return a.plan(in.Quorum)
}

func newAllocation(in Input) *allocation {
	a := &allocation{
		vips:    sortedSpecs(in.VIPs),
		members: mergedMembers(in.Members),
	}
	nv, nm := len(a.vips), len(a.members)
	a.hv = make([]uint64, nv)
	vipIndex := make(map[string]int32, nv)
	for i, s := range a.vips {
		a.hv[i] = mix(hashName(s.Name))
		vipIndex[s.Name] = int32(i)
	}
	a.hm = make([]uint64, nm)
	for j, m := range a.members {
		a.hm[j] = mix(hashName(m.Name))
	}
	// Claims go into one flat array, VIP by VIP: a count pass, then a
	// fill pass, which spares an allocation per VIP.
	resolve := func(j int) (holds []int32, leaving map[int32]bool) {
		m := &a.members[j]
		for _, name := range m.Leaving {
			if i, ok := vipIndex[name]; ok {
				if leaving == nil {
					leaving = make(map[int32]bool, len(m.Leaving))
				}
				leaving[i] = true
			}
		}
		for _, name := range m.Holds {
			if i, ok := vipIndex[name]; ok {
				holds = append(holds, i)
			}
		}
		return holds, leaving
	}
	type resolved struct {
		holds   []int32
		leaving map[int32]bool
	}
	per := make([]resolved, nm)
	offset := make([]int32, nv+1)
	for j := range a.members {
		per[j].holds, per[j].leaving = resolve(j)
		for _, i := range per[j].holds {
			offset[i+1]++
		}
	}
	for i := 1; i <= nv; i++ {
		offset[i] += offset[i-1]
	}
	flat := make([]claim, offset[nv])
	a.claims = make([][]claim, nv)
	for i := range a.claims {
		a.claims[i] = flat[offset[i]:offset[i]:offset[i+1]]
	}
	for j, r := range per {
		for _, i := range r.holds {
			a.claims[i] = append(a.claims[i], claim{member: int32(j), leaving: r.leaving[i]})
		}
	}
	a.owner = make([]int32, nv)
	a.reason = make([]Reason, nv)
	for i := range a.owner {
		a.owner[i] = -1
	}
	return a
}

// sortedSpecs returns the specs in name order without duplicate names. The
// input is not modified; an already sorted list (the usual case: config
// keeps VIPs sorted) is used as it is.
func sortedSpecs(in []Spec) []Spec {
	strictlySorted := true
	for k := 1; k < len(in); k++ {
		if in[k-1].Name >= in[k].Name {
			strictlySorted = false
			break
		}
	}
	if strictlySorted {
		return in
	}
	out := slices.Clone(in)
	slices.SortFunc(out, func(x, y Spec) int {
		// Duplicates are invalid input; ordering them by prefer list keeps
		// the result independent of input order anyway.
		return cmp.Or(strings.Compare(x.Name, y.Name), slices.Compare(x.Prefer, y.Prefer))
	})
	return slices.CompactFunc(out, func(x, y Spec) bool { return x.Name == y.Name })
}

// mergedMembers returns the members in name order, entries with the same
// name merged: holds and leaving united, eligible only if every entry is.
func mergedMembers(in []Member) []Member {
	out := slices.Clone(in)
	slices.SortStableFunc(out, func(x, y Member) int { return strings.Compare(x.Name, y.Name) })
	merged := out[:0]
	for _, m := range out {
		if n := len(merged); n > 0 && merged[n-1].Name == m.Name {
			last := &merged[n-1]
			last.Eligible = last.Eligible && m.Eligible
			last.Holds = union(last.Holds, m.Holds)
			last.Leaving = union(last.Leaving, m.Leaving)
			continue
		}
		merged = append(merged, m)
	}
	for i := range merged {
		// Leaving implies Holds.
		if len(merged[i].Leaving) > 0 {
			merged[i].Holds = union(merged[i].Holds, merged[i].Leaving)
		}
	}
	return merged
}

func union(x, y []string) []string {
	out := append(slices.Clone(x), y...)
	slices.Sort(out)
	return slices.Compact(out)
}

// keepHolders is the allocation without quorum or without eligible members:
// nothing gains an owner it did not have.
func (a *allocation) keepHolders() {
	for i, cs := range a.claims {
		w, contested := a.winner(i, cs, func(claim) bool { return true })
		if w < 0 {
			a.reason[i] = Unowned
			continue
		}
		a.owner[i] = w
		a.reason[i] = Kept
		if contested {
			a.reason[i] = Contested
		}
	}
}

// winner returns the rendezvous winner among the claims accepted by ok,
// preferring claims that are not leaving, and whether more than one
// non-leaving claim competed.
func (a *allocation) winner(i int, cs []claim, ok func(claim) bool) (w int32, contested bool) {
	w = -1
	var best uint64
	wLeaving := true
	stayers := 0
	for _, c := range cs {
		if !ok(c) {
			continue
		}
		if !c.leaving {
			stayers++
		}
		s := a.score(i, c.member)
		// A claim that stays beats any leaving claim; between claims of
		// the same kind the higher score wins.
		if w < 0 || (wLeaving && !c.leaving) || (wLeaving == c.leaving && s > best) {
			w, best, wLeaving = c.member, s, c.leaving
		}
	}
	return w, stayers > 1
}

// balance is the allocation with quorum over the eligible members.
func (a *allocation) balance(eligible []int32, maxMoves int) {
	nv, n := len(a.vips), len(eligible)
	q, r := nv/n, nv%n
	isEligible := make([]bool, len(a.members))
	for _, j := range eligible {
		isEligible[j] = true
	}
	memberIndex := make(map[string]int32, len(a.members))
	for j, m := range a.members {
		memberIndex[m.Name] = int32(j)
	}

	// 1. What each VIP would have if nobody were over their share.
	cand := make([]int32, nv) // -1: orphan
	kind := make([]uint8, nv) // of cand
	from := make([]int32, nv) // the eligible holder it would be kept by, -1: none
	fromLeaving := make([]bool, nv)
	count := make([]int32, len(a.members))
	for i := range a.vips {
		cs := a.claims[i]
		w, contested := a.winner(i, cs, func(c claim) bool { return isEligible[c.member] })
		from[i] = w
		cand[i] = w
		if w >= 0 {
			fromLeaving[i] = slices.ContainsFunc(cs, func(c claim) bool { return c.member == w && c.leaving })
			kind[i] = kindKeep
			if fromLeaving[i] {
				kind[i] = kindKeepLeaving
			}
			a.reason[i] = Kept
			if contested {
				a.reason[i] = Contested
			}
		}
		for _, name := range a.vips[i].Prefer {
			if p, ok := memberIndex[name]; ok && isEligible[p] {
				cand[i], kind[i] = p, kindPrefer
				break
			}
		}
		if cand[i] >= 0 {
			count[cand[i]]++
		}
	}

	// 2. Shares: everyone may keep q, r members may keep q+1. The members
	// over q compete for those r places; who wins does not change how many
	// VIPs move, so a name hash picks, which favours nobody.
	limit := make([]int32, len(a.members))
	var over []int32
	for _, j := range eligible {
		limit[j] = int32(q)
		if count[j] > int32(q) {
			over = append(over, j)
		}
	}
	slices.SortFunc(over, func(x, y int32) int {
		return cmp.Or(cmp.Compare(a.hm[y], a.hm[x]), cmp.Compare(x, y))
	})
	big := min(r, len(over))
	for _, j := range over[:big] {
		limit[j]++
	}

	// 3. Members over their share give up their least attached VIPs:
	// those being handed over first, then the lowest rendezvous scores,
	// preferred ones last.
	byMember := make([][]int32, len(a.members))
	for _, j := range over {
		if count[j] > limit[j] {
			byMember[j] = make([]int32, 0, count[j])
		}
	}
	for i, j := range cand {
		if j >= 0 && byMember[j] != nil {
			byMember[j] = append(byMember[j], int32(i))
		}
	}
	load := make([]int32, len(a.members))
	var pool []int32
	for i, j := range cand {
		if j < 0 {
			pool = append(pool, int32(i))
		} else if byMember[j] == nil {
			a.owner[i] = j
			load[j]++
		}
	}
	for j, vs := range byMember {
		if vs == nil {
			continue
		}
		slices.SortFunc(vs, func(x, y int32) int {
			return cmp.Or(cmp.Compare(kind[x], kind[y]),
				cmp.Compare(a.score(int(x), int32(j)), a.score(int(y), int32(j))),
				cmp.Compare(x, y))
		})
		drop := count[j] - limit[j]
		pool = append(pool, vs[:drop]...)
		for _, i := range vs[drop:] {
			a.owner[i] = int32(j)
			load[j]++
		}
	}
	slices.Sort(pool)

	// 4. The pool goes, in VIP order, to the least loaded members, ties
	// broken by rendezvous score.
	a.fill(pool, eligible, load, q, r-big)

	// Reasons of what moved.
	for i := range a.vips {
		switch o := a.owner[i]; {
		case o == from[i]:
			// Kept or Contested, set above.
		case from[i] >= 0 && kind[i] == kindPrefer && o == cand[i]:
			a.reason[i] = Preferred
		case from[i] >= 0:
			a.reason[i] = Rebalanced
		case len(a.claims[i]) > 0:
			a.reason[i] = Vacated
		default:
			a.reason[i] = Orphaned
		}
	}

	// 5. Pace hand-overs between eligible members.
	if maxMoves > 0 {
		a.pace(from, maxMoves, isEligible)
	}
}

// fill assigns the pool VIPs, in VIP order, to the least loaded eligible
// members. Members may reach q, and bigLeft of them q+1; the pool is
// exactly that large.
//
// Ties between the least loaded members are broken by consistent hashing:
// the VIP goes to the member whose hash follows the VIP's hash on a ring of
// the tied members. Like a rendezvous hash of (VIP, member) it spreads the
// orphans of one dead member over many survivors and depends on nothing but
// names, but it costs O(log N) per VIP instead of O(N): a cold start of
// 10000 VIPs on 1000 members is 30 times faster.
//
// Loads only grow, so the lowest level only moves up, and by the time a
// level is the lowest no member can join it any more: its ring only loses
// members, which a "next alive" union-find handles in near constant time.
// Members with equal hashes (distinct names hashing alike) keep their name
// order, so the choice stays deterministic.
func (a *allocation) fill(pool, eligible, load []int32, q, bigLeft int) {
	if len(pool) == 0 {
		return
	}
	// The eligible members in hash order, once: each level's ring is the
	// members of that level in this order, picked in O(N) without sorting.
	byHash := slices.Clone(eligible)
	slices.SortFunc(byHash, func(x, y int32) int { return cmp.Or(cmp.Compare(a.hm[x], a.hm[y]), cmp.Compare(x, y)) })
	level := int32(-1)
	var ring ring
	for _, i := range pool {
		for ring.empty() {
			level++
			if level > int32(q) || (level == int32(q) && bigLeft == 0) {
				return // cannot happen: the pool matches the free places
			}
			// Loads only grow and the lowest level is served first, so a
			// level gains no member once it is the lowest.
			ring.reset(byHash, func(j int32) bool { return load[j] == level }, a.hm)
		}
		j := ring.take(a.hv[i])
		a.owner[i] = j
		load[j]++
		if level == int32(q) {
			bigLeft--
		}
	}
}

// ring is a consistent-hashing ring of members that only loses members.
type ring struct {
	members []int32  // ordered by hash
	hashes  []uint64 // their hashes
	next    []int32  // union-find: next[k] leads to the first member left at or after k
	left    int
}

func (r *ring) empty() bool { return r.left == 0 }

// reset fills the ring with the members of byHash (in hash order) that in
// accepts.
func (r *ring) reset(byHash []int32, in func(int32) bool, hm []uint64) {
	r.members, r.hashes = r.members[:0], r.hashes[:0]
	for _, j := range byHash {
		if in(j) {
			r.members = append(r.members, j)
			r.hashes = append(r.hashes, hm[j])
		}
	}
	r.next = slices.Grow(r.next[:0], len(r.members)+1)[:len(r.members)+1]
	for k := range r.next {
		r.next[k] = int32(k)
	}
	r.left = len(r.members)
}

// take removes and returns the first member at or after hash h, wrapping.
func (r *ring) take(h uint64) int32 {
	k, _ := slices.BinarySearch(r.hashes, h)
	k = int(r.find(int32(k)))
	if k == len(r.members) {
		k = int(r.find(0))
	}
	r.next[k] = int32(k + 1)
	r.left--
	return r.members[k]
}

func (r *ring) find(k int32) int32 {
	root := k
	for r.next[root] != root {
		root = r.next[root]
	}
	for r.next[k] != root {
		r.next[k], k = root, r.next[k]
	}
	return root
}

// pace holds back new hand-overs between eligible members beyond maxMoves,
// counting those already under way (an eligible holder marks the VIP
// leaving and is not its owner).
func (a *allocation) pace(from []int32, maxMoves int, isEligible []bool) {
	busy := 0
	for i, cs := range a.claims {
		if slices.ContainsFunc(cs, func(c claim) bool {
			return c.leaving && isEligible[c.member] && c.member != a.owner[i]
		}) {
			busy++
		}
	}
	allowed := maxMoves - busy
	for i := range a.vips {
		w := from[i]
		if w < 0 || a.owner[i] == w {
			continue
		}
		leaving := slices.ContainsFunc(a.claims[i], func(c claim) bool { return c.member == w && c.leaving })
		if leaving {
			continue // under way, counted in busy
		}
		if allowed > 0 {
			allowed--
			continue
		}
		a.owner[i] = w
		a.reason[i] = Deferred
	}
}

func (a *allocation) plan(quorum bool) Plan {
	p := Plan{Quorum: quorum, Assignments: make([]Assignment, len(a.vips))}
	total := 0
	for _, cs := range a.claims {
		total += len(cs)
	}
	holders := make([]Holder, 0, total)
	for i, s := range a.vips {
		as := Assignment{VIP: s.Name, Reason: a.reason[i]}
		if o := a.owner[i]; o >= 0 {
			as.Owner = a.members[o].Name
		}
		if cs := a.claims[i]; len(cs) > 0 {
			start := len(holders)
			for _, c := range cs {
				m := &a.members[c.member]
				holders = append(holders, Holder{Name: m.Name, Eligible: m.Eligible, Leaving: c.leaving})
			}
			as.Holders = holders[start:len(holders):len(holders)]
		}
		p.Assignments[i] = as
	}
	return p
}

// score is the rendezvous score of member j for VIP i.
func (a *allocation) score(i int, j int32) uint64 {
	return mix(a.hv[i] ^ a.hm[j])
}

// hashName is 64-bit FNV-1a: stable across versions and platforms, which
// the plan's determinism across nodes depends on.
func hashName(s string) uint64 {
	h := uint64(14695981039346656037)
	for k := 0; k < len(s); k++ {
		h ^= uint64(s[k])
		h *= 1099511628211
	}
	return h
}

// mix is the splitmix64 finaliser. FNV-1a of names that differ in their last
// byte differ mostly in the low bits; mixed, they spread evenly over the
// ring, and the XOR of a VIP's and a member's hash becomes a score by which
// each VIP ranks the members differently.
func mix(x uint64) uint64 {
	x ^= x >> 30
	x *= 0xbf58476d1ce4e5b9
	x ^= x >> 27
	x *= 0x94d049bb133111eb
	x ^= x >> 31
	return x
}

// Successors names, for each VIP the plan gives to a member, the member
// that would get it if its owner failed: the owner in the plan Allocate
// makes of the same input without that member. Every node computes the
// same answer. It costs one Allocate per member that owns VIPs.
//
// In BGP mode the successor announces a standby path for the VIP, so that
// a router that loses the owner's session forwards to the successor at
// once, in its own detection time, before the group has even noticed.
func Successors(in Input, p Plan) map[string]string {
	owned := map[string][]string{}
	for _, a := range p.Assignments {
		if a.Owner != "" {
			owned[a.Owner] = append(owned[a.Owner], a.VIP)
		}
	}
	out := map[string]string{}
	for owner, vips := range owned {
		without := in
		without.Members = slices.DeleteFunc(slices.Clone(in.Members), func(m Member) bool { return m.Name == owner })
		// The owner's VIPs become orphans, as they would on its failure.
		after := Allocate(without)
		for _, v := range vips {
			if a, ok := after.Lookup(v); ok && a.Owner != "" {
				out[v] = a.Owner
			}
		}
	}
	return out
}
