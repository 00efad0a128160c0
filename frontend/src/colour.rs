//! Colour arithmetic for the dashboard's palette (`palette`) and its
//! check: sRGB colours, WCAG 2.1 relative luminance and contrast ratio,
//! simulated colour-vision deficiency (Machado, Oliveira & Fernandes 2009,
//! severity 1, applied in linear RGB), CIELAB (D65) and the CIEDE2000
//! colour difference. Pure, so the palette is checked natively.

/// An sRGB colour, 8 bits a channel.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rgb(pub u8, pub u8, pub u8);

/// Pure black (text on light fills).
pub const BLACK: Rgb = Rgb(0, 0, 0);
/// Pure white (text on dark fills).
pub const WHITE: Rgb = Rgb(255, 255, 255);

impl Rgb {
    /// `#rrggbb`.
    pub fn hex(self) -> String {
        format!("#{:02x}{:02x}{:02x}", self.0, self.1, self.2)
    }

    /// The colour written `#rrggbb` or `#rgb` (case-insensitive).
    pub fn parse(text: &str) -> Option<Rgb> {
        let digits = text.strip_prefix('#')?;
        let value = |s: &str| u8::from_str_radix(s, 16).ok();
        match digits.len() {
            6 => Some(Rgb(value(&digits[0..2])?, value(&digits[2..4])?, value(&digits[4..6])?)),
            3 => {
                let short = |i: usize| value(&digits[i..i + 1]).map(|v| v * 17);
                Some(Rgb(short(0)?, short(1)?, short(2)?))
            }
            _ => None,
        }
    }

    /// `self` over `under` at opacity `alpha` (0–1), in sRGB as browsers
    /// composite, rounded to 8 bits.
    pub fn over(self, under: Rgb, alpha: f64) -> Rgb {
        let mix =
            |top: u8, bottom: u8| (f64::from(bottom) + (f64::from(top) - f64::from(bottom)) * alpha).round() as u8;
        Rgb(mix(self.0, under.0), mix(self.1, under.1), mix(self.2, under.2))
    }

    /// Linear-light RGB, each 0–1 (the sRGB transfer function undone).
    pub fn linear(self) -> [f64; 3] {
        let channel = |c: u8| {
            let c = f64::from(c) / 255.0;
            if c <= 0.04045 { c / 12.92 } else { ((c + 0.055) / 1.055).powf(2.4) }
        };
        [channel(self.0), channel(self.1), channel(self.2)]
    }

    /// WCAG 2.1 relative luminance (0 black – 1 white).
    pub fn luminance(self) -> f64 {
        let [r, g, b] = self.linear();
        0.2126 * r + 0.7152 * g + 0.0722 * b
    }
}

/// WCAG 2.1 contrast ratio of two colours, 1–21, in either order.
pub fn contrast(a: Rgb, b: Rgb) -> f64 {
    let (la, lb) = (a.luminance(), b.luminance());
    (la.max(lb) + 0.05) / (la.min(lb) + 0.05)
}

/// Black or white, whichever reads better on `fill` (by luminance; one of
/// them is always at least 4.58:1).
pub fn text_on(fill: Rgb) -> Rgb {
    if contrast(fill, BLACK) >= contrast(fill, WHITE) { BLACK } else { WHITE }
}

/// How a reader sees colour: typical trichromat vision or one of the
/// three dichromacies.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Vision {
    /// Typical colour vision.
    Typical,
    /// No long-wavelength (red) cones.
    Protanopia,
    /// No medium-wavelength (green) cones.
    Deuteranopia,
    /// No short-wavelength (blue) cones.
    Tritanopia,
}

impl Vision {
    /// Every vision the palette is checked for.
    pub const ALL: [Vision; 4] = [Vision::Typical, Vision::Protanopia, Vision::Deuteranopia, Vision::Tritanopia];

