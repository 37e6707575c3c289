//! `cli_timestamp_format = wire`: the timestamps of IAM's answers exactly as sent. The SDK
//! parses every timestamp into a `DateTime` and keeps no text, so each call that answers with
//! one reads them from the response's body itself ([`WireDateReader`]), with the XML decoder the
//! SDK uses (already in the tree through aws-sdk-iam).

use std::collections::HashMap;
use std::sync::Arc;

use aws_smithy_runtime_api::box_error::BoxError;
use aws_smithy_runtime_api::client::interceptors::Intercept;
use aws_smithy_runtime_api::client::interceptors::context::AfterDeserializationInterceptorContextRef;
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_types::config_bag::ConfigBag;

use aws_rotate_keys::key::AccessKeyId;
use aws_rotate_keys::output::{DateField, TimestampFormat, Timestamps};

/// The keys' timestamps exactly as IAM sent them this run, by key.
#[derive(Debug, Default)]
pub(crate) struct WireDates(std::sync::Mutex<HashMap<(AccessKeyId, DateField), String>>);

impl WireDates {
    /// How the output prints timestamps: in `format`, with the texts kept so far.
    pub(crate) fn timestamps(&self, format: TimestampFormat) -> Timestamps {
        let wire = self
            .0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone();
        Timestamps { format, wire }
    }

    /// Keeps what a reader found; `asked`: the key the request was about, for answers that do
    /// not name their key.
    pub(super) fn keep(&self, found: Vec<WireDate>, asked: Option<&AccessKeyId>) {
        let mut map = self
            .0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        for d in found {
            let id = d
                .access_key_id
                .and_then(AccessKeyId::new)
                .or_else(|| asked.cloned());
            if let Some(id) = id {
                map.insert((id, d.field), d.text);
            }
        }
    }
}

/// One timestamp of a response body, as sent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct WireDate {
    /// The `AccessKeyId` beside it, where the answer has one.
    access_key_id: Option<String>,
    field: DateField,
    text: String,
}

/// An interceptor for one call: after the SDK has read and parsed the answer, it reads the
/// same body for its timestamps (`read_after_deserialization`: by then the body is in memory).
/// It looks only at `AccessKeyId`, `CreateDate` and `LastUsedDate` elements and copies nothing
/// else: the `SecretAccessKey` of a CreateAccessKey answer is skipped unread.
#[derive(Debug, Clone, Default)]
pub(super) struct WireDateReader(Arc<std::sync::Mutex<Vec<WireDate>>>);

impl WireDateReader {
    pub(super) fn take(&self) -> Vec<WireDate> {
        std::mem::take(
            &mut *self
                .0
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner),
        )
    }
}

impl Intercept for WireDateReader {
    fn name(&self) -> &'static str {
        "aws-rotate-keys wire timestamps"
    }

    fn read_after_deserialization(
        &self,
        context: &AfterDeserializationInterceptorContextRef<'_>,
        _runtime_components: &RuntimeComponents,
        _cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        // An answer the SDK could not parse either has no timestamps worth keeping; never fail
        // the call over them.
        if let Some(body) = context.response().body().bytes() {
            let found = wire_dates(body);
            self.0
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .extend(found);
        }
        Ok(())
    }
}

/// The `CreateDate` and `LastUsedDate` texts of an IAM (query protocol, XML) answer, each with
/// the `AccessKeyId` of its element, as the XML decoder the SDK uses reads them (entities
/// resolved). A body that is not XML gives none.
fn wire_dates(body: &[u8]) -> Vec<WireDate> {
    use aws_smithy_xml::decode::Document;
    let mut out = Vec::new();
    let Ok(mut doc) = Document::try_from(body) else {
        return out;
    };
    if let Ok(mut root) = doc.root_element() {
        collect_dates(&mut root, 0, &mut out);
    }
    out
}

/// IAM's answers nest a key's fields four elements deep
/// (`ListAccessKeysResponse/ListAccessKeysResult/AccessKeyMetadata/member`): far fewer than this.
const MAX_XML_DEPTH: usize = 16;

