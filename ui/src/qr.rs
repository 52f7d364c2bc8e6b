//! The enrolment QR code as a module matrix, for drawing as SVG rects.

use qrcode::{Color, QrCode};

/// The dark modules of a QR code, and its width in modules (without the
/// quiet zone).
#[derive(Debug, PartialEq, Eq)]
pub struct QrMatrix {
    /// Modules per side.
    pub width: usize,
    /// `(x, y)` of each dark module.
    pub dark: Vec<(usize, usize)>,
}

/// Encodes `text`, or `None` when it is too long for any QR version.
pub fn matrix(text: &str) -> Option<QrMatrix> {
    let code = QrCode::new(text.as_bytes()).ok()?;
    let width = code.width();
    let dark = code
        .to_colors()
        .into_iter()
        .enumerate()
        .filter(|(_, colour)| *colour == Color::Dark)
        .map(|(i, _)| (i % width, i / width))
        .collect();
    Some(QrMatrix { width, dark })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn otpauth_uri_encodes_to_a_square_with_finder_corners() {
        let m = matrix("otpauth://totp/Bench:synthetic?secret=JBSWY3DPEHPK3PXP&issuer=Bench")
            .expect("fits");
        assert!(m.width >= 21);
        // Finder patterns: a dark ring, a light ring, a dark centre, at
        // three corners.
        for (cx, cy) in [(0, 0), (m.width - 7, 0), (0, m.width - 7)] {
            assert!(m.dark.contains(&(cx, cy)));
            assert!(!m.dark.contains(&(cx + 1, cy + 1)));
            assert!(m.dark.contains(&(cx + 3, cy + 3)));
        }
    }
}
