//! Byte tests eight bytes at a time ("SIMD within a register"), for the loops that go over
//! every byte of a large file or every key of it. A word is read little-endian; each test gives
//! a word whose byte `i` has its high bit set where byte `i` of the input passes.

/// `0x01` in every byte.
pub(crate) const ONES: u64 = 0x0101_0101_0101_0101;
/// The low seven bits of every byte.
pub(crate) const LOWS: u64 = 0x7f7f_7f7f_7f7f_7f7f;
/// The high bit of every byte.
pub(crate) const HIGHS: u64 = 0x8080_8080_8080_8080;

/// Per byte of `low` (high bits clear), the high bit is set where the byte is at least `n`
/// (at most `0x80`). No carry crosses into the next byte.
pub(crate) const fn at_least(low: u64, n: u8) -> u64 {
    low + ONES * (0x80 - n as u64)
}

/// Per byte of `x`, the high bit is clear exactly where the byte is zero (no borrows between
/// bytes, so every byte's answer is exact).
pub(crate) const fn nonzero(x: u64) -> u64 {
    ((x & LOWS) + LOWS) | x
}

/// Whether no byte of `bytes` is flagged: `flag` tests a word (the high bit of each byte set
/// where that byte is flagged), `flag_byte` the bytes left over after the last whole word.
pub(crate) fn none_flagged(
    bytes: &[u8],
    flag: impl Fn(u64) -> u64,
    flag_byte: impl Fn(u8) -> bool,
) -> bool {
    let mut chunks = bytes.chunks_exact(8);
    for chunk in &mut chunks {
        let mut word = [0; 8];
        word.copy_from_slice(chunk);
        if flag(u64::from_le_bytes(word)) & HIGHS != 0 {
            return false;
        }
    }
    !chunks.remainder().iter().any(|&b| flag_byte(b))
}

/// Checks a word-at-a-time test of "every byte passes" against `rule` on each byte: every byte
/// value at every place of inputs of 1 to 17 bytes (two whole words and a remainder).
#[cfg(test)]
pub(crate) fn assert_bytewise(test: impl Fn(&[u8]) -> bool, rule: impl Fn(u8) -> bool, fill: u8) {
    assert!(rule(fill));
    assert!(test(b""));
    for c in 0..=255u8 {
        for len in 1..=17 {
            for at in 0..len {
                let mut bytes = vec![fill; len];
                bytes[at] = c;
                assert_eq!(test(&bytes), rule(c), "{c:#x} at {at} of {len}");
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn at_least_and_nonzero_are_exact_in_every_byte() {
        for b in 0..=0x7fu8 {
            for n in 1..=0x80u8 {
                let low = u64::from(b) << 24 | 0x7f;
                let want = if b >= n { 0x80 << 24 } else { 0 };
                assert_eq!(at_least(low, n) & (0x80 << 24), want, "{b:#x} >= {n:#x}");
            }
        }
        for b in 0..=0xffu8 {
            let x = u64::from(b) << 40 | 0x01;
            let want = if b == 0 { 0 } else { 0x80 << 40 };
            assert_eq!(nonzero(x) & (0x80 << 40), want, "{b:#x}");
        }
    }
}
