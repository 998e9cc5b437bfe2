//! Text for one-line messages, and the text of an absent figure.

/// Text for an absent figure (house rule: absent is `None`, printed as this).
pub const ABSENT: &str = "—";

/// `s` with its control characters escaped (`\n`), so that a key, name or value read from a corrupt file cannot
/// break the one-line error that quotes it.
pub fn one_line(s: &str) -> String {
    s.chars()
        .flat_map(|c| {
            let escaped: Vec<char> = if c.is_control() {
                c.escape_default().collect()
            } else {
                vec![c]
            };
            escaped
        })
        .collect()
}