    /// Its name in check messages.
    pub fn name(self) -> &'static str {
        match self {
            Vision::Typical => "typical vision",
            Vision::Protanopia => "protanopia",
            Vision::Deuteranopia => "deuteranopia",
            Vision::Tritanopia => "tritanopia",
        }
    }

    /// Machado et al. (2009) simulation matrix at severity 1.0, for linear
    /// RGB (rows: output R, G, B).
    fn matrix(self) -> [[f64; 3]; 3] {
        match self {
            Vision::Typical => [[1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0]],
            Vision::Protanopia => {
                [[0.152286, 1.052583, -0.204868], [0.114503, 0.786281, 0.099216], [-0.003882, -0.048116, 1.051998]]
            }
            Vision::Deuteranopia => {
                [[0.367322, 0.860646, -0.227968], [0.280085, 0.672501, 0.047413], [-0.011820, 0.042940, 0.968881]]
            }
            Vision::Tritanopia => {
                [[1.255528, -0.076749, -0.178779], [-0.078411, 0.930809, 0.147602], [0.004733, 0.691367, 0.303900]]
            }
        }
    }

    /// `colour` as this reader sees it, in linear RGB clamped to 0–1.
    pub fn simulate(self, colour: Rgb) -> [f64; 3] {
        let rgb = colour.linear();
        self.matrix().map(|row| (row[0] * rgb[0] + row[1] * rgb[1] + row[2] * rgb[2]).clamp(0.0, 1.0))
    }
}

/// A CIELAB colour (D65 white): lightness 0–100 and the a*, b* axes.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Lab {
    /// L*, lightness.
    pub l: f64,
    /// a*, green (−) to red (+).
    pub a: f64,
    /// b*, blue (−) to yellow (+).
    pub b: f64,
}

impl Lab {
    /// CIELAB of a linear-light sRGB colour (IEC 61966-2-1 primaries,
    /// D65 white).
    pub fn from_linear([r, g, b]: [f64; 3]) -> Lab {
        let x = (0.4124564 * r + 0.3575761 * g + 0.1804375 * b) / 0.95047;
        let y = 0.2126729 * r + 0.7151522 * g + 0.0721750 * b;
        let z = (0.0193339 * r + 0.1191920 * g + 0.9503041 * b) / 1.08883;
        const DELTA: f64 = 6.0 / 29.0;
        let f = |t: f64| if t > DELTA.powi(3) { t.cbrt() } else { t / (3.0 * DELTA * DELTA) + 4.0 / 29.0 };
        let (fx, fy, fz) = (f(x), f(y), f(z));
        Lab { l: 116.0 * fy - 16.0, a: 500.0 * (fx - fy), b: 200.0 * (fy - fz) }
    }

    /// `colour` as `vision` sees it.
    pub fn seen(colour: Rgb, vision: Vision) -> Lab {
        Lab::from_linear(vision.simulate(colour))
    }
}

/// CIEDE2000 colour difference (kL = kC = kH = 1; Sharma, Wu & Dalal
/// 2005). About 1 is a just-noticeable difference between large patches.
pub fn delta_e_2000(one: Lab, two: Lab) -> f64 {
    use std::f64::consts::PI;
    let (deg, rad) = (180.0 / PI, PI / 180.0);
    let pow25_7 = 25.0f64.powi(7);
    let c1 = one.a.hypot(one.b);
    let c2 = two.a.hypot(two.b);
    let c_mean = (c1 + c2) / 2.0;
    let g = 0.5 * (1.0 - (c_mean.powi(7) / (c_mean.powi(7) + pow25_7)).sqrt());
    let (a1, a2) = ((1.0 + g) * one.a, (1.0 + g) * two.a);
    let (c1, c2) = (a1.hypot(one.b), a2.hypot(two.b));
    let hue = |b: f64, a: f64| if b == 0.0 && a == 0.0 { 0.0 } else { (b.atan2(a) * deg).rem_euclid(360.0) };
    let (h1, h2) = (hue(one.b, a1), hue(two.b, a2));
    let delta_l = two.l - one.l;
    let delta_c = c2 - c1;
    let delta_h_angle = if c1 * c2 == 0.0 {
        0.0
    } else if (h2 - h1).abs() <= 180.0 {
        h2 - h1
    } else if h2 - h1 > 180.0 {
        h2 - h1 - 360.0
    } else {
        h2 - h1 + 360.0
    };
    let delta_h = 2.0 * (c1 * c2).sqrt() * (delta_h_angle * rad / 2.0).sin();
    let l_mean = (one.l + two.l) / 2.0;
    let c_mean = (c1 + c2) / 2.0;
    let h_mean = if c1 * c2 == 0.0 {
        h1 + h2
    } else if (h1 - h2).abs() <= 180.0 {
        (h1 + h2) / 2.0
    } else if h1 + h2 < 360.0 {
        (h1 + h2 + 360.0) / 2.0
    } else {
        (h1 + h2 - 360.0) / 2.0
    };
    let t = 1.0 - 0.17 * ((h_mean - 30.0) * rad).cos()
        + 0.24 * (2.0 * h_mean * rad).cos()
        + 0.32 * ((3.0 * h_mean + 6.0) * rad).cos()
        - 0.20 * ((4.0 * h_mean - 63.0) * rad).cos();
    let delta_theta = 30.0 * (-((h_mean - 275.0) / 25.0).powi(2)).exp();
    let r_c = 2.0 * (c_mean.powi(7) / (c_mean.powi(7) + pow25_7)).sqrt();
    let s_l = 1.0 + 0.015 * (l_mean - 50.0).powi(2) / (20.0 + (l_mean - 50.0).powi(2)).sqrt();
    let s_c = 1.0 + 0.045 * c_mean;
    let s_h = 1.0 + 0.015 * c_mean * t;
    let r_t = -(2.0 * delta_theta * rad).sin() * r_c;
    let (l, c, h) = (delta_l / s_l, delta_c / s_c, delta_h / s_h);
    (l * l + c * c + h * h + r_t * c * h).sqrt()
}

