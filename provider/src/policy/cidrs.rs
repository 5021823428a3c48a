//! Set algebra on CIDR blocks: coverage, difference and overlap, exact for IPv4 and IPv6, in
//! time near-linear in the number of blocks.
//!
//! An [`AddrSet`] keeps a union of blocks as sorted, disjoint, non-adjacent address intervals
//! (one ordered map per family), so inserting a block, asking whether a block is covered, and
//! listing what of a block is *not* covered each cost a logarithmic lookup plus the intervals
//! touched. What is left of a block is turned back into the fewest CIDR blocks (the classic
//! range-to-prefix split), and [`IpNet::aggregate`] merges neighbours, so results are the
//! canonical (smallest, sorted) list of blocks for the addresses.

use std::collections::BTreeMap;
use std::net::{Ipv4Addr, Ipv6Addr};

use ipnet::{IpNet, Ipv4Net, Ipv6Net};

/// Whether two blocks share at least one address.
pub fn overlaps(a: &IpNet, b: &IpNet) -> bool {
    a.contains(b) || b.contains(a)
}

/// First and last address of a block, as integers.
fn bounds(net: &IpNet) -> (u128, u128) {
    match net {
        IpNet::V4(n) => (
            u128::from(u32::from(n.network())),
            u128::from(u32::from(n.broadcast())),
        ),
        IpNet::V6(n) => (u128::from(n.network()), u128::from(n.broadcast())),
    }
}

/// A union of CIDR blocks.
#[derive(Debug, Clone, Default)]
pub struct AddrSet {
    /// Inclusive `start → end` intervals, disjoint and never adjacent.
    v4: BTreeMap<u128, u128>,
    v6: BTreeMap<u128, u128>,
}

impl AddrSet {
    pub fn new<'a>(nets: impl IntoIterator<Item = &'a IpNet>) -> AddrSet {
        let mut set = AddrSet::default();
        for n in nets {
            set.insert(n);
        }
        set
    }

    fn family(&self, net: &IpNet) -> &BTreeMap<u128, u128> {
        match net {
            IpNet::V4(_) => &self.v4,
            IpNet::V6(_) => &self.v6,
        }
    }

    /// Adds every address of `net`.
    pub fn insert(&mut self, net: &IpNet) {
        let map = match net {
            IpNet::V4(_) => &mut self.v4,
            IpNet::V6(_) => &mut self.v6,
        };
        let (mut start, mut end) = bounds(net);
        // An interval that begins at or before `start` and reaches it (or touches it).
        if let Some((&s, &e)) = map.range(..=start).next_back()
            && e.saturating_add(1) >= start
        {
            start = s;
            end = end.max(e);
            map.remove(&s);
        }
        // Intervals that begin inside or right after the new one.
        while let Some((&s, &e)) = map.range(start..).next() {
            if s > end.saturating_add(1) {
                break;
            }
            end = end.max(e);
            map.remove(&s);
        }
        map.insert(start, end);
    }

    /// Whether every address of `net` is in the set.
    pub fn covers(&self, net: &IpNet) -> bool {
        let (start, end) = bounds(net);
        self.family(net)
            .range(..=start)
            .next_back()
            .is_some_and(|(_, &e)| e >= end)
    }

    /// The addresses of `net` that are not in the set, as blocks in address order (not yet
    /// aggregated with other blocks' pieces).
    pub fn uncovered(&self, net: &IpNet) -> Vec<IpNet> {
        let (start, end) = bounds(net);
        let map = self.family(net);
        let mut out = Vec::new();
        let mut cursor = start;
        let before = map
            .range(..start)
            .next_back()
            .filter(|(_, e)| **e >= start)
            .map(|(s, e)| (*s, *e));
        let inside = map.range(start..=end).map(|(s, e)| (*s, *e));
        for (s, e) in before.into_iter().chain(inside) {
            if s > cursor {
                push_range(net, cursor, s - 1, &mut out);
            }
            if e >= end {
                return out;
            }
            cursor = e + 1;
        }
        push_range(net, cursor, end, &mut out);
        out
    }
}

