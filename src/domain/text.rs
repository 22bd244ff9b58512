//! Text rules shared by every layer.

/// Cuts echoed input (a client's value, a receiver's error) so a message stays readable and
/// bounded: at most `max_chars` characters, then `…`.
pub fn truncate(text: &str, max_chars: usize) -> String {
    let mut out: String = text.chars().take(max_chars).collect();
    if text.chars().count() > max_chars {
        out.push('…');
    }
    out
}
