//! Set algebra on CIDR blocks: difference, coverage and overlap, exact for IPv4 and IPv6.
//!
//! Two CIDR blocks are either disjoint or one contains the other, so `a − (b₁ ∪ … ∪ bₙ)` is
//! computed by halving `a` only where a hole lies strictly inside it: the result is the
//! smallest set of blocks with the same addresses, and the recursion depth is bounded by the
//! prefix length (32 or 128).

use ipnet::IpNet;

/// Whether two blocks share at least one address.
pub fn overlaps(a: &IpNet, b: &IpNet) -> bool {
    a.contains(b) || b.contains(a)
}

/// `net` minus every block of `holes`, as sorted, aggregated blocks.
pub fn subtract(net: IpNet, holes: &[IpNet]) -> Vec<IpNet> {
    let relevant: Vec<IpNet> = holes
        .iter()
        .filter(|h| overlaps(&net, h))
        .copied()
        .collect();
    let mut out = Vec::new();
    split(net, &relevant, &mut out);
    IpNet::aggregate(&out)
}

fn split(net: IpNet, holes: &[IpNet], out: &mut Vec<IpNet>) {
    if holes.iter().any(|h| h.contains(&net)) {
        return;
    }
    let inside: Vec<IpNet> = holes.iter().filter(|h| net.contains(*h)).copied().collect();
    if inside.is_empty() {
        out.push(net);
        return;
    }
    // A hole strictly inside `net` means `net` is not a host route, so it has two halves.
    let halves = net
        .subnets(net.prefix_len() + 1)
        .expect("a block holding a smaller block can be halved");
    for half in halves {
        split(half, &inside, out);
    }
}

/// The union of `nets` minus the union of `holes`, as sorted, aggregated blocks.
pub fn difference(nets: &[IpNet], holes: &[IpNet]) -> Vec<IpNet> {
    let pieces: Vec<IpNet> = nets.iter().flat_map(|n| subtract(*n, holes)).collect();
    IpNet::aggregate(&pieces)
}

/// Whether every address of `net` is in some block of `cover`.
pub fn covered(net: &IpNet, cover: &[IpNet]) -> bool {
    subtract(*net, cover).is_empty()
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

    #[test]
    fn subtracting_a_host_from_a_24_leaves_eight_blocks() {
        let out = subtract(n("203.0.113.0/24"), &[n("203.0.113.7/32")]);
        assert_eq!(
            strs(&out),
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
        let mut all = out.clone();
        all.push(n("203.0.113.7/32"));
        assert_eq!(IpNet::aggregate(&all), [n("203.0.113.0/24")]);
    }

    #[test]
    fn a_hole_that_contains_the_block_removes_it() {
        assert!(subtract(n("203.0.113.7/32"), &[n("203.0.113.0/24")]).is_empty());
        assert!(covered(&n("203.0.113.0/25"), &[n("203.0.113.0/24")]));
    }

    #[test]
    fn disjoint_and_other_family_holes_change_nothing() {
        let out = subtract(
            n("203.0.113.0/24"),
            &[n("198.51.100.0/24"), n("2001:db8::/32")],
        );
        assert_eq!(strs(&out), ["203.0.113.0/24"]);
    }

    #[test]
    fn ipv6_difference() {
        let out = subtract(n("2001:db8::/126"), &[n("2001:db8::1/128")]);
        assert_eq!(strs(&out), ["2001:db8::/128", "2001:db8::2/127"]);
    }

    #[test]
    fn two_halves_cover_their_parent() {
        let halves = [n("10.0.0.0/25"), n("10.0.0.128/25")];
        assert!(covered(&n("10.0.0.0/24"), &halves));
        assert!(!covered(&n("10.0.0.0/23"), &halves));
    }

    #[test]
    fn difference_of_overlapping_blocks_is_aggregated() {
        let out = difference(
            &[n("10.0.0.0/24"), n("10.0.0.0/25"), n("10.0.1.0/24")],
            &[n("10.0.1.0/25")],
        );
        assert_eq!(strs(&out), ["10.0.0.0/24", "10.0.1.128/25"]);
    }

    #[test]
    fn whole_address_space_minus_a_block() {
        let out = subtract(n("0.0.0.0/0"), &[n("128.0.0.0/1")]);
        assert_eq!(strs(&out), ["0.0.0.0/1"]);
        assert!(overlaps(&n("0.0.0.0/0"), &n("203.0.113.7/32")));
        assert!(!overlaps(&n("0.0.0.0/1"), &n("203.0.113.7/32")));
    }
}
