//! Notices to the owners (`--notify-from`): which mails a delivery is owed, the owner's
//! address, and the text from a template with a small set of placeholders. Pure: the facts
//! come in, the subject and body go out. No secret can reach a mail: [`NoticeFacts`] holds
//! none. What was sent is remembered in the delivery secret's description
//! ([`crate::fleet::delivery::Marker`]), so that any run, from any machine, sends each once.

use crate::action::IamUser;
use crate::key::{AccessKeyId, UserName};
use crate::time::{Span, Timestamp};

/// What a mail tells.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Event {
    /// A new key waits for its owner.
    Delivered,
    /// The old key will be deactivated soon (`--warn-before` the `--deactivate-after` deadline).
    Reminder,
    /// The old key was deactivated.
    Deactivated,
}

impl Event {
    /// Every event, in the order they happen.
    pub const ALL: [Self; 3] = [Self::Delivered, Self::Reminder, Self::Deactivated];

    /// The name in output and in the delivery's description.
    pub fn name(self) -> &'static str {
        match self {
            Self::Delivered => "Delivered",
            Self::Reminder => "Reminder",
            Self::Deactivated => "Deactivated",
        }
    }

    /// The event of [`Event::name`].
    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|e| e.name() == name)
    }

    /// The section of a template file that holds this event's text.
    pub fn section(self) -> &'static str {
        match self {
            Self::Delivered => "delivered",
            Self::Reminder => "reminder",
            Self::Deactivated => "deactivated",
        }
    }
}

/// What a mail may say: never a secret.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NoticeFacts {
    /// The user.
    pub user_name: UserName,
    /// Its account.
    pub account: String,
    /// The run's region (where the delivery secret is).
    pub region: String,
    /// The delivered key's id.
    pub new_access_key_id: AccessKeyId,
    /// The key it replaces.
    pub old_access_key_id: AccessKeyId,
    /// When the old key is (or was) deactivated without a pickup, if `--deactivate-after`.
    pub deadline: Option<Timestamp>,
}

/// The placeholders a template may use.
pub const PLACEHOLDERS: &[&str] = &[
    "user",
    "account",
    "region",
    "new_key_id",
    "old_key_id",
    "deadline",
    "command",
];

/// Where a delivery stands, for its mails.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Delivery {
    /// When the new key was stored.
    pub delivered: Timestamp,
    /// When the replaced key was deactivated, once it was.
    pub deactivated: Option<Timestamp>,
    /// The new key has been used: its owner needs no reminder to install it.
    pub used: bool,
}

/// Which mails a delivery is owed now, given those already sent.
pub fn owed(
    d: Delivery,
    deactivate_after: Option<Span>,
    warn_before: Option<Span>,
    sent: &[Event],
    now: Timestamp,
) -> Vec<Event> {
    let mut owed = Vec::new();
    let waiting = d.deactivated.is_none() && !d.used;
    if waiting && !sent.contains(&Event::Delivered) {
        owed.push(Event::Delivered);
    }
    if let (Some(after), Some(warn), true) = (deactivate_after, warn_before, waiting) {
        let deadline = d.delivered.add(after);
        let warn_at = Timestamp::from_millis(
            deadline.as_millis() - i64::try_from(warn.as_millis()).unwrap_or(i64::MAX),
        );
        if now >= warn_at && now < deadline && !sent.contains(&Event::Reminder) {
            owed.push(Event::Reminder);
        }
    }
    if d.deactivated.is_some() && !sent.contains(&Event::Deactivated) {
        owed.push(Event::Deactivated);
    }
    owed
}

/// The owner's address: the value of the user's tag `tag`. `Err`: why there is none to mail
/// (the row says so; the user is not failed for it).
pub fn address(user: &IamUser, tag: &str) -> Result<String, String> {
    let name = user.user_name.as_str();
    let fix = format!("aws iam tag-user --user-name {name} --tags Key={tag},Value=ADDRESS");
    let Some((_, value)) = user.tags.iter().find(|(k, _)| k == tag) else {
        return Err(format!("not mailed: {name} has no tag {tag} ({fix})"));
    };
    let value = value.trim();
    let ok = value.len() <= 254
        && value.split('@').count() == 2
        && value.split('@').all(|p| !p.is_empty())
        && !value
            .chars()
            .any(|c| c.is_whitespace() || c.is_control() || ",;<>()[]\\\"".contains(c));
    if ok {
        Ok(value.to_owned())
    } else {
        Err(format!(
            "not mailed: the tag {tag} of {name} is not one address ({fix})"
        ))
    }
}

/// One event's mail: a subject line and a plain-text body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mail {
    /// The subject, placeholders filled.
    pub subject: String,
    /// The body, placeholders filled.
    pub body: String,
}

/// A template: for each event, `Subject: …`, a blank line, the body; events in sections
/// `[delivered]`, `[reminder]`, `[deactivated]`. `{name}` is a placeholder; `{{` and `}}` are
/// braces.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Template {
    sections: Vec<(Event, Mail)>,
}

