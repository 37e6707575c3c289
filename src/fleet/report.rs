//! The IAM credential report: who has which key slots, active or not, rotated when. It finds
//! who may be due for the whole account in two requests, but it names no key ids (acting on it
//! alone disabled the wrong keys in other tools): the fleet confirms with `ListAccessKeys`
//! before it acts on any user, and uses the report only to skip users it shows as not due.

use crate::time::{Span, Timestamp};

/// One user's row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReportRow {
    /// The `user` column.
    pub user: String,
    /// The `arn` column.
    pub arn: String,
    /// The two key slots: `Some` when the slot holds a key.
    pub keys: [Option<ReportKey>; 2],
}

/// A key slot of a row.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReportKey {
    /// `access_key_N_active`.
    pub active: bool,
    /// `access_key_N_last_rotated`: when the key was created.
    pub last_rotated: Option<Timestamp>,
    /// `access_key_N_last_used_date`.
    pub last_used: Option<Timestamp>,
}

impl ReportRow {
    /// True when the row shows an active key older than `older_than` (or of unknown age).
    pub fn shows_due(&self, older_than: Span, now: Timestamp) -> bool {
        self.keys.iter().flatten().any(|k| {
            k.active
                && k.last_rotated
                    .is_none_or(|created| now.since(created) >= older_than)
        })
    }
}

impl ReportRow {
    /// The last use the report shows for the key created at `created` (`Some(None)`: never
    /// used). The report names no key ids: a slot is the key's when it was rotated in the same
    /// second as the key was created, and no other slot was. `None` where no slot, or both,
    /// match (a key made after the report, or two keys made in one second).
    pub fn last_used_of(&self, created: Timestamp) -> Option<Option<Timestamp>> {
        let second = |t: Timestamp| t.as_micros().div_euclid(1_000_000);
        let mut matching = self
            .keys
            .iter()
            .flatten()
            .filter(|k| k.last_rotated.is_some_and(|r| second(r) == second(created)));
        match (matching.next(), matching.next()) {
            (Some(k), None) => Some(k.last_used),
            _ => None,
        }
    }
}

/// Why a report could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("the credential report cannot be read: {0}")]
pub struct ReportError(pub String);

const COLUMNS: [&str; 8] = [
    "user",
    "arn",
    "access_key_1_active",
    "access_key_1_last_rotated",
    "access_key_1_last_used_date",
    "access_key_2_active",
    "access_key_2_last_rotated",
    "access_key_2_last_used_date",
];

/// A date column: `N/A`, `no_information`, `not_supported` and empty are `None`.
fn date(s: &str) -> Option<Timestamp> {
    Timestamp::parse_iso8601(s)
}

/// Reads the report's CSV (as `GetCredentialReport`'s `Content`, decoded). Columns are found
/// by name, so an added column does not break it; the root row (`<root_account>`) is left out.
pub fn parse(csv_text: &str) -> Result<Vec<ReportRow>, ReportError> {
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(true)
        .flexible(false)
        .from_reader(csv_text.as_bytes());
    let headers = reader
        .headers()
        .map_err(|e| ReportError(e.to_string()))?
        .clone();
    let mut at = [0usize; COLUMNS.len()];
    for (slot, name) in at.iter_mut().zip(COLUMNS) {
        *slot = headers
            .iter()
            .position(|h| h == name)
            .ok_or_else(|| ReportError(format!("no column {name:?}")))?;
    }
    let mut rows = Vec::new();
    for record in reader.records() {
        let record = record.map_err(|e| ReportError(e.to_string()))?;
        let col = |i: usize| record.get(at[i]).unwrap_or("");
        if col(0) == "<root_account>" {
            continue;
        }
        let slot = |base: usize| {
            let active = match col(base) {
                "true" => true,
                "false" => false,
                _ => return None,
            };
            let last_rotated = date(col(base + 1));
            // A slot that never held a key reads `false` and `N/A`.
            (active || last_rotated.is_some()).then_some(ReportKey {
                active,
                last_rotated,
                last_used: date(col(base + 2)),
            })
        };
        rows.push(ReportRow {
            user: col(0).to_owned(),
            arn: col(1).to_owned(),
            keys: [slot(2), slot(5)],
        });
    }
    Ok(rows)
}

