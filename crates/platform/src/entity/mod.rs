//! SeaORM entities of the platform's own tables. Every city-scoped table leads with `city_code`
//! in its primary key and indexes (DESIGN.md, tenancy). Only `store` modules use these; handlers
//! get domain types.

pub mod account;
pub mod agency;
pub mod api_token;
pub mod audit_entry;
pub mod audit_head;
pub mod city;
pub mod file;
pub mod login_attempt;
pub mod session;
