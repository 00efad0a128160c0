//! Which scene the dashboard shows and in which mode, from the page's query
//! string: `?scene=NAME` picks a scene, `?kiosk` (optionally `&rotate=N`
//! seconds) rotates scenes without controls, `?present` is the lecture mode
//! (←/→ between scenes, `f` full screen, high-contrast light theme), and
//! `theme=light|dark` pins a desk or kiosk page's theme ([`pinned_theme`]).

use crate::palette::Theme;

/// A scene of the dashboard.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Scene {
    /// Validation mix and running jobs.
    Overview,
    /// Strip charts of the replayed episode, truth and prediction bands.
    Replay,
    /// Loss and validation-F1 curves per model as they stream.
    Training,
    /// Evaluation results: macro F1 with intervals, per class, confusion.
    Metrics,
    /// Perf series and prediction latency.
    Perf,
    /// The six attack-profile curves.
    Profiles,
    /// A model run in this browser (tract in a Web Worker).
    Browser,
}

impl Scene {
    /// Every scene, in rotation and arrow-key order.
    pub const ALL: [Scene; 7] =
        [Scene::Overview, Scene::Replay, Scene::Training, Scene::Metrics, Scene::Perf, Scene::Profiles, Scene::Browser];

    /// The name used in `?scene=`.
    pub fn as_str(self) -> &'static str {
        match self {
            Scene::Overview => "overview",
            Scene::Replay => "replay",
            Scene::Training => "training",
            Scene::Metrics => "metrics",
            Scene::Perf => "perf",
            Scene::Profiles => "profiles",
            Scene::Browser => "browser",
        }
    }

    /// The heading shown for the scene.
    pub fn title(self) -> &'static str {
        match self {
            Scene::Overview => "Overview",
            Scene::Replay => "Replay",
            Scene::Training => "Training",
            Scene::Metrics => "Metrics",
            Scene::Perf => "Perf",
            Scene::Profiles => "Profiles",
            Scene::Browser => "In browser",
        }
    }

    /// The scene named `name`, if any.
    pub fn from_name(name: &str) -> Option<Scene> {
        Scene::ALL.into_iter().find(|s| s.as_str() == name)
    }

    /// The next scene, wrapping around.
    pub fn next(self) -> Scene {
        let i = Scene::ALL.iter().position(|s| *s == self).unwrap_or(0);
        Scene::ALL[(i + 1) % Scene::ALL.len()]
    }

    /// The previous scene, wrapping around.
    pub fn previous(self) -> Scene {
        let i = Scene::ALL.iter().position(|s| *s == self).unwrap_or(0);
        Scene::ALL[(i + Scene::ALL.len() - 1) % Scene::ALL.len()]
    }
}

/// How the dashboard is being looked at.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Mode {
    /// A desk: dark theme, controls shown.
    Desk,
    /// A kiosk: no controls, the scene changes every `rotate_s` seconds.
    Kiosk {
        /// Seconds per scene.
        rotate_s: f64,
    },
    /// A lecture projector: light high-contrast theme, large type, keys.
    Present,
}

/// Seconds per scene in kiosk mode unless `rotate=` says otherwise.
pub const DEFAULT_ROTATE_S: f64 = 20.0;
/// Shortest rotation accepted (a typo must not make the kiosk flicker).
pub const MIN_ROTATE_S: f64 = 2.0;

/// What the query string asks for.
#[derive(Debug, Clone, PartialEq)]
pub struct Route {
    /// The scene to show first.
    pub scene: Scene,
    /// The mode.
    pub mode: Mode,
    /// The model the browser scene runs (`model=<model>-<variant>`).
    pub model: Option<String>,
    /// Replay strips shown before the user picks channels (`strips=N`);
    /// `None`: as many as fit the screen in the paged layout,
    /// [`DEFAULT_STRIPS`] where the page scrolls.
    pub strips: Option<usize>,
    /// Token the page presents to the hub (`token=`): to publish the
    /// browser scene's runs to a hub started with `--token`, and to read
    /// anything from one started with `--private`. Taken out of the
    /// address bar once read.
    pub hub_token: Option<String>,
    /// Record each WebSocket message's apply-and-render time in
    /// `window.__cis490_frame_ms` (`timing`), for the frame-budget test.
    pub timing: bool,
    /// The theme asked for (`theme=light|dark`); none follows the system
    /// (or, at a desk, the theme picker's choice).
    pub theme: Option<Theme>,
    /// Query problems, shown to the user instead of being ignored silently.
    pub problems: Vec<String>,
}

