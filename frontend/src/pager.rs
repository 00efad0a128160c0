//! Pages of a scene on a fixed screen. In the paged layout (every mode on
//! a screen at least [`MIN_PAGED_WIDTH`] × [`MIN_PAGED_HEIGHT`]) `<main>`
//! is a CSS multi-column box as tall as the space under the header: the
//! browser flows the scene into columns, and columns past the right edge
//! are the scene's further pages. A page is the screen's width of
//! columns; turning a page scrolls `<main>` sideways by one page (its
//! width plus one column gap). This module is the arithmetic of that,
//! pure so it is unit-tested natively: how many pages a measured box
//! holds, where page `k` starts, and what a key or a kiosk tick does.

/// Narrowest screen laid out in pages; narrower ones (phones) scroll.
pub const MIN_PAGED_WIDTH: f64 = 640.0;
/// Lowest screen laid out in pages.
pub const MIN_PAGED_HEIGHT: f64 = 400.0;

/// A measured paged box: its visible width, the width of everything the
/// columns hold (`scrollWidth`) and the gap between columns, in CSS px.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Columns {
    /// `clientWidth` of the multi-column box.
    pub visible_width: f64,
    /// `scrollWidth` of the multi-column box.
    pub content_width: f64,
    /// `column-gap`.
    pub gap: f64,
}

impl Columns {
    /// How far one page turn scrolls: a page's width plus the gap that
    /// separates its last column from the next page's first.
    pub fn pitch(&self) -> f64 {
        self.visible_width + self.gap
    }

    /// Pages the content fills (at least one). A sliver under 2 px past a
    /// page's edge is rounding, not a page.
    pub fn pages(&self) -> usize {
        let pitch = self.pitch();
        if self.visible_width.is_nan() || self.visible_width <= 0.0 || !self.content_width.is_finite() {
            return 1;
        }
        let spill = (self.content_width + self.gap - 2.0) / pitch;
        (spill.ceil().max(1.0) as usize).min(MAX_PAGES)
    }

    /// `scrollLeft` showing page `page` (0-based).
    pub fn offset_of(&self, page: usize) -> f64 {
        page as f64 * self.pitch()
    }
}

/// More pages than a scene can sensibly have: a runaway measurement is
/// capped here instead of making the kiosk step through thousands.
pub const MAX_PAGES: usize = 64;

/// Whether a screen of `width` × `height` CSS px gets the paged layout.
pub fn is_paged(width: f64, height: f64) -> bool {
    width >= MIN_PAGED_WIDTH && height >= MIN_PAGED_HEIGHT
}

/// What a step forward or back does from page `page` of `pages`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Turn {
    /// Show this page of the same scene.
    Page(usize),
    /// Go to the next scene (its first page).
    NextScene,
    /// Go to the previous scene (its last page).
    PreviousScene,
}

/// Forward (→, PgDn, Space, a kiosk tick): the next page, or the next
/// scene after the last page.
pub fn forward(page: usize, pages: usize) -> Turn {
    if page + 1 < pages { Turn::Page(page + 1) } else { Turn::NextScene }
}

/// Back (←, PgUp): the previous page, or the previous scene from the
/// first page.
pub fn back(page: usize, pages: usize) -> Turn {
    if page == 0 { Turn::PreviousScene } else { Turn::Page((page - 1).min(pages.saturating_sub(1))) }
}

/// "2 / 3", or nothing for a one-page scene.
pub fn indicator(page: usize, pages: usize) -> Option<String> {
    (pages > 1).then(|| format!("{} / {pages}", page.min(pages - 1) + 1))
}

/// Parses a CSS length in px as `getComputedStyle` gives it (`"20px"`);
/// `normal` and anything unreadable is 0.
pub fn css_px(value: &str) -> f64 {
    value.trim().strip_suffix("px").and_then(|v| v.trim().parse::<f64>().ok()).filter(|v| v.is_finite()).unwrap_or(0.0)
}

