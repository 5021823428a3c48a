//! Test support: the deterministic tag mutator both record decoders are fuzzed with.

/// Calls `check` with `rounds` mutations of `seeds` (cuts, truncations and `splices` inserted
/// at random places), drawn from an xorshift sequence started at `seed`; `check` may draw more
/// from the same sequence (its second argument).
pub(crate) fn mutated_tags(
    seed: u64,
    seeds: &[String; 2],
    splices: &[&str],
    rounds: usize,
    mut check: impl FnMut(String, &mut dyn FnMut() -> u64),
) {
    let mut state = seed;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    for _ in 0..rounds {
        let mut v: Vec<char> = seeds[(next() % 2) as usize].chars().collect();
        for _ in 0..(next() % 4 + 1) {
            let at = (next() as usize) % (v.len() + 1);
            match next() % 3 {
                0 if !v.is_empty() => {
                    v.remove(at.min(v.len() - 1));
                }
                1 => {
                    let s = splices[(next() as usize) % splices.len()];
                    for (i, c) in s.chars().enumerate() {
                        v.insert(at + i, c);
                    }
                }
                _ => v.truncate(at),
            }
        }
        check(v.into_iter().collect(), &mut next);
    }
}
