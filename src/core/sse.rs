//! An incremental `text/event-stream` parser (WHATWG HTML, "Server-sent
//! events", §9.2.6 "Interpreting an event stream").
//!
//! MCP's Streamable HTTP transport answers a POST with either JSON or an SSE
//! stream (requirements MCP-15), and the suite must read the stream as a
//! browser would: lines end in CRLF, LF or CR, and a chunk boundary may fall
//! anywhere, even between the CR and LF of one line terminator or inside a
//! UTF-8 sequence. The parser works on bytes, splits lines on the ASCII
//! terminators (which never occur inside a UTF-8 sequence), and decodes each
//! complete line, so the result never depends on where the chunks split.
//!
//! Memory is bounded: a line longer than [`DEFAULT_MAX_LINE`] or an event
//! whose data exceeds [`DEFAULT_MAX_EVENT`] is dropped and counted, not
//! buffered, so a hostile server cannot make the suite grow without limit.

/// Longest line buffered, in bytes (without its terminator).
pub const DEFAULT_MAX_LINE: usize = 1 << 20;
/// Largest event data buffered, in bytes.
pub const DEFAULT_MAX_EVENT: usize = 4 << 20;

const BOM: &[u8] = b"\xEF\xBB\xBF";

/// One dispatched event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SseEvent {
    /// The event type; `message` when the event had no `event` field.
    pub event: String,
    /// The `data` lines joined with `\n`.
    pub data: String,
    /// The `id` field of this event, if it had one (an `id` containing NUL
    /// is ignored, per the spec). The spec's persistent "last event ID",
    /// which carries over to later events, is [`SseParser::last_event_id`].
    pub id: Option<String>,
    /// A valid `retry` field seen since the previous dispatch (the field
    /// sets the stream's reconnection time, see [`SseParser::retry`]).
    pub retry: Option<u64>,
}

/// How the stream ended, from [`SseParser::finish`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct SseEnd {
    /// The stream ended inside an event (fields or a partial line after the
    /// last blank line). The spec discards such an event.
    pub unterminated_event: bool,
    /// Lines dropped for exceeding the line limit.
    pub lines_too_long: u64,
    /// Events dropped for exceeding the event limit or for losing a line.
    pub events_dropped: u64,
}

/// The incremental parser. Feed chunks as they arrive; each call returns
/// the events completed by that chunk.
#[derive(Debug, Clone)]
pub struct SseParser {
    max_line: usize,
    max_event: usize,
    /// Bytes seen at the start of the stream while deciding whether they are
    /// a BOM (the spec strips one leading U+FEFF).
    bom: Option<Vec<u8>>,
    line: Vec<u8>,
    /// The current line exceeded `max_line`; skip to its end.
    discarding_line: bool,
    /// The previous chunk ended in CR: a leading LF in the next chunk
    /// belongs to the same terminator.
    after_cr: bool,
    data: String,
    event_type: String,
    event_id: Option<String>,
    event_retry: Option<u64>,
    /// A field line was seen since the last dispatch.
    in_event: bool,
    /// The current event lost a line or outgrew `max_event`.
    poisoned: bool,
    last_event_id: String,
    retry: Option<u64>,
    lines_too_long: u64,
    events_dropped: u64,
}

impl Default for SseParser {
    fn default() -> Self {
        Self::new()
    }
}

impl SseParser {
    pub fn new() -> Self {
        Self::with_limits(DEFAULT_MAX_LINE, DEFAULT_MAX_EVENT)
    }

    /// A parser with other limits (bytes per line, bytes of data per event).
    pub fn with_limits(max_line: usize, max_event: usize) -> Self {
        SseParser {
            max_line,
            max_event,
            bom: Some(Vec::new()),
            line: Vec::new(),
            discarding_line: false,
            after_cr: false,
            data: String::new(),
            event_type: String::new(),
            event_id: None,
            event_retry: None,
            in_event: false,
            poisoned: false,
            last_event_id: String::new(),
            retry: None,
            lines_too_long: 0,
            events_dropped: 0,
        }
    }

    /// The spec's "last event ID" buffer: the last `id` field, carried
    /// across events, which a client sends as `Last-Event-ID` to resume.
    pub fn last_event_id(&self) -> &str {
        &self.last_event_id
    }

    /// The reconnection time (milliseconds) from the last valid `retry`.
    pub fn retry(&self) -> Option<u64> {
        self.retry
    }