/// How many equal rows (replay strips) fill a page, from the `current`
/// count as laid out: `room` is the height left under the last thing that
/// must stay on the first page (negative when it is cut off), `pitch` a
/// row's height plus its gap, `spilled` whether that last thing was pushed
/// into a later column. Between 1 and `most`.
pub fn rows_that_fit(current: usize, room: f64, pitch: f64, spilled: bool, most: usize) -> usize {
    let most = most.max(1);
    if spilled {
        return (current - current.div_ceil(4).max(1).min(current)).clamp(1, most);
    }
    if pitch.is_nan() || pitch <= 0.0 || !room.is_finite() {
        return current.clamp(1, most);
    }
    let change = (room / pitch).floor();
    (current as f64 + change).clamp(1.0, most as f64) as usize
}

#[cfg(test)]
mod tests {
    use super::*;

    fn columns(visible: f64, content: f64) -> Columns {
        Columns { visible_width: visible, content_width: content, gap: 20.0 }
    }

    #[test]
    fn pages_count_whole_screens_of_columns() {
        assert_eq!(columns(1000.0, 1000.0).pages(), 1);
        assert_eq!(columns(1000.0, 1001.0).pages(), 1, "a rounding sliver is no page");
        // Two pages: 1000 visible, a 20 px gap, then up to 1000 more.
        assert_eq!(columns(1000.0, 2020.0).pages(), 2);
        assert_eq!(columns(1000.0, 1500.0).pages(), 2);
        assert_eq!(columns(1000.0, 3040.0).pages(), 3);
        assert_eq!(columns(1000.0, 3045.0).pages(), 4);
        assert_eq!(columns(1000.0, 0.0).pages(), 1);
        assert_eq!(columns(0.0, 500.0).pages(), 1, "an unlaid box is one page");
        assert_eq!(columns(1000.0, f64::NAN).pages(), 1);
        assert_eq!(columns(10.0, 1e12).pages(), MAX_PAGES);
        assert_eq!(columns(1000.0, 3040.0).offset_of(2), 2040.0);
    }

    #[test]
    fn turns_go_through_pages_then_scenes() {
        assert_eq!(forward(0, 3), Turn::Page(1));
        assert_eq!(forward(2, 3), Turn::NextScene);
        assert_eq!(forward(0, 1), Turn::NextScene);
        assert_eq!(back(2, 3), Turn::Page(1));
        assert_eq!(back(0, 3), Turn::PreviousScene);
        assert_eq!(back(5, 3), Turn::Page(2), "a page past a shrunken scene steps to its last");
    }

    #[test]
    fn rows_grow_into_room_and_shrink_when_cut() {
        assert_eq!(rows_that_fit(6, 130.0, 40.0, false, 46), 9);
        assert_eq!(rows_that_fit(6, 39.0, 40.0, false, 46), 6, "less than a row of room adds none");
        assert_eq!(rows_that_fit(6, -10.0, 40.0, false, 46), 5, "a cut-off band costs a row");
        assert_eq!(rows_that_fit(6, 4000.0, 40.0, false, 46), 46);
        assert_eq!(rows_that_fit(6, -4000.0, 40.0, false, 46), 1);
        assert_eq!(rows_that_fit(20, 0.0, 40.0, true, 46), 15, "spilled: back off by a quarter");
        assert_eq!(rows_that_fit(1, 0.0, 40.0, true, 46), 1);
        assert_eq!(rows_that_fit(6, 100.0, 0.0, false, 3), 3);
        assert_eq!(rows_that_fit(6, 100.0, 40.0, false, 0), 1);
    }

    #[test]
    fn indicator_and_sizes() {
        assert_eq!(indicator(0, 1), None);
        assert_eq!(indicator(1, 3).as_deref(), Some("2 / 3"));
        assert_eq!(indicator(7, 3).as_deref(), Some("3 / 3"));
        assert!(is_paged(800.0, 480.0));
        assert!(!is_paged(390.0, 844.0), "a phone scrolls");
        assert_eq!(css_px("20px"), 20.0);
        assert_eq!(css_px(" 19.2px "), 19.2);
        assert_eq!(css_px("normal"), 0.0);
    }
}
