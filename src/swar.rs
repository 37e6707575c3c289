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

/// The word of eight bytes `chunk` (which must be eight bytes long), read little-endian.
#[inline(always)]
pub(crate) fn word(chunk: &[u8]) -> u64 {
    let mut word = [0; 8];
    word.copy_from_slice(chunk);
    u64::from_le_bytes(word)
}

/// Per byte of `x`, the high bit is set where the byte is not ASCII or is a capital letter: the
/// bytes that lowercasing a key may change.
#[inline(always)]
pub(crate) const fn non_ascii_or_capital(x: u64) -> u64 {
    (x | (at_least(x & LOWS, b'A') & !at_least(x & LOWS, b'['))) & HIGHS
}

/// The index of the first byte at or after `from` that is `a` or `b`, if any.
///
/// A byte of `x ^ (ONES * a)` is zero where `x` has an `a`, and `(v - ONES) & !v & HIGHS` is
/// non-zero when some byte of `v` is zero, with the lowest zero byte always flagged (a borrow can
/// only flag bytes above it), which is the one wanted.
#[inline]
pub(crate) fn find_either(bytes: &[u8], from: usize, a: u8, b: u8) -> Option<usize> {
    let has_zero = |v: u64| v.wrapping_sub(ONES) & !v & HIGHS;
    let (wa, wb) = (ONES * u64::from(a), ONES * u64::from(b));
    let mut i = from;
    while let Some(chunk) = bytes.get(i..i + 8) {
        let x = word(chunk);
        let hit = has_zero(x ^ wa) | has_zero(x ^ wb);
        if hit != 0 {
            return Some(i + (hit.trailing_zeros() / 8) as usize);
        }
        i += 8;
    }
    let rest = bytes.get(i..)?;
    rest.iter().position(|&c| c == a || c == b).map(|k| i + k)
}

/// The index of the first `=` or `:` (a key's delimiter) in `bytes`, if any, and whether every
/// byte before it is ASCII and not a capital letter (a key that lowercasing leaves as it is):
/// [`find_either`] and [`non_ascii_or_capital`] in one pass over the key.
#[inline]
pub(crate) fn find_delimiter_plain(bytes: &[u8]) -> Option<(usize, bool)> {
    let has_zero = |v: u64| v.wrapping_sub(ONES) & !v & HIGHS;
    let (eq, colon) = (ONES * u64::from(b'='), ONES * u64::from(b':'));
    let odd = non_ascii_or_capital;
    let mut plain = true;
    let mut i = 0;
    while let Some(chunk) = bytes.get(i..i + 8) {
        let x = word(chunk);
        let hit = has_zero(x ^ eq) | has_zero(x ^ colon);
        if hit != 0 {
            // The bytes below the delimiter's (whose high bit is the lowest flagged).
            let below = (hit & hit.wrapping_neg()) - 1;
            return Some((
                i + (hit.trailing_zeros() / 8) as usize,
                plain && odd(x) & below == 0,
            ));
        }
        plain &= odd(x) == 0;
        i += 8;
    }
    for (k, &c) in bytes.get(i..)?.iter().enumerate() {
        if c == b'=' || c == b':' {
            return Some((i + k, plain));
        }
        plain &= c.is_ascii() && !c.is_ascii_uppercase();
    }
    None
}

