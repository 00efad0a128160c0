//! Heat tables (per-class F1, per-profile and per-host scores, the
//! paired-significance matrix, the confusion matrix) as HTML text. The
//! metrics scene draws ~500 cells at once; building them as text and
//! letting the browser's parser make the nodes (`inner_html`) is several
//! times faster than creating each node from wasm, which kept the scene
//! switch over its 100 ms budget. Every text is escaped here. Pure:
//! unit-tested natively.

use std::fmt::Write;

use crate::palette;

/// One cell of a heat table.
#[derive(Debug, Clone, PartialEq)]
pub struct HeatCell {
    /// What the cell shows.
    pub text: String,
    /// CSS class that colours it (`palette`: a heat step, `better`,
    /// `worse`), empty for none.
    pub shade: &'static str,
    /// Tooltip with the whole numbers.
    pub title: String,
}

impl HeatCell {
    /// A cell shaded by `share` (0–1, a stronger blue is more).
    pub fn shaded(text: String, share: f64, title: String) -> HeatCell {
        HeatCell { text, shade: palette::heat_class(share), title }
    }

    /// An empty cell (no such number), greyed.
    pub fn missing(title: &str) -> HeatCell {
        HeatCell { text: "–".into(), shade: "", title: title.into() }
    }
}

/// `text` safe inside an element or a double- or single-quoted attribute.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// A `<table class="heatmap">` with `corner` and `columns` as its header
/// row and one row per `(header, cells)`.
pub fn html(corner: &str, columns: &[String], rows: &[(String, Vec<HeatCell>)]) -> String {
    let mut out = String::with_capacity(64 + rows.len() * columns.len() * 96);
    let _ = write!(out, "<table class=\"heatmap\"><thead><tr><th>{}</th>", escape(corner));
    for column in columns {
        let _ = write!(out, "<th scope=\"col\">{}</th>", escape(column));
    }
    out.push_str("</tr></thead><tbody>");
    for (header, cells) in rows {
        let _ = write!(out, "<tr><th scope=\"row\">{}</th>", escape(header));
        for cell in cells {
            let muted = if cell.shade.is_empty() && cell.text == "–" { " muted" } else { "" };
            let space = if cell.shade.is_empty() { "" } else { " " };
            let _ = write!(
                out,
                "<td class=\"num{muted}{space}{}\" title=\"{}\">{}</td>",
                cell.shade,
                escape(&cell.title),
                escape(&cell.text)
            );
        }
        out.push_str("</tr>");
    }
    out.push_str("</tbody></table>");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tables_are_built_with_every_text_escaped() {
        let rows = vec![
            ("gbt-realistic".to_string(), vec![HeatCell::shaded("0.90".into(), 0.9, "a \"b\" <c> & d's".into())]),
            ("<script>".to_string(), vec![HeatCell::missing("not scored")]),
        ];
        let table = html("truth \\ predicted", &["io-walk & co".to_string()], &rows);
        assert_eq!(
            table,
            "<table class=\"heatmap\"><thead><tr><th>truth \\ predicted</th><th scope=\"col\">io-walk &amp; co</th></tr></thead>\
             <tbody><tr><th scope=\"row\">gbt-realistic</th><td class=\"num heat-8\" \
             title=\"a &quot;b&quot; &lt;c&gt; &amp; d&#39;s\">0.90</td></tr>\
             <tr><th scope=\"row\">&lt;script&gt;</th><td class=\"num muted\" title=\"not scored\">–</td></tr></tbody></table>"
        );
    }
}
