//! The room's tables, all prefixed `mas_` and led by `city_code`.

pub mod api_key;
pub mod category;
pub mod counter;
pub mod event;
pub mod photo;
pub mod reply;
pub mod report;
pub mod settings;
pub mod support;
