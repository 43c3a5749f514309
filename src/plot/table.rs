//! The one HTML table builder of the crate: numbers and formulas a notebook shows as a table
//! rather than printed text.

use super::Html;

/// An HTML table from a header row and rows of already formatted cells; every cell is
/// escaped, so `<`, `>` and `&` in formulas show as written.
pub fn table(headers: &[&str], rows: &[Vec<String>]) -> Html {
    let escape = |s: &str| {
        s.replace('&', "&amp;")
            .replace('<', "&lt;")
            .replace('>', "&gt;")
    };
    let cell = |tag: &str, s: &str| {
        format!("<{tag} style=\"padding:2px 10px\">{}</{tag}>", escape(s))
    };
    let head: String = headers.iter().map(|h| cell("th", h)).collect();
    let body: String = rows
        .iter()
        .map(|r| format!("<tr>{}</tr>", r.iter().map(|c| cell("td", c)).collect::<String>()))
        .collect();
    Html(format!(
        "<table style=\"border-collapse:collapse\"><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cells_are_escaped_and_rows_kept_in_order() {
        let Html(html) = table(&["a < b", "x"], &[vec!["1 & 2".into(), "<i>".into()], vec!["3".into(), "4".into()]]);
        assert!(html.contains("a &lt; b") && html.contains("1 &amp; 2") && html.contains("&lt;i&gt;"));
        assert!(!html.contains("<i>"));
        assert!(html.find(">1 &amp; 2<").unwrap() < html.find(">3<").unwrap());
        assert_eq!(html.matches("<tr>").count(), 3);
    }
}