fn collect_dates(
    el: &mut aws_smithy_xml::decode::ScopedDecoder<'_, '_>,
    depth: usize,
    out: &mut Vec<WireDate>,
) {
    use aws_smithy_xml::decode::try_data;
    let mut id = None;
    let mut dates = Vec::new();
    while let Some(mut child) = el.next_tag() {
        let field = if child.start_el().matches("CreateDate") {
            Some(DateField::Created)
        } else if child.start_el().matches("LastUsedDate") {
            Some(DateField::LastUsed)
        } else {
            None
        };
        if let Some(field) = field {
            if let Ok(text) = try_data(&mut child) {
                dates.push((field, text.into_owned()));
            }
        } else if child.start_el().matches("AccessKeyId") {
            id = try_data(&mut child).ok().map(|t| t.into_owned());
        } else if child.start_el().matches("SecretAccessKey") {
            // Dropped unread: the decoder skips to its end.
        } else if depth < MAX_XML_DEPTH {
            collect_dates(&mut child, depth + 1, out);
        }
    }
    out.extend(dates.into_iter().map(|(field, text)| WireDate {
        access_key_id: id.clone(),
        field,
        text,
    }));
}

#[cfg(test)]
mod tests {
    use super::*;

    fn date(id: Option<&str>, field: DateField, text: &str) -> WireDate {
        WireDate {
            access_key_id: id.map(str::to_owned),
            field,
            text: text.to_owned(),
        }
    }

    #[test]
    fn wire_dates_are_read_as_sent_with_their_key() {
        let list = br#"<ListAccessKeysResponse xmlns="https://iam.amazonaws.com/doc/2010-05-08/">
  <ListAccessKeysResult>
    <AccessKeyMetadata>
      <member><UserName>bob</UserName><AccessKeyId>AKIAIOSFODNN7EXAMPLE</AccessKeyId>
        <Status>Active</Status><CreateDate>2013-06-04T18:17:34Z</CreateDate></member>
      <member><CreateDate>2013-06-06T20:42:26.123456+00:00</CreateDate>
        <AccessKeyId>AKIAI44QH8DHBEXAMPLE</AccessKeyId></member>
    </AccessKeyMetadata>
    <IsTruncated>false</IsTruncated>
  </ListAccessKeysResult>
  <ResponseMetadata><RequestId>7a62c49f</RequestId></ResponseMetadata>
</ListAccessKeysResponse>"#;
        assert_eq!(
            wire_dates(list),
            [
                date(
                    Some("AKIAIOSFODNN7EXAMPLE"),
                    DateField::Created,
                    "2013-06-04T18:17:34Z"
                ),
                date(
                    Some("AKIAI44QH8DHBEXAMPLE"),
                    DateField::Created,
                    "2013-06-06T20:42:26.123456+00:00"
                ),
            ]
        );
        let last = b"<GetAccessKeyLastUsedResponse><GetAccessKeyLastUsedResult>\
            <AccessKeyLastUsed><Region>us-east-1</Region><LastUsedDate>2015-03-13T10:45:00Z</LastUsedDate>\
            <ServiceName>iam</ServiceName></AccessKeyLastUsed><UserName>bob</UserName>\
            </GetAccessKeyLastUsedResult></GetAccessKeyLastUsedResponse>";
        assert_eq!(
            wire_dates(last),
            [date(None, DateField::LastUsed, "2015-03-13T10:45:00Z")]
        );
        assert!(wire_dates(b"not xml at all").is_empty());
        assert!(wire_dates(b"").is_empty());
    }

    #[test]
    fn a_new_keys_secret_is_never_read() {
        let secret = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYzEXAMPLEKEY";
        let body = format!(
            "<CreateAccessKeyResponse><CreateAccessKeyResult><AccessKey>\
             <UserName>bob</UserName><AccessKeyId>AKIAIOSFODNN7EXAMPLE</AccessKeyId>\
             <Status>Active</Status><SecretAccessKey>{secret}</SecretAccessKey>\
             <CreateDate>2015-03-09T18:39:23Z</CreateDate>\
             </AccessKey></CreateAccessKeyResult></CreateAccessKeyResponse>"
        );
        let found = wire_dates(body.as_bytes());
        assert_eq!(
            found,
            [date(
                Some("AKIAIOSFODNN7EXAMPLE"),
                DateField::Created,
                "2015-03-09T18:39:23Z"
            )]
        );
        assert!(!format!("{found:?}").contains(secret));
        // Kept by key; an answer that names no key is filed under the key asked about.
        let wire = WireDates::default();
        wire.keep(found, None);
        let id = AccessKeyId::new("AKIAIOSFODNN7EXAMPLE").expect("a key id");
        wire.keep(
            vec![date(None, DateField::LastUsed, "2015-03-13T10:45:00Z")],
            Some(&id),
        );
        let shown = wire.timestamps(TimestampFormat::Wire);
        let at = aws_rotate_keys::time::Timestamp::from_secs(0);
        assert_eq!(
            shown.show(&id, DateField::Created, at),
            "2015-03-09T18:39:23Z"
        );
        assert_eq!(
            shown.show(&id, DateField::LastUsed, at),
            "2015-03-13T10:45:00Z"
        );
    }
}
