//! Today's date as the note editor wants it.

/// `YYYY-MM-DD` in the practitioner's local time zone: a session on the
/// evening of the 3rd is a session on the 3rd, whatever UTC says.
pub fn today() -> String {
    let now = js_sys::Date::new_0();
    format_ymd(now.get_full_year(), now.get_month() + 1, now.get_date())
}

/// `month` is 1-based.
pub fn format_ymd(year: u32, month: u32, day: u32) -> String {
    format!("{year:04}-{month:02}-{day:02}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_are_zero_padded_for_date_inputs() {
        assert_eq!(format_ymd(2026, 3, 7), "2026-03-07");
    }
}
