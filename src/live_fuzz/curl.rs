//! A ready curl command for a request, quoted for POSIX shells (bash, zsh).
//!
//! The command sends the same method, URL, headers and body byte for byte:
//! `--globoff` and `--path-as-is` stop curl from rewriting the URL, and a
//! content type the request did not have is switched off, since curl would
//! otherwise add its own to a body. Values the run must not print (the
//! access token, the session id, a fresh authorization code) are replaced
//! by shell variables (`"$ACCESS_TOKEN"`) that the user sets first; what
//! the fuzzer made up, forged tokens included, is printed as sent.

use crate::http::Request;

/// A secret value of the run and the shell variable that stands for it.
#[derive(Debug, Clone)]
pub struct Placeholder {
    pub value: String,
    pub var: &'static str,
}

/// Quotes `s` as one shell word: single quotes, or `$'...'` with escapes
/// when it holds control characters (which single quotes would keep but a
/// reader could not see).
pub fn quote(s: &str) -> String {
    if s.is_empty() {
        return "''".into();
    }
    if s.chars().any(|c| c.is_control()) {
        let mut out = String::from("$'");
        for c in s.chars() {
            match c {
                '\\' => out.push_str("\\\\"),
                '\'' => out.push_str("\\'"),
                '\n' => out.push_str("\\n"),
                '\r' => out.push_str("\\r"),
                '\t' => out.push_str("\\t"),
                c if c.is_control() => {
                    let mut buf = [0u8; 4];
                    for b in c.encode_utf8(&mut buf).bytes() {
                        out.push_str(&format!("\\x{b:02x}"));
                    }
                }
                c => out.push(c),
            }
        }
        out.push('\'');
        return out;
    }
    let safe = s.chars().all(|c| {
        c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | '/' | ':' | '=' | ',' | '@')
    });
    if safe {
        return s.to_owned();
    }
    format!("'{}'", s.replace('\'', "'\\''"))
}

/// One shell word for `s`, with every placeholder value replaced by its
/// variable (`"$VAR"`), the rest quoted by [`quote`].
pub fn word(s: &str, placeholders: &[Placeholder]) -> String {
    let mut out = String::new();
    let mut rest = s;
    loop {
        let next = placeholders
            .iter()
            .filter(|p| !p.value.is_empty())
            .filter_map(|p| rest.find(&p.value).map(|i| (i, p)))
            .min_by_key(|(i, p)| (*i, usize::MAX - p.value.len()));
        match next {
            Some((i, p)) => {
                if i > 0 {
                    out.push_str(&quote(&rest[..i]));
                }
                out.push_str(&format!("\"${}\"", p.var));
                rest = &rest[i + p.value.len()..];
            }
            None => {
                if !rest.is_empty() || out.is_empty() {
                    out.push_str(&quote(rest));
                }
                return out;
            }
        }
    }
}

/// The curl command for `req`.
pub fn command(req: &Request, placeholders: &[Placeholder]) -> String {
    let mut args: Vec<String> = vec![
        "curl".into(),
        "-i".into(),
        "--globoff".into(),
        "--path-as-is".into(),
    ];
    let has_body = !req.body.is_empty();
    if req.method != "GET" || has_body {
        args.push("-X".into());
        args.push(word(&req.method, placeholders));
    }
    let mut saw_content_type = false;
    for (name, value) in &req.headers {
        saw_content_type |= name.eq_ignore_ascii_case("content-type");
        // `Name;` sends an empty header; `Name:` would remove it.
        let h = if value.is_empty() {
            format!("{name};")
        } else {
            format!("{name}: {value}")
        };
        args.push("-H".into());
        args.push(word(&h, placeholders));
    }
    if has_body && !saw_content_type {
        args.push("-H".into());
        args.push(quote("Content-Type:"));
    }
    if has_body {
        args.push("--data-binary".into());
        let text = String::from_utf8_lossy(&req.body);
        // A body starting with `@` would be read as a file name.
        if text.starts_with('@') {
            args.push("@-".into());
            let mut cmd = format!("printf '%s' {} | ", word(&text, placeholders));
            cmd.push_str(&join(args, &req.url, placeholders));
            return cmd;
        }
        args.push(word(&text, placeholders));
    }
    join(args, &req.url, placeholders)
}