const DEFAULT: &str = "[delivered]
Subject: A new AWS access key is waiting for {user}

A new access key ({new_key_id}) was made for the IAM user {user} in account {account}. It
replaces {old_key_id}, which keeps working until you install the new one{deadline}.

To install it, run, with the profile that holds your current key:

    {command}

It checks the new key, writes it where the old one was, and deletes the old key.

[reminder]
Subject: The access key {old_key_id} of {user} stops working soon

The access key {old_key_id} of the IAM user {user} in account {account} will be deactivated{deadline},
as its replacement {new_key_id} has not been installed. To install it, run:

    {command}

[deactivated]
Subject: The access key {old_key_id} of {user} was deactivated

The access key {old_key_id} of the IAM user {user} in account {account} was deactivated. Its
replacement is {new_key_id}; if you have not installed it yet, run:

    {command}
";

impl Template {
    /// The text every owner gets unless `--notify-template` says otherwise.
    pub fn default_text() -> Self {
        // The default is checked by the tests below.
        Self::parse(DEFAULT).unwrap_or(Self {
            sections: Vec::new(),
        })
    }

    /// Reads a template; the error names the line.
    pub fn parse(text: &str) -> Result<Self, String> {
        let mut sections: Vec<(Event, Vec<&str>, usize)> = Vec::new();
        for (n, line) in text.lines().enumerate() {
            let trimmed = line.trim();
            if let Some(name) = trimmed.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
                let event = [Event::Delivered, Event::Reminder, Event::Deactivated]
                    .into_iter()
                    .find(|e| e.section() == name)
                    .ok_or_else(|| {
                        format!(
                            "line {}: [{name}] is not a section: use [delivered], [reminder] or [deactivated]",
                            n + 1
                        )
                    })?;
                sections.push((event, Vec::new(), n + 1));
            } else if let Some((_, lines, _)) = sections.last_mut() {
                lines.push(line);
            } else if !trimmed.is_empty() {
                return Err(format!("line {}: text before the first section", n + 1));
            }
        }
        let mut out = Vec::new();
        for (event, lines, at) in sections {
            let mut rest = lines.iter().skip_while(|l| l.trim().is_empty());
            let subject = rest
                .next()
                .and_then(|l| l.strip_prefix("Subject:"))
                .map(|s| s.trim().to_owned())
                .ok_or_else(|| {
                    format!("line {at}: [{}] must start with Subject:", event.section())
                })?;
            let body = rest
                .copied()
                .collect::<Vec<_>>()
                .join("\n")
                .trim()
                .to_owned()
                + "\n";
            for t in [&subject, &body] {
                check(t).map_err(|e| format!("[{}]: {e}", event.section()))?;
            }
            out.push((event, Mail { subject, body }));
        }
        if out.is_empty() {
            return Err("no section: give [delivered], [reminder] and [deactivated]".into());
        }
        Ok(Self { sections: out })
    }

    /// The mail of `event` about `f` (`None`: the template has no such section).
    pub fn render(&self, event: Event, f: &NoticeFacts) -> Option<Mail> {
        let (_, m) = self.sections.iter().find(|(e, _)| *e == event)?;
        let deadline = f
            .deadline
            .map(|d| format!(" on {}", d.to_iso8601()))
            .unwrap_or_default();
        let command = format!("aws-rotate-keys pickup -p PROFILE --region {}", f.region);
        let value = |name: &str| match name {
            "user" => f.user_name.to_string(),
            "account" => f.account.clone(),
            "region" => f.region.clone(),
            "new_key_id" => f.new_access_key_id.to_string(),
            "old_key_id" => f.old_access_key_id.to_string(),
            "deadline" => deadline.clone(),
            _ => command.clone(),
        };
        Some(Mail {
            subject: fill(&m.subject, &value),
            body: fill(&m.body, &value),
        })
    }
}

/// Every placeholder of `text` is known.
fn check(text: &str) -> Result<(), String> {
    let mut rest = text.replace("{{", "").replace("}}", "");
    while let Some(open) = rest.find('{') {
        let Some(close) = rest[open..].find('}') else {
            return Err("a { without its }".into());
        };
        let name = &rest[open + 1..open + close];
        if !PLACEHOLDERS.contains(&name) {
            return Err(format!(
                "{{{name}}} is not a placeholder: use {}",
                PLACEHOLDERS
                    .iter()
                    .map(|p| format!("{{{p}}}"))
                    .collect::<Vec<_>>()
                    .join(", ")
            ));
        }
        rest = rest[open + close + 1..].to_owned();
    }
    Ok(())
}

