//! Topic-exchange pattern matching with RabbitMQ's rules.

/// Whether a binding `pattern` matches a `routing_key`, as a RabbitMQ topic
/// exchange decides it. Both are dot-separated words; in the pattern `*`
/// stands for exactly one word and `#` for zero or more words. Everything
/// else must match word for word (`payment.*` matches `payment.succeeded`
/// but neither `payment` nor `payment.refund.created`; `payment.#` matches
/// all three).
pub fn topic_matches(pattern: &str, routing_key: &str) -> bool {
    let pattern: Vec<&str> = pattern.split('.').collect();
    let key: Vec<&str> = routing_key.split('.').collect();
    matches_words(&pattern, &key)
}

/// Dynamic programming over (pattern prefix, key prefix) instead of naive
/// backtracking, so patterns with several `#` stay linear-ish in practice and
/// never blow up.
fn matches_words(pattern: &[&str], key: &[&str]) -> bool {
    // can[j] == "pattern[..i] matches key[..j]" for the current i.
    let mut can = vec![false; key.len() + 1];
    can[0] = true;
    for word in pattern {
        let mut next = vec![false; key.len() + 1];
        match *word {
            "#" => {
                // `#` extends any reachable prefix by zero or more words.
                let mut reachable = false;
                for j in 0..=key.len() {
                    reachable |= can[j];
                    next[j] = reachable;
                }
            }
            "*" => {
                // Consume exactly one word: shift every reachable prefix.
                next[1..].copy_from_slice(&can[..key.len()]);
            }
            literal => {
                for j in 1..=key.len() {
                    next[j] = can[j - 1] && key[j - 1] == literal;
                }
            }
        }
        can = next;
    }
    can[key.len()]
}

#[cfg(test)]
mod tests {
    use super::topic_matches;

    #[test]
    fn matching_table() {
        let table = [
            // exact
            ("payment.succeeded", "payment.succeeded", true),
            ("payment.succeeded", "payment.failed", false),
            ("payment.succeeded", "payment.succeeded.extra", false),
            ("payment", "payment.succeeded", false),
            // `*` is exactly one word
            ("payment.*", "payment.succeeded", true),
            ("payment.*", "payment", false),
            ("payment.*", "payment.refund.created", false),
            ("*.succeeded", "payment.succeeded", true),
            ("*.succeeded", "succeeded", false),
            ("*.*", "a.b", true),
            ("*.*", "a.b.c", false),
            ("*", "payment", true),
            // `#` is zero or more words
            ("#", "payment.succeeded", true),
            ("#", "payment", true),
            ("payment.#", "payment", true),
            ("payment.#", "payment.succeeded", true),
            ("payment.#", "payment.refund.created", true),
            ("payment.#", "payments.succeeded", false),
            ("#.created", "created", true),
            ("#.created", "payment.refund.created", true),
            ("#.created", "payment.created.late", false),
            ("a.#.z", "a.z", true),
            ("a.#.z", "a.b.c.z", true),
            ("a.#.z", "a.b.c", false),
            ("#.b.#", "a.b.c", true),
            ("#.b.#", "b", true),
            ("#.b.#", "a.c", false),
            ("a.*.#", "a", false),
            ("a.*.#", "a.b", true),
            ("a.*.#", "a.b.c.d", true),
            ("#.#", "a.b", true),
            // wildcards only count as whole words
            ("pay*", "payment", false),
            ("payment.#", "payment.x#", true),
        ];
        for (pattern, key, expected) in table {
            assert_eq!(
                topic_matches(pattern, key),
                expected,
                "pattern {pattern:?} vs key {key:?}"
            );
        }
    }
}
