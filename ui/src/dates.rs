//! Today's date as the note editor wants it.

/// `YYYY-MM-DD` in the practitioner's local time zone: a session on the
/// evening of the 3rd is a session on the 3rd, whatever UTC says.
pub fn today() -> String {
    let now = js_sys::Date::new_0();
    format_ymd(now.get_full_year(), now.get_month() + 1, now.get_date())
}

/// A local date (`YYYY-MM-DD`) and time (`HH:MM`) as RFC 3339 UTC, for
/// the server; `None` when either does not parse.
pub fn local_to_utc(date: &str, time: &str) -> Option<String> {
    let mut d = date.split('-').map(|p| p.parse::<i32>().ok());
    let (y, m, day) = (d.next()??, d.next()??, d.next()??);
    let mut t = time.split(':').map(|p| p.parse::<i32>().ok());
    let (h, min) = (t.next()??, t.next()??);
    let local = js_sys::Date::new_with_year_month_day_hr_min(y as u32, m - 1, day, h, min);
    if local.get_time().is_nan() {
        return None;
    }
    Some(String::from(local.to_iso_string()))
}

/// An RFC 3339 time as the local date and `HH:MM`, for display.
pub fn utc_to_local(rfc3339: &str) -> (String, String) {
    let t = js_sys::Date::new(&wasm_bindgen::JsValue::from_str(rfc3339));
    if t.get_time().is_nan() {
        return (rfc3339.to_owned(), String::new());
    }
    (
        format_ymd(t.get_full_year(), t.get_month() + 1, t.get_date()),
        format!("{:02}:{:02}", t.get_hours(), t.get_minutes()),
    )
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