fn fill(text: &str, value: &dyn Fn(&str) -> String) -> String {
    let mut out = String::new();
    let mut rest = text;
    while let Some(i) = rest.find(['{', '}']) {
        out.push_str(&rest[..i]);
        let tail = &rest[i..];
        if tail.starts_with("{{") || tail.starts_with("}}") {
            out.push_str(&tail[..1]);
            rest = &tail[2..];
        } else if let (true, Some(close)) = (tail.starts_with('{'), tail.find('}')) {
            out.push_str(&value(&tail[1..close]));
            rest = &tail[close + 1..];
        } else {
            out.push_str(&tail[..1]);
            rest = &tail[1..];
        }
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const DAY: u64 = 86_400;

    fn facts() -> NoticeFacts {
        NoticeFacts {
            user_name: UserName::new("alice"),
            account: "123456789012".into(),
            region: "eu-west-1".into(),
            new_access_key_id: AccessKeyId::new("AKIANEW0000000000001").expect("an id"),
            old_access_key_id: AccessKeyId::new("AKIAOLD0000000000001").expect("an id"),
            deadline: Some(Timestamp::from_secs(1_800_000_000)),
        }
    }

    #[test]
    fn the_default_template_reads_and_fills_every_event() {
        let t = Template::default_text();
        for e in [Event::Delivered, Event::Reminder, Event::Deactivated] {
            let m = t.render(e, &facts()).expect("a section per event");
            assert!(!m.body.contains('{') && !m.subject.contains('{'), "{m:?}");
            assert!(
                m.body
                    .contains("aws-rotate-keys pickup -p PROFILE --region eu-west-1")
            );
            assert!(m.subject.contains("alice"), "{}", m.subject);
        }
        let m = t.render(Event::Delivered, &facts()).expect("delivered");
        assert!(m.body.contains("AKIANEW0000000000001") && m.body.contains("AKIAOLD0000000000001"));
        assert!(m.body.contains("2027-01-15T08:00:00+00:00"), "{}", m.body);
    }

    #[test]
    fn templates_are_checked_and_braces_escape() {
        let t = Template::parse("[delivered]\nSubject: {{hi}} {user}\n\nkey {new_key_id}\n")
            .expect("reads");
        let m = t.render(Event::Delivered, &facts()).expect("delivered");
        assert_eq!(m.subject, "{hi} alice");
        assert_eq!(m.body, "key AKIANEW0000000000001\n");
        assert!(t.render(Event::Reminder, &facts()).is_none());
        for (bad, says) in [
            (
                "[delivered]\nSubject: x {secret}\n",
                "{secret} is not a placeholder",
            ),
            ("[delivered]\nno subject\n", "must start with Subject:"),
            ("[later]\nSubject: x\n", "[later] is not a section"),
            ("text\n[delivered]\nSubject: x\n", "line 1"),
            ("", "no section"),
        ] {
            let e = Template::parse(bad).expect_err(bad);
            assert!(e.contains(says), "{bad:?}: {e}");
        }
    }

    #[test]
    fn each_event_is_owed_once_and_in_its_time() {
        let t0 = Timestamp::from_secs(1_800_000_000);
        let day = |d: u64| t0.add(Span::from_secs(d * DAY));
        let (after, warn) = (
            Some(Span::from_secs(14 * DAY)),
            Some(Span::from_secs(3 * DAY)),
        );
        let waiting = Delivery {
            delivered: t0,
            deactivated: None,
            used: false,
        };
        let off = Delivery {
            deactivated: Some(day(14)),
            ..waiting
        };
        use Event::*;
        assert_eq!(owed(waiting, after, warn, &[], t0), [Delivered]);
        assert!(owed(waiting, after, warn, &[Delivered], day(10)).is_empty());
        assert_eq!(
            owed(waiting, after, warn, &[Delivered], day(11)),
            [Reminder]
        );
        assert!(owed(waiting, after, warn, &[Delivered, Reminder], day(12)).is_empty());
        assert!(
            owed(waiting, after, None, &[Delivered], day(12)).is_empty(),
            "no --warn-before"
        );
        let used = Delivery {
            used: true,
            ..waiting
        };
        assert!(
            owed(used, after, warn, &[], day(12)).is_empty(),
            "an installed key needs no word"
        );
        assert_eq!(
            owed(off, after, warn, &[Delivered, Reminder], day(14)),
            [Deactivated]
        );
        assert_eq!(owed(off, after, warn, &[], day(14)), [Deactivated]);
        assert!(owed(off, after, warn, &Event::ALL, day(20)).is_empty());
    }

    #[test]
    fn the_address_is_one_tag_value_or_a_note_that_says_how_to_add_it() {
        let mut user = IamUser {
            user_name: UserName::new("alice"),
            arn: "arn:aws:iam::123456789012:user/alice".into(),
            tags: vec![("email".into(), " alice@example.com ".into())],
        };
        assert_eq!(address(&user, "email").as_deref(), Ok("alice@example.com"));
        let none = address(&user, "owner").expect_err("no such tag");
        assert!(none.contains("Key=owner,Value=ADDRESS"), "{none}");
        for bad in [
            "a@b, c@d",
            "alice",
            "a@b@c",
            "@example.com",
            "Alice <a@b>",
            "a\nb@c",
        ] {
            user.tags = vec![("email".into(), bad.into())];
            assert!(address(&user, "email").is_err(), "{bad}");
        }
    }
}
