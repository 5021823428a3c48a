//! IAM wildcard patterns: `*` matches any run of characters (also `:` and `/`), `?` exactly one.
//!
//! Actions match case-insensitively (`EC2:replacenetworkaclentry` is the same action), resource
//! ARNs case-sensitively. Besides matching a pattern against a concrete name, jitlint has to
//! reason about *sets*: does `arn:aws:ec2:us-east-1:123456789012:*` reach network ACLs at all, and
//! does a `NotResource` pattern exclude every one of them? Those questions are answered on
//! tokenized patterns, where a policy variable such as `${aws:username}` stands for an unknown
//! value (it may match anything, but it is not a wildcard the author wrote) and `${*}`, `${?}`,
//! `${$}` are the documented escapes for the literal characters.

/// Matches `text` against an IAM wildcard `pattern`, case-sensitively (resource ARNs).
pub fn wildcard_match(pattern: &str, text: &str) -> bool {
    glob(pattern.as_bytes(), text.as_bytes(), false)
}

/// Matches `text` against an IAM wildcard `pattern`, ignoring ASCII case (action names).
pub fn wildcard_match_ignore_case(pattern: &str, text: &str) -> bool {
    glob(pattern.as_bytes(), text.as_bytes(), true)
}

/// Whether an `Action`/`NotAction` pattern covers `action` (`"*"`, `"ec2:*NetworkAcl*"`,
/// `"EC2:Replace?etworkAclEntry"` all cover `ec2:ReplaceNetworkAclEntry`).
pub fn action_matches(pattern: &str, action: &str) -> bool {
    wildcard_match_ignore_case(pattern, action)
}

fn char_len(text: &[u8], i: usize) -> usize {
    match text[i] {
        b if b < 0x80 => 1,
        b if b < 0xE0 => 2,
        b if b < 0xF0 => 3,
        _ => 4,
    }
}

// Linear in practice: on a mismatch only the most recent `*` is retried, which is enough because
// any earlier star can already absorb whatever the later one would.
fn glob(p: &[u8], t: &[u8], ignore_case: bool) -> bool {
    let (mut pi, mut ti) = (0usize, 0usize);
    let mut star: Option<(usize, usize)> = None;
    while ti < t.len() {
        if pi < p.len() {
            match p[pi] {
                b'*' => {
                    star = Some((pi, ti));
                    pi += 1;
                    continue;
                }
                b'?' => {
                    pi += 1;
                    ti += char_len(t, ti);
                    continue;
                }
                c if c == t[ti] || (ignore_case && c.eq_ignore_ascii_case(&t[ti])) => {
                    pi += 1;
                    ti += 1;
                    continue;
                }
                _ => {}
            }
        }
        match star {
            Some((sp, st)) => {
                let next = st + char_len(t, st);
                star = Some((sp, next));
                pi = sp + 1;
                ti = next;
            }
            None => return false,
        }
    }
    p[pi..].iter().all(|&c| c == b'*')
}

/// One element of a tokenized pattern.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Token {
    /// A literal byte.
    Lit(u8),
    /// `*`
    Star,
    /// `?`
    One,
    /// A policy variable `${…}`: some value known only at request time.
    Var,
    /// Any run of characters without `:`: one ARN segment, in set descriptions made by
    /// [`segment_universe`].
    Segment,
}

impl Token {
    fn absorbs_anything(self) -> bool {
        matches!(self, Token::Star | Token::Var | Token::Segment)
    }
}

/// Tokenizes a description of a set of real ARNs, in which `*` stands for one segment (no `:`):
/// `arn:*:ec2:*:*:network-acl/*` is every network ACL, and not the odd strings that IAM's own
/// `*` (which also matches `:`) would add.
pub fn segment_universe(description: &str) -> Vec<Token> {
    tokenize(description)
        .into_iter()
        .map(|t| if t == Token::Star { Token::Segment } else { t })
        .collect()
}

