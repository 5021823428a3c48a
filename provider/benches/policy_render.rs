//! How long rendering a `jit_source_ip_policy` document takes for 10, 100 and 1,000 temporary
//! entries, and how long refusing an allowlist of 10,000 takes (the size check and the advice on
//! how many entries to drop). Rerun after touching `policy::document` or `policy::cidrs`:
//!
//! ```sh
//! cargo bench -p terraform-provider-jit --bench policy_render
//! ```
//!
//! The allowlist mixes what makes the set algebra work: hosts, a few /24s with later-expiring
//! hosts inside them (so expiry statements are cut into pieces), IPv6 ranges, and twelve expiry
//! instants. Times are the median of repeated runs, printed, not asserted.

use std::hint::black_box;
use std::time::{Duration, Instant};

use ipnet::IpNet;
use jit_provider::policy::document::{MANAGED_POLICY_SIZE_LIMIT, fit, policy_size};
use jit_provider::policy::{Spec, Temporary};
use time::OffsetDateTime;

fn allowlist(n: usize) -> Spec {
    let base = OffsetDateTime::from_unix_timestamp(1_795_000_000).expect("a valid time");
    let temporary = (0..n)
        .map(|i| {
            let cidr: IpNet = match i % 10 {
                0 => format!("10.{}.{}.0/24", i / 2500, (i / 10) % 250),
                1..=7 => format!("10.{}.{}.{}/32", i / 2500, (i / 10) % 250, 1 + 2 * (i % 10)),
                _ => format!("2001:db8:{:x}:{:x}::/64", i / 250, i % 250),
            }
            .parse()
            .expect("a valid CIDR");
            Temporary {
                cidr,
                expires_at: base + time::Duration::minutes(15 * (i % 12) as i64),
            }
        })
        .collect();
    Spec {
        allowed: vec!["198.51.100.0/24".parse().expect("a valid CIDR")],
        temporary,
        deny_actions: vec!["*".into()],
        exempt_aws_services: true,
    }
}

/// The median time of `f` over enough runs to take about a fifth of a second (at least 5).
fn median(mut f: impl FnMut()) -> Duration {
    let mut times = Vec::new();
    let start = Instant::now();
    while times.len() < 5 || (start.elapsed() < Duration::from_millis(200) && times.len() < 1000) {
        let t = Instant::now();
        f();
        times.push(t.elapsed());
    }
    times.sort();
    times[times.len() / 2]
}

fn main() {
    println!("{:>8}  {:>12}  {:>10}", "entries", "render", "characters");
    for n in [10, 100, 1_000] {
        let spec = allowlist(n);
        let size = policy_size(&spec.render());
        let t = median(|| {
            black_box(black_box(&spec).render());
        });
        println!("{n:>8}  {:>12.3?}  {size:>10}", t);
    }
    let huge = allowlist(10_000);
    let t = median(|| {
        black_box(black_box(&huge).min_size() > MANAGED_POLICY_SIZE_LIMIT);
    });
    println!("  10,000 entries: lower bound (refuses without rendering) in {t:.3?}");
    let t = median(|| {
        black_box(fit(black_box(&huge), MANAGED_POLICY_SIZE_LIMIT));
    });
    println!(
        "  10,000 entries: how many to drop ({:?}) in {t:.3?}",
        fit(&huge, MANAGED_POLICY_SIZE_LIMIT)
    );
}