/// A report in IAM's shape, for the simulation and the tests: the 22 columns, one row per
/// user, `N/A` where there is nothing.
pub fn render(rows: &[ReportRow]) -> String {
    let mut out = String::from(
        "user,arn,user_creation_time,password_enabled,password_last_used,password_last_changed,password_next_rotation,mfa_active,access_key_1_active,access_key_1_last_rotated,access_key_1_last_used_date,access_key_1_last_used_region,access_key_1_last_used_service,access_key_2_active,access_key_2_last_rotated,access_key_2_last_used_date,access_key_2_last_used_region,access_key_2_last_used_service,cert_1_active,cert_1_last_rotated,cert_2_active,cert_2_last_rotated\n",
    );
    let t = |t: Option<Timestamp>| t.map_or_else(|| "N/A".to_owned(), Timestamp::to_iso8601);
    for r in rows {
        out.push_str(&format!(
            "{},{},2015-01-01T00:00:00+00:00,false,N/A,N/A,N/A,false",
            r.user, r.arn
        ));
        for k in &r.keys {
            match k {
                Some(k) => out.push_str(&format!(
                    ",{},{},{},N/A,N/A",
                    k.active,
                    t(k.last_rotated),
                    t(k.last_used)
                )),
                None => out.push_str(",false,N/A,N/A,N/A,N/A"),
            }
        }
        out.push_str(",false,N/A,false,N/A\n");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_iams_columns_and_sentinels() {
        let text = "user,arn,user_creation_time,password_enabled,password_last_used,password_last_changed,password_next_rotation,mfa_active,access_key_1_active,access_key_1_last_rotated,access_key_1_last_used_date,access_key_1_last_used_region,access_key_1_last_used_service,access_key_2_active,access_key_2_last_rotated,access_key_2_last_used_date,access_key_2_last_used_region,access_key_2_last_used_service,cert_1_active,cert_1_last_rotated,cert_2_active,cert_2_last_rotated\n\
<root_account>,arn:aws:iam::123456789012:root,2015-01-01T00:00:00+00:00,not_supported,2015-01-01T00:00:00+00:00,not_supported,not_supported,true,false,N/A,N/A,N/A,N/A,false,N/A,N/A,N/A,N/A,false,N/A,false,N/A\n\
alice,arn:aws:iam::123456789012:user/alice,2015-01-01T00:00:00+00:00,false,N/A,N/A,N/A,false,true,2024-01-02T03:04:05+00:00,2024-02-01T00:00:00+00:00,us-east-1,iam,false,2023-01-01T00:00:00+00:00,N/A,N/A,N/A,false,N/A,false,N/A\n\
bob,arn:aws:iam::123456789012:user/bob,2015-01-01T00:00:00+00:00,false,N/A,N/A,N/A,false,false,N/A,N/A,N/A,N/A,false,N/A,N/A,N/A,N/A,false,N/A,false,N/A\n";
        let rows = parse(text).expect("parses");
        assert_eq!(rows.len(), 2);
        assert_eq!(rows[0].user, "alice");
        let k1 = rows[0].keys[0].expect("slot 1");
        assert!(k1.active);
        assert_eq!(
            k1.last_rotated,
            Timestamp::parse_iso8601("2024-01-02T03:04:05Z")
        );
        assert!(k1.last_used.is_some());
        let k2 = rows[0].keys[1].expect("slot 2 (inactive)");
        assert!(!k2.active);
        assert_eq!(rows[1].keys, [None, None]);
        let now = Timestamp::parse_iso8601("2024-06-01T00:00:00Z").expect("date");
        assert!(rows[0].shows_due(Span::from_secs(90 * 86_400), now));
        assert!(!rows[0].shows_due(Span::from_secs(365 * 86_400), now));
        assert!(!rows[1].shows_due(Span::ZERO, now));
        assert_eq!(parse(&render(&rows)).expect("round trip"), rows);
    }

    #[test]
    fn a_report_without_its_columns_is_an_error() {
        assert!(parse("user,arn\nalice,arn:x\n").is_err());
        assert!(parse("").is_err());
        assert!(parse(&format!("{}\nalice", COLUMNS.join(","))).is_err());
    }
}