/// Splits a resource pattern into tokens (see the module docs for `${…}`).
pub fn tokenize(pattern: &str) -> Vec<Token> {
    let b = pattern.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'*' => out.push(Token::Star),
            b'?' => out.push(Token::One),
            b'$' if b.get(i + 1) == Some(&b'{') => {
                if let Some(close) = b[i + 2..].iter().position(|&c| c == b'}') {
                    let inner = &b[i + 2..i + 2 + close];
                    out.push(match inner {
                        b"*" => Token::Lit(b'*'),
                        b"?" => Token::Lit(b'?'),
                        b"$" => Token::Lit(b'$'),
                        _ => Token::Var,
                    });
                    i += close + 3;
                    continue;
                }
                out.push(Token::Lit(b'$'));
            }
            c => out.push(Token::Lit(c)),
        }
        i += 1;
    }
    out
}

/// Whether the two patterns have a string in common (e.g. a `Resource` pattern and the set of all
/// network-ACL ARNs). Breadth-first search over pairs of positions: O(len(a) × len(b)).
pub fn intersects(a: &[Token], b: &[Token]) -> bool {
    let width = b.len() + 1;
    let mut seen = vec![false; (a.len() + 1) * width];
    let mut stack = vec![(0usize, 0usize)];
    while let Some((i, j)) = stack.pop() {
        if std::mem::replace(&mut seen[i * width + j], true) {
            continue;
        }
        if i == a.len() && j == b.len() {
            return true;
        }
        let mut push = |i: usize, j: usize| {
            if !seen[i * width + j] {
                stack.push((i, j));
            }
        };
        // A star (or variable) may match nothing.
        if i < a.len() && a[i].absorbs_anything() {
            push(i + 1, j);
        }
        if j < b.len() && b[j].absorbs_anything() {
            push(i, j + 1);
        }
        // Both consume one common character.
        if i < a.len() && j < b.len() {
            let compatible = match (a[i], b[j]) {
                (Token::Lit(x), Token::Lit(y)) => x == y,
                (Token::Lit(c), Token::Segment) | (Token::Segment, Token::Lit(c)) => c != b':',
                _ => true,
            };
            if compatible {
                let ni = if a[i].absorbs_anything() { i } else { i + 1 };
                let nj = if b[j].absorbs_anything() { j } else { j + 1 };
                push(ni, nj);
            }
        }
    }
    false
}

/// Whether pattern `p` matches every string that `set` matches (e.g. a `NotResource` pattern
/// that excludes all network-ACL ARNs). Decided symbolically: a `*` of `set` can only be absorbed
/// by a `*` of `p`. Sound; complete for the patterns IAM authors write. Variables in `p` are
/// unknown values and cover nothing; variables in `set` are treated like `*`.
pub fn covers(p: &[Token], set: &[Token]) -> bool {
    let width = set.len() + 1;
    let mut seen = vec![false; (p.len() + 1) * width];
    let mut stack = vec![(0usize, 0usize)];
    while let Some((i, j)) = stack.pop() {
        if std::mem::replace(&mut seen[i * width + j], true) {
            continue;
        }
        if i == p.len() && j == set.len() {
            return true;
        }
        let mut push = |i: usize, j: usize| {
            if !seen[i * width + j] {
                stack.push((i, j));
            }
        };
        match p.get(i) {
            Some(Token::Star) => {
                push(i + 1, j);
                if j < set.len() {
                    push(i, j + 1);
                }
            }
            Some(Token::One) => {
                if let Some(Token::Lit(_) | Token::One) = set.get(j) {
                    push(i + 1, j + 1);
                }
            }
            Some(Token::Lit(x)) => {
                if set.get(j) == Some(&Token::Lit(*x)) {
                    push(i + 1, j + 1);
                }
            }
            // A variable is unknown and covers nothing; segments only occur in sets.
            Some(Token::Var | Token::Segment) | None => {}
        }
    }
    false
}