/// The theme a page is pinned to (`data-theme` on `<html>`), or `None` to
/// follow the system's `prefers-color-scheme`: the lecture mode is always
/// light; a kiosk follows the system unless `theme=` says otherwise; a
/// desk takes `theme=`, else what its theme picker stored.
pub fn pinned_theme(mode: Mode, asked: Option<Theme>, stored: Option<Theme>) -> Option<Theme> {
    match mode {
        Mode::Present => Some(Theme::Light),
        Mode::Kiosk { .. } => asked,
        Mode::Desk => asked.or(stored),
    }
}

/// Replay strips shown by default where the page scrolls (and before the
/// paged layout has measured how many fit).
pub const DEFAULT_STRIPS: usize = 6;

/// Parses `?scene=...&kiosk&rotate=...&present` (with or without the `?`).
pub fn parse(query: &str) -> Route {
    let mut route = Route {
        scene: Scene::Overview,
        mode: Mode::Desk,
        model: None,
        strips: None,
        hub_token: None,
        timing: false,
        theme: None,
        problems: Vec::new(),
    };
    let mut kiosk = false;
    let mut present = false;
    let mut rotate_s = DEFAULT_ROTATE_S;
    for pair in query.trim_start_matches('?').split('&').filter(|p| !p.is_empty()) {
        let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
        match key {
            "scene" => match Scene::from_name(value) {
                Some(scene) => route.scene = scene,
                None => {
                    let known: Vec<&str> = Scene::ALL.iter().map(|s| s.as_str()).collect();
                    route.problems.push(format!("unknown scene {value:?} (known: {})", known.join(", ")));
                }
            },
            "kiosk" => kiosk = true,
            "timing" => route.timing = true,
            "model" if !value.is_empty() => route.model = Some(value.to_string()),
            "token" if !value.is_empty() => route.hub_token = Some(percent_decoded(value)),
            "token" => route.problems.push("token= is empty; presenting no token to the hub".into()),
            "strips" => match value.parse::<usize>() {
                Ok(n) if n >= 1 => route.strips = Some(n),
                _ => route.problems.push(format!("strips={value:?} is not a count ≥ 1; showing as many as fit")),
            },
            "present" => present = true,
            "theme" => match Theme::from_name(value) {
                Some(theme) => route.theme = Some(theme),
                None => route.problems.push(format!("theme={value:?} is not light or dark; following the system")),
            },
            "rotate" => match value.parse::<f64>() {
                Ok(s) if s.is_finite() && s >= MIN_ROTATE_S => rotate_s = s,
                _ => route.problems.push(format!(
                    "rotate={value:?} is not a number of seconds ≥ {MIN_ROTATE_S}; using {DEFAULT_ROTATE_S}"
                )),
            },
            _ => {}
        }
    }
    route.mode = match (kiosk, present) {
        (true, _) => Mode::Kiosk { rotate_s },
        (false, true) => Mode::Present,
        (false, false) => Mode::Desk,
    };
    if kiosk && present {
        route.problems.push("kiosk and present both given; kiosk wins".into());
    }
    if route.mode == Mode::Present && route.theme == Some(Theme::Dark) {
        route.problems.push("theme=dark is ignored in the lecture mode, which is always light".into());
    }
    route
}