/// How many bytes of `bytes` are `a`, and how many are `b`: eight at a time, each byte's answer
/// (0 or 1) added in its own lane, the lanes summed every 255 words (before one can overflow).
pub(crate) fn count_either(bytes: &[u8], a: u8, b: u8) -> [usize; 2] {
    // The zero bytes of `x`, as 1 in their lane.
    let zeros = |x: u64| ((!nonzero(x) & HIGHS) >> 7) & ONES;
    // The sum of a word's byte lanes (each at most 255): the even and the odd lanes as four
    // 16-bit lanes each, summed into the top 16 bits by a multiplication.
    let total = |lanes: u64| {
        const EVEN: u64 = 0x00ff_00ff_00ff_00ff;
        const K: u64 = 0x0001_0001_0001_0001;
        let sum = |l: u64| (l.wrapping_mul(K) >> 48) as usize;
        sum(lanes & EVEN) + sum((lanes >> 8) & EVEN)
    };
    let (wa, wb) = (ONES * u64::from(a), ONES * u64::from(b));
    let mut n = [0, 0];
    let mut chunks = bytes.chunks_exact(8);
    loop {
        let (mut la, mut lb) = (0, 0);
        let mut words = 0;
        for chunk in chunks.by_ref().take(255) {
            let x = word(chunk);
            la += zeros(x ^ wa);
            lb += zeros(x ^ wb);
            words += 1;
        }
        n[0] += total(la);
        n[1] += total(lb);
        if words < 255 {
            break;
        }
    }
    for &c in chunks.remainder() {
        n[0] += usize::from(c == a);
        n[1] += usize::from(c == b);
    }
    n
}

/// Whether no byte of `bytes` is flagged: `flag` tests a word (the high bit of each byte set
/// where that byte is flagged). The bytes after the last whole word are tested as one more word,
/// padded with `fill`, a byte that `flag` passes.
#[inline]
pub(crate) fn none_flagged(bytes: &[u8], flag: impl Fn(u64) -> u64, fill: u8) -> bool {
    let mut chunks = bytes.chunks_exact(8);
    for chunk in &mut chunks {
        if flag(word(chunk)) & HIGHS != 0 {
            return false;
        }
    }
    let rest = chunks.remainder();
    let mut word = [fill; 8];
    word[..rest.len()].copy_from_slice(rest);
    flag(u64::from_le_bytes(word)) & HIGHS == 0
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
    fn find_and_count_either_are_the_bytewise_answers() {
        let texts: [&[u8]; 4] = [b"", b"[", b"a[b]c=", b"0123456789abcdef[0123456789abcde=["];
        let mut long = vec![b'['; 255 * 8 * 3 + 5];
        long[700] = b'=';
        for text in texts.into_iter().chain([long.as_slice()]) {
            for from in 0..=text.len().min(40) {
                let rest = &text[from..];
                let want = rest
                    .iter()
                    .position(|&c| c == b'[' || c == b'=')
                    .map(|k| k + from);
                assert_eq!(find_either(text, from, b'[', b'='), want);
                let count = |n| rest.iter().filter(|&&c| c == n).count();
                assert_eq!(count_either(rest, b'[', b'='), [count(b'['), count(b'=')]);
            }
        }
        let all: Vec<u8> = (0..=255).chain(0..=255).collect();
        for a in 0..=255u8 {
            let b = a.wrapping_add(1);
            assert_eq!(count_either(&all, a, b), [2, 2], "{a}");
            let first = |from: usize| {
                all[from..]
                    .iter()
                    .position(|&c| c == a || c == b)
                    .map(|k| k + from)
            };
            assert_eq!(find_either(&all, 0, a, b), first(0), "{a}");
            assert_eq!(find_either(&all, 256, b, a), first(256), "{a}");
        }
    }

    #[test]
    fn find_delimiter_plain_is_the_bytewise_answer() {
        let want = |bytes: &[u8]| {
            let at = bytes.iter().position(|&c| c == b'=' || c == b':')?;
            let plain = bytes[..at]
                .iter()
                .all(|&c| c.is_ascii() && !c.is_ascii_uppercase());
            Some((at, plain))
        };
        // Every byte value at every place of a line of up to 17 bytes, before, at or after the
        // delimiter, which is placed at every position (or left out).
        for len in 1..=17 {
            for delim in (0..len).map(Some).chain([None]) {
                for at in 0..len {
                    for c in 0..=255u8 {
                        let mut line = vec![b'k'; len];
                        if let Some(d) = delim {
                            line[d] = if (at + usize::from(c)) % 2 == 0 {
                                b'='
                            } else {
                                b':'
                            };
                        }
                        line[at] = c;
                        let expected = want(&line);
                        assert_eq!(
                            find_delimiter_plain(&line),
                            expected,
                            "{c:#x} at {at} of {len}, delimiter {delim:?}"
                        );
                    }
                }
            }
        }
    }

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
