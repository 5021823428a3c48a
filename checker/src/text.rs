//! Measuring and writing sizes the way IAM does.

/// Counts characters other than whitespace, as IAM measures policy size.
pub fn count_non_whitespace(text: &str) -> usize {
    text.chars().filter(|c| !c.is_whitespace()).count()
}

/// `12345` → `12,345`: sizes in messages, as IAM's documentation writes its limits.
pub fn thousands(n: usize) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn thousands_separators() {
        assert_eq!(super::thousands(6144), "6,144");
        assert_eq!(super::thousands(123), "123");
        assert_eq!(super::thousands(1234567), "1,234,567");
    }
}
