//! Logs as go-plugin expects them: one hclog-style JSON object per line on stderr, so
//! Terraform shows them at `TF_LOG`/`TF_LOG_PROVIDER` with the right level.

use tracing::field::{Field, Visit};
use tracing::{Event, Level, Subscriber};
use tracing_subscriber::fmt::{FmtContext, FormatEvent, FormatFields, format::Writer};
use tracing_subscriber::registry::LookupSpan;

struct Hclog;

#[derive(Default)]
struct Fields(serde_json::Map<String, serde_json::Value>);

impl Visit for Fields {
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        let name = if field.name() == "message" {
            "@message"
        } else {
            field.name()
        };
        self.0.insert(
            name.to_string(),
            serde_json::Value::String(format!("{value:?}")),
        );
    }

    fn record_str(&mut self, field: &Field, value: &str) {
        let name = if field.name() == "message" {
            "@message"
        } else {
            field.name()
        };
        self.0.insert(
            name.to_string(),
            serde_json::Value::String(value.to_string()),
        );
    }

    fn record_u64(&mut self, field: &Field, value: u64) {
        self.0.insert(field.name().to_string(), value.into());
    }

    fn record_i64(&mut self, field: &Field, value: i64) {
        self.0.insert(field.name().to_string(), value.into());
    }
}

impl<S, N> FormatEvent<S, N> for Hclog
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    N: for<'a> FormatFields<'a> + 'static,
{
    fn format_event(
        &self,
        _: &FmtContext<'_, S, N>,
        mut writer: Writer<'_>,
        event: &Event<'_>,
    ) -> std::fmt::Result {
        let mut fields = Fields::default();
        event.record(&mut fields);
        let level = match *event.metadata().level() {
            Level::TRACE => "trace",
            Level::DEBUG => "debug",
            Level::INFO => "info",
            Level::WARN => "warn",
            Level::ERROR => "error",
        };
        fields.0.insert("@level".into(), level.into());
        fields.0.insert("@module".into(), "provider.jit".into());
        fields.0.insert(
            "@timestamp".into(),
            hclog_timestamp(time::OffsetDateTime::now_utc()).into(),
        );
        let mut line = serde_json::Value::Object(fields.0).to_string();
        line.push('\n');
        writer.write_str(&line)
    }
}

/// go-plugin parses `@timestamp` as `2006-01-02T15:04:05.000000Z07:00`: exactly six fractional
/// digits, or it drops the line's level and logs it raw.
fn hclog_timestamp(t: time::OffsetDateTime) -> String {
    let t = t.to_offset(time::UtcOffset::UTC);
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:06}Z",
        t.year(),
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute(),
        t.second(),
        t.microsecond()
    )
}

/// Installs the logger. The level follows `TF_LOG_PROVIDER`, then `TF_LOG`; without either,
/// only warnings and errors are written (Terraform discards them unless logging is on).
pub fn init() {
    let level = std::env::var("TF_LOG_PROVIDER")
        .or_else(|_| std::env::var("TF_LOG"))
        .ok()
        .and_then(|l| match l.to_ascii_lowercase().as_str() {
            "trace" | "json" => Some(tracing::level_filters::LevelFilter::TRACE),
            "debug" => Some(tracing::level_filters::LevelFilter::DEBUG),
            "info" => Some(tracing::level_filters::LevelFilter::INFO),
            "warn" => Some(tracing::level_filters::LevelFilter::WARN),
            "error" => Some(tracing::level_filters::LevelFilter::ERROR),
            _ => None,
        })
        .unwrap_or(tracing::level_filters::LevelFilter::WARN);
    // Only our own crate logs above warn: the SDK's internals at debug would flood the log
    // (and never include credentials, but there's no reason to risk it).
    let filter = tracing_subscriber::filter::Targets::new()
        .with_target("jit_provider", level)
        .with_target("terraform_provider_jit", level)
        .with_default(tracing::level_filters::LevelFilter::WARN);
    use tracing_subscriber::layer::SubscriberExt;
    use tracing_subscriber::util::SubscriberInitExt;
    let _ = tracing_subscriber::registry()
        .with(
            tracing_subscriber::fmt::layer()
                .event_format(Hclog)
                .with_writer(std::io::stderr),
        )
        .with(filter)
        .try_init();
}

#[cfg(test)]
mod tests {
    #[test]
    fn timestamps_have_the_six_fractional_digits_go_plugin_parses() {
        let t = time::macros::datetime!(2026-11-23 20:28:59.123456789 +01:00);
        assert_eq!(super::hclog_timestamp(t), "2026-11-23T19:28:59.123456Z");
    }
}
