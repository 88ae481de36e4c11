//! Log lines on stderr (INTERFACE.md, "Observability"): text or JSON
//! (`ACCOUNTD_LOG_FORMAT`), levels from `RUST_LOG`, written by a background
//! thread so that a slow or blocked stderr never stalls a request.
//!
//! Text lines escape every control character in every field, message and span
//! field alike, in the formatter itself: a newline or escape sequence sent by a
//! client can never start a forged line, whatever code logs it. JSON lines are
//! escaped by the JSON encoder.

use crate::config::LogFormat;
use std::fmt::{self, Write as _};
use tracing::field::{Field, Visit};
use tracing_appender::non_blocking::{NonBlockingBuilder, WorkerGuard};
use tracing_subscriber::field::RecordFields;
use tracing_subscriber::fmt::format::Writer;
use tracing_subscriber::fmt::FormatFields;

/// Start logging; keep the guard until the process ends (dropping it
/// flushes the lines still queued).
///
/// The queue is lossy: when 128,000 lines are waiting (stderr stalled), new
/// lines are dropped rather than making request threads wait. A request's
/// answer matters more than its log line, and a blocked log pipe must not
/// turn into an outage.
pub fn init(format: LogFormat) -> WorkerGuard {
    let (writer, guard) = NonBlockingBuilder::default()
        .lossy(true)
        .thread_name("accountd-log")
        // Buffered: the writer thread writes what is queued in large chunks
        // and flushes whenever the queue is empty, so a busy server makes one
        // write(2) per batch of lines instead of one per line.
        .finish(std::io::BufWriter::with_capacity(
            64 * 1024,
            std::io::stderr(),
        ));
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| "info,sqlx=warn".into());
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(writer);
    let done = match format {
        LogFormat::Text => builder
            .fmt_fields(EscapedFields)
            .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
            .try_init(),
        LogFormat::Json => builder.json().try_init(),
    };
    if let Err(e) = done {
        eprintln!("accountd: logging not started: {e}");
    }
    guard
}

/// Text fields as `name=value`, message first, every value escaped.
#[derive(Debug, Default, Clone, Copy)]
pub struct EscapedFields;

impl<'writer> FormatFields<'writer> for EscapedFields {
    fn format_fields<R: RecordFields>(&self, writer: Writer<'writer>, fields: R) -> fmt::Result {
        let mut visitor = EscapingVisitor {
            writer,
            first: true,
            result: Ok(()),
        };
        fields.record(&mut visitor);
        visitor.result
    }
}

struct EscapingVisitor<'writer> {
    writer: Writer<'writer>,
    first: bool,
    result: fmt::Result,
}

impl Visit for EscapingVisitor<'_> {
    fn record_str(&mut self, field: &Field, value: &str) {
        if field.name() == "message" {
            self.record_debug(field, &format_args!("{value}"));
        } else {
            // Quoted, as the default formatter shows strings.
            self.record_debug(field, &value);
        }
    }

    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        if self.result.is_err() {
            return;
        }
        let separator = if self.first { "" } else { " " };
        self.first = false;
        let name = field.name();
        self.result = if name == "message" {
            write!(self.writer, "{separator}")
                .and_then(|()| write!(Escaping(&mut self.writer), "{value:?}"))
        } else {
            // `r#type` and the like are shown without their raw prefix.
            let name = name.strip_prefix("r#").unwrap_or(name);
            write!(self.writer, "{separator}{name}=")
                .and_then(|()| write!(Escaping(&mut self.writer), "{value:?}"))
        };
    }
}

/// Writes through to `W`, every control character as an escape (`\n`,
/// `\r`, `\t`, `\u{1b}`), so no value can break or recolour a line.
pub struct Escaping<W>(pub W);

impl<W: fmt::Write> fmt::Write for Escaping<W> {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        // Fast path, a byte scan: every control character starts with an
        // ASCII control byte or 0xC2 (U+0080..U+009F); most text has neither.
        if !s.bytes().any(|b| b < 0x20 || b == 0x7f || b == 0xc2) {
            return self.0.write_str(s);
        }
        let mut rest = s;
        while let Some(at) = rest.find(char::is_control) {
            self.0.write_str(&rest[..at])?;
            let c = rest[at..].chars().next().unwrap_or('\0');
            match c {
                '\n' => self.0.write_str("\\n")?,
                '\r' => self.0.write_str("\\r")?,
                '\t' => self.0.write_str("\\t")?,
                other => write!(self.0, "\\u{{{:x}}}", u32::from(other))?,
            }
            rest = &rest[at + c.len_utf8()..];
        }
        self.0.write_str(rest)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io;
    use std::sync::{Arc, Mutex};

    #[derive(Clone, Default)]
    struct Captured(Arc<Mutex<Vec<u8>>>);

    impl io::Write for Captured {
        fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn escaping_turns_control_characters_into_visible_escapes() {
        let mut out = String::new();
        write!(Escaping(&mut out), "a\nb\r\tc\u{1b}[31md\u{0}é").unwrap();
        assert_eq!(out, "a\\nb\\r\\tc\\u{1b}[31md\\u{0}é");
    }

    #[test]
    fn no_field_of_any_kind_breaks_a_text_line() {
        let captured = Captured::default();
        let sink = captured.clone();
        let subscriber = tracing_subscriber::fmt()
            .fmt_fields(EscapedFields)
            .with_ansi(false)
            .with_writer(move || sink.clone())
            .finish();
        tracing::subscriber::with_default(subscriber, || {
            let typed = "ann\nINFO forged line";
            let span = tracing::info_span!("request", path = typed, client = %typed);
            let _in = span.enter();
            tracing::info!(name = typed, shown = %typed, debug = ?typed, "user {typed} failed");
        });
        let text = String::from_utf8(captured.0.lock().unwrap().clone()).unwrap();
        assert_eq!(text.lines().count(), 1, "{text}");
        assert!(text.contains(r#"path="ann\nINFO forged line""#), "{text}");
        assert!(text.contains(r"client=ann\nINFO forged line"), "{text}");
        assert!(
            text.contains(r"user ann\nINFO forged line failed"),
            "{text}"
        );
        assert!(text.contains(r"shown=ann\nINFO forged line"), "{text}");
    }
}
