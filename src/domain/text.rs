//! Text rules shared by every layer.

/// A link's `username` as Fintoc shows it: a Chilean RUT without dots or hyphen and with an
/// upper-case check digit (`11.111.111-1` and `11111111-1` are `111111111`, as in Fintoc's
/// link example). Any other login (an RFC, an email, a customer number) is only trimmed: a dot
/// or a hyphen may be part of it. The bank is always sent the login as the holder typed it.
pub fn normalize_username(username: &str) -> String {
    let trimmed = username.trim();
    let compact: String = trimmed
        .chars()
        .filter(|c| !matches!(c, '.' | '-' | ' '))
        .collect();
    let (body, check) = compact.split_at(compact.len().saturating_sub(1));
    let is_rut = trimmed
        .chars()
        .all(|c| c.is_ascii_digit() || ".- kK".contains(c))
        && (7..=8).contains(&body.len())
        && body.bytes().all(|b| b.is_ascii_digit())
        && check.len() == 1
        && check
            .chars()
            .all(|c| c.is_ascii_digit() || c == 'k' || c == 'K');
    if is_rut {
        compact.to_ascii_uppercase()
    } else {
        trimmed.to_owned()
    }
}

/// Cuts echoed input (a client's value, a receiver's error) so a message stays readable and
/// bounded: at most `max_chars` characters, then `…`.
pub fn truncate(text: &str, max_chars: usize) -> String {
    let mut out: String = text.chars().take(max_chars).collect();
    if text.chars().count() > max_chars {
        out.push('…');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ruts_lose_their_dots_and_hyphen_and_other_logins_only_blanks() {
        for (typed, shown) in [
            ("11.111.111-1", "111111111"),
            ("41614850-3", "416148503"),
            (" 76.086.428-k ", "76086428K"),
            ("7.654.321-0", "76543210"),
            ("SAND800101AB1", "SAND800101AB1"),
            ("ana.perez@example.com", "ana.perez@example.com"),
            ("12-34", "12-34"),
            ("1234567890123-4", "1234567890123-4"),
            ("  holder ", "holder"),
        ] {
            assert_eq!(normalize_username(typed), shown, "{typed:?}");
        }
    }
}