/// Whether the pattern contains a `*` or `?` that the author wrote (variables don't count).
pub fn has_wildcard(tokens: &[Token]) -> bool {
    tokens.iter().any(|t| matches!(t, Token::Star | Token::One))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn actions_match_case_insensitively_with_wildcards() {
        for p in [
            "*",
            "ec2:*",
            "EC2:*",
            "ec2:replacenetworkaclentry",
            "ec2:Replace?etworkAclEntry",
            "ec2:*NetworkAcl*",
            "ec2:R*y",
            "ec2:??????????????????????",
        ] {
            assert!(action_matches(p, "ec2:ReplaceNetworkAclEntry"), "{p}");
        }
        for p in [
            "ec2:Replace",
            "ec2:ReplaceNetworkAclEntry?",
            "ec2:Create*",
            "ec2:??",
            "s3:*",
            "",
        ] {
            assert!(!action_matches(p, "ec2:ReplaceNetworkAclEntry"), "{p}");
        }
    }

    #[test]
    fn resources_match_case_sensitively() {
        assert!(wildcard_match(
            "arn:aws:ec2:*:*:network-acl/*",
            "arn:aws:ec2:us-east-1:1:network-acl/acl-1"
        ));
        assert!(!wildcard_match(
            "arn:aws:ec2:*:*:Network-acl/*",
            "arn:aws:ec2:us-east-1:1:network-acl/acl-1"
        ));
        assert!(wildcard_match("a*b*c", "aXXbYYbc"));
        assert!(!wildcard_match("a*b*c", "aXXbYYb"));
        assert!(wildcard_match("?é", "xé"));
        assert!(wildcard_match("*", ""));
        assert!(!wildcard_match("?", ""));
    }

    fn tk(s: &str) -> Vec<Token> {
        tokenize(s)
    }

    #[test]
    fn intersection_of_patterns() {
        let acls = segment_universe("arn:*:ec2:*:*:network-acl/*");
        for p in [
            "*",
            "arn:aws:ec2:*",
            "arn:aws:ec2:us-east-1:123456789012:*",
            "arn:aws:ec2:*:*:network-acl/acl-1",
            "arn:aws:ec2:us-east-1:123456789012:network-acl/acl-?",
            "arn:aws:ec2:*:*:network-acl/${aws:PrincipalTag/acl}",
        ] {
            assert!(intersects(&tk(p), &acls), "{p}");
        }
        for p in [
            "arn:aws:s3:::bucket/*",
            "arn:aws:ec2:us-east-1:123456789012:vpc/vpc-1",
            "arn:aws:ec2:*:*:security-group/*",
        ] {
            assert!(!intersects(&tk(p), &acls), "{p}");
        }
    }

    #[test]
    fn coverage_of_sets() {
        let acls = segment_universe("arn:aws:ec2:*:*:network-acl/*");
        for p in [
            "*",
            "arn:aws:ec2:*",
            "arn:aws:ec2:*:*:network-acl/*",
            "arn:*:ec2:*:*:network-acl*",
        ] {
            assert!(covers(&tk(p), &acls), "{p}");
        }
        for p in [
            "arn:aws:ec2:us-east-1:*:network-acl/*",
            "arn:aws:ec2:*:*:network-acl/acl-1",
            "arn:aws:ec2:*:*:network-acl/?*",
            "${aws:username}",
        ] {
            assert!(!covers(&tk(p), &acls), "{p}");
        }
    }

    #[test]
    fn escapes_and_variables() {
        assert_eq!(
            tk("${*}a${x}"),
            vec![Token::Lit(b'*'), Token::Lit(b'a'), Token::Var]
        );
        assert!(!has_wildcard(&tk("arn:${aws:username}${?}")));
        assert!(has_wildcard(&tk("a?")));
        assert_eq!(tk("${unclosed"), tk("${unclosed"));
    }
}
