//! SDK errors as the core sees them: each becomes a [`Failure`] of the class the core needs to
//! decide (retry, undo, stop), with the service's code and message for the `aws` CLI's sentence.
//! One mapping for IAM, STS and Secrets Manager (whose codes end in `Exception`).

use aws_sdk_iam::error::{ProvideErrorMetadata, SdkError};

use aws_rotate_keys::action::{Failure, FailureClass};

/// A GetSessionToken that failed, named as such (the core sees it as the failure of the IAM call
/// it was made for), with what to do.
pub(super) fn session_failure(mut f: Failure, serial: &str) -> Failure {
    f.operation = Some("GetSessionToken");
    if f.message.contains("MultiFactorAuthentication") {
        f.message = format!(
            "{} The MFA session with {serial} was refused: run again with the code that device shows now (--token-code CODE), and check the profile's mfa_serial",
            f.message.trim_end()
        );
    } else {
        f.message = format!("{} (the MFA session with {serial})", f.message.trim_end());
    }
    f
}

/// An SDK error as the core sees it.
pub(crate) fn classify<E, R>(e: &SdkError<E, R>) -> Failure
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
    R: std::fmt::Debug + HttpStatus + 'static,
{
    match e {
        SdkError::ServiceError(se) => {
            let status = se.raw().status_code();
            let err = se.err();
            let code = err.code().map(str::to_owned);
            let message = err
                .message()
                .map(str::to_owned)
                .unwrap_or_else(|| match &code {
                    Some(c) => c.clone(),
                    None => format!("HTTP {status}"),
                });
            let mut class = class_of(code.as_deref(), status);
            let mut message = message;
            if is_daily_quota(&message) {
                // SES's quota of a day's mails: a retry minutes later meets the same refusal.
                class = FailureClass::LimitExceeded;
                message = format!(
                    "{} (SES's sending quota for the last 24 hours is used up: the mails not sent are sent by a later run; see aws sesv2 get-account)",
                    message.trim_end()
                );
            }
            let code = code.or_else(|| (status == 403).then(|| "InvalidClientTokenId".to_owned()));
            Failure {
                class,
                code,
                message,
                operation: None,
            }
        }
        SdkError::TimeoutError(_) => {
            Failure::new(FailureClass::Transient, None, "the request timed out")
        }
        SdkError::DispatchFailure(_) if super::super::proxy::failure(e).is_some() => {
            // Not retried: a proxy that refuses, or that is not there, does the same next time.
            let proxy = super::super::proxy::failure(e).map(ToString::to_string);
            Failure::new(FailureClass::Other, None, proxy.unwrap_or_default())
        }
        SdkError::DispatchFailure(_) if super::super::tls::certificate_error(e).is_some() => {
            let why = super::super::tls::certificate_error(e).unwrap_or_default();
            // Not worth retrying: the next attempt meets the same certificate.
            Failure::new(
                FailureClass::Other,
                None,
                format!(
                    "SSL validation failed: {why}. To trust the certificate authority that signed the endpoint's certificate, pass --ca-bundle FILE (or set AWS_CA_BUNDLE, or ca_bundle in the profile); --no-verify-ssl skips the check"
                ),
            )
        }
        SdkError::DispatchFailure(d) => {
            let what = if d.is_timeout() {
                "the connection timed out"
            } else {
                "the connection failed"
            };
            Failure::new(
                FailureClass::Transient,
                None,
                format!("{what}: {}", source_chain(e)),
            )
        }
        SdkError::ResponseError(_) => Failure::new(
            FailureClass::Transient,
            None,
            format!("the answer could not be read: {}", source_chain(e)),
        ),
        _ => Failure::new(FailureClass::Other, None, source_chain(e)),
    }
}