/// Appends the fewest blocks that hold exactly `start..=end` (of `like`'s family).
fn push_range(like: &IpNet, mut start: u128, end: u128, out: &mut Vec<IpNet>) {
    let width: u32 = match like {
        IpNet::V4(_) => 32,
        IpNet::V6(_) => 128,
    };
    // The offset of the last address of a block of `bits` host bits.
    let span = |bits: u32| {
        if bits >= 128 {
            u128::MAX
        } else {
            (1u128 << bits) - 1
        }
    };
    loop {
        // The largest aligned block at `start` that does not pass `end`.
        let mut bits = start.trailing_zeros().min(width);
        while bits > 0 && start.checked_add(span(bits)).is_none_or(|last| last > end) {
            bits -= 1;
        }
        let prefix = u8::try_from(width - bits).expect("a prefix length fits in u8");
        out.push(match like {
            IpNet::V4(_) => IpNet::V4(
                Ipv4Net::new(
                    Ipv4Addr::from(u32::try_from(start).expect("an IPv4 address")),
                    prefix,
                )
                .expect("a valid IPv4 prefix"),
            ),
            IpNet::V6(_) => {
                IpNet::V6(Ipv6Net::new(Ipv6Addr::from(start), prefix).expect("a valid IPv6 prefix"))
            }
        });
        let last = start + span(bits);
        if last >= end {
            return;
        }
        start = last + 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn n(s: &str) -> IpNet {
        s.parse().unwrap()
    }

    fn strs(v: &[IpNet]) -> Vec<String> {
        v.iter().map(ToString::to_string).collect()
    }

    /// `net` minus `holes`, aggregated: what the renderer asks of a set.
    fn subtract(net: &str, holes: &[&str]) -> Vec<String> {
        let holes: Vec<IpNet> = holes.iter().map(|h| n(h)).collect();
        strs(&IpNet::aggregate(&AddrSet::new(&holes).uncovered(&n(net))))
    }

    #[test]
    fn subtracting_a_host_from_a_24_leaves_eight_blocks() {
        let out = subtract("203.0.113.0/24", &["203.0.113.7/32"]);
        assert_eq!(
            out,
            [
                "203.0.113.0/30",
                "203.0.113.4/31",
                "203.0.113.6/32",
                "203.0.113.8/29",
                "203.0.113.16/28",
                "203.0.113.32/27",
                "203.0.113.64/26",
                "203.0.113.128/25",
            ]
        );
        // The pieces and the hole are the block again.
        let mut all: Vec<IpNet> = out.iter().map(|s| n(s)).collect();
        all.push(n("203.0.113.7/32"));
        assert_eq!(IpNet::aggregate(&all), [n("203.0.113.0/24")]);
    }

    #[test]
    fn a_hole_that_contains_the_block_removes_it() {
        assert!(subtract("203.0.113.7/32", &["203.0.113.0/24"]).is_empty());
        assert!(AddrSet::new(&[n("203.0.113.0/24")]).covers(&n("203.0.113.0/25")));
    }

    #[test]
    fn disjoint_and_other_family_holes_change_nothing() {
        assert_eq!(
            subtract("203.0.113.0/24", &["198.51.100.0/24", "2001:db8::/32"]),
            ["203.0.113.0/24"]
        );
    }

    #[test]
    fn ipv6_difference() {
        assert_eq!(
            subtract("2001:db8::/126", &["2001:db8::1/128"]),
            ["2001:db8::/128", "2001:db8::2/127"]
        );
    }

    #[test]
    fn two_halves_cover_their_parent_and_adjacent_blocks_merge() {
        let halves = AddrSet::new(&[n("10.0.0.0/25"), n("10.0.0.128/25")]);
        assert!(halves.covers(&n("10.0.0.0/24")));
        assert!(!halves.covers(&n("10.0.0.0/23")));
        assert_eq!(halves.v4.len(), 1, "one interval: {:?}", halves.v4);
    }

    #[test]
    fn holes_on_both_sides_and_inside() {
        assert_eq!(
            subtract(
                "10.0.0.0/24",
                &["9.0.0.0/8", "10.0.0.0/26", "10.0.0.128/27", "10.0.0.255/32"]
            ),
            [
                "10.0.0.64/26",
                "10.0.0.160/27",
                "10.0.0.192/27",
                "10.0.0.224/28",
                "10.0.0.240/29",
                "10.0.0.248/30",
                "10.0.0.252/31",
                "10.0.0.254/32",
            ]
        );
    }

    #[test]
    fn whole_address_spaces() {
        assert_eq!(subtract("0.0.0.0/0", &["128.0.0.0/1"]), ["0.0.0.0/1"]);
        assert_eq!(subtract("0.0.0.0/0", &[]), ["0.0.0.0/0"]);
        assert_eq!(subtract("::/0", &[]), ["::/0"]);
        assert_eq!(subtract("::/0", &["::/1"]), ["8000::/1"]);
        let all = AddrSet::new(&[n("::/1"), n("8000::/1"), n("ffff::/16")]);
        assert!(all.covers(&n("::/0")));
        assert!(all.uncovered(&n("::/0")).is_empty());
        assert!(AddrSet::new(&[n("255.255.255.255/32")]).covers(&n("255.255.255.255/32")));
        assert!(overlaps(&n("0.0.0.0/0"), &n("203.0.113.7/32")));
        assert!(!overlaps(&n("0.0.0.0/1"), &n("203.0.113.7/32")));
    }

    #[test]
    fn matches_a_brute_force_difference_on_a_small_space() {
        // Every pair of hole sets over the /28s and /30s of one /26, against address counting.
        let blocks: Vec<IpNet> = n("10.0.0.0/26")
            .subnets(28)
            .unwrap()
            .chain(n("10.0.0.0/26").subnets(30).unwrap().step_by(3))
            .collect();
        for mask in 0u32..(1 << 9) {
            let holes: Vec<IpNet> = blocks
                .iter()
                .enumerate()
                .filter(|(i, _)| mask & (1 << (i % 9)) != 0 && i % 2 == 0)
                .map(|(_, b)| *b)
                .collect();
            let set = AddrSet::new(&holes);
            let left = set.uncovered(&n("10.0.0.0/26"));
            for host in n("10.0.0.0/26")
                .hosts()
                .chain(["10.0.0.0".parse().unwrap(), "10.0.0.63".parse().unwrap()])
            {
                let h = IpNet::from(host);
                let in_hole = holes.iter().any(|b| b.contains(&h));
                let in_left = left.iter().any(|b| b.contains(&h));
                assert_ne!(in_hole, in_left, "{host} with holes {holes:?}: {left:?}");
            }
        }
    }
}
