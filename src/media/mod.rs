//! Media handling: recognising formats from their first bytes (and, with the media issue,
//! probing and converting through ffmpeg and poppler).

pub mod image;
pub mod isobmff;
pub mod measure;
pub mod probe;
pub mod runner;
pub mod slides;
pub mod sniff;
pub mod video;
