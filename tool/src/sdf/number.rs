//! Numbers as the SDF writes them.

/// Parse a number as Microkit does: decimal, or hexadecimal after `0x`;
/// `_` separators are allowed anywhere after the first digit.
pub fn parse_number(text: &str) -> Result<u64, NumberError> {
    let (digits, radix) = match text.strip_prefix("0x") {
        Some(rest) => (rest, 16),
        None => (text, 10),
    };
    if digits.is_empty() || digits.starts_with('_') {
        return Err(NumberError::Malformed);
    }
    let mut value: u64 = 0;
    let mut any = false;
    for c in digits.chars() {
        if c == '_' {
            continue;
        }
        let d = c.to_digit(radix).ok_or(NumberError::Malformed)?;
        value = value
            .checked_mul(radix as u64)
            .and_then(|v| v.checked_add(d as u64))
            .ok_or(NumberError::TooLarge)?;
        any = true;
    }
    if !any {
        return Err(NumberError::Malformed);
    }
    Ok(value)
}

/// Why [`parse_number`] failed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NumberError {
    /// Not a number.
    Malformed,
    /// More than 64 bits.
    TooLarge,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers() {
        assert_eq!(parse_number("0"), Ok(0));
        assert_eq!(parse_number("1_000"), Ok(1000));
        assert_eq!(parse_number("0x1_000"), Ok(0x1000));
        assert_eq!(parse_number("0xFFff"), Ok(0xffff));
        assert_eq!(parse_number("18446744073709551615"), Ok(u64::MAX));
        assert_eq!(
            parse_number("18446744073709551616"),
            Err(NumberError::TooLarge)
        );
        assert_eq!(
            parse_number("0x1_0000_0000_0000_0000"),
            Err(NumberError::TooLarge)
        );
        for bad in [
            "", "0x", "_1", "0x_", "-1", "+1", " 1", "1 ", "1.0", "0X10", "abc", "0x_1g", "１",
        ] {
            assert_eq!(parse_number(bad), Err(NumberError::Malformed), "{bad:?}");
        }
    }
}
