//! Bar charts drawn as inline SVG on the server: no script, no library, nothing fetched. Each
//! chart has a text alternative (its title and a table-like description) for screen readers.

use std::fmt::Write;

use super::html::esc;

/// One bar: its label (shown on hover and read by screen readers), and its stacked parts.
pub struct Bar {
    /// What the bar stands for (`13:05`, `1–2 s`).
    pub label: String,
    /// Parts from the bottom up: (CSS class, value).
    pub parts: Vec<(&'static str, i64)>,
}

const WIDTH: i64 = 600;
const HEIGHT: i64 = 140;

/// A stacked bar chart of `bars`, titled `title`, with `legend` naming each part's class.
pub fn bars(title: &str, bars: &[Bar], legend: &[(&'static str, &str)]) -> String {
    let max = bars
        .iter()
        .map(|b| b.parts.iter().map(|p| p.1).sum::<i64>())
        .max()
        .unwrap_or(0)
        .max(1);
    let count = i64::try_from(bars.len()).unwrap_or(1).max(1);
    let slot = (WIDTH / count).max(1);
    let mut svg = String::new();
    let summary: Vec<String> = bars
        .iter()
        .map(|b| {
            let total: i64 = b.parts.iter().map(|p| p.1).sum();
            format!("{}: {total}", b.label)
        })
        .collect();
    let _ = write!(
        svg,
        r#"<figure class="chart"><figcaption>{title}</figcaption>
<svg viewBox="0 0 {WIDTH} {h}" role="img" aria-label="{aria}" preserveAspectRatio="none">"#,
        title = esc(title),
        h = HEIGHT + 2,
        aria = esc(&format!("{title}. {}", summary.join(", ")))
    );
    for (i, bar) in bars.iter().enumerate() {
        let x = i64::try_from(i).unwrap_or(0) * slot;
        let mut y = HEIGHT;
        for (class, value) in &bar.parts {
            let h = value * HEIGHT / max;
            if h == 0 {
                continue;
            }
            y -= h;
            let _ = write!(
                svg,
                r#"<rect class="{class}" x="{x}" y="{y}" width="{w}" height="{h}"><title>{label}: {value}</title></rect>"#,
                w = (slot - 2).max(1),
                label = esc(&bar.label)
            );
        }
    }
    let _ = write!(
        svg,
        r#"<line class="axis" x1="0" y1="{HEIGHT}" x2="{WIDTH}" y2="{HEIGHT}"></line></svg>"#
    );
    if bars.is_empty() {
        svg.push_str(r#"<p class="empty">Nothing in this window yet.</p>"#);
    }
    svg.push_str(r#"<ul class="legend">"#);
    for (class, name) in legend {
        let _ = write!(
            svg,
            r#"<li><span class="swatch {class}"></span>{}</li>"#,
            esc(name)
        );
    }
    let _ = write!(svg, "<li>highest bar: {max}</li></ul></figure>");
    svg
}
