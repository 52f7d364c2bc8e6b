//! SKELETON
pub fn run() {}
