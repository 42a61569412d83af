//! SeaORM entities of the platform's own tables. Every city-scoped table leads with `city_code`
//! in its primary key and indexes (DESIGN.md, tenancy). Only `store` modules use these; handlers
//! get domain types.

pub mod account;
pub mod agency;
pub mod api_token;
pub mod audit_entry;
pub mod audit_head;
pub mod calendar_setting;
pub mod city;
pub mod file;
pub mod holiday;
pub mod login_attempt;
pub mod message_template;
pub mod notification;
pub mod notify_pref;
pub mod outbox;
pub mod region_shape;
pub mod session;
pub mod short_link;
pub mod sla_clock;
pub mod sla_firing;
pub mod sla_policy;
pub mod webhook;