/// `value` with `%XX` escapes (and `+` as a space) decoded, as a query
/// value arrives from the address bar; invalid escapes are kept as they are.
fn percent_decoded(value: &str) -> String {
    let bytes = value.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = |b: u8| (b as char).to_digit(16);
        match bytes[i] {
            b'%' if i + 2 < bytes.len() => match (hex(bytes[i + 1]), hex(bytes[i + 2])) {
                (Some(hi), Some(lo)) => {
                    out.push((hi * 16 + lo) as u8);
                    i += 3;
                    continue;
                }
                _ => out.push(b'%'),
            },
            b'+' => out.push(b' '),
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The query string without its `token=` parameter (kept out of the
/// address bar and of shared links).
pub fn without_token(query: &str) -> String {
    query
        .trim_start_matches('?')
        .split('&')
        .filter(|p| !p.is_empty() && !p.starts_with("token="))
        .collect::<Vec<_>>()
        .join("&")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_hub_token_is_read_decoded_and_kept_out_of_the_address_bar() {
        assert_eq!(parse("?scene=browser&token=lab%2Fpi%20one").hub_token.as_deref(), Some("lab/pi one"));
        assert_eq!(parse("?token=a+b%zz%4").hub_token.as_deref(), Some("a b%zz%4"));
        assert_eq!(parse("?scene=browser").hub_token, None);
        let empty = parse("?token=");
        assert_eq!((empty.hub_token, empty.problems.len()), (None, 1));
        assert_eq!(
            without_token("?scene=browser&token=s3cret&model=mlp-realistic"),
            "scene=browser&model=mlp-realistic"
        );
    }

    #[test]
    fn scenes_and_modes_from_the_query() {
        assert_eq!(
            parse(""),
            Route {
                scene: Scene::Overview,
                mode: Mode::Desk,
                model: None,
                strips: None,
                hub_token: None,
                timing: false,
                theme: None,
                problems: vec![]
            }
        );
        assert_eq!(parse("?scene=replay&strips=46&timing").strips, Some(46));
        assert!(parse("?timing").timing);
        assert_eq!(parse("?scene=browser&model=mlp-oracle").model.as_deref(), Some("mlp-oracle"));
        assert_eq!(parse("?strips=0").problems.len(), 1);
        assert_eq!(parse("?scene=metrics").scene, Scene::Metrics);
        assert_eq!(parse("?kiosk").mode, Mode::Kiosk { rotate_s: DEFAULT_ROTATE_S });
        assert_eq!(parse("kiosk&rotate=5&scene=training").mode, Mode::Kiosk { rotate_s: 5.0 });
        assert_eq!(parse("?present&scene=training").mode, Mode::Present);
        assert_eq!(parse("?present").scene, Scene::Overview);
    }

    #[test]
    fn bad_queries_are_reported_not_ignored() {
        let r = parse("?scene=nope&kiosk&rotate=0.1");
        assert_eq!(r.scene, Scene::Overview);
        assert_eq!(r.mode, Mode::Kiosk { rotate_s: DEFAULT_ROTATE_S });
        assert_eq!(r.problems.len(), 2, "{:?}", r.problems);
        assert!(r.problems[0].contains("nope") && r.problems[0].contains("metrics"));
        assert_eq!(parse("?kiosk&present").problems.len(), 1);
    }

    #[test]
    fn the_theme_is_asked_for_stored_or_the_system_s() {
        assert_eq!(parse("?theme=light").theme, Some(Theme::Light));
        assert_eq!(parse("?kiosk&theme=dark").theme, Some(Theme::Dark));
        let bad = parse("?theme=sepia");
        assert_eq!((bad.theme, bad.problems.len()), (None, 1));
        assert_eq!(parse("?present&theme=dark").problems.len(), 1);
        assert_eq!(parse("?present&theme=light").problems.len(), 0);
        let kiosk = Mode::Kiosk { rotate_s: DEFAULT_ROTATE_S };
        let (light, dark) = (Some(Theme::Light), Some(Theme::Dark));
        assert_eq!(pinned_theme(Mode::Present, dark, dark), light);
        assert_eq!(pinned_theme(kiosk, None, dark), None, "a kiosk ignores a desk's stored choice");
        assert_eq!(pinned_theme(kiosk, light, None), light);
        assert_eq!(pinned_theme(Mode::Desk, None, None), None);
        assert_eq!(pinned_theme(Mode::Desk, None, dark), dark);
        assert_eq!(pinned_theme(Mode::Desk, light, dark), light, "the link's theme= wins");
    }

    #[test]
    fn scenes_wrap_both_ways() {
        for s in Scene::ALL {
            assert_eq!(s.next().previous(), s);
            assert_eq!(Scene::from_name(s.as_str()), Some(s));
        }
        assert_eq!(Scene::Browser.next(), Scene::Overview);
        assert_eq!(Scene::Overview.previous(), Scene::Browser);
        assert_eq!(Scene::Overview.next(), Scene::Replay);
    }
}
