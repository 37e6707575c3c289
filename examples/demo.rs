//! A rotation you can watch without an AWS account: the real core drives a simulated IAM in
//! which a new key takes six (simulated) seconds to work and the first `CreateAccessKey` is
//! throttled, so you see the room being made, the retry, the verification polls, and the files
//! before and after.
//!
//! Run it with `cargo run --example demo`.

use aws_rotate_keys::key::{KeyStatus, UserName};
use aws_rotate_keys::plan::Options;
use aws_rotate_keys::profile::Selection;
use aws_rotate_keys::rotation::Config;
use aws_rotate_keys::sim::{Checker, Disk, Fault, FaultPlan, RunEnd, RunSpec, SimIam, World};
use aws_rotate_keys::time::{Span, Timestamp};

fn main() {
    let now = Timestamp::from_secs(1_767_225_600); // 2026-01-01T00:00:00Z
    let mut iam = SimIam::new("123456789012", Span::from_secs(6), 7);
    iam.flaky = false;
    let (old_id, old_secret) = iam.add_key(
        "demo-user",
        KeyStatus::Active,
        Timestamp::from_secs(1_767_225_600 - 120 * 86_400),
    );
    let (spare_id, _) = iam.add_key(
        "demo-user",
        KeyStatus::Inactive,
        Timestamp::from_secs(1_767_225_600 - 400 * 86_400),
    );
    let credentials = format!(
        "# work laptop\n[default]\naws_access_key_id = {old_id}\naws_secret_access_key = {old_secret}\n\n[ci]\naws_access_key_id={old_id}\naws_secret_access_key={old_secret}\n"
    );
    let config = "[default]\nregion = eu-west-1\noutput = json\n\n[profile admin]\nrole_arn = arn:aws:iam::123456789012:role/Admin\nsource_profile = default\n".to_owned();
    let mut world = World {
        iam,
        disk: Disk::new(config, credentials),
        now,
        latency: Span::from_millis(40),
        trace: Some(Vec::new()),
    };
    let spec = RunSpec {
        selection: Selection::Profiles(vec!["default".into()]),
        admin_user: None,
        options: Options {
            yes: true,
            ..Options::default()
        },
        config: Config {
            seed: 42,
            ..Config::default()
        },
    };
    println!(
        "IAM user demo-user has two keys: {old_id} (active, 120 days, in the files) and {spare_id} (inactive, 400 days)."
    );
    println!("A new key takes 6 s to work. Rotating profile `default` with --yes:\n");
    println!(
        "--- credentials before ---\n{}",
        redact(&world.disk.credentials, &world)
    );
    // Step 4 is the first CreateAccessKey (after GetCallerIdentity, ListAccessKeys, the journal and
    // the delete that makes room).
    let mut faults = FaultPlan {
        faults: [(4, Fault::Throttle)].into_iter().collect(),
        step: 0,
    };
    let end = world.run(&spec, &mut faults, &mut Checker::default());
    for line in world.trace.take().unwrap_or_default() {
        println!("  {line}");
    }
    println!(
        "\n--- credentials after ---\n{}",
        redact(&world.disk.credentials, &world)
    );
    match end {
        Ok(RunEnd::Completed { reports, .. }) => {
            for r in reports {
                println!(
                    "result: {:?}: old key {:?} -> new key {:?}, old key {:?}, waited {} for IAM, {} verification calls",
                    r.status,
                    r.old_access_key_id.map(|k| k.to_string()),
                    r.new_access_key_id.map(|k| k.to_string()),
                    r.old_key_action,
                    r.propagation_wait.unwrap_or_default(),
                    r.verify_attempts
                );
            }
        }
        other => println!("run ended: {other:?}"),
    }
    let keys = world.iam.list(&UserName::new("demo-user"));
    println!(
        "IAM keys now: {:?}",
        keys.iter()
            .map(|k| format!("{} {}", k.access_key_id, k.status))
            .collect::<Vec<_>>()
    );
}

/// The demo prints files; secrets are shown as their first four characters only.
fn redact(text: &str, world: &World) -> String {
    let mut out = text.to_owned();
    for k in &world.iam.keys {
        out = out.replace(&k.secret, &format!("{}****", &k.secret[..4]));
    }
    out
}