fn join(mut args: Vec<String>, url: &str, placeholders: &[Placeholder]) -> String {
    args.push("--url".into());
    args.push(word(url, placeholders));
    args.join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Splits a command line the way a POSIX shell would, for the quoting
    /// tests (single quotes, `$'...'` with the escapes `quote` emits, double
    /// quotes around variables, which expand from `vars`).
    fn shell_split(cmd: &str, vars: &[(&str, &str)]) -> Vec<String> {
        let mut words = Vec::new();
        let mut cur = String::new();
        let mut in_word = false;
        let chars: Vec<char> = cmd.chars().collect();
        let mut i = 0;
        while i < chars.len() {
            let c = chars[i];
            match c {
                ' ' => {
                    if in_word {
                        words.push(std::mem::take(&mut cur));
                        in_word = false;
                    }
                    i += 1;
                }
                '\'' => {
                    in_word = true;
                    i += 1;
                    while chars[i] != '\'' {
                        cur.push(chars[i]);
                        i += 1;
                    }
                    i += 1;
                }
                '$' if chars.get(i + 1) == Some(&'\'') => {
                    in_word = true;
                    i += 2;
                    let mut bytes = Vec::new();
                    while chars[i] != '\'' {
                        if chars[i] == '\\' {
                            i += 1;
                            match chars[i] {
                                'n' => bytes.push(b'\n'),
                                'r' => bytes.push(b'\r'),
                                't' => bytes.push(b'\t'),
                                'x' => {
                                    let h: String = chars[i + 1..i + 3].iter().collect();
                                    bytes.push(u8::from_str_radix(&h, 16).unwrap());
                                    i += 2;
                                }
                                c => bytes.extend(c.to_string().bytes()),
                            }
                        } else {
                            bytes.extend(chars[i].to_string().bytes());
                        }
                        i += 1;
                    }
                    cur.push_str(&String::from_utf8(bytes).unwrap());
                    i += 1;
                }
                '\\' => {
                    in_word = true;
                    cur.push(chars[i + 1]);
                    i += 2;
                }
                '"' => {
                    in_word = true;
                    i += 1;
                    let mut name = String::new();
                    assert_eq!(chars[i], '$');
                    i += 1;
                    while chars[i] != '"' {
                        name.push(chars[i]);
                        i += 1;
                    }
                    i += 1;
                    cur.push_str(vars.iter().find(|(n, _)| *n == name).unwrap().1);
                }
                c => {
                    in_word = true;
                    cur.push(c);
                    i += 1;
                }
            }
        }
        if in_word {
            words.push(cur);
        }
        words
    }

    #[test]
    fn quoting_round_trips_through_a_shell_split() {
        for s in [
            "plain",
            "it's",
            "a b",
            "'''",
            "$HOME `x` \"q\" \\",
            "line\nbreak\ttab\r",
            "\u{1}\u{7f}",
            "caf\u{e9} \u{202e}",
            "",
        ] {
            let q = quote(s);
            assert_eq!(shell_split(&q, &[]), vec![s.to_owned()], "{q}");
        }
    }

    #[test]
    fn placeholders_become_variables_and_secrets_never_appear() {
        let secret = "eyJ.secret.sig";
        let req = Request {
            method: "POST".into(),
            url: "http://127.0.0.1:9/mcp?access_token=eyJ.secret.sig&x='y'".into(),
            headers: vec![
                ("authorization".into(), format!("Bearer {secret}")),
                ("mcp-session-id".into(), "".into()),
            ],
            body: b"{\"a\":\"it's\"}".to_vec(),
        };
        let ph = [Placeholder {
            value: secret.into(),
            var: "ACCESS_TOKEN",
        }];
        let cmd = command(&req, &ph);
        assert!(!cmd.contains(secret), "{cmd}");
        let words = shell_split(&cmd, &[("ACCESS_TOKEN", secret)]);
        assert_eq!(
            words,
            vec![
                "curl",
                "-i",
                "--globoff",
                "--path-as-is",
                "-X",
                "POST",
                "-H",
                "authorization: Bearer eyJ.secret.sig",
                "-H",
                "mcp-session-id;",
                "-H",
                "Content-Type:",
                "--data-binary",
                "{\"a\":\"it's\"}",
                "--url",
                "http://127.0.0.1:9/mcp?access_token=eyJ.secret.sig&x='y'",
            ]
        );
    }

    #[test]
    fn a_get_without_body_has_no_method_flag() {
        let req = Request {
            method: "GET".into(),
            url: "http://127.0.0.1:9/authorize?a=b".into(),
            headers: vec![],
            body: vec![],
        };
        assert_eq!(
            command(&req, &[]),
            "curl -i --globoff --path-as-is --url 'http://127.0.0.1:9/authorize?a=b'"
        );
    }
}