/// The class of a service's error, from its code (IAM's, STS's, or Secrets Manager's, which
/// end in `Exception`) and HTTP status.
fn class_of(code: Option<&str>, status: u16) -> FailureClass {
    match code {
        Some(
            "Throttling"
            | "ThrottlingException"
            | "RequestLimitExceeded"
            | "TooManyRequestsException",
        ) => FailureClass::Throttled,
        Some(
            "InvalidClientTokenId"
            | "SignatureDoesNotMatch"
            | "InvalidAccessKeyId"
            | "UnrecognizedClientException",
        ) => FailureClass::NotAuthenticated,
        // Secrets Manager's missing secret; IAM's credential report not there (yet, or any
        // longer: a new one must be generated).
        Some(
            "NoSuchEntity" | "ResourceNotFoundException" | "ReportNotPresent" | "ReportExpired",
        ) => FailureClass::NotFound,
        Some("ResourceExistsException") => FailureClass::AlreadyExists,
        Some("ReportInProgress") => FailureClass::NotReady,
        Some("LimitExceeded") => FailureClass::LimitExceeded,
        Some("AccessDenied" | "AccessDeniedException") => FailureClass::AccessDenied,
        Some(
            "ServiceFailure"
            | "InternalFailure"
            | "InternalError"
            | "ServiceUnavailable"
            | "InternalServiceError",
        ) => FailureClass::Transient,
        // moto wraps its authentication errors in an extra <Errors> element that the SDK does
        // not parse: a 403 without a code is an unknown or unusable key.
        None if status == 403 => FailureClass::NotAuthenticated,
        _ if status >= 500 => FailureClass::Transient,
        _ if status == 429 => FailureClass::Throttled,
        _ => FailureClass::Other,
    }
}

/// SES's refusal once the account's 24-hour sending quota is used up (a `Throttling` error in
/// SES v1, like its per-second rate, which is worth retrying; the message tells them apart):
/// <https://docs.aws.amazon.com/ses/latest/dg/manage-sending-quotas-errors.html>.
fn is_daily_quota(message: &str) -> bool {
    message
        .to_ascii_lowercase()
        .contains("daily message quota exceeded")
}

fn source_chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut cur = e.source();
    while let Some(c) = cur {
        s.push_str(": ");
        s.push_str(&c.to_string());
        cur = c.source();
    }
    s
}

/// The HTTP status of a raw response.
pub(crate) trait HttpStatus {
    fn status_code(&self) -> u16;
}

impl HttpStatus for aws_smithy_runtime_api::http::Response {
    fn status_code(&self) -> u16 {
        self.status().as_u16()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_fleets_codes_have_the_classes_the_core_decides_on() {
        for (code, status, class) in [
            ("ResourceNotFoundException", 400, FailureClass::NotFound),
            ("NoSuchEntity", 404, FailureClass::NotFound),
            ("ReportNotPresent", 410, FailureClass::NotFound),
            ("ReportExpired", 410, FailureClass::NotFound),
            ("ResourceExistsException", 400, FailureClass::AlreadyExists),
            ("ReportInProgress", 404, FailureClass::NotReady),
            ("ThrottlingException", 400, FailureClass::Throttled),
            ("Throttling", 400, FailureClass::Throttled),
            (
                "UnrecognizedClientException",
                400,
                FailureClass::NotAuthenticated,
            ),
            ("InvalidClientTokenId", 403, FailureClass::NotAuthenticated),
            ("AccessDeniedException", 400, FailureClass::AccessDenied),
            ("AccessDenied", 403, FailureClass::AccessDenied),
            ("InternalServiceError", 500, FailureClass::Transient),
            ("InvalidRequestException", 400, FailureClass::Other),
        ] {
            assert_eq!(class_of(Some(code), status), class, "{code}");
        }
        assert_eq!(class_of(None, 403), FailureClass::NotAuthenticated);
        assert!(is_daily_quota("Daily message quota exceeded."));
        assert!(!is_daily_quota("Maximum sending rate exceeded."));
        assert_eq!(class_of(None, 503), FailureClass::Transient);
    }
}
