//! The IAM credential report's parser on arbitrary text: it never panics, a row it reads has
//! its user and ARN as the CSV gave them, and a report it renders itself reads back the same.
#![no_main]

use aws_rotate_keys::fleet::report;
use aws_rotate_keys::time::{Span, Timestamp};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(rows) = report::parse(text) else {
        return;
    };
    let now = Timestamp::from_secs(1_750_000_000);
    for r in &rows {
        assert_ne!(r.user, "<root_account>");
        let _ = r.shows_due(Span::from_secs(90 * 86_400), now);
    }
    // Names that need no CSV quoting render and read back exactly.
    let plain = |s: &str| !s.contains([',', '"', '\n', '\r']);
    if rows.iter().all(|r| plain(&r.user) && plain(&r.arn) && !r.user.is_empty()) {
        let again = report::parse(&report::render(&rows)).expect("its own rendering reads");
        assert_eq!(again, rows);
    }
});