    /// Feeds one chunk; returns the events it completed.
    pub fn feed(&mut self, chunk: &[u8]) -> Vec<SseEvent> {
        let mut out = Vec::new();
        let Some(mut head) = self.bom.take() else {
            self.process(chunk, &mut out);
            return out;
        };
        // Still at the start of the stream: collect up to three bytes to
        // decide whether the stream opens with a BOM.
        let take = (BOM.len() - head.len()).min(chunk.len());
        head.extend_from_slice(&chunk[..take]);
        let rest = &chunk[take..];
        if head.len() < BOM.len() && BOM.starts_with(&head) {
            self.bom = Some(head);
            return out;
        }
        if head != BOM {
            self.process(&head, &mut out);
        }
        self.process(rest, &mut out);
        out
    }

    /// Ends the stream. The spec discards a pending event: "If the file ends
    /// in the middle of an event, before the final empty line, the incomplete
    /// event is not dispatched."
    pub fn finish(self) -> SseEnd {
        let partial_bom = self.bom.as_ref().is_some_and(|b| !b.is_empty());
        SseEnd {
            unterminated_event: self.in_event
                || !self.line.is_empty()
                || self.discarding_line
                || partial_bom,
            lines_too_long: self.lines_too_long,
            events_dropped: self.events_dropped + u64::from(self.in_event && self.poisoned),
        }
    }

    fn process(&mut self, mut bytes: &[u8], out: &mut Vec<SseEvent>) {
        while !bytes.is_empty() {
            if self.after_cr {
                self.after_cr = false;
                if bytes[0] == b'\n' {
                    bytes = &bytes[1..];
                    continue;
                }
            }
            match bytes.iter().position(|&b| b == b'\r' || b == b'\n') {
                Some(i) => {
                    self.append(&bytes[..i]);
                    self.after_cr = bytes[i] == b'\r';
                    self.end_line(out);
                    bytes = &bytes[i + 1..];
                }
                None => {
                    self.append(bytes);
                    return;
                }
            }
        }
    }

    fn append(&mut self, part: &[u8]) {
        if self.discarding_line || part.is_empty() {
            return;
        }
        if self.line.len() + part.len() > self.max_line {
            // A dropped comment loses nothing; any other dropped line makes
            // the current event wrong, so the event is dropped too.
            let first = self.line.first().or(part.first()).copied();
            if first != Some(b':') {
                self.poisoned = true;
                self.in_event = true;
            }
            self.lines_too_long += 1;
            self.discarding_line = true;
            self.line = Vec::new();
            return;
        }
        self.line.extend_from_slice(part);
    }

    fn end_line(&mut self, out: &mut Vec<SseEvent>) {
        if self.discarding_line {
            self.discarding_line = false;
            return;
        }
        let line = std::mem::take(&mut self.line);
        self.process_line(&line, out);
        // Keep the allocation for the next line unless it grew large.
        if line.capacity() <= 4096 {
            self.line = line;
            self.line.clear();
        }
    }

    fn process_line(&mut self, line: &[u8], out: &mut Vec<SseEvent>) {
        if line.is_empty() {
            self.dispatch(out);
            return;
        }
        if line[0] == b':' {
            return;
        }
        let (name, value) = match line.iter().position(|&b| b == b':') {
            Some(i) => {
                let value = &line[i + 1..];
                // "If value starts with a U+0020 SPACE character, remove it."
                let value = value.strip_prefix(b" ").unwrap_or(value);
                (&line[..i], value)
            }
            None => (line, &[][..]),
        };
        self.in_event = true;
        match name {
            b"event" => self.event_type = String::from_utf8_lossy(value).into_owned(),
            b"data" => {
                if self.poisoned {
                    return;
                }
                if self.data.len() + value.len() + 1 > self.max_event {
                    self.poisoned = true;
                    self.data = String::new();
                    return;
                }
                self.data.push_str(&String::from_utf8_lossy(value));
                self.data.push('\n');
            }
            // "If the field value does not contain U+0000 NULL": an id with
            // NUL is ignored entirely.
            b"id" if !value.contains(&0) => {
                let id = String::from_utf8_lossy(value).into_owned();
                self.last_event_id.clone_from(&id);
                self.event_id = Some(id);
            }
            // "If the field value consists of only ASCII digits": an empty
            // value is not such a value, and one too large for u64 is
            // ignored too (`parse` handles both).
            b"retry" if value.iter().all(u8::is_ascii_digit) => {
                if let Some(ms) = std::str::from_utf8(value)
                    .ok()
                    .and_then(|s| s.parse::<u64>().ok())
                {
                    self.retry = Some(ms);
                    self.event_retry = Some(ms);
                }
            }
            _ => {}
        }
    }