/// CIEDE2000 difference of two colours as `vision` sees them.
pub fn seen_difference(one: Rgb, two: Rgb, vision: Vision) -> f64 {
    delta_e_2000(Lab::seen(one, vision), Lab::seen(two, vision))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn contrast_follows_wcag() {
        assert!((contrast(BLACK, WHITE) - 21.0).abs() < 1e-9);
        assert!((contrast(WHITE, WHITE) - 1.0).abs() < 1e-9);
        // WCAG's own example threshold: #767676 is the lightest grey at 4.5:1 on white.
        assert!((contrast(Rgb(0x76, 0x76, 0x76), WHITE) - 4.54).abs() < 0.01);
        assert_eq!(text_on(Rgb(0x4f, 0x9c, 0xff)), BLACK);
        assert_eq!(text_on(Rgb(0x17, 0x1b, 0x21)), WHITE);
    }

    #[test]
    fn hex_round_trips_and_blends_like_a_browser() {
        assert_eq!(Rgb::parse("#4F9cff"), Some(Rgb(0x4f, 0x9c, 0xff)));
        assert_eq!(Rgb::parse("#fff"), Some(WHITE));
        assert_eq!(Rgb::parse("4f9cff"), None);
        assert_eq!(Rgb(0x4f, 0x9c, 0xff).hex(), "#4f9cff");
        // rgba(79, 156, 255, 0.85) over #171b21, as the old heat cells were.
        assert_eq!(Rgb(79, 156, 255).over(Rgb(0x17, 0x1b, 0x21), 0.85), Rgb(0x47, 0x89, 0xde));
    }

    #[test]
    fn ciede2000_matches_sharma_s_test_data() {
        // Sharma, Wu & Dalal (2005), table 1, pairs 1, 2 and 7.
        let cases = [
            ((50.0, 2.6772, -79.7751), (50.0, 0.0, -82.7485), 2.0425),
            ((50.0, 3.1571, -77.2803), (50.0, 0.0, -82.7485), 2.8615),
            ((50.0, 0.0, 0.0), (50.0, -1.0, 2.0), 2.3669),
        ];
        for ((l1, a1, b1), (l2, a2, b2), expected) in cases {
            let e = delta_e_2000(Lab { l: l1, a: a1, b: b1 }, Lab { l: l2, a: a2, b: b2 });
            assert!((e - expected).abs() < 1e-4, "{e} != {expected}");
        }
    }

    #[test]
    fn simulated_vision_keeps_greys_and_merges_red_with_green() {
        for vision in Vision::ALL {
            let white = Lab::seen(WHITE, vision);
            assert!((white.l - 100.0).abs() < 0.5 && white.a.abs() < 1.0 && white.b.abs() < 1.0, "{vision:?}");
        }
        let (red, green) = (Rgb(0xda, 0x36, 0x33), Rgb(0x2e, 0xa0, 0x43));
        assert!(seen_difference(red, green, Vision::Typical) > 40.0);
        assert!(seen_difference(red, green, Vision::Deuteranopia) < 15.0);
    }
}
