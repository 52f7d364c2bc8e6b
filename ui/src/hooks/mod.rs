//! Hooks: what the window listens to.

pub mod use_activity;
pub mod use_autofocus;
pub mod use_shell_events;

pub use use_activity::use_activity;
pub use use_autofocus::use_autofocus;
pub use use_shell_events::use_shell_events;