    fn dispatch(&mut self, out: &mut Vec<SseEvent>) {
        let mut data = std::mem::take(&mut self.data);
        let event_type = std::mem::take(&mut self.event_type);
        let id = self.event_id.take();
        let retry = self.event_retry.take();
        let poisoned = std::mem::replace(&mut self.poisoned, false);
        let in_event = std::mem::replace(&mut self.in_event, false);
        if poisoned {
            if in_event {
                self.events_dropped += 1;
            }
            return;
        }
        // "If the data buffer is an empty string, set the data buffer and
        // the event type buffer to the empty string and return."
        if data.is_empty() {
            return;
        }
        // "If the data buffer's last character is a U+000A LINE FEED (LF)
        // character, then remove the last character from the data buffer."
        if data.ends_with('\n') {
            data.pop();
        }
        out.push(SseEvent {
            event: if event_type.is_empty() {
                "message".to_owned()
            } else {
                event_type
            },
            data,
            id,
            retry,
        });
    }
}

/// Parses a complete body. A final event without its blank line is not
/// dispatched.
pub fn parse_all(body: &[u8]) -> Vec<SseEvent> {
    parse_body(body).0
}

/// Parses a complete body and reports how it ended.
pub fn parse_body(body: &[u8]) -> (Vec<SseEvent>, SseEnd) {
    let mut p = SseParser::new();
    let events = p.feed(body);
    (events, p.finish())
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn ev(event: &str, data: &str, id: Option<&str>, retry: Option<u64>) -> SseEvent {
        SseEvent {
            event: event.into(),
            data: data.into(),
            id: id.map(Into::into),
            retry,
        }
    }

    #[test]
    fn whatwg_examples() {
        // "data: YHOO\ndata: +2\ndata: 10\n\n" is one event, data joined.
        assert_eq!(
            parse_all(b"data: YHOO\ndata: +2\ndata: 10\n\n"),
            vec![ev("message", "YHOO\n+2\n10", None, None)]
        );
        // The spec's four-block example: comment, two events with an id
        // carried over, and the final block with no blank line is discarded.
        let body = b": test stream\n\ndata: first event\nid: 1\n\ndata:second event\nid\n\ndata:  third event";
        let mut p = SseParser::new();
        let events = p.feed(body);
        assert_eq!(
            events,
            vec![
                ev("message", "first event", Some("1"), None),
                ev("message", "second event", Some(""), None),
            ]
        );
        assert_eq!(p.last_event_id(), "");
        assert!(p.finish().unterminated_event);
        // "data\n\ndata\ndata\n\ndata:" gives "" and "\n"; the last is unterminated.
        assert_eq!(
            parse_all(b"data\n\ndata\ndata\n\ndata:"),
            vec![
                ev("message", "", None, None),
                ev("message", "\n", None, None)
            ]
        );
        // Only one leading space is stripped.
        assert_eq!(
            parse_all(b"data:test\n\ndata: test\n\ndata:  test\n\n"),
            vec![
                ev("message", "test", None, None),
                ev("message", "test", None, None),
                ev("message", " test", None, None),
            ]
        );
    }

    #[test]
    fn mcp_response_stream_with_priming_event() {
        let body = b"id: 0\nretry: 3000\ndata:\n\nevent: message\nid: 1\ndata: {\"jsonrpc\":\"2.0\",\"id\":1,\"result\":{}}\n\n";
        let events = parse_all(body);
        assert_eq!(events.len(), 2);
        assert_eq!(events[0], ev("message", "", Some("0"), Some(3000)));
        assert_eq!(events[1].data, r#"{"jsonrpc":"2.0","id":1,"result":{}}"#);
        assert_eq!(events[1].retry, None);
    }

    #[test]
    fn line_endings_and_bom() {
        let expected = vec![ev("ping", "a\nb", None, None)];
        for body in [
            &b"event: ping\r\ndata: a\r\ndata: b\r\n\r\n"[..],
            b"event: ping\rdata: a\rdata: b\r\r",
            b"event: ping\ndata: a\rdata: b\r\n\n",
            b"\xEF\xBB\xBFevent: ping\ndata: a\ndata: b\n\n",
        ] {
            assert_eq!(
                parse_all(body),
                expected,
                "{:?}",
                String::from_utf8_lossy(body)
            );
        }
        // Only one BOM is stripped; a second one is part of the field name.
        assert_eq!(parse_all(b"\xEF\xBB\xBF\xEF\xBB\xBFdata: x\n\n"), vec![]);
        // A BOM split across chunks.
        let mut p = SseParser::new();
        assert!(p.feed(b"\xEF").is_empty());
        assert!(p.feed(b"\xBB").is_empty());
        assert_eq!(
            p.feed(b"\xBFdata: x\n\n"),
            vec![ev("message", "x", None, None)]
        );
        // A stream that starts like a BOM but is not one.
        assert_eq!(parse_all(b"\xEFdata: x\n\ndata: y\n\n").len(), 1);
    }

    #[test]
    fn crlf_split_across_chunks_is_one_terminator() {
        let mut p = SseParser::new();
        let mut events = p.feed(b"data: a\r");
        events.extend(p.feed(b"\ndata: b\r"));
        events.extend(p.feed(b"\n\r"));
        events.extend(p.feed(b"\n"));
        assert_eq!(events, vec![ev("message", "a\nb", None, None)]);
    }

    #[test]
    fn fields_and_ids() {
        // Unknown fields, comments and a field with no colon.
        assert_eq!(
            parse_all(b"foo: bar\n: comment\nevent\ndata\n\n"),
            vec![ev("message", "", None, None)]
        );
        // An id containing NUL is ignored; the last event ID carries over.
        let mut p = SseParser::new();
        let events = p.feed(b"id: 7\ndata: a\n\nid: x\0y\ndata: b\n\ndata: c\n\n");
        assert_eq!(events[0].id.as_deref(), Some("7"));
        assert_eq!(events[1].id, None);
        assert_eq!(events[2].id, None);
        assert_eq!(p.last_event_id(), "7");
        // The event type resets after dispatch, and after a blank line with
        // no data.
        assert_eq!(
            parse_all(b"event: a\n\ndata: x\n\n"),
            vec![ev("message", "x", None, None)]
        );
        // Field names are case-sensitive.
        assert_eq!(parse_all(b"Data: x\n\n"), vec![]);
        // Invalid UTF-8 becomes U+FFFD.
        assert_eq!(parse_all(b"data: \xFF\n\n")[0].data, "\u{FFFD}");
    }

    #[test]
    fn retry_digits_only() {
        let mut p = SseParser::new();
        let events = p.feed(
            b"retry: 10\nretry: 1x\nretry:\nretry: -5\nretry: 99999999999999999999999\ndata: a\n\n",
        );
        assert_eq!(events[0].retry, Some(10));
        assert_eq!(p.retry(), Some(10));
        // retry alone sets the reconnection time without dispatching.
        let mut p = SseParser::new();
        assert!(p.feed(b"retry: 5\n\n").is_empty());
        assert_eq!(p.retry(), Some(5));
    }

    #[test]
    fn clean_end_is_not_unterminated() {
        let mut p = SseParser::new();
        p.feed(b"data: a\n\n: trailing comment\n");
        assert_eq!(p.finish(), SseEnd::default());
        let (events, end) = parse_body(b"data: a\n");
        assert!(events.is_empty());
        assert!(end.unterminated_event);
    }

    #[test]
    fn long_lines_and_events_are_bounded() {
        let mut p = SseParser::with_limits(16, 32);
        let mut events = p.feed(b"data: ");
        events.extend(p.feed(&[b'x'; 100]));
        events.extend(p.feed(b"\n\ndata: ok\n\n"));
        // The overlong line took its event with it; the next event is fine.
        assert_eq!(events, vec![ev("message", "ok", None, None)]);
        assert!(p.line.capacity() <= 16);
        // An overlong comment costs nothing.
        events = p.feed(b":");
        events.extend(p.feed(&[b'c'; 100]));
        events.extend(p.feed(b"\ndata: ok2\n\n"));
        assert_eq!(events, vec![ev("message", "ok2", None, None)]);
        // Many short data lines exceeding the event limit.
        events = p.feed(b"data: 0123456789\ndata: 0123456789\ndata: 0123456789\n\ndata: z\n\n");
        assert_eq!(events, vec![ev("message", "z", None, None)]);
        assert!(p.data.capacity() <= 32);
        let end = p.finish();
        assert_eq!(end.lines_too_long, 2);
        assert_eq!(end.events_dropped, 2);
        assert!(!end.unterminated_event);
    }

    /// A deliberately different, whole-body implementation of the same
    /// algorithm: decode, normalise terminators, split, interpret.
    fn reference(body: &[u8]) -> Vec<SseEvent> {
        let text = String::from_utf8_lossy(body);
        let text = text.strip_prefix('\u{FEFF}').unwrap_or(&text);
        let normalised = text.replace("\r\n", "\n").replace('\r', "\n");
        let mut lines: Vec<&str> = normalised.split('\n').collect();
        lines.pop(); // after the last terminator: an incomplete line
        let (mut data, mut kind, mut id, mut retry) = (String::new(), String::new(), None, None);
        let mut out = Vec::new();
        for line in lines {
            if line.is_empty() {
                if !data.is_empty() {
                    data.pop();
                    out.push(SseEvent {
                        event: if kind.is_empty() {
                            "message".into()
                        } else {
                            kind.clone()
                        },
                        data: data.clone(),
                        id: id.clone(),
                        retry,
                    });
                }
                data.clear();
                kind.clear();
                id = None;
                retry = None;
                continue;
            }
            if line.starts_with(':') {
                continue;
            }
            let (f, v) = line.split_once(':').unwrap_or((line, ""));
            let v = v.strip_prefix(' ').unwrap_or(v);
            match f {
                "event" => kind = v.to_string(),
                "data" => {
                    data.push_str(v);
                    data.push('\n');
                }
                "id" if !v.contains('\0') => id = Some(v.to_string()),
                "retry" if !v.is_empty() && v.bytes().all(|b| b.is_ascii_digit()) => {
                    if let Ok(n) = v.parse() {
                        retry = Some(n);
                    }
                }
                _ => {}
            }
        }
        out
    }

    fn sse_like() -> impl Strategy<Value = Vec<u8>> {
        let piece = prop_oneof![
            Just(b"data".to_vec()),
            Just(b"data: ".to_vec()),
            Just(b"event: ".to_vec()),
            Just(b"id: ".to_vec()),
            Just(b"retry: ".to_vec()),
            Just(b":".to_vec()),
            Just(b"\r".to_vec()),
            Just(b"\n".to_vec()),
            Just(b"\r\n".to_vec()),
            Just(b"\xEF\xBB\xBF".to_vec()),
            Just("é".as_bytes().to_vec()),
            Just(b"\0".to_vec()),
            "[a-z0-9 ]{0,6}".prop_map(String::into_bytes),
            proptest::collection::vec(any::<u8>(), 0..4),
        ];
        proptest::collection::vec(piece, 0..40).prop_map(|v| v.concat())
    }

    proptest! {
        #[test]
        fn splitting_anywhere_gives_the_same_events(
            body in sse_like(),
            cuts in proptest::collection::vec(any::<proptest::sample::Index>(), 0..6),
        ) {
            let whole = parse_all(&body);
            let mut points: Vec<usize> = cuts.iter().map(|c| c.index(body.len() + 1)).collect();
            points.sort_unstable();
            let mut p = SseParser::new();
            let mut events = Vec::new();
            let mut start = 0;
            for cut in points {
                events.extend(p.feed(&body[start..cut]));
                start = cut;
            }
            events.extend(p.feed(&body[start..]));
            prop_assert_eq!(events, whole);
        }

        #[test]
        fn byte_at_a_time_equals_whole(body in sse_like()) {
            let mut p = SseParser::new();
            let events: Vec<SseEvent> = body.iter().flat_map(|b| p.feed(std::slice::from_ref(b))).collect();
            prop_assert_eq!(events, parse_all(&body));
        }

        #[test]
        fn agrees_with_reference_implementation(body in sse_like()) {
            prop_assert_eq!(parse_all(&body), reference(&body));
        }

        #[test]
        fn arbitrary_bytes_never_panic(body in proptest::collection::vec(any::<u8>(), 0..300)) {
            let mut p = SseParser::with_limits(8, 16);
            let _ = p.feed(&body);
            let _ = p.finish();
            let _ = parse_all(&body);
        }
    }
}
