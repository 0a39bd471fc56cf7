//! The `message` template: literal text with `{field}` placeholders and `{{`/`}}` escapes.

/// A piece of a parsed template.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum Piece {
    /// Literal text, escapes resolved.
    Text(String),
    /// A placeholder's name.
    Field(String),
}

/// Parses a template into its pieces, and says what is wrong with it: every problem, not only
/// the first. A placeholder with a format spec (`{x:?}`) is reported and still yields its
/// field, so that its name is checked too.
pub(super) fn parse(template: &str) -> (Vec<Piece>, Vec<String>) {
    let mut pieces = Vec::new();
    let mut problems = Vec::new();
    let mut text = String::new();
    let mut at = 0;
    while let Some(c) = template[at..].chars().next() {
        let rest = &template[at..];
        if rest.starts_with("{{") || rest.starts_with("}}") {
            text.push(c);
            at += 2;
            continue;
        }
        match c {
            '{' => {
                let close = rest[1..]
                    .find(['{', '}'])
                    .map(|i| i + 1)
                    .filter(|&i| rest.as_bytes()[i] == b'}');
                let Some(close) = close else {
                    problems.push(format!(
                        "the `{{` {} is never closed: write `{{field}}` for a field's value, or \
                         `{{{{` for a literal brace",
                        place(template, at)
                    ));
                    text.push('{');
                    at += 1;
                    continue;
                };
                let inner = rest[1..close].trim();
                at += close + 1;
                let name = match inner.split_once(':') {
                    Some((name, _)) => {
                        let name = name.trim();
                        problems.push(format!(
                            "`{{{inner}}}` in `message`: format specs are not supported; write \
                             `{{{name}}}`"
                        ));
                        name
                    }
                    None => inner,
                };
                if name.is_empty() {
                    problems.push(format!(
                        "`{{{inner}}}` in `message` names no field: write `{{field}}` with a \
                         field's name, or `{{actor}}`"
                    ));
                    continue;
                }
                if !is_identifier(name) {
                    problems.push(format!(
                        "`{{{inner}}}` in `message` is not a field name: placeholders are field \
                         names, like `{{quantity}}`, or `{{actor}}`"
                    ));
                    continue;
                }
                if !text.is_empty() {
                    pieces.push(Piece::Text(std::mem::take(&mut text)));
                }
                pieces.push(Piece::Field(name.to_owned()));
            }
            '}' => {
                problems.push(format!(
                    "the `}}` {} closes nothing: write `}}}}` for a literal brace",
                    place(template, at)
                ));
                text.push('}');
                at += 1;
            }
            c => {
                text.push(c);
                at += c.len_utf8();
            }
        }
    }
    if !text.is_empty() {
        pieces.push(Piece::Text(text));
    }
    (pieces, problems)
}

/// Where byte `at` of the template is, for a message: `after `{actor} bought ``.
fn place(template: &str, at: usize) -> String {
    let before = &template[..at];
    if before.is_empty() {
        return "at the start of `message`".to_owned();
    }
    let chars = before.chars().count();
    let tail: String = before.chars().skip(chars.saturating_sub(20)).collect();
    let ellipsis = if chars > 20 { "..." } else { "" };
    format!("after `{ellipsis}{tail}` in `message`")
}

fn is_identifier(s: &str) -> bool {
    let s = s.strip_prefix("r#").unwrap_or(s);
    let mut chars = s.chars();
    chars.next().is_some_and(|c| c == '_' || c.is_alphabetic())
        && chars.all(|c| c == '_' || c.is_alphanumeric())
}

#[cfg(test)]
mod tests {
    use super::{Piece, parse};

    #[test]
    fn pieces_and_escapes() {
        let (pieces, problems) = parse("{actor} bought {{{quantity}}} of {widget}");
        assert_eq!(problems, Vec::<String>::new());
        assert_eq!(
            pieces,
            vec![
                Piece::Field("actor".into()),
                Piece::Text(" bought {".into()),
                Piece::Field("quantity".into()),
                Piece::Text("} of ".into()),
                Piece::Field("widget".into()),
            ]
        );
        assert_eq!(parse(""), (vec![], vec![]));
        assert_eq!(
            parse("é{ x }ü").0,
            vec![
                Piece::Text("é".into()),
                Piece::Field("x".into()),
                Piece::Text("ü".into())
            ]
        );
    }

    #[test]
    fn errors() {
        for bad in [
            "{", "{actor", "}", "{}", "{x:?}", "{a b}", "{1}", "a}b", "{a{b}",
        ] {
            assert!(!parse(bad).1.is_empty(), "{bad}");
        }
    }

    #[test]
    fn every_problem_is_reported() {
        let (pieces, problems) = parse("{actor bought {widget:?} for {} }");
        assert_eq!(problems.len(), 4, "{problems:#?}");
        assert!(problems[0].contains("at the start"), "{}", problems[0]);
        assert!(problems[1].contains("format specs"), "{}", problems[1]);
        assert!(problems[2].contains("names no field"), "{}", problems[2]);
        assert!(problems[3].contains("closes nothing"), "{}", problems[3]);
        assert!(pieces.contains(&Piece::Field("widget".into())));
    }
}
