//! Text encodings of input files: UTF-8 (with or without a byte-order mark), and UTF-16LE/BE
//! with a byte-order mark, which Windows PowerShell 5.1 writes for
//! `terraform show -json plan.out > plan.json`.

use std::borrow::Cow;

/// Decodes an input file's bytes to text, without the byte-order mark. The error says what the
/// bytes are and how to save them instead.
///
/// ```
/// use jitlint::encoding::decode;
/// assert_eq!(decode(b"\xEF\xBB\xBF{}").unwrap(), "{}");
/// assert_eq!(decode(b"\xFF\xFE{\0}\0").unwrap(), "{}");
/// assert_eq!(decode(b"\xFE\xFF\0{\0}").unwrap(), "{}");
/// assert!(decode(b"{\"a\": \"\xFF\"}").is_err());
/// ```
pub fn decode(bytes: &[u8]) -> Result<Cow<'_, str>, String> {
    if let Some(rest) = bytes.strip_prefix(b"\xEF\xBB\xBF") {
        return utf8(rest, "UTF-8 with a byte-order mark");
    }
    if let Some(rest) = bytes.strip_prefix(b"\xFF\xFE") {
        return utf16(rest, u16::from_le_bytes, "UTF-16LE").map(Cow::Owned);
    }
    if let Some(rest) = bytes.strip_prefix(b"\xFE\xFF") {
        return utf16(rest, u16::from_be_bytes, "UTF-16BE").map(Cow::Owned);
    }
    utf8(bytes, "UTF-8")
}

fn utf8<'b>(bytes: &'b [u8], what: &str) -> Result<Cow<'b, str>, String> {
    std::str::from_utf8(bytes).map(Cow::Borrowed).map_err(|e| {
        format!(
            "not text: byte {} is not valid {what}, and there is no UTF-16 byte-order mark; \
             save the file as UTF-8 (in PowerShell: `| Out-File -Encoding utf8`)",
            e.valid_up_to()
        )
    })
}

fn utf16(bytes: &[u8], unit: fn([u8; 2]) -> u16, what: &str) -> Result<String, String> {
    if !bytes.len().is_multiple_of(2) {
        return Err(format!(
            "starts with a {what} byte-order mark but has an odd number of bytes ({}); the file is truncated",
            bytes.len() + 2
        ));
    }
    let units = bytes.chunks_exact(2).map(|c| unit([c[0], c[1]]));
    let mut out = String::with_capacity(bytes.len() / 2);
    for (i, c) in char::decode_utf16(units).enumerate() {
        match c {
            Ok(c) => out.push(c),
            Err(e) => {
                return Err(format!(
                    "is {what} (byte-order mark) but code unit {i} ({:#06x}) is an unpaired surrogate",
                    e.unpaired_surrogate()
                ));
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn utf16_with_surrogates_and_errors() {
        // "é😀" in UTF-16LE: U+00E9, then the surrogate pair D83D DE00.
        assert_eq!(decode(b"\xFF\xFE\xE9\x00\x3D\xD8\x00\xDE").unwrap(), "é😀");
        assert!(
            decode(b"\xFF\xFE{")
                .unwrap_err()
                .contains("odd number of bytes (3)")
        );
        assert!(
            decode(b"\xFF\xFE\x3D\xD8")
                .unwrap_err()
                .contains("unpaired surrogate")
        );
        assert!(
            decode(b"ab\xFF")
                .unwrap_err()
                .starts_with("not text: byte 2 is not valid UTF-8")
        );
        assert!(matches!(decode(b"{}").unwrap(), Cow::Borrowed("{}")));
    }
}
