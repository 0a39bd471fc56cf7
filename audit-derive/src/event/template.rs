//! The `message` template: literal text with `{field}` placeholders and `{{`/`}}` escapes.

/// A piece of a parsed template.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum Piece {
    /// Literal text, escapes resolved.
    Text(String),
    /// A placeholder's name.
    Field(String),
}

/// Parses a template, or says what is wrong with it.
pub(super) fn parse(template: &str) -> Result<Vec<Piece>, String> {
    let mut pieces = Vec::new();
    let mut text = String::new();
    let mut chars = template.char_indices().peekable();
    while let Some((at, c)) = chars.next() {
        match c {
            '{' if chars.peek().is_some_and(|&(_, n)| n == '{') => {
                chars.next();
                text.push('{');
            }
            '}' if chars.peek().is_some_and(|&(_, n)| n == '}') => {
                chars.next();
                text.push('}');
            }
            '{' => {
                let mut name = String::new();
                let mut closed = false;
                for (_, n) in chars.by_ref() {
                    if n == '}' {
                        closed = true;
                        break;
                    }
                    name.push(n);
                }
                if !closed {
                    return Err(format!(
                        "the `{{` at byte {at} of `message` is never closed: write `{{field}}` \
                         for a field's value, or `{{{{` for a literal brace"
                    ));
                }
                let name = name.trim();
                if name.is_empty() {
                    return Err(
                        "`{}` in `message` names no field: write `{field}` with a field's name, \
                         or `{actor}`"
                            .to_owned(),
                    );
                }
                if let Some((field, _)) = name.split_once(':') {
                    return Err(format!(
                        "`{{{name}}}` in `message`: format specs are not supported; write \
                         `{{{}}}`",
                        field.trim()
                    ));
                }
                if !is_identifier(name) {
                    return Err(format!(
                        "`{{{name}}}` in `message` is not a field name: placeholders are field \
                         names, like `{{quantity}}`, or `{{actor}}`"
                    ));
                }
                if !text.is_empty() {
                    pieces.push(Piece::Text(std::mem::take(&mut text)));
                }
                pieces.push(Piece::Field(name.to_owned()));
            }
            '}' => {
                return Err(format!(
                    "the `}}` at byte {at} of `message` closes nothing: write `}}}}` for a literal \
                     brace"
                ));
            }
            c => text.push(c),
        }
    }
    if !text.is_empty() {
        pieces.push(Piece::Text(text));
    }
    Ok(pieces)
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
        assert_eq!(
            parse("{actor} bought {{{quantity}}} of {widget}").unwrap(),
            vec![
                Piece::Field("actor".into()),
                Piece::Text(" bought {".into()),
                Piece::Field("quantity".into()),
                Piece::Text("} of ".into()),
                Piece::Field("widget".into()),
            ]
        );
        assert_eq!(parse("").unwrap(), vec![]);
    }

    #[test]
    fn errors() {
        for bad in ["{", "{actor", "}", "{}", "{x:?}", "{a b}", "{1}"] {
            assert!(parse(bad).is_err(), "{bad}");
        }
    }
}
