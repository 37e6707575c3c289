//! The delivery secret's value (read by `pickup`) and description (read by every fleet run) on
//! arbitrary text: never a panic; what reads writes back to text that reads the same; an error
//! never quotes the value's secret.
#![no_main]

use aws_rotate_keys::fleet::delivery::{DeliveredKey, Marker};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    match DeliveredKey::parse(text) {
        Ok(key) => {
            let json = key.to_json();
            assert_eq!(DeliveredKey::parse(json.expose()).as_ref(), Ok(&key));
        }
        Err(e) => {
            // A secret found in the text (any JSON string value of 8+ characters under
            // SecretAccessKey) never appears in the message.
            if let Ok(serde_json::Value::Object(m)) = serde_json::from_str(text)
                && let Some(serde_json::Value::String(s)) = m.get("SecretAccessKey")
                && s.len() >= 8
            {
                assert!(!e.0.contains(s.as_str()), "the error quotes the secret");
            }
        }
    }
    if let Ok(m) = Marker::parse(text) {
        assert_eq!(Marker::parse(&m.to_description()), Ok(m));
    }
});
