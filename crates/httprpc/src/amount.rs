//! Amounts printed like bitcoind: `50.00000000`.

use serde_json::Value;

/// Satoshis per bitcoin.
pub(crate) const COIN: i64 = 100_000_000;

/// A JSON number with exactly eight decimals, as Core's `ValueFromAmount`
/// prints it (`50.00000000`, `-0.00000001`), never a float such as `50.0`
/// or `0.30000000000000004`.
#[must_use]
pub fn amount(sats: i64) -> Value {
    let sign = if sats < 0 { "-" } else { "" };
    let abs = sats.unsigned_abs();
    let coin = COIN.unsigned_abs();
    let text = format!("{sign}{}.{:08}", abs / coin, abs % coin);
    // With serde_json's arbitrary_precision the number keeps this exact text.
    serde_json::from_str(&text).unwrap_or(Value::Null)
}

/// [`amount`] for a count of satoshis that cannot be negative (fees, UTXO
/// values, totals): every `u64` prints exactly, with no clamping.
#[must_use]
pub fn amount_unsigned(sats: u64) -> Value {
    let coin = COIN.unsigned_abs();
    let text = format!("{}.{:08}", sats / coin, sats % coin);
    serde_json::from_str(&text).unwrap_or(Value::Null)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prints_like_core() {
        assert_eq!(amount(50 * COIN).to_string(), "50.00000000");
        assert_eq!(amount(0).to_string(), "0.00000000");
        assert_eq!(amount(-1).to_string(), "-0.00000001");
        assert_eq!(amount(30_000_000).to_string(), "0.30000000");
        assert_eq!(amount(i64::MAX).to_string(), "92233720368.54775807");
        assert_eq!(amount(i64::MIN).to_string(), "-92233720368.54775808");
        assert_eq!(amount_unsigned(21_000_000 * 100_000_000).to_string(), "21000000.00000000");
        assert_eq!(amount_unsigned(u64::MAX).to_string(), "184467440737.09551615");
        let obj = serde_json::json!({ "value": amount(123_456_789) });
        assert_eq!(obj.to_string(), r#"{"value":1.23456789}"#);
    }
}
